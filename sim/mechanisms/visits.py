"""Rule 4, website visits (clicks): relevant content read, of any kind, or an attended event
leads to a visit with chance ``visit_rate`` x (0.5 + need). A customer in the market for a
car clicks more; what the content is called does not matter (even-handed rules)."""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .records import C, E

PARAMS = (
    Param("visit_rate", 0.25, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that reading relevant content (or attending an event) leads to a website visit (scaled by need).",
          plausible=(0.05, 0.5),
          plausible_source=("clicks per open 9.8% (automotive) to 14.3% (Campaign Monitor 2019-2020); higher for "
                            "relevant content")),
)
DRAWS = ("visit",)
READS = ()
WRITES = ()

VISIT_BASE = 0.5  # visit chance at zero need, relative to visit_rate


@nb.njit(cache=True, inline="always")
def visit(k, key, i, relevant_read, attended, need, events, counts):
    """Whether what was read this week brings the customer to our website. Returns visited, events."""
    visited = False
    if relevant_read or attended:
        visited = uniform(key, i, D.visit) < k.visit_rate * (VISIT_BASE + need)
        if visited:
            events |= E.visited
            counts[C.visits] += 1
    return visited, events
