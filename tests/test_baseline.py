"""The object-per-customer baseline of benchmarks/ implements the same rules as sim/rules.py.

Both models start from the same market; their random draws differ (per agent in the
baseline, one array in the core), so weekly outcomes are compared statistically: over
several seeds, the difference of the means must stay within a few standard errors.
"""

import sys
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from baseline_objects import BaselineModel, Customer  # noqa: E402
from sim import RelationshipModel  # noqa: E402

CUSTOMERS, WEEKS, SEEDS = 500, 52, 8
TOLERANCE = 4.0  # standard errors
OUTCOMES = ("contacts", "opens", "visits", "our_sales", "rival_sales", "service_visits", "unsubscribes",
            "defections", "cost", "revenue", "trust", "affinity", "fatigue", "stage_lapsed")


@contextmanager
def one_thread():
    """Run compiled kernels on one thread: small markets gain nothing from threads, and on a
    busy machine (pytest -n 2) waiting threads slow them down many times."""
    try:
        import numba
    except ImportError:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def core_runs(strategy: str, seeds=range(SEEDS), **params) -> pd.DataFrame:
    """Per seed, the mean over the weeks of each outcome in the vectorised model."""
    with one_thread():
        return pd.DataFrame([_core_run(strategy, seed, **params) for seed in seeds])


def _core_run(strategy: str, seed: int, **params) -> pd.Series:
    df = RelationshipModel(CUSTOMERS, strategy, rng=seed, holdout=True, journeys=0, **params).run(WEEKS).metrics()
    row = df[list(OUTCOMES)].mean()
    row["holdout_profit"] = df["holdout_profit"].mean()
    return row


def baseline_runs(strategy: str, seeds=range(SEEDS), holdout=True, **params) -> pd.DataFrame:
    """Per seed, the mean over the weeks of each outcome in the baseline."""
    out = []
    for seed in seeds:
        b = BaselineModel(CUSTOMERS, strategy, rng=seed, holdout=holdout, **params).run(WEEKS)
        row = b.metrics()[list(OUTCOMES)].mean()
        if holdout:
            h = b.holdout_metrics()
            row["holdout_profit"] = h["profit"].mean()
            row["holdout_contacts"] = h["contacts"].sum()
        out.append(row)
    return pd.DataFrame(out)


@lru_cache(maxsize=None)
def runs(strategy: str, budget: float = float("inf")) -> tuple[pd.DataFrame, pd.DataFrame]:
    return core_runs(strategy, budget=budget), baseline_runs(strategy, budget=budget)


def z_scores(a: pd.DataFrame, b: pd.DataFrame, columns) -> pd.Series:
    """Difference of means over seeds in standard errors (floor avoids 0/0 on rare events)."""
    columns = list(columns)
    se = np.sqrt(a[columns].var() / len(a) + b[columns].var() / len(b))
    scale = np.maximum(a[columns].abs().mean(), b[columns].abs().mean())
    se = np.maximum(se, 1e-3 * scale + 1e-9)
    return (a[columns].mean() - b[columns].mean()) / se


def test_same_starting_market():
    core = RelationshipModel(300, "lifecycle", rng=7, holdout=False, journeys=0)
    base = BaselineModel(300, "lifecycle", rng=7)
    customers = list(base.agents_by_type[Customer])
    assert len(customers) == 300
    for field in ("trust", "affinity", "stage", "tier", "spend", "cycle", "vehicle_age", "known", "opted_in"):
        assert np.array_equal(np.array([getattr(c, field) for c in base.customers], dtype=getattr(core.pop, field).dtype),
                              getattr(core.pop, field)), field
    assert [c.ties for c in base.customers] == core.pop.ties.tolist()


@pytest.mark.parametrize("strategy, budget", [("constant_sales", float("inf")), ("reciprocal_value", float("inf")),
                                              ("reciprocal_value", 40.0), ("service_followup", float("inf"))])
def test_same_weekly_outcomes(strategy, budget):
    core, base = runs(strategy, budget)
    z = z_scores(core, base, OUTCOMES + ("holdout_profit",))
    assert (z.abs() < TOLERANCE).all(), f"{strategy}: outcomes differ (z-scores):\n{z[z.abs() >= TOLERANCE]}"
    assert (base["holdout_contacts"] == 0).all()
    assert core["contacts"].mean() > 0 and core["our_sales"].mean() > 0  # a real comparison, not 0 == 0


def test_comparison_detects_a_different_rule():
    """The check has power: a baseline with twice the purchase hazard is told apart."""
    core, _ = runs("constant_sales")
    changed = baseline_runs("constant_sales", range(SEEDS // 2), holdout=False, purchase_hazard=0.08)
    z = z_scores(core, changed, OUTCOMES)
    assert (z.abs() > TOLERANCE).any(), z
