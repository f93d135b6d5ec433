"""Hydra configs: every group option and experiment composes and runs; schema and checks.

Runs are tiny (300 customers, 20 weeks, 2 replications): these tests check that the
configs fit together and reach the model, not what the strategies earn.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import spec_for
from hydra import compose

from sim import PARAMS, ParameterError
from sim.cli import CONFIG_DIR, one_line
from sim.dealership import MARKET_SETTINGS
from sim.experiment import run_experiment
from sim.schema import GROUPS, BehaviourConfig, EconomicsConfig, MarketConfig

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["market.customers=300", "horizon_weeks=20", "replications=2", "workers=1"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))




def test_experiment_group_is_the_top_level_experiments_folder():
    assert options("experiment") == sorted(p.stem for p in (ROOT / "experiments").glob("*.yaml"))
    assert {"sales_vs_reciprocal", "targeting", "best_customers", "lifecycle", "service_followup",
            "word_of_mouth"} <= set(options("experiment"))


def test_strategy_group_is_every_builtin_strategy():
    from sim import builtin_strategies

    assert options("strategy") == builtin_strategies()


def test_structured_configs_hold_every_parameter_once_with_its_type_and_default():
    seen = {}
    for group, cls in (("market", MarketConfig), ("behaviour", BehaviourConfig), ("economics", EconomicsConfig)):
        for f in dataclasses.fields(cls):
            if group == "market" and f.name in MARKET_SETTINGS:  # the dealer's view: sim.dealership
                assert f.default == MARKET_SETTINGS[f.name]
                continue
            assert f.name not in seen, f"{f.name} in {seen.get(f.name)} and {group}"
            seen[f.name] = group
            p = PARAMS[f.name]
            assert p.group in GROUPS[group]
            assert f.type in (p.kind, p.kind.__name__) and f.default == p.default
    assert set(seen) == set(PARAMS)


@pytest.mark.parametrize("group,option", [(g, o) for g in ("market", "behaviour", "economics", "strategy")
                                          for o in options(g)])
def test_every_group_option_composes_and_runs(hydra_ctx, group, option):
    spec = spec_for([f"{group}={option}", *SMALL])
    res = run_experiment(spec, progress=False)
    assert len(res.summary) == len(spec.arms)
    assert np.isfinite(res.summary["profit"]).all()
    raw = compose("config", overrides=[f"{group}={option}"])
    if group == "strategy":  # one strategy alone, named after it
        assert [a.strategy_name for a in spec.arms] == [option] and spec.name == f"strategy-{option}"
    else:  # the option's values reach the model (the customers override excepted)
        for key, value in raw[group].items():
            if key != "customers" and key not in MARKET_SETTINGS:  # the dealer's view is not a parameter
                assert spec.arms[0].params[key] == value


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes_and_runs(hydra_ctx, experiment):
    spec = spec_for([f"experiment={experiment}", *SMALL])
    assert spec.name == experiment and len(spec.arms) >= 2 and spec.question
    res = run_experiment(spec, progress=False)
    assert list(res.summary["arm"]) == [a.name for a in spec.arms]
    assert set(res.weekly.groupby("arm")["seed"].unique().map(tuple)) == {(0, 1)}  # same seeds for every arm
    assert len(res.differences) == len(spec.arms) * (len(spec.arms) - 1) // 2


def test_word_of_mouth_arms_carry_parameter_overrides(hydra_ctx):
    spec = spec_for(["experiment=word_of_mouth"])
    ties = {a.name: a.params["social_ties"] for a in spec.arms}
    assert ties["reciprocal_value without ties"] == 0 and ties["reciprocal_value"] == PARAMS["social_ties"].default
    assert spec.comparisons == (("reciprocal_value without ties", "reciprocal_value"),
                                ("constant_sales without ties", "constant_sales"))


def test_command_line_overrides_reach_the_spec(hydra_ctx):
    spec = spec_for(["experiment=targeting", "market.customers=20000", "horizon_weeks=520", "seed=7",
                     "economics.cost_email=0.5", "behaviour.attention_email=0.2", "market.rival_pull=1.5"])
    assert (spec.horizon_weeks, spec.seeds[0]) == (520, 7)
    for arm in spec.arms:
        assert arm.params["customers"] == 20000 and arm.params["cost_email"] == 0.5
        assert arm.params["attention_email"] == 0.2 and arm.params["rival_pull"] == 1.5


@pytest.mark.parametrize("override,fragment", [
    ("market.our_share=1.7", "market.our_share=1.7"),
    ("behaviour.heed_negative=1.7", "behaviour.heed_negative=1.7"),
    ("economics.cost_phone=-3", "economics.cost_phone"),
    ("replications=0", "replications=0"),
    ("experiment.baseline=nobody", "experiment.baseline"),
    ("experiment.holdout=constant_sales", "experiment.holdout"),
])
def test_out_of_range_values_stop_with_one_line(hydra_ctx, override, fragment):
    with pytest.raises(ParameterError) as excinfo:
        spec_for([override])
    assert fragment in str(excinfo.value) and "\n" not in str(excinfo.value)


@pytest.mark.parametrize("override,fragment", [
    ("market.customers=many", "market.customers"),
    ("market.word_of_mouth=perhaps", "market.word_of_mouth"),
    ("market.no_such_thing=1", "market.no_such_thing"),
    ("strategy=nope", "strategy=nope"),
    ("experiment=nope", "experiment=nope"),
])
def test_wrong_types_and_unknown_options_are_caught_by_hydra(hydra_ctx, override, fragment):
    with pytest.raises(Exception) as excinfo:
        spec_for([override])
    line = one_line(excinfo.value)
    assert fragment in line and "\n" not in line


def test_identical_arms_give_identical_runs(hydra_ctx):
    """Common random numbers: two arms with the same strategy differ by exactly zero."""
    spec = spec_for([*SMALL, "experiment.baseline=a", "experiment.arms=[{name: a, strategy: reciprocal_value}, "
                     "{name: b, strategy: reciprocal_value}, {name: c, strategy: constant_sales}]"])
    res = run_experiment(spec, progress=False)
    w = res.weekly.drop(columns=["arm"])
    a, b = (w[res.weekly["arm"] == n].reset_index(drop=True) for n in ("a", "b"))
    pd.testing.assert_frame_equal(a, b)
    d = res.differences.set_index(["arm", "versus"]).loc[("b", "a")]
    assert d["profit"] == 0 and d["roi"] == 0 and d["pairs"] == 2
    # ... and the holdout is shared too: each run's profit minus incremental profit is the holdout's.
    c = w[res.weekly["arm"] == "c"].reset_index(drop=True)
    np.testing.assert_allclose(a["cum_profit"] - a["incremental_profit"], c["cum_profit"] - c["incremental_profit"])


def test_parallel_replications_give_the_same_results_as_serial(hydra_ctx):
    """Runs in worker processes are the same runs: each depends only on its arm and seed."""
    serial = run_experiment(spec_for([*SMALL, "workers=1"]), progress=False)
    parallel = run_experiment(spec_for([*SMALL, "workers=2"]), progress=False)
    pd.testing.assert_frame_equal(serial.weekly, parallel.weekly)
    pd.testing.assert_frame_equal(serial.summary, parallel.summary)


def test_workers_zero_runs_a_small_experiment_in_one_process(hydra_ctx):
    """``workers=0`` (one per core) starts no worker processes for a small experiment, as
    each job of a sweep of small runs is: starting them costs more than they save."""
    from sim.limits import SMALL_WORK, cores

    small = spec_for(["market.customers=2000", "horizon_weeks=104", "replications=2", "workers=0"])
    assert small.horizon_weeks * small.replications * 2 * sum(a.params["customers"] for a in small.arms) < SMALL_WORK
    assert small.workers == 1
    big = spec_for(["market.customers=100000", "horizon_weeks=104", "replications=2", "workers=0"])
    assert big.workers == min(cores(), 2 * len(big.arms))


def test_worker_processes_are_kept_for_the_next_experiment(hydra_ctx):
    """The jobs of a sweep run one after another in one process: the next experiment reuses
    the worker processes of the last instead of starting (and importing Rapport in) its own."""
    from sim import experiment

    spec = spec_for([*SMALL, "workers=2"])
    first = run_experiment(spec, progress=False)
    workers = set(experiment._POOLS[2]._processes)
    second = run_experiment(spec, progress=False)
    assert set(experiment._POOLS[2]._processes) == workers and len(workers) == 2
    pd.testing.assert_frame_equal(first.weekly, second.weekly)
