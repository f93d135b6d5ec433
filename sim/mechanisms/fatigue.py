"""Rule 3, noise: fatigue wears off, every contact adds to it (much more when irrelevant, from
us or the rival), and an irrelevant contact of ours may lead to an unsubscribe, more likely
the more fatigued the customer is.

At most one addition a week: ``fatigue_irrelevant`` if any contact was irrelevant, else
``fatigue_relevant`` if there was one; fatigue is capped at 1.
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .records import C, E

PARAMS = (
    Param("fatigue_irrelevant", 0.10, "fatigue/contact", 0.0, 1.0, "behaviour",
          "domain notes: irrelevant offers are noise that dulls the senses", 
          "Fatigue added by an irrelevant offer.",
          plausible=(0.03, 0.2)),
    Param("fatigue_relevant", 0.03, "fatigue/contact", 0.0, 1.0, "behaviour", A,
          "Fatigue added by a relevant offer or by value content.",
          plausible=(0.0, 0.08)),
    Param("fatigue_recovery", 0.15, "1/week", 0.0, 1.0, "behaviour", A,
          "Share of fatigue that wears off each week.",
          plausible=(0.05, 0.3)),
    Param("unsubscribe_rate", 0.01, "probability", 0.0, 1.0, "behaviour",
          "domain notes: irrelevant offers lead to unsubscribes",
          "Chance that a fully fatigued customer unsubscribes on an irrelevant contact.",
          plausible=(0.002, 0.03),
          plausible_source=("0.10-0.25% unsubscribes per email (Campaign Monitor benchmarks 2019-2020; Mailchimp "
                            "2019); higher for a fully fatigued customer")),
)
DRAWS = ("unsubscribe",)
READS = ("fatigue", "opted_in")
WRITES = ("fatigue", "opted_in")


@nb.njit(cache=True, inline="always")
def noise(k, key, i, fatigue, opted_in, contacted, fitting, rival_offered, rival_relevant, events, counts):
    """This week's fatigue and whether the customer stays opted in. Returns fatigue, opted_in, events."""
    fatigue = fatigue * (1.0 - k.fatigue_recovery)
    irrelevant = contacted and not fitting
    if irrelevant or (rival_offered and not rival_relevant):
        fatigue += k.fatigue_irrelevant
    elif contacted or rival_offered:
        fatigue += k.fatigue_relevant
    fatigue = min(fatigue, 1.0)
    if irrelevant and uniform(key, i, D.unsubscribe) < k.unsubscribe_rate * fatigue:
        opted_in = False
        events |= E.unsubscribed
        counts[C.unsubscribes] += 1
    return fatigue, opted_in, events
