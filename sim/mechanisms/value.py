"""Rule 4, giving value: relevant value content read and attended events build trust and affinity.

Only what is relevant to the customer gives value (``contact``: on a topic of their
interests); irrelevant value content read is noise like any irrelevant contact. Relevant
value content read closes ``value_trust_gain`` of the gap to full trust and
``value_affinity_gain`` of the gap to full affinity. An event invitation read leads to
attendance (if relevant) with chance ``event_attendance`` x (0.5 + affinity); attending builds trust as
value content does, closes ``event_affinity_gain`` of the affinity gap and costs
``cost_attendee``. (Both also add to the reciprocity balance: see ``reciprocity``.)
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .records import C, E
from .shared import EVENT, VALUE

PARAMS = (
    Param("value_trust_gain", 0.020, "trust/contact", 0.0, 1.0, "behaviour",
          "assumption (domain notes: give something of value before asking)",
          "Share of the gap to full trust closed by one piece of value content read.",
          plausible=(0.003, 0.03)),
    Param("value_affinity_gain", 0.020, "affinity/contact", 0.0, 1.0, "behaviour", A,
          "Share of the gap to full affinity closed by one piece of value content read.",
          plausible=(0.005, 0.05)),
    Param("event_affinity_gain", 0.15, "affinity/event", 0.0, 1.0, "behaviour", A,
          "Share of the gap to full affinity closed by attending an event or clinic.",
          plausible=(0.05, 0.3)),
    Param("event_attendance", 0.25, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a customer who read an event invitation attends.",
          plausible=(0.1, 0.4)),
    Param("cost_attendee", 25.0, "$/attendee", 0.0, 1e5, "economics", A,
          "Cost of hosting one attendee at an event or clinic (gift included).",
          plausible=(10.0, 60.0)),
)
DRAWS = ("event",)
READS = ("trust", "affinity")
WRITES = ("trust", "affinity")

ATTENDANCE_BASE = 0.5  # attendance chance at zero affinity, relative to event_attendance


@nb.njit(cache=True, inline="always")
def value(k, key, i, opened, content, fitting, trust, affinity, events, counts):
    """What value given this week does. Returns value_read (relevant value content read),
    attended, trust, affinity, attendee_cost, events."""
    value_read = opened and fitting and content == VALUE
    attended = opened and fitting and content == EVENT and uniform(key, i, D.event) < k.event_attendance * (
        ATTENDANCE_BASE + affinity)
    attendee_cost = 0.0
    if value_read or attended:
        trust += k.value_trust_gain * (1.0 - trust)
    if value_read:
        affinity += k.value_affinity_gain * (1.0 - affinity)
    if attended:
        affinity += k.event_affinity_gain * (1.0 - affinity)
        attendee_cost = k.cost_attendee
        events |= E.attended
        counts[C.event_attendance] += 1
    return value_read, attended, trust, affinity, attendee_cost, events
