"""Rule 6, service: a due car is serviced, with us or elsewhere, and the visit's quality
moves trust. Service follows the car: as it ages and leaves its warranty, independent shops
draw it away from dealers, and a lapsed owner takes the car elsewhere.

The car goes to us with chance logistic(V_us - V_other): V_us = ``trust_weight`` trust +
``affinity_weight`` affinity + ``service_pull`` (if we sold the car and the owner has not
lapsed) - ``service_age_decline`` x the car's age in years + ``service_reminder_lift`` (if a
timely reminder was read since the last service); V_other = ``rival_pull`` + ``service_pull``
(if the car is not ours, or its owner lapsed). "Elsewhere" is the rival and the independent
shops, which gain on every dealer as cars age, whoever sold them. With chance ``service_quality`` a visit with us
satisfies (trust and affinity close ``service_trust_gain`` and ``service_affinity_gain`` of
their gaps; a lapsed owner of our car is won back), otherwise trust falls by
``POOR_SERVICE`` x ``service_trust_gain`` x trust. The next service is due
``service_interval_weeks`` later.
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from ..state import US
from .draws import D, uniform
from .records import C, M, E
from .shared import logistic

PARAMS = (
    Param("service_interval_weeks", 21, "weeks", 4, 260, "market",
          "Cox Automotive service industry study: 2.3-2.8 visits per car a year (2018-2021), 52 / 2.5 = 21 weeks",
          "Weeks between routine service visits.",
          plausible=(17, 52),
          plausible_source=("2.3-2.8 service visits per car a year, every 19-23 weeks (Cox Automotive 2018, 2021); "
                            "assumption up to yearly")),
    Param("service_pull", 1.0, "utility", -10.0, 10.0, "behaviour", A,
          "Utility of having a new car serviced at the selling dealer rather than elsewhere.",
          plausible=(0.0, 3.0)),
    Param("service_age_decline", 0.30, "utility/year", 0.0, 5.0, "behaviour",
          "J.D. Power 2004: 66% of owners service at the selling dealer in year 1, 55% in year 3, 47% in year 4",
          "How much a year of the car's age draws its service away from us to independent shops.",
          plausible=(0.0, 0.8)),
    Param("service_reminder_lift", 0.8, "utility", 0.0, 10.0, "behaviour",
          "domain notes: introduce each buyer to service, set the first appointment, remind",
          "Utility a service reminder read in the weeks before the due date adds to servicing with us.",
          plausible=(0.2, 1.5)),
    Param("service_quality", 0.90, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a service visit leaves the customer satisfied (else trust falls).",
          plausible=(0.75, 0.98)),
    Param("service_trust_gain", 0.04, "trust/visit", 0.0, 1.0, "behaviour",
          "domain notes: service visits between purchases keep the relationship alive",
          "Share of the gap to full trust closed by a satisfying service visit.",
          plausible=(0.01, 0.08)),
    Param("service_affinity_gain", 0.03, "affinity/visit", 0.0, 1.0, "behaviour", A,
          "Share of the gap to full affinity closed by a satisfying service visit.",
          plausible=(0.01, 0.06)),
    Param("service_margin", 120.0, "$/visit", 0.0, 1e5, "economics", A,
          "Gross margin on a service visit, for a customer of spend multiplier 1.",
          plausible=(60.0, 250.0)),
)
DRAWS = ("service_choice", "quality")
READS = ("service_due", "vehicle_age", "stage", "owner", "trust", "affinity", "reminded", "serviced_with_us", "service_visits", "spend")
WRITES = ("service_due", "trust", "affinity", "reminded", "serviced_with_us", "service_visits")

WEEKS_PER_YEAR = 52.0
POOR_SERVICE = 2.0  # a poor visit costs this many times the trust a good one gains (of trust, not of the gap)


@nb.njit(cache=True, inline="always")
def service(k, key, i, relationship, lapsed, bought_us, service_due, vehicle_age, owner, trust, affinity, reminded,
            serviced_with_us, service_visits, spend, events, counts, money):
    """Returns service_due, trust, affinity, reminded, serviced_with_us, service_visits, the
    service margin we earned, won_back (a lapsed owner of our car satisfied by our service) and events."""
    earned = 0.0
    won_back = False
    if service_due > 0:  # not due: nothing happens (the weekly pass only calls a due service)
        return service_due, trust, affinity, reminded, serviced_with_us, service_visits, earned, won_back, events
    events |= E.serviced
    ours = owner == US and not lapsed
    v_us = (k.trust_weight * trust + k.affinity_weight * affinity + k.service_pull * ours
            - k.service_age_decline * vehicle_age / WEEKS_PER_YEAR + k.service_reminder_lift * reminded)
    v_other = k.rival_pull + k.service_pull * (not ours)
    serviced_with_us = uniform(key, i, D.service_choice) < logistic(v_us - v_other)
    if relationship or bought_us:
        counts[C.service_by_our_owners] += 1
        counts[C.service_with_us_by_our_owners] += serviced_with_us
    if serviced_with_us:
        events |= E.serviced_us
        counts[C.service_visits] += 1
        earned = k.service_margin * spend
        money[M.service_margin] += earned
        service_visits += 1
        if uniform(key, i, D.quality) < k.service_quality:
            trust += k.service_trust_gain * (1.0 - trust)
            affinity += k.service_affinity_gain * (1.0 - affinity)
            won_back = lapsed and owner == US
        else:
            trust -= POOR_SERVICE * k.service_trust_gain * trust
    else:
        counts[C.rival_service_visits] += 1
        money[M.rival_revenue] += k.service_margin * spend
    return (int(k.service_interval_weeks), trust, affinity, False, serviced_with_us, service_visits, earned, won_back,
            events)
