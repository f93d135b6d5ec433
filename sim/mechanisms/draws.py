"""The week's random draws: which decisions take a uniform, and the hash that gives it.

The uniform of customer i for decision j (the j-th name of ``DRAWS``) in a given week is a
counter-based hash (SplitMix64) of the week's key and ``STRIDE * i + j``: the same number
whatever the strategy, computed only when the decision is taken, so every arm and the
holdout see the same draws (common random numbers). Each mechanism module names the draws
it uses (its ``DRAWS``) and refers to them as ``D.<name>``; a test checks that every name
here belongs to exactly one mechanism.

Adding a decision: append its name to ``DRAWS`` (the existing indices keep their place).
``STRIDE`` grows to the next power of two past 16 names, which changes every draw: refresh
the regression baseline then (``make baseline``).
"""

from __future__ import annotations

from collections import namedtuple

import numba as nb
import numpy as np

DRAWS = ("contact", "content", "aim", "open", "event", "visit", "unsubscribe", "rival",
         "buy", "choice", "service_choice", "quality", "defect", "talk", "tie", "opt_in", "move")
D = namedtuple("D", DRAWS)(*range(len(DRAWS)))
STRIDE = max(16, 1 << (len(DRAWS) - 1).bit_length())  # hash counters per customer; never fewer than draws
assert len(DRAWS) <= STRIDE, "a decision would reuse the next customer's draw"
assert len(set(DRAWS)) == len(DRAWS), "a draw is named twice"

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_2 = np.uint64(0x94D049BB133111EB)
TO_UNIT = 1.0 / 16777216.0  # 2**-24: the top 24 bits of the hash as a uniform in [0, 1)


@nb.njit(cache=True, inline="always")
def uniform(key, i, j):
    """Uniform in [0, 1) for customer i and decision j: SplitMix64 of the week's key and STRIDE i + j.

    Exact in float64 (a 24-bit integer times 2**-24), identical compiled and in pure Python.
    The counter is built in unsigned arithmetic, so that ``i`` may be signed or unsigned
    (the weekly pass indexes with an unsigned ``i``: no negative-index fix-up on its arrays).
    """
    z = key + (np.uint64(i) * np.uint64(STRIDE) + np.uint64(j)) * GOLDEN
    z = (z ^ (z >> np.uint64(30))) * MIX_1
    z = (z ^ (z >> np.uint64(27))) * MIX_2
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(40)) * TO_UNIT


@nb.njit(cache=True, parallel=True)
def table(key, out):
    """Fill ``out`` (len(DRAWS) x n) with the week's draws, for inspection and tests."""
    for i in nb.prange(out.shape[1]):
        for j in range(out.shape[0]):
            out[j, i] = uniform(key, i, j)
