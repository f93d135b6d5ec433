"""Rule 1b, turnover: customers leave the market area and newcomers take their place.

Each week a customer moves away with chance ``turnover_rate``; a newcomer takes the place
(the slot keeps its car, cycle, spend and interests, so the market's make-up stays the
same): unknown to us, not opted in, owning a car bought elsewhere, with the starting trust
and affinity of the rival's owners, rested and with no history with us. Without turnover
our CRM could only grow, and a market could never be stationary.
"""

from __future__ import annotations

import numba as nb

from ..declare import Param
from ..state import RIVAL, Stage
from .draws import D, uniform
from .records import C

PARAMS = (
    Param("turnover_rate", 0.0008, "1/week", 0.0, 0.1, "market",
          ("US Census Bureau CPS 2019: 9.8% of people move in a year, about 40% of them out of the county; "
           "about 4% a year leave the area (0.04 / 52)"),
          "Weekly chance that a customer leaves the market area and is replaced by a newcomer.",
          plausible=(0.0002, 0.002)),
)
DRAWS = ("move",)
READS = ()
WRITES = ("stage", "known", "opted_in", "owner", "trust", "affinity", "fatigue", "reciprocity", "ever_ours",
          "serviced_with_us", "reminded")

PROSPECT = int(Stage.PROSPECT)


@nb.njit(cache=True, inline="always")
def moves_away(k, key, i, counts):
    """Whether customer i leaves the area this week (a newcomer takes the place)."""
    moved = uniform(key, i, D.move) < k.turnover_rate
    if moved:
        counts[C.newcomers] += 1
    return moved


@nb.njit(cache=True, inline="always")
def newcomer(k):
    """A newcomer's state. Returns stage, known, opted_in, owner, trust, affinity, fatigue,
    reciprocity, ever_ours, serviced_with_us, reminded."""
    stage, known, opted_in, owner = PROSPECT, False, False, RIVAL
    trust, affinity, fatigue, reciprocity = k.trust_others, k.affinity_others, 0.0, 0.0
    ever_ours = serviced_with_us = reminded = False
    return stage, known, opted_in, owner, trust, affinity, fatigue, reciprocity, ever_ours, serviced_with_us, reminded
