"""Rule 5, purchases: whether a customer buys a car this week, and from which dealer.

A car due for replacement is replaced with weekly hazard ``purchase_hazard`` x need x
(1 + ``offer_lift`` x (heed, if a relevant offer of ours was read, + 1 if a relevant rival
offer arrived)). The buyer picks us with chance logistic(U_us - U_rival): U_us =
``trust_weight`` trust + ``affinity_weight`` affinity + ``offer_pull`` x heed (offer read) +
ln(1 + ``existing_customer_bonus``) in a relationship with us; U_rival = ``rival_pull`` +
``offer_pull`` (relevant rival offer) + the same bonus if the customer is the rival's (the
current car is the rival's, or the owner lapsed from us: a lapsed owner's loyalty has moved).
The utilities are also what defection weighs (``defection``).
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from ..state import RIVAL
from .draws import D, uniform
from .records import C
from .shared import logistic

PARAMS = (
    Param("purchase_hazard", 0.04, "1/week", 0.0, 1.0, "behaviour", A,
          "Weekly chance of buying a car for a customer whose car is due for replacement.",
          plausible=(0.02, 0.08)),
    Param("offer_lift", 3.0, "1", 0.0, 10.0, "behaviour", A,
          "Relative increase of the purchase hazard after reading a relevant offer that week.",
          plausible=(1.0, 5.0)),
    Param("offer_pull", 1.5, "utility", 0.0, 10.0, "behaviour", A,
          "Utility a relevant offer read that week adds to buying from its dealer.",
          plausible=(0.5, 3.0)),
    Param("trust_weight", 2.5, "utility", 0.0, 20.0, "behaviour", A,
          "Utility of full trust when choosing a dealer (for a car or a service).",
          plausible=(1.0, 4.0)),
    Param("affinity_weight", 2.0, "utility", 0.0, 20.0, "behaviour", A,
          "Utility of full affinity when choosing a dealer.",
          plausible=(1.0, 4.0)),
    Param("existing_customer_bonus", 0.20, "share", 0.0, 1.0, "behaviour",
          "domain notes: existing customers are 15 to 25% more ready to buy",
          "Extra readiness of our own owners to buy from us (odds multiplier minus one).",
          plausible=(0.15, 0.25),
          plausible_source="domain notes: existing customers are 15 to 25% more ready to buy"),
    Param("rival_pull", 2.2, "utility", -10.0, 10.0, "rival",
          "assumption, calibrated so that about 58% of owners change dealer at the next purchase (domain notes)",
          "Base utility of buying from the rival instead of us.",
          plausible=(1.5, 3.0),
          plausible_source="next car from the same dealer 38-42.6% (Polk 1999; S&P Global Mobility 2022)"),
)
DRAWS = ("buy", "choice")
READS = ("trust", "affinity", "owner", "stage")
WRITES = ()


@nb.njit(cache=True, inline="always")
def purchase(k, key, i, need, offer_read, heed, rival_relevant, relationship, lapsed, trust, affinity, owner, counts):
    """Returns buying (a car is bought this week), bought_us, and the utilities u_us, u_rival."""
    offer_push = heed if offer_read else 0.0
    hazard = k.purchase_hazard * need * (1.0 + k.offer_lift * (offer_push + rival_relevant))
    buying = uniform(key, i, D.buy) < hazard
    u_us = (k.trust_weight * trust + k.affinity_weight * affinity + k.offer_pull * offer_push
            + k.existing * relationship)
    u_rival = k.rival_pull + k.offer_pull * rival_relevant + k.existing * (owner == RIVAL or lapsed)
    bought_us = buying and uniform(key, i, D.choice) < logistic(u_us - u_rival)
    if buying and relationship:
        counts[C.replacements_by_our_owners] += 1
        counts[C.repurchases_with_us] += bought_us
    return buying, bought_us, u_us, u_rival
