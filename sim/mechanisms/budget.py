"""Our weekly budget: when the policy would cost more than the budget, every contact is thinned
by one factor, the share of the week's expected cost that the budget pays for.

The expected cost of a segment (stage x tier) is its contact frequency times the channel's
cost plus the value-content share times its extra cost; event attendees are not counted.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..declare import A, INF, Param
from ..state import CONTENTS, TIERS

PARAMS = (
    Param("budget", INF, "$/week", 0.0, INF, "economics", A,
          "Our weekly marketing budget; contacts are thinned at random when the policy would exceed it."),
)
DRAWS = ()
READS = ("known", "opted_in", "stage", "tier")
WRITES = ()

VALUE = CONTENTS.index("value_content")
N_TIERS = len(TIERS)


def planned_costs(frequency, channel, mix_cum, channel_cost, cost_value_content) -> np.ndarray:
    """Expected cost of one customer-week in each segment (stage x tier, flattened), in $."""
    value_share = np.diff(mix_cum, axis=-1, prepend=0.0)[..., VALUE]
    return (frequency * (channel_cost[channel] + value_share * cost_value_content)).ravel()


@nb.njit(cache=True)
def share_paid(known, opted_in, stage, tier, segment_cost, budget):
    """Share of this week's wanted contacts that the budget pays for (1 without a cap).

    Sums, in customer order, the expected cost of every customer we may contact.
    """
    if budget == INF:  # no pass when there is no budget
        return 1.0
    wanted = 0.0
    for i in range(known.shape[0]):
        if known[i] and opted_in[i]:
            wanted += segment_cost[stage[i] * N_TIERS + tier[i]]
    return 1.0 if wanted <= budget else budget / wanted
