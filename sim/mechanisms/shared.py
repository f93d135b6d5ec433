"""Small compiled helpers shared by the mechanisms: the logistic curve, relevance, contents."""

from __future__ import annotations

import math

import numba as nb

from ..state import CONTENTS, N_CATEGORIES, Stage

SALES, VALUE, REMINDER, EVENT = (CONTENTS.index(c) for c in
                                 ("sales_offer", "value_content", "service_reminder", "event_invite"))
PURCHASE, CONNECTION, LOYALTY = int(Stage.PURCHASE), int(Stage.CONNECTION), int(Stage.LOYALTY)


@nb.njit(cache=True, inline="always")
def logistic(x):
    """1 / (1 + e^-x), with ``math.exp`` so that compiled and pure Python agree to the bit.

    (Pure Python would raise OverflowError below x = -709; the rules' arguments stay within
    about +-100 for every allowed parameter value.)
    """
    return 1.0 / (1.0 + math.exp(-x))


@nb.njit(cache=True, inline="always")
def aimed(u, targeting):
    """Whether content is aimed at this customer (chance = targeting): the fractional part
    of ``u`` after scaling by the number of categories, independent of the category."""
    scaled = u * N_CATEGORIES
    return scaled - min(int(scaled), N_CATEGORIES - 1) < targeting


@nb.njit(cache=True, inline="always")
def relevant(interests, u, targeting):
    """An offer is relevant if aimed at the customer's interests or, if not aimed, its
    random category (the integer part of ``u`` scaled) happens to interest them."""
    category = min(int(u * N_CATEGORIES), N_CATEGORIES - 1)
    return aimed(u, targeting) or ((interests >> category) & 1) == 1


@nb.njit(cache=True, inline="always")
def in_relationship(stage):
    """Our owner in an active relationship with us (purchase, connection or loyalty stage)."""
    return stage == PURCHASE or stage == CONNECTION or stage == LOYALTY
