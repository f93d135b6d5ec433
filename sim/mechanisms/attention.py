"""Rule 4, attention: a contact is opened with a chance that rises with trust and falls with
fatigue: ``attention_<channel>`` x (0.5 + trust) x (1 - ``fatigue_sensitivity`` x fatigue).
A service reminder read within the reminder window is remembered until the next service.
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .records import C, E
from .shared import REMINDER

PARAMS = (
    Param("attention_email", 0.30, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a rested, neutral customer opens an email.",
          plausible=(0.12, 0.4),
          plausible_source=("open rates 12.6% (automotive) to 22.7% per email (Campaign Monitor benchmarks 2019-2020; "
                            "Mailchimp 2019); a rested customer opens more")),
    Param("attention_mail", 0.50, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a rested, neutral customer reads a mailing.",
          plausible=(0.3, 0.7)),
    Param("attention_phone", 0.60, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a rested, neutral customer takes a call.",
          plausible=(0.4, 0.8)),
    Param("attention_event", 0.45, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a rested, neutral customer reads an event invitation.",
          plausible=(0.25, 0.65)),
    Param("fatigue_sensitivity", 1.0, "1", 0.0, 1.0, "behaviour", A,
          "How far fatigue suppresses attention: at 1 a fully fatigued customer opens nothing.",
          plausible=(0.5, 1.0)),
)
DRAWS = ("open",)
READS = ("trust", "fatigue")
WRITES = ()  # sets ``reminded`` through reminder_read (the weekly pass stores it)

ATTENTION_BASE = 0.5  # open chance at zero trust, relative to the channel's attention


@nb.njit(cache=True, inline="always")
def attention(k, key, i, attention_by_channel, contacted, channel, content, due_soon, trust, fatigue, events, counts):
    """Whether our contact is opened. Returns opened, reminder_read (a timely service reminder
    was read: the customer is ``reminded`` until the next service), events."""
    reminder_read = False
    if not contacted:
        return False, reminder_read, events
    p_open = attention_by_channel[channel] * (ATTENTION_BASE + trust) * (1.0 - k.fatigue_sensitivity * fatigue)
    opened = uniform(key, i, D.open) < p_open
    if opened:
        events |= E.opened
        counts[C.opens] += 1
        reminder_read = content == REMINDER and due_soon
    return opened, reminder_read, events
