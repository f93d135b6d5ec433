"""Sweeps: the check before a sweep runs, the objective a run returns, other sweepers.

The check must let every sweeper's syntax through, stop a bad value with one line naming
it before any folder is made, and catch cross-field errors in every combination without
composing each one (issue 11, case 12: a 10,000-combination sweep is checked in seconds).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import hydra
import pytest
import yaml

from sim.cli import CONFIG_DIR, _setup, main
from sim.params import ParameterError
from sim.preflight import preflight
from sim.results import COMPARISON, MARKER

ROOT = Path(__file__).resolve().parent.parent
RAPPORT = shutil.which("rapport", path=str(Path(sys.executable).parent)) or "rapport"


def rapport(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([RAPPORT, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture
def compositions(monkeypatch):
    """Counts the configs the check composes (each costs tens of milliseconds)."""
    calls = []
    real = hydra.compose

    def counting(*args, **kwargs):
        calls.append(kwargs.get("overrides"))
        return real(*args, **kwargs)

    monkeypatch.setattr(hydra, "compose", counting)
    _setup()
    return calls


def check(*args: str) -> None:
    preflight(["-m", *args], CONFIG_DIR)


@pytest.mark.parametrize("args", [
    ["market.rival_pull=interval(0.5,1.5)"],  # Optuna's, Nevergrad's continuous domain
    ["market.rival_pull=tag(log,interval(0.5,1.5))", "market.customers=range(200,400,100)"],
    ["market.customers=choice(200,300)", "behaviour.heed_positive=tag(a,choice(0.1,0.2))"],
    ["strategy=glob(c*)", "market=city,small_town"],
    ["experiment=word_of_mouth,targeting", "market.customers=50,500", "market.social_ties=40"],
    ["hydra/sweeper=optuna", "hydra.sweeper.n_trials=3", "seed=range(3)"],  # Hydra's own settings are Hydra's
])
def test_every_sweeper_syntax_passes_the_check(args, compositions):
    check(*args)


def test_the_check_does_not_use_hydras_private_api():
    for path in (ROOT / "sim").glob("*.py"):
        assert "hydra._internal" not in path.read_text(), path.name


@pytest.mark.parametrize("args,fragments", [
    (["market.customers=100,10", "market.social_ties=6,20", "seed=range(17)"],  # issue 11: 17 of 68 jobs failed
     ["market.social_ties=20", "must be below market.customers=10"]),
    (["market.customers=interval(100,200)"], ["market.customers=interval", "range(...)"]),
    (["market.customers=tag(log,choice(300,400))", "behaviour.heed_positive=0.5,1.7"], ["behaviour.heed_positive=1.7"]),
    (["behaviour.detractor_threshold=0.1,0.3,0.5", "behaviour.promoter_threshold=0.6,0.4"],
     ["behaviour.detractor_threshold=0.5", "below behaviour.promoter_threshold=0.4"]),
    (["market=city,small_town", "market.customers=3000", "market.social_ties=range(0,70,10)", "seed=range(50)"],
     ["market.social_ties=60", "out of range"]),
    (["seed=range(3)", "optimized_metric=profit,nope"], ["optimized_metric='nope'", "allowed are"]),
    (["replications=2,0"], ["replications=0"]),
    (["strategy=constant_sales,nope"], ["strategy=nope"]),
])
def test_a_bad_value_in_any_combination_stops_with_one_line(args, fragments, compositions):
    with pytest.raises(ParameterError) as err:
        check(*args)
    message = str(err.value)
    assert "\n" not in message and all(f in message for f in fragments), message


def test_ten_thousand_combinations_are_checked_with_one_composition_each_group_choice(compositions):
    # 100 seeds x 10 market sizes x 10 tie counts, all valid: composed once
    check("seed=range(100)", "market.customers=range(1000,11000,1000)", "market.social_ties=range(0,50,5)")
    assert len(compositions) == 1
    compositions.clear()
    # the same with one market too small for some tie counts, in two markets
    with pytest.raises(ParameterError, match=r"market.social_ties=11: must be below market.customers=10"):
        check("seed=range(100)", "market.customers=10,100,200,300,400,500,600,700,800,900",
              "market.social_ties=range(1,21,2)", "market=city,small_town")
    assert len(compositions) == 2  # one per market


def test_a_sweep_with_a_bad_combination_writes_nothing(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["-m", "market.customers=100,10", "market.social_ties=6,20", "seed=range(17)",
                 f"results_dir={out}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "market.social_ties=20" in err[0]
    assert not out.exists()


# --- the objective ------------------------------------------------------------------------------
def test_a_run_returns_the_first_comparisons_difference_as_its_objective(tmp_path):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from sim.experiment import run_experiment
    from sim.schema import experiment_spec

    _setup()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["market.customers=300", "horizon_weeks=20", "replications=2", "workers=1",
                                           "optimized_metric=retention"])
    GlobalHydra.instance().clear()
    spec = experiment_spec(cfg, "sales_vs_reciprocal")
    res = run_experiment(spec, progress=False)
    d = res.differences.set_index(["arm", "versus"])
    assert res.objective("retention") == d.loc[("reciprocal_value", "constant_sales"), "retention"]
    assert res.objective() == d.loc[("reciprocal_value", "constant_sales"), "profit"]
    one = run_experiment(experiment_spec({**cfg, "strategy": "constant_sales"}, "one"), progress=False)
    assert one.objective("roi") == one.summary["roi"].iloc[0]  # one arm: against no contact


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None,
                    reason="hydra-optuna-sweeper not installed (pip install -e '.[sweepers]')")
def test_optuna_sweeps_through_the_command_line(tmp_path):
    out = tmp_path / "results"
    proc = rapport("-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=3", "hydra.sweeper.direction=maximize",
                   "hydra.sweeper.sampler.seed=1", "market.rival_pull=interval(0.5,1.5)", "market.customers=200",
                   "horizon_weeks=10", "replications=2", "workers=1", f"results_dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [sweep] = list((out / "multirun").iterdir())
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert isinstance(best["best_value"], float) and 0.5 <= best["best_params"]["market.rival_pull"] <= 1.5
    jobs = [p for p in sweep.iterdir() if p.is_dir() and p.name != COMPARISON]
    assert len(jobs) == 3 and all((p / MARKER).is_file() for p in jobs)
    assert (sweep / COMPARISON / "report.html").is_file()


# --- the default sweeper ----------------------------------------------------------------------
def test_the_default_sweeper_runs_the_jobs_of_hydras_basic_sweeper(tmp_path):
    """Rapport's sweeper (each job composed once) makes the same jobs in the same order as
    Hydra's basic sweeper, also in batches; and the gathering knows its record."""
    from sim.gathering import expected_jobs, recorded_overrides

    def jobs_of(*extra: str) -> tuple[list, Path]:
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        assert main(["-m", "strategy=constant_sales,reciprocal_value", "seed=0,1", "workers=1",
                     "market.customers=300", "horizon_weeks=10", "replications=1", "report=false",
                     f"results_dir={out}", *extra]) == 0
        [sweep] = list((out / "multirun").iterdir())
        folders = sorted((p for p in sweep.iterdir() if p.is_dir() and p.name != COMPARISON), key=lambda p: int(p.name))
        return [[o for o in recorded_overrides(p) if not o.startswith("results_dir=")] for p in folders], sweep

    ours, sweep = jobs_of()
    assert "RapportSweeper" in (sweep / "multirun.yaml").read_text()
    assert len(ours) == 4
    assert [[o for o in job if not o.startswith("results_dir=")] for job in expected_jobs(sweep)] == ours
    assert jobs_of("hydra/sweeper=basic")[0] == ours
    assert jobs_of("hydra.sweeper.max_batch_size=3")[0] == ours


# A sweep's jobs in order, as a launcher asks for their configs: each list after the first
# either changes values of plain settings of a job before it (derived) or picks another
# config group option, adds or removes keys (composed by Hydra).
JOBS = [
    ["seed=0", "market.customers=2000", "horizon_weeks=104"],
    ["seed=1", "market.customers=2000", "horizon_weeks=104"],  # top-level int
    ["seed=1", "market.customers=3000", "horizon_weeks=52"],  # nested and top-level at once
    ["seed=1", "market.customers=3000", "horizon_weeks='52'"],  # a string the structured config converts
    ["seed=1", "market=city", "horizon_weeks=52"],  # another group option: composed
    ["seed=2", "market=city", "horizon_weeks=53"],  # derived from the city job, not the first
    ["seed=2", "market=city", "market.rival_pull=1.5"],  # another key: composed
    ["seed=2", "market=city", "market.rival_pull=0.25"],  # float
    ["seed=3", "strategy=constant_sales", "market.rival_pull=0.25"],
    ["seed=4", "strategy=reciprocal_value", "market.rival_pull=0.25"],  # a group (strategy) changes
    ["seed=5", "experiment=targeting", "optimized_metric=profit", "report=true"],
    ["seed=5", "experiment=targeting", "optimized_metric=retention", "report=null"],  # a string, null
    ["seed=6", "experiment=targeting", "optimized_metric=retention", "report=false"],  # a bool
    ["seed=6", "+experiment.extra=1", "report=true"],  # added key: composed
    ["seed=6", "+experiment.extra=2", "report=true"],
    ["seed=6", "market.customers=2000", "market.customers=4000"],  # the same key twice: order matters
    ["seed=7", "market.customers=3000", "market.customers=4000"],  # the later one wins
    ["seed=7", "market={customers:100}"],  # a mapping: composed (merged)
    ["seed=8", "market={customers:200}"],
]


def test_a_sweep_jobs_derived_config_is_the_one_hydra_composes():
    """``SweepConfigs`` gives each job exactly Hydra's config (values, types, flags, the
    hydra node with its overrides and override_dirname), deriving from a composed job only
    where a job changes plain values; a bad value fails as in Hydra."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from sim.sweeper import SweepConfigs

    _setup()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3", job_name="rapport"):
        hydras = GlobalHydra.instance().config_loader()
        master = hydras.load_configuration("config", overrides=["hydra.sweep.dir=/tmp/sweep", "hydra.verbose=true"],
                                           run_mode=RunMode.MULTIRUN)
        ours = SweepConfigs(hydras)
        composed = []
        real = hydras.load_sweep_config
        ours.loader = type("Counting", (), {"load_sweep_config": lambda _, m, o: composed.append(o) or real(m, o),
                                            "list_groups": lambda _, p: hydras.list_groups(p)})()
        for job in JOBS:
            mine, theirs = ours.load_sweep_config(master, job), real(master, job)
            assert OmegaConf.to_yaml(mine) == OmegaConf.to_yaml(theirs), job
            for node in ("", "market", "behaviour", "hydra", "hydra.job"):
                a, b = OmegaConf.select(mine, node) if node else mine, OmegaConf.select(theirs, node) if node else theirs
                assert (OmegaConf.get_type(a), OmegaConf.is_struct(a), OmegaConf.is_readonly(a)) == \
                       (OmegaConf.get_type(b), OmegaConf.is_struct(b), OmegaConf.is_readonly(b)), (job, node)
        for bad in (["seed=9", "market.customers=many", "horizon_weeks=104"], ["seed=9", "market.nope=1"]):
            with pytest.raises(Exception) as theirs_err:
                real(master, bad)
            with pytest.raises(type(theirs_err.value)):
                ours.load_sweep_config(master, bad)
    GlobalHydra.instance().clear()
    assert composed == [JOBS[i] for i in (0, 4, 6, 8, 9, 10, 13, 14, 15, 16, 17, 18)] + [
        ["seed=9", "market.customers=many", "horizon_weeks=104"], ["seed=9", "market.nope=1"]]
