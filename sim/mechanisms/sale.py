"""Rule 5, what a sale changes: a new car (age 0, service due in ``service_interval_weeks``),
a new owner; buying from us earns the vehicle margin (``vehicle_margin`` x spend), builds
affinity (``purchase_affinity_gain`` of the gap) and brings an unknown buyer into our CRM,
opted in with chance ``opt_in``.
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from ..state import RIVAL, US
from .draws import D, uniform
from .records import C, M, E

PARAMS = (
    Param("purchase_affinity_gain", 0.20, "affinity/purchase", 0.0, 1.0, "behaviour", A,
          "Share of the gap to full affinity closed by buying a car from us.",
          plausible=(0.1, 0.35)),
    Param("vehicle_margin", 2000.0, "$/vehicle", 0.0, 1e6, "economics", A,
          "Gross margin on a vehicle sold, for a customer of spend multiplier 1.",
          plausible=(1000.0, 4000.0)),
)
DRAWS = ("opt_in",)
READS = ("spend", "vehicle_age", "service_due", "owner", "known", "opted_in", "ever_ours", "purchases", "affinity")
WRITES = ("vehicle_age", "service_due", "owner", "known", "opted_in", "ever_ours", "purchases", "affinity")


@nb.njit(cache=True, inline="always")
def sale(k, key, i, buying, bought_us, offer_read, spend, vehicle_age, service_due, owner, known, opted_in,
         ever_ours, purchases, affinity, events, counts, money):
    """Returns vehicle_age, service_due, owner, known, opted_in, ever_ours, purchases, affinity,
    the vehicle margin we earned and events."""
    vehicle = 0.0
    if buying:
        vehicle_age = 0
        service_due = int(k.service_interval_weeks)
    if bought_us:
        events |= E.bought_us
        counts[C.our_sales] += 1
        counts[C.offer_sales] += offer_read
        vehicle = k.vehicle_margin * spend
        money[M.vehicle_margin] += vehicle
        owner = US
        if not known:
            known = True
            if uniform(key, i, D.opt_in) < k.opt_in:
                opted_in = True
                counts[C.opt_ins] += 1
        ever_ours = True
        purchases += 1
        affinity += k.purchase_affinity_gain * (1.0 - affinity)
    elif buying:
        events |= E.bought_rival
        counts[C.rival_sales] += 1
        money[M.rival_revenue] += k.vehicle_margin * spend
        owner = RIVAL
    return vehicle_age, service_due, owner, known, opted_in, ever_ours, purchases, affinity, vehicle, events
