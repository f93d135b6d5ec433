"""Rule 4, reciprocity: the balance of value given (+1 per value content read or event
attended) and asks made (-1 per sales offer read), slowly forgotten and kept in
[-``BALANCE_LIMIT``, ``BALANCE_LIMIT``].

An offer read is heeded by the factor clip(1 + ``reciprocity_strength`` x
``reciprocity_heed`` x balance, 0, 2), from the balance before this week's contact: the
factor scales the offer's effect on the purchase (``purchase``): asking on a negative
balance is heeded less, whatever the offer. (What contact costs in trust depends on its
relevance and volume, not on its label: see ``fatigue.reactance``.)
"""

from __future__ import annotations

import numba as nb

from ..declare import A, Param
from .shared import SALES

PARAMS = (
    Param("reciprocity_strength", 1.0, "1", 0.0, 5.0, "behaviour",
          "domain notes: reciprocity, a relationship is not one way",
          "Weight of the reciprocity balance: asks on a negative balance are heeded less, on a positive one more.",
          plausible=(0.5, 2.0)),
    Param("reciprocity_heed", 0.10, "1/unit", 0.0, 1.0, "behaviour", A,
          "Change of an offer's effect per unit of reciprocity balance (times the strength), within 0 and 2 times.",
          plausible=(0.03, 0.2)),
    Param("reciprocity_memory", 0.05, "1/week", 0.0, 1.0, "behaviour", A,
          "Share of the reciprocity balance forgotten each week.",
          plausible=(0.02, 0.15)),
)
DRAWS = ()
READS = ("reciprocity",)
WRITES = ("reciprocity",)

BALANCE_LIMIT = 50.0  # contacts; the balance is clipped to +-50
MAX_HEED = 2.0  # an offer is heeded at most twice as much as on an even balance


@nb.njit(cache=True, inline="always")
def reciprocity(k, opened, content, fitting, gave, reciprocity):
    """The week's balance and how the offer read, if any, is heeded.

    ``gave``: relevant value content was read or an event attended this week.
    Returns offer_read (a relevant offer of ours was read), heed, reciprocity.
    """
    balance = reciprocity * (1.0 - k.reciprocity_memory)
    heed = 1.0
    ask_read = opened and content == SALES
    if opened:
        heed = min(max(1.0 + k.reciprocity_strength * k.reciprocity_heed * balance, 0.0), MAX_HEED)
    if gave:
        balance += 1.0
    if ask_read:
        balance -= 1.0
    balance = min(max(balance, -BALANCE_LIMIT), BALANCE_LIMIT)
    return ask_read and fitting, heed, balance
