"""Rule 3, noise and reactance: fatigue wears off, every contact adds to it (much more when
irrelevant, from us or the rival, whatever the content), a contact of ours may lead to an
unsubscribe, and a contact read while fatigued costs trust.

At most one addition a week: ``fatigue_irrelevant`` if any contact was irrelevant, else
``fatigue_relevant`` if there was one; fatigue is capped at 1. Any contact of ours (any
content) leads to an unsubscribe with chance ``unsubscribe_rate`` x fatigue, and one that is
read costs ``reactance_trust_cost`` x fatigue of trust (``RELEVANT_REACTANCE`` of that when
relevant). Fatigue grows with volume and with irrelevance, so both drive reactance: the
cost of contact rises with frequency for every strategy (Godfrey, Seiders & Voss 2011: an
inverted U between communication volume and repurchase).
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .records import C, E

PARAMS = (
    Param("fatigue_irrelevant", 0.10, "fatigue/contact", 0.0, 1.0, "behaviour",
          "domain notes: irrelevant messages are noise that dulls the senses",
          "Fatigue added by an irrelevant contact (any content).",
          plausible=(0.03, 0.2)),
    Param("fatigue_relevant", 0.03, "fatigue/contact", 0.0, 1.0, "behaviour", A,
          "Fatigue added by a relevant contact (any content).",
          plausible=(0.0, 0.08)),
    Param("fatigue_recovery", 0.15, "1/week", 0.0, 1.0, "behaviour", A,
          "Share of fatigue that wears off each week.",
          plausible=(0.05, 0.3)),
    Param("unsubscribe_rate", 0.01, "probability", 0.0, 1.0, "behaviour",
          "domain notes: irrelevant messages lead to unsubscribes",
          "Chance that a fully fatigued customer unsubscribes on a contact of ours (any content).",
          plausible=(0.002, 0.05),
          plausible_source=("0.10-0.25% unsubscribes per email (Campaign Monitor benchmarks 2019-2020; Mailchimp "
                            "2019); higher for a fully fatigued customer")),
    Param("reactance_trust_cost", 0.005, "trust/contact", 0.0, 1.0, "behaviour",
          ("assumption: Godfrey, Seiders & Voss 2011 (J. Marketing 75(4)) find an inverted U between communication "
           "volume and repurchase; set so that moderate contact pays and weekly contact costs trust"),
          "Trust a fully fatigued customer loses on reading an irrelevant contact of ours (any content).",
          plausible=(0.0, 0.05)),
)
DRAWS = ("unsubscribe",)
READS = ("fatigue", "opted_in", "trust")
WRITES = ("fatigue", "opted_in", "trust")

RELEVANT_REACTANCE = 0.5  # a relevant contact read costs this share of an irrelevant one's trust (assumption)


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
    if contacted and uniform(key, i, D.unsubscribe) < k.unsubscribe_rate * fatigue:
        opted_in = False
        events |= E.unsubscribed
        counts[C.unsubscribes] += 1
    return fatigue, opted_in, events


@nb.njit(cache=True, inline="always")
def reactance(k, opened, fitting, fatigue, trust):
    """Trust after reading our contact of the week while fatigued (unchanged if nothing was read)."""
    if opened:
        trust -= k.reactance_trust_cost * fatigue * (RELEVANT_REACTANCE if fitting else 1.0)
    return trust
