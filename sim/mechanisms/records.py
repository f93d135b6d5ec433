"""What a week records: counters, money and the event bits of each customer's week.

Mechanisms add to a chunk's ``counts`` (index ``C.<name>``) and ``money`` (``M.<name>``)
rows and return the event bits (``E.<name>``) of what happened to the customer. The event
word of a customer (uint32) holds the content of our contact in its lowest bits, the
channel above it, then one bit per event; the widths follow from ``CONTENTS`` and
``CHANNELS``, so adding a channel or a content moves the event bits instead of colliding.
"""

from __future__ import annotations

from collections import namedtuple

from ..state import CHANNELS, CONTENTS

# Weekly counters returned by ``step`` (integers) and money totals ($).
COUNTS = ("contacts", "offers", "relevant_offers", "opens", "visits", "event_attendance", "our_sales",
          "rival_sales", "offer_sales", "rival_contacts", "service_visits", "rival_service_visits",
          "unsubscribes", "opt_ins", "defections", "referrals", "promoters", "detractors", "newcomers",
          "replacements_by_our_owners", "repurchases_with_us", "service_by_our_owners",
          "service_with_us_by_our_owners")
MONEY = ("vehicle_margin", "service_margin", "cost", "rival_revenue")
C = namedtuple("C", COUNTS)(*range(len(COUNTS)))
M = namedtuple("M", MONEY)(*range(len(MONEY)))

CONTENT_BITS = max(1, (len(CONTENTS) - 1).bit_length())
CHANNEL_BITS = max(1, (len(CHANNELS) - 1).bit_length())
CHANNEL_SHIFT = CONTENT_BITS
EVENT_SHIFT = CONTENT_BITS + CHANNEL_BITS
EVENTS = ("contacted", "relevant", "opened", "visited", "attended", "unsubscribed", "bought_us",
          "bought_rival", "serviced", "serviced_us", "referred", "heard_praise", "heard_warning", "moved")
E = namedtuple("E", EVENTS)(*(1 << (EVENT_SHIFT + i) for i in range(len(EVENTS))))
HEARD = E.heard_praise | E.heard_warning
assert EVENT_SHIFT + len(EVENTS) <= 32, "event bits do not fit the uint32 event word"


def content_of(event_word: int) -> str:
    """The content of our contact recorded in a customer's event word."""
    return CONTENTS[event_word & ((1 << CONTENT_BITS) - 1)]


def channel_of(event_word: int) -> str:
    """The channel of our contact recorded in a customer's event word."""
    return CHANNELS[(event_word >> CHANNEL_SHIFT) & ((1 << CHANNEL_BITS) - 1)]
