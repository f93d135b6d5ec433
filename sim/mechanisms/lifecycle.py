"""Rule 8, lifecycle stage: trust and affinity are kept in [0, 1], equity is their mean, and
the stage follows from the week.

Bought from us: purchase. In a relationship and bought from the rival, or drifted: lapsed.
Otherwise in a relationship: loyalty if equity >= ``loyalty_threshold``, else connection.
Lapsed stays lapsed until won back: a purchase with us, or (owners of a car we sold) a
satisfying service visit with us (``service``). Others: consideration if known and (need >
0.5 or visited or attended), else prospect.
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from ..state import Stage
from .records import C

PARAMS = (
    Param("loyalty_threshold", 0.65, "equity", 0.0, 1.0, "behaviour", A,
          "Relationship equity (mean of trust and affinity) above which an owner is loyal.",
          plausible=(0.55, 0.75)),
)
DRAWS = ()
READS = ("stage", "known", "trust", "affinity")
WRITES = ("stage", "trust", "affinity")

PROSPECT, CONSIDERATION, PURCHASE = int(Stage.PROSPECT), int(Stage.CONSIDERATION), int(Stage.PURCHASE)
CONNECTION, LOYALTY, LAPSED = int(Stage.CONNECTION), int(Stage.LOYALTY), int(Stage.LAPSED)
IN_MARKET = 0.5  # need above which a known customer is considering a purchase


@nb.njit(cache=True, inline="always")
def lifecycle(k, stage, relationship, bought_us, bought_rival, drifted, won_back, known, need, visited, attended,
              trust, affinity, counts):
    """Returns the new stage, trust and affinity clipped to [0, 1], and equity."""
    trust = min(max(trust, 0.0), 1.0)
    affinity = min(max(affinity, 0.0), 1.0)
    equity = 0.5 * (trust + affinity)
    if bought_us:
        stage = PURCHASE
    elif (relationship and bought_rival) or drifted:
        stage = LAPSED
        counts[C.defections] += 1
    elif relationship or won_back:
        stage = LOYALTY if equity >= k.loyalty_threshold else CONNECTION
    elif stage == LAPSED:
        stage = LAPSED
    elif known and (need > IN_MARKET or visited or attended):
        stage = CONSIDERATION
    else:
        stage = PROSPECT
    return stage, trust, affinity, equity
