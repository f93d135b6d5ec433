"""Rule 2, the rival's offers: a weekly chance of a sales offer from the rival, relevant as it
targets. A relevant one pulls purchases towards the rival (``purchase``); any one adds
fatigue (``fatigue``)."""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .records import C
from .shared import relevant

PARAMS = (
    Param("rival_contact_rate", 0.25, "1/week", 0.0, 1.0, "rival", A,
          "Weekly chance that a customer gets a sales offer from the rival.",
          plausible=(0.05, 0.5)),
    Param("rival_targeting", 0.2, "share", 0.0, 1.0, "rival", A,
          "How strictly the rival targets its offers (0 random, 1 always relevant).",
          plausible=(0.0, 0.5)),
    Param("rival_cost_per_contact", 0.25, "$/contact", 0.0, 1e4, "rival", A,
          "Rival's cost per contact.",
          plausible=(0.05, 1.0)),
)
DRAWS = ("rival",)
READS = ("interests",)
WRITES = ()


@nb.njit(cache=True, inline="always")
def rival_offer(k, key, i, interests, counts):
    """Whether the rival sends customer i an offer this week, and whether it is relevant.

    One draw decides both: below ``rival_contact_rate`` an offer arrives, and the draw
    rescaled to [0, 1) gives its category and aim (``shared.relevant``).
    """
    u = uniform(key, i, D.rival)
    offered = u < k.rival_contact_rate
    offer_relevant = False
    if offered:
        counts[C.rival_contacts] += 1
        offer_relevant = relevant(interests, u / k.rival_contact_rate, k.rival_targeting)
    return offered, offer_relevant
