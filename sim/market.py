"""The starting market: who the customers are, what they own and whom they know."""

from __future__ import annotations

import numpy as np

from .declare import A, Param
from .state import N_CATEGORIES, RIVAL, US, Population, Stage

PARAMS = (
    Param("customers", 5000, "customers", 10, 10_000_000, "market", A,
          "Number of car owners in the dealer's market area (ours and the rival's).",
          plausible=(1000, 20000)),
    Param("our_share", 0.40, "share", 0.0, 1.0, "market", A,
          "Share of the market whose current car was bought from us at the start.",
          plausible=(0.2, 0.6)),
    Param("prospects_known", 0.15, "share", 0.0, 1.0, "market", A,
          "Share of the rival's owners already in our CRM as prospects at the start.",
          plausible=(0.05, 0.3)),
    Param("opt_in", 0.80, "share", 0.0, 1.0, "market", A,
          "Share of known customers who accept marketing contact at the start.",
          plausible=(0.6, 0.95)),
    Param("heavy_share", 0.20, "share", 0.01, 0.99, "market",
          "domain notes: a small share of customers brings most of the profit (Pareto 80/20)",
          "Share of customers in the heavy tier (highest spend multiplier).",
          plausible=(0.1, 0.3)),
    Param("pareto_alpha", 1.5, "1", 1.05, 10.0, "market",
          "assumption (alpha 1.16 would be exact 80/20; 1.5 keeps means finite and stable)",
          "Shape of the Pareto distribution of spend per customer; lower is more concentrated.",
          plausible=(1.2, 2.0),
          plausible_source=("top 20% of customers bring 59-73% of sales (Kim, Singh & Winer 2017; McCarthy & Winer "
                            "2018): alpha 1.24-1.49 uncapped")),
    Param("interest_share", 0.25, "share", 0.0, 1.0, "market", A,
          "Chance that any one of the 8 offer categories interests a customer.",
          plausible=(0.1, 0.5)),
    Param("trust_owners", 0.50, "0-1", 0.0, 1.0, "market", A,
          "Mean starting trust of our owners (spread 0.1).",
          plausible=(0.35, 0.65)),
    Param("trust_others", 0.35, "0-1", 0.0, 1.0, "market", A,
          "Mean starting trust of the rival's owners (spread 0.1).",
          plausible=(0.2, 0.5)),
    Param("affinity_owners", 0.40, "0-1", 0.0, 1.0, "market", A,
          "Mean starting affinity of our owners (spread 0.1).",
          plausible=(0.25, 0.55)),
    Param("affinity_others", 0.15, "0-1", 0.0, 1.0, "market", A,
          "Mean starting affinity of the rival's owners (spread 0.1).",
          plausible=(0.05, 0.3)),
    Param("replacement_weeks", 300, "weeks", 26, 1040, "market", A,
          "Mean vehicle replacement cycle (about six years).",
          plausible=(260, 420),
          plausible_source=("new-car ownership 71.4-79.3 months, about 310-345 weeks (Polk 2011-12; IHS Markit "
                            "2015-16); the intended cycle is longer than the realised one, since short cycles "
                            "replace more often within any period")),
    Param("burn_in_weeks", 1040, "weeks", 0, 5200, "market",
          "assumption: long enough that the market without contact is stationary (tests/test_stationary.py)",
          "Weeks the drawn market runs without contact before the run starts (its steady state); 0 starts from "
          "the drawn market itself, out of equilibrium (a newcomer).",
          plausible=(520, 2080)),
    Param("replacement_spread", 0.25, "1", 0.0, 1.0, "market", A,
          "Coefficient of variation of the replacement cycle between customers.",
          plausible=(0.1, 0.4)),
    Param("social_ties", 6, "ties", 0, 50, "market", A,
          "Social ties per customer (small-world network); 0 turns word of mouth off.",
          plausible=(2, 12)),
    Param("rewiring", 0.10, "probability", 0.0, 1.0, "market", A,
          "Share of ties rewired to random customers (Watts-Strogatz).",
          plausible=(0.01, 0.3)),
)

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
