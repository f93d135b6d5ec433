"""The weekly pass's compiled variants give exactly the numbers of the general pass.

``sim.rules`` steps a plan that contacts nobody (the holdout) with a copy of the pass compiled
without our contact, and a market with its no-contact twin in one fused pass that hands the
twin the customer's need; ``contacts_anyone`` chooses. Forcing it to answer "yes" runs every
market through the general pass, one market at a time: the numbers must not change.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import RelationshipModel, rules
from sim.model import NO_CONTACT
from sim.state import FIELDS

WEEKS = 20


def run(strategy: str, monkeypatch=None) -> tuple[RelationshipModel, list]:
    """A small market with its holdout twin after WEEKS weeks (with ``monkeypatch``: general pass only)."""
    if monkeypatch is not None:
        monkeypatch.setattr(rules, "contacts_anyone", lambda plan: True)
    m = RelationshipModel(customers=4000, strategy=strategy, rng=11, holdout=True, journeys=0,
                          turnover_rate=0.01)
    weeks = []
    for _ in range(WEEKS):
        m.step()
        weeks.append((dict(m.last), dict(m.last_holdout), m.events.copy(), m.holdout_events.copy()))
    return m, weeks


@pytest.mark.parametrize("strategy", ["reciprocal_value", "constant_sales"])
def test_the_no_contact_pass_and_the_twin_pass_equal_the_general_pass(strategy, monkeypatch):
    fast, fast_weeks = run(strategy)
    general, general_weeks = run(strategy, monkeypatch)
    for week, (a, b) in enumerate(zip(fast_weeks, general_weeks), start=1):
        assert a[0] == b[0], f"week {week}: the treated market's totals differ"
        assert a[1] == b[1], f"week {week}: the holdout's totals differ"
        assert np.array_equal(a[2], b[2]) and np.array_equal(a[3], b[3]), f"week {week}: events differ"
    for name in (f.name for f in FIELDS):
        assert np.array_equal(getattr(fast.pop, name), getattr(general.pop, name)), name
        assert np.array_equal(getattr(fast.holdout, name), getattr(general.holdout, name)), name
    assert fast_weeks[-1][0]["contacts"] > 0 and fast_weeks[-1][1]["contacts"] == 0  # both kinds of market ran
    assert fast_weeks[-1][1]["newcomers"] > 0  # turnover reached the twin's own state


def test_contacts_anyone_is_false_only_for_a_plan_that_contacts_nobody():
    m = RelationshipModel(customers=2000, strategy="reciprocal_value", rng=1, holdout=False, journeys=0)
    c = m.coefficients
    assert rules.contacts_anyone(rules.weekly_plan(m.pop, m.policy, c))
    assert not rules.contacts_anyone(rules.weekly_plan(m.pop, NO_CONTACT, c))
    no_budget = rules.Coefficients(dict(c.p, budget=0.0))
    assert not rules.contacts_anyone(rules.weekly_plan(m.pop, m.policy, no_budget))
