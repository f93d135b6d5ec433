"""Running experiments: the shared holdout, and the model's Mesa conventions.

Each seed's no-contact holdout is simulated once per market and replayed by every arm of
that market; the results must be exactly those of a holdout run in lockstep with each arm.
"""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd
import pytest

from sim import RelationshipModel
from sim import model as model_module
from sim.agents import SampledCustomer
from sim.experiment import run_experiment, run_once, shared_markets
from sim.schema import experiment_spec
from sim.metrics import METRICS

SMALL = {"horizon_weeks": 20, "replications": 2, "seed": 5}


def word_of_mouth(workers: int):
    """Four arms in two markets (with and without social ties), as plain config."""
    exp = {"question": "q", "baseline": "rv", "arms": [
        {"name": "rv", "strategy": "reciprocal_value"},
        {"name": "rv0", "strategy": "reciprocal_value", "params": {"social_ties": 0}},
        {"name": "cs", "strategy": "constant_sales"},
        {"name": "cs0", "strategy": "constant_sales", "params": {"social_ties": 0}},
        {"name": "lc", "strategy": "lifecycle", "params": {"social_ties": 2}}]}  # alone in its market
    cfg = {"market": {"customers": 300}, "behaviour": {}, "economics": {}, "experiment": exp,
           "workers": workers, **SMALL}
    return experiment_spec(cfg, "word_of_mouth")


def per_arm_holdouts(spec) -> dict[str, pd.DataFrame]:
    """The reference: every arm with its own holdout in lockstep."""
    weekly, tiers, customers = [], [], []
    for r in range(spec.replications):
        for arm in spec.arms:
            res = run_once(arm.strategy, arm.params, spec.horizon_weeks, spec.seed + r, r == 0, holdout=True)
            tag = {"arm": arm.name, "replication": r, "seed": spec.seed + r}
            weekly.append(res["weekly"].assign(**tag))
            tiers.append(res["tiers"].assign(**tag))
            if res["customers"] is not None:
                customers.append(res["customers"].assign(**tag))
    return {"weekly": pd.concat(weekly, ignore_index=True), "tiers": pd.concat(tiers, ignore_index=True),
            "customers": pd.concat(customers, ignore_index=True)}


def assert_same(results, reference: dict[str, pd.DataFrame]) -> None:
    for name, expected in reference.items():
        got = getattr(results, name)
        pd.testing.assert_frame_equal(got[expected.columns].reset_index(drop=True), expected, check_exact=True,
                                      obj=name)


def test_arms_of_the_same_market_share_one_holdout_per_seed(monkeypatch):
    spec = word_of_mouth(workers=1)
    assert shared_markets(spec) == {0: 0, 1: 1, 2: 0, 3: 1}  # lc is alone: lockstep
    recorded = []
    real = model_module.record_holdout
    monkeypatch.setattr(model_module, "record_holdout", lambda *a, **k: recorded.append(k["rng"]) or real(*a, **k))
    results = run_experiment(spec, progress=False)
    assert sorted(recorded) == [5, 5, 6, 6]  # two markets x two seeds, instead of four arms x two seeds
    assert_same(results, per_arm_holdouts(spec))


@pytest.mark.slow
def test_shared_holdouts_in_worker_processes_give_the_same_results():
    spec = word_of_mouth(workers=2)
    assert_same(run_experiment(spec, progress=False), per_arm_holdouts(spec))


def test_a_replayed_holdout_must_cover_the_weeks_run():
    short = model_module.record_holdout(300, 3, rng=1)
    m = RelationshipModel(customers=300, strategy="constant_sales", rng=1, journeys=0, holdout=short)
    m.run(3)
    with pytest.raises(Exception, match="3 weeks"):
        m.step()


# --- Mesa conventions ------------------------------------------------------------------------
def test_datacollector_holds_the_weekly_metrics_and_the_sampled_customers():
    m = RelationshipModel(customers=300, strategy="reciprocal_value", rng=2, journeys=3).run(6)
    model_vars = m.datacollector.get_model_vars_dataframe()
    expected = m.metrics().drop(columns="week")
    pd.testing.assert_frame_equal(model_vars.reset_index(drop=True), expected[list(model_vars.columns)])
    assert list(model_vars.columns) == [x.name for x in METRICS]
    agents = m.datacollector.get_agenttype_vars_dataframe(SampledCustomer)
    assert len(agents) == 6 * 3 and set(agents["customer"]) == set(m.journey_ids.tolist())
    last = agents.xs(6.0, level="Step").set_index("customer")
    for i in m.journey_ids:
        assert last.loc[i, "trust"] == pytest.approx(float(m.pop.trust[i]))
        assert last.loc[i, "stage"] == m.customer(int(i)).stage


def test_running_stops_at_the_horizon():
    m = RelationshipModel(customers=300, strategy="reciprocal_value", rng=2, journeys=0, horizon=4)
    steps = 0
    while m.running:
        m.step()
        steps += 1
    assert steps == m.week == 4
    assert RelationshipModel(customers=300, rng=2, journeys=0).running  # no horizon: runs until stopped


def test_mesa_batch_run_over_two_parameter_values():
    rows = mesa.batch_run(RelationshipModel, {"customers": 300, "strategy": ["constant_sales", "reciprocal_value"],
                                              "horizon": 8, "journeys": 2},
                          rng=[1, 2], max_steps=100, data_collection_period=-1, display_progress=False)
    df = pd.DataFrame(rows)
    assert df["RunId"].nunique() == 4 and (df["Step"] == 8).all()  # stopped at the horizon, not at max_steps
    assert {"incremental_profit", "roi", "trust", "customer", "stage"} <= set(df.columns)
    assert df.groupby("RunId").size().eq(2).all()  # one row per sampled customer
    # the same seeds and strategy give the model's own numbers
    direct = {RelationshipModel(customers=300, strategy="reciprocal_value", rng=seed, journeys=2).run(8)
              .metrics()["incremental_profit"].iloc[-1] for seed in (1, 2)}
    assert set(df.loc[df["strategy"] == "reciprocal_value", "incremental_profit"]) == direct
    assert np.isfinite(df["profit"]).all()
