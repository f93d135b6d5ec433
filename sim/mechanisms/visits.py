"""Rule 4, website visits: a read relevant offer or an attended event leads to a visit with
chance ``visit_rate`` x (0.5 + need); read value content with ``VALUE_VISITS`` of that."""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .records import C, E

PARAMS = (
    Param("visit_rate", 0.25, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that reading a relevant offer leads to a website visit (scaled by need).",
          plausible=(0.1, 0.4),
          plausible_source=("clicks per open 9.8% (automotive) to 14.3% (Campaign Monitor); assumption up to 0.4 for a "
                            "relevant offer")),
)
DRAWS = ("visit",)
READS = ()
WRITES = ()

VISIT_BASE = 0.5  # visit chance at zero need, relative to visit_rate
VALUE_VISITS = 0.3  # visit chance after value content, relative to an offer or an event


@nb.njit(cache=True, inline="always")
def visit(k, key, i, offer_read, attended, value_read, need, events, counts):
    """Whether what was read this week brings the customer to our website. Returns visited, events."""
    visited = False
    if offer_read or attended or value_read:
        strength = 1.0 if (offer_read or attended) else VALUE_VISITS
        visited = uniform(key, i, D.visit) < k.visit_rate * (VISIT_BASE + need) * strength
        if visited:
            events |= E.visited
            counts[C.visits] += 1
    return visited, events
