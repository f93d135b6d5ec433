"""The object-per-customer baseline of benchmarks/ runs the same rules as the core, bit for bit.

Its agents call the very mechanism functions of ``sim/mechanisms/`` (pure Python form) with
the same draws, so a run must match the core's exactly: every week's counts and money, and
the state of every customer (checked every quarter and at the end), in the treated market
and the holdout twin.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from baseline_objects import BaselineModel, Customer  # noqa: E402
from sim import RelationshipModel  # noqa: E402
from sim.rules import COUNTS, MONEY  # noqa: E402
from sim.state import FIELDS  # noqa: E402

CUSTOMERS, WEEKS, CHECK_EVERY = 300, 156, 13
CASES = [("constant_sales", 1, {}), ("reciprocal_value", 2, {"budget": 4.0}), ("service_followup", 3, {}),
         ("lifecycle", 4, {"purchase_hazard": 0.3, "talk_rate": 0.5, "service_interval_weeks": 6,
                           "rival_contact_rate": 0.7})]


def compare(strategy, seed, params, customers=CUSTOMERS, weeks=WEEKS):
    """Run both models side by side; return the first difference found, or None."""
    core = RelationshipModel(customers, strategy, rng=seed, holdout=True, journeys=0, **params)
    base = BaselineModel(customers, strategy, rng=seed, holdout=True, **params)
    for week in range(1, weeks + 1):
        core.step()
        base.step()
        for arm, got, want in (("treated", base.rows[0][-1], core.last), ("holdout", base.rows[1][-1],
                                                                           core.last_holdout)):
            for name in COUNTS[:-4] + MONEY + ("revenue",):
                if got[name] != want[name]:
                    return f"week {week}, {arm}: {name} baseline {got[name]!r} != core {want[name]!r}"
        if week % CHECK_EVERY == 0 or week == weeks:
            for arm, pop in ((0, core.pop), (1, core.holdout)):
                state = base.state(arm)
                for f in FIELDS:
                    if not np.array_equal(state[f.name], getattr(pop, f.name)):
                        return f"week {week}, market {arm}: state {f.name} differs"
    return None


def test_same_starting_market():
    core = RelationshipModel(300, "lifecycle", rng=7, holdout=False, journeys=0)
    base = BaselineModel(300, "lifecycle", rng=7)
    assert len(list(base.agents_by_type[Customer])) == 300
    state = base.state()
    for f in FIELDS:
        assert np.array_equal(state[f.name], getattr(core.pop, f.name)), f.name
    assert np.array_equal(base.ties, core.pop.ties)


@pytest.mark.parametrize("strategy, seed, params", CASES, ids=[c[0] for c in CASES])
def test_baseline_equals_core_bit_for_bit(strategy, seed, params):
    assert compare(strategy, seed, params) is None


def test_budget_case_thins_contacts():
    """The budget case is a real test of the thinning: contacts fall well below the uncapped run."""
    capped = BaselineModel(CUSTOMERS, "reciprocal_value", rng=2, budget=4.0).run(8).metrics()["contacts"].sum()
    free = BaselineModel(CUSTOMERS, "reciprocal_value", rng=2).run(8).metrics()["contacts"].sum()
    assert 0 < capped < 0.8 * free


def test_comparison_detects_a_different_rule(monkeypatch):
    """The check has power: the baseline without reactance (no trust lost on contacts read) is
    told apart within the run."""
    import baseline_objects
    from sim.mechanisms import fatigue

    changed = fatigue.reactance.py_func
    monkeypatch.setattr(baseline_objects, "react", lambda k, *a: changed(k._replace(reactance_trust_cost=0.0), *a))
    assert compare("constant_sales", 1, {}, weeks=52) is not None
