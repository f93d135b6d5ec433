"""Rule 1, time passes: cars age, service falls due, affinity fades, and need follows the car's age.

Need (0 to 1) is the customer's readiness to replace the car: a logistic curve of the car's
age around the customer's own replacement cycle, of width ``NEED_WIDTH`` of the cycle.
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .shared import logistic

PARAMS = (
    Param("affinity_decay", 0.003, "1/week", 0.0, 1.0, "behaviour", A,
          "Share of affinity that fades each week without contact.",
          plausible=(0.001, 0.01)),
)
DRAWS = ()
READS = ("vehicle_age", "service_due", "affinity", "cycle")
WRITES = ("vehicle_age", "service_due", "affinity")

NEED_WIDTH = 0.1  # width of the need curve around the replacement cycle, as a share of the cycle


@nb.njit(cache=True, inline="always")
def time_passes(k, vehicle_age, service_due, affinity, cycle):
    """One week later. Returns vehicle_age, service_due, affinity and this week's need."""
    vehicle_age = vehicle_age + 1
    service_due = service_due - 1
    affinity = affinity * (1.0 - k.affinity_decay)
    need = logistic((vehicle_age - cycle) / (NEED_WIDTH * cycle))
    return vehicle_age, service_due, affinity, need
