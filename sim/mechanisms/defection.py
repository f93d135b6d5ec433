"""Rule 7, defection: an owner in a relationship with us who did not buy this week drifts
away with chance ``defection_rate`` x logistic(U_rival - U_us) (the purchase utilities:
low equity and a strong rival mean more drift)."""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .shared import logistic

PARAMS = (
    Param("defection_rate", 0.004, "1/week", 0.0, 1.0, "behaviour", A,
          "Weekly chance that an owner with no equity, facing an even rival, drifts away.",
          plausible=(0.001, 0.01)),
)
DRAWS = ("defect",)
READS = ()
WRITES = ()


@nb.njit(cache=True, inline="always")
def defection(k, key, i, relationship, buying, u_us, u_rival):
    """Whether the customer drifts away from us this week.

    The chance is below ``defection_rate`` (the logistic is at most 1), so a draw at or above
    the rate decides without computing the logistic: the same answer, most weeks without an exp.
    """
    if not relationship or buying:
        return False
    u = uniform(key, i, D.defect)
    return u < k.defection_rate and u < k.defection_rate * logistic(u_rival - u_us)
