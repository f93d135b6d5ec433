"""The starting market is the market's own steady state (issue 9): without contact, what a
dealer would watch (stage shares, our owners, lapsed customers, our CRM, our share of sales)
stays within a few percent of its starting value over ten years, on every seed; and a drawn
market that is not burned in does not (the test can fail)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import RelationshipModel
from sim.state import US, Stage

CUSTOMERS, YEARS, SEEDS = 10_000, 10, (1, 2, 3)
TOLERANCE = 0.06  # relative change allowed over ten years ("a few percent")


def shares(m: RelationshipModel) -> dict[str, float]:
    """The market's make-up now, as shares of all customers."""
    pop = m.pop
    stage = np.bincount(pop.stage, minlength=len(Stage)) / pop.n
    return {"our owners": float(np.mean(pop.owner == US)),
            "active relationships": float(stage[Stage.PURCHASE] + stage[Stage.CONNECTION] + stage[Stage.LOYALTY]),
            "lapsed": float(stage[Stage.LAPSED]),
            "prospects": float(stage[Stage.PROSPECT]),
            "in our CRM": float(np.mean(pop.known))}


def drift(seed: int, **params) -> dict[str, float]:
    """Relative change of each share, and of our share of sales (first two years against the
    last two), over ten years without contact."""
    m = RelationshipModel(CUSTOMERS, "no_contact", rng=seed, holdout=False, journeys=0, **params)
    start = shares(m)
    ours, all_sales = [], []
    for _ in range(YEARS * 52):
        m.step()
        ours.append(m.last["our_sales"])
        all_sales.append(m.last["our_sales"] + m.last["rival_sales"])
    end = shares(m)
    out = {name: (end[name] - start[name]) / max(start[name], 0.01) for name in start}
    first, last = slice(0, 104), slice(-104, None)
    out["our share of sales"] = (sum(ours[last]) / sum(all_sales[last])) / (sum(ours[first]) / sum(all_sales[first])) - 1
    return out


def test_without_contact_the_market_stays_where_it_starts_for_ten_years():
    changes = {seed: drift(seed) for seed in SEEDS}
    mean = {name: np.mean([c[name] for c in changes.values()]) for name in changes[SEEDS[0]]}
    assert all(abs(v) < TOLERANCE for v in mean.values()), mean
    assert all(abs(v) < 2 * TOLERANCE for c in changes.values() for v in c.values()), changes


def test_a_market_that_is_not_burned_in_drifts():
    """The control: the drawn market (burn_in_weeks=0) is out of equilibrium, and the test above would see it."""
    change = drift(SEEDS[0], burn_in_weeks=0)
    assert max(abs(v) for v in change.values()) > 3 * TOLERANCE, change


@pytest.mark.parametrize("strategy", ["constant_sales", "reciprocal_value"])
def test_every_arm_and_its_holdout_start_from_the_same_market(strategy):
    """Common random numbers: the burned-in start depends on the seed only."""
    a = RelationshipModel(2000, strategy, rng=4, journeys=0)
    b = RelationshipModel(2000, "no_contact", rng=4, journeys=0)
    for name in ("stage", "owner", "trust", "affinity", "vehicle_age", "known", "opted_in", "spend"):
        assert np.array_equal(getattr(a.pop, name), getattr(b.pop, name)), name
        assert np.array_equal(getattr(a.pop, name), getattr(a.holdout, name)), name
    assert a.pop.margin.sum() == a.pop.cost.sum() == a.pop.contacts.sum() == 0  # the run's counters start at zero
