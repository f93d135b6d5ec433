"""The starting market: who the customers are, what they own and whom they know."""

from __future__ import annotations

import numpy as np

from .state import N_CATEGORIES, RIVAL, US, Population, Stage

SPEND_CAP = 20.0  # spend multipliers are capped so that one customer cannot dominate a run


def build_market(p: dict, rng: np.random.Generator) -> Population:
    """Draw a market of ``p["customers"]`` customers from ``rng``.

    The draws do not depend on the strategy, so every arm of an experiment with the
    same seed starts from the same market (common random numbers).
    """
    n = p["customers"]
    pop = Population(n)

    raw = rng.pareto(p["pareto_alpha"], n) + 1.0
    pop.spend[:] = np.minimum(raw / raw.mean(), SPEND_CAP)
    cut = np.quantile(pop.spend, 1.0 - p["heavy_share"])
    pop.tier[:] = pop.spend >= cut

    bits = rng.random((n, N_CATEGORIES)) < p["interest_share"]
    pop.interests[:] = np.packbits(bits, axis=1, bitorder="little")[:, 0]

    mean = p["replacement_weeks"]
    cycle = rng.normal(mean, p["replacement_spread"] * mean, n)
    pop.cycle[:] = np.clip(np.rint(cycle), 26, 1040)
    pop.vehicle_age[:] = np.floor(rng.random(n) * pop.cycle)
    pop.service_due[:] = rng.integers(1, p["service_interval_weeks"] + 1, n)

    ours = rng.random(n) < p["our_share"]
    pop.owner[:] = np.where(ours, US, RIVAL)
    pop.known[:] = ours | (rng.random(n) < p["prospects_known"])
    pop.opted_in[:] = pop.known & (rng.random(n) < p["opt_in"])
    pop.ever_ours[:] = ours
    pop.serviced_with_us[:] = ours

    noise = rng.normal(0.0, 0.1, (2, n))
    pop.trust[:] = np.clip(np.where(ours, p["trust_owners"], p["trust_others"]) + noise[0], 0, 1)
    pop.affinity[:] = np.clip(np.where(ours, p["affinity_owners"], p["affinity_others"]) + noise[1], 0, 1)
    equity = (pop.trust + pop.affinity) / 2
    pop.stage[:] = np.where(ours, np.where(equity >= p["loyalty_threshold"], Stage.LOYALTY, Stage.CONNECTION),
                            Stage.PROSPECT)
    pop.ties = small_world(n, p["social_ties"], p["rewiring"], rng)
    return pop


def small_world(n: int, k: int, rewiring: float, rng: np.random.Generator) -> np.ndarray:
    """Ties as an ``(n, k)`` array of neighbour ids: a ring lattice with rewired ties.

    Customers are drawn in random order, so neighbours on the ring are random people;
    the ring gives the clustering of a Watts-Strogatz network.
    """
    offsets = np.array([(j // 2 + 1) * (1 if j % 2 == 0 else -1) for j in range(k)], dtype=np.int64)
    ties = (np.arange(n, dtype=np.int64)[:, None] + offsets[None, :]) % n
    rewire = rng.random((n, k)) < rewiring
    rows = np.nonzero(rewire)[0]
    others = rng.integers(0, n - 1, rows.size)
    ties[rewire] = others + (others >= rows)  # any customer but oneself
    return ties.astype(np.int32)
