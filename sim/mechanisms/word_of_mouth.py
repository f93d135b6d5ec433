"""Rule 9, word of mouth: customers with experience of us (who have owned a car bought from
us) speak of us, and what they say moves their ties. (A prospect who merely is in our CRM
has nothing to tell.)

Sentiment = equity x (1 - ``FATIGUE_IN_SENTIMENT`` x fatigue); at or above
``promoter_threshold`` a customer is a promoter, at or below ``detractor_threshold`` a
detractor. If ``word_of_mouth`` is on, each tells one random tie with chance ``talk_rate``;
the tie heeds praise with chance ``heed_positive``, a warning with ``heed_negative``. Heeded
praise closes ``word_of_mouth_effect`` of the gap to full trust and makes someone outside
our CRM a referred, opted-in prospect; a heeded warning takes the same share of trust.

Two functions: ``speak`` in the weekly pass (who says what to whom) and ``hear`` in the
second pass, after every customer has spoken (listeners in customer order).
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .draws import D, uniform
from .records import C, E

PARAMS = (
    Param("word_of_mouth", True, "", None, None, "market", A,
          "Whether promoters recommend and detractors post negative reviews."),
    Param("promoter_threshold", 0.50, "equity", 0.0, 1.0, "behaviour", A,
          "Equity above which a customer with experience of us recommends us.",
          plausible=(0.4, 0.6)),
    Param("detractor_threshold", 0.25, "equity", 0.0, 1.0, "behaviour", A,
          "Equity below which a customer with experience of us speaks against us.",
          plausible=(0.15, 0.35)),
    Param("talk_rate", 0.05, "1/week", 0.0, 1.0, "behaviour", A,
          "Weekly chance that a promoter or detractor tells one tie about us.",
          plausible=(0.01, 0.1)),
    Param("word_of_mouth_effect", 0.05, "trust", 0.0, 1.0, "behaviour", A,
          "Change of a listener's trust when a recommendation or a bad review is heeded.",
          plausible=(0.01, 0.1)),
    Param("heed_negative", 0.96, "probability", 0.0, 1.0, "behaviour",
          "domain notes: 96% heed negative reviews",
          "Chance that a negative review is heeded.",
          plausible=(0.85, 0.99),
          plausible_source="domain notes: 96% heed negative reviews"),
    Param("heed_positive", 0.50, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a recommendation is heeded.",
          plausible=(0.3, 0.88),
          plausible_source=("85-88% trust online reviews like personal advice (BrightLocal 2014, 2017); assumption "
                            "lower for a tie's word")),
)
DRAWS = ("talk", "tie")
READS = ("fatigue", "trust", "known", "opted_in")
WRITES = ("trust", "known", "opted_in")

FATIGUE_IN_SENTIMENT = 0.5  # how much fatigue sours sentiment
SILENT = -1  # what ``speak`` returns when nothing is said


@nb.njit(cache=True, inline="always")
def speak(k, key, i, experienced, equity, fatigue, ties, counts):
    """What customer i says this week: SILENT, or 2 x the listener's id + (0 praise, 1 warning).

    ``experienced``: has owned a car bought from us; ``ties``: the network, one row of neighbour ids
    per customer.
    """
    if not experienced:
        return SILENT
    sentiment = equity * (1.0 - FATIGUE_IN_SENTIMENT * fatigue)
    promoter = sentiment >= k.promoter_threshold
    detractor = sentiment <= k.detractor_threshold
    counts[C.promoters] += promoter
    counts[C.detractors] += detractor
    n_ties = ties.shape[1]
    if (promoter or detractor) and k.word_of_mouth > 0 and n_ties > 0 and uniform(key, i, D.talk) < k.talk_rate:
        slot_f = uniform(key, i, D.tie) * n_ties
        slot = min(int(slot_f), n_ties - 1)
        if slot_f - slot < (k.heed_positive if promoter else k.heed_negative):
            return 2 * ties[i, slot] + (0 if promoter else 1)
    return SILENT


@nb.njit(cache=True, inline="always")
def hear(k, praised, warned, trust, known, opted_in, events, counts):
    """A listener heeds what was said to them. Returns trust, known, opted_in, events."""
    if praised:
        trust += k.word_of_mouth_effect * (1.0 - trust)
        if not known:
            known = True
            events |= E.referred
            counts[C.referrals] += 1
            if not opted_in:
                counts[C.opt_ins] += 1
            opted_in = True
    if warned:
        trust -= k.word_of_mouth_effect * trust
    return min(max(trust, 0.0), 1.0), known, opted_in, events
