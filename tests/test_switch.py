"""The switch (issue 10, part 3): starting from current practice, and the numbers and
sentences that say what switching costs and earns.

The break-even week, dip and gains reported are checked against the same numbers
computed here, independently, from the run's ``weekly.parquet``; the warm-up must give
every arm of a seed the same state at week 0; an arm that keeps the current practice must
be the "stay" arm exactly. No model output figure is hard-coded.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import ParameterError, RelationshipModel
from sim import model as model_module
from sim.experiment import run_experiment, run_once, run_holdout
from sim.schema import experiment_spec
from sim.results import load
from sim.state import FIELDS
from sim.switch import COUNTERS, RATE_COUNTERS, CurrentPractice, WarmedMarket, break_even, switch_table
from sim.words import headline

ROOT = Path(__file__).resolve().parent.parent
RAPPORT = shutil.which("rapport", path=str(Path(sys.executable).parent)) or "rapport"
PRACTICE = CurrentPractice("constant_sales", 30)


def state(m: RelationshipModel) -> dict[str, np.ndarray]:
    return {f.name: getattr(m.pop, f.name).copy() for f in FIELDS} | {"ties": m.pop.ties.copy()}


# --- the warm-up -----------------------------------------------------------------------------
def test_every_arm_of_a_seed_starts_from_the_same_warmed_up_state_with_counters_reset():
    models = [RelationshipModel(800, s, rng=4, start=PRACTICE, journeys=0)
              for s in ("reciprocal_value", "constant_sales", "lifecycle")]
    first = state(models[0])
    for m in models[1:]:
        for name, values in state(m).items():
            np.testing.assert_array_equal(values, first[name], err_msg=name)
    m = models[0]
    for name in COUNTERS:
        assert not getattr(m.pop, name).any(), name
    assert all(getattr(m.pop, name) == 0 for name in RATE_COUNTERS)
    for name, values in state(m).items():  # the holdout starts from the warmed-up state too
        np.testing.assert_array_equal(getattr(m.holdout, name) if name != "ties" else m.holdout.ties, values)
    fresh = RelationshipModel(800, "reciprocal_value", rng=4, journeys=0)
    assert m.pop.fatigue.mean() > fresh.pop.fatigue.mean()  # two months of weekly offers left their mark
    assert m.pop.opted_in.sum() < fresh.pop.opted_in.sum()


def test_week_one_is_the_first_week_after_the_switch():
    m = RelationshipModel(800, "reciprocal_value", rng=4, start=PRACTICE, journeys=0).run(3)
    w = m.metrics()
    assert w["cum_profit"].iloc[0] == pytest.approx(w["profit"].iloc[0])
    assert w["cum_cost"].iloc[0] == pytest.approx(w["cost"].iloc[0])
    assert m.pop.cost.sum() == pytest.approx(w["cost"].sum())  # per-customer cost counts the 3 weeks only


def test_a_recorded_warm_up_gives_the_same_run_as_computing_it():
    computed = RelationshipModel(800, "reciprocal_value", rng=7, start=PRACTICE, journeys=3).run(15)
    donor = RelationshipModel(800, "constant_sales", rng=7, start=PRACTICE, journeys=0)
    replayed = RelationshipModel(800, "reciprocal_value", rng=7, start=donor.start, journeys=3).run(15)
    pd.testing.assert_frame_equal(computed.metrics(), replayed.metrics(), check_exact=True)
    assert donor.start.population is not replayed.pop  # the shared state is copied, never changed
    with pytest.raises(ParameterError, match="warmed up for 800 customers"):
        RelationshipModel(500, "reciprocal_value", rng=7, start=donor.start)


def test_a_replayed_holdout_carries_its_warm_up_and_gives_the_lockstep_results():
    params = {"customers": 600}
    lockstep = run_once("lifecycle", params, 12, 3, False, holdout=True, start=PRACTICE)
    recorded = run_holdout(params, 12, 3, start=PRACTICE)
    assert isinstance(recorded.start, WarmedMarket)
    replayed = run_once("lifecycle", params, 12, 3, False, holdout=recorded)
    pd.testing.assert_frame_equal(lockstep["weekly"], replayed["weekly"], check_exact=True)


def switch_spec(arms: list[dict], replications: int = 3, horizon: int = 60):
    exp = {"question": "q", "baseline": "stay", "current": {"strategy": "constant_sales", "weeks": 30}, "arms": arms}
    cfg = {"market": {"customers": 500}, "behaviour": {}, "economics": {}, "experiment": exp, "workers": 1,
           "horizon_weeks": horizon, "replications": replications, "seed": 11}
    return experiment_spec(cfg, "switch")


def test_an_arm_keeping_the_current_practice_is_stay_exactly_and_the_warm_up_runs_once_per_seed(monkeypatch):
    spec = switch_spec([{"name": "stay", "strategy": "constant_sales"}, {"name": "again", "strategy": "constant_sales"},
                        {"name": "switch", "strategy": "reciprocal_value"}])
    warmed = []
    real = model_module.begin
    monkeypatch.setattr(model_module, "begin", lambda pop, start, *a: warmed.append(type(start).__name__) or
                        real(pop, start, *a))
    res = run_experiment(spec, progress=False)
    assert sorted(warmed).count("CurrentPractice") == spec.replications  # once per seed, shared by the 3 arms
    w = res.weekly.drop(columns=["arm"])
    pd.testing.assert_frame_equal(w[res.weekly["arm"] == "again"].reset_index(drop=True),
                                  w[res.weekly["arm"] == "stay"].reset_index(drop=True), check_exact=True)
    same = res.switch.set_index("arm").loc["again"]
    assert math.isnan(same["dip"]) and same["break_even"] == 1 and same["gain_52"] == 0 and same["gain_60"] == 0


@pytest.mark.slow
def test_warm_ups_shared_through_worker_processes_give_the_same_results():
    arms = [{"name": "stay", "strategy": "constant_sales"}, {"name": "switch", "strategy": "reciprocal_value"},
            {"name": "alone", "strategy": "lifecycle", "params": {"social_ties": 2}}]  # warms up in lockstep
    one, two = (run_experiment(dataclasses.replace(switch_spec(arms, replications=2, horizon=15), workers=w), progress=False)
                for w in (1, 2))
    pd.testing.assert_frame_equal(one.weekly, two.weekly, check_exact=True)


def test_break_even_is_the_week_after_the_last_negative_gap():
    gap = pd.DataFrame({0: [-3.0, -1, 2, -1, 4], 1: [-1.0, 1, 1, 1, 1], 2: [1.0, 2, 3, 4, 5]}, index=range(1, 6))
    mean, lo, hi, share = break_even(gap)
    assert (mean, share) == ((5 + 2 + 1) / 3, 1.0) and lo >= 1 and hi > mean  # never below week 1
    assert math.isnan(break_even(gap[[0, 1]])[1])  # fewer than 3 runs: no interval
    mean, lo, _, share = break_even(gap.assign(**{"3": [-1.0, -1, -1, -1, -1]}))  # one run never breaks even
    assert share == 0.75 and math.isnan(lo) and mean == 2  # the mean gap's break-even


# --- end to end -------------------------------------------------------------------------------
def rapport(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([RAPPORT, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def independent(weekly: pd.DataFrame) -> dict:
    """Break-even, dip and gains of switch against stay, from weekly.parquet alone."""
    cum = weekly.pivot_table(index="week", columns=["arm", "seed"], values="cum_profit")
    gap = cum["switch"] - cum["stay"]
    each = []
    for seed in gap.columns:
        negative = gap.index[gap[seed] < 0]
        each.append(math.nan if gap[seed].iloc[-1] < 0 else (negative.max() + 1 if len(negative) else 1))
    mean_gap = gap.mean(axis=1)
    return {"each": each, "mean_gap": mean_gap, "gaps": gap}


@pytest.fixture(scope="module")
def switch_run(tmp_path_factory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("switch")
    out = rapport("experiment=switch_to_value", "market.customers=3000", "horizon_weeks=156", "replications=4",
                  "experiment.current.weeks=52", "workers=1", cwd=cwd)
    assert out.returncode == 0, out.stderr
    folder = next((cwd / "results" / "switch_to_value").iterdir())
    return folder, out.stdout


def test_reported_break_even_dip_and_gains_equal_those_computed_from_weekly(switch_run):
    folder, stdout = switch_run
    weekly = pd.read_parquet(folder / "weekly.parquet")
    row = pd.read_csv(folder / "switch.csv").set_index("arm").loc["switch"]
    ref = independent(weekly)
    each = ref["each"]
    if not any(math.isnan(w) for w in each):
        assert row["break_even"] == pytest.approx(np.mean(each)) and row["break_even_share"] == 1
    else:  # then the mean gap's break-even, from the same rule
        negative = ref["mean_gap"].index[ref["mean_gap"] < 0]
        expected = math.nan if ref["mean_gap"].iloc[-1] < 0 else (negative.max() + 1 if len(negative) else 1)
        assert row["break_even"] == pytest.approx(expected, nan_ok=True)
    if ref["mean_gap"].min() < 0:
        assert row["dip_week"] == ref["mean_gap"].idxmin() and row["dip"] == pytest.approx(ref["mean_gap"].min())
    for week in (52, 156):
        assert row[f"gain_{week}"] == pytest.approx(ref["gaps"].loc[week].mean())
    assert "gain_260" not in row.index  # beyond the horizon: not reported
    first = stdout.split("\n\n")[1].splitlines()[0]  # the verdict's first sentence, in the terminal
    assert first.startswith("Switching from a weekly sales blast to value first")
    if row["break_even_share"] == 1 and not math.isnan(row["dip"]):
        assert f"pays back in about {row['break_even']:.0f} weeks" in first
    html = (folder / "report.html").read_text()
    assert first.replace("$", "&#36;") in html or first in html.replace("&#39;", "'")


def test_the_report_describes_the_switch_run(switch_run):
    folder, _ = switch_run
    html = (folder / "report.html").read_text()
    assert "when do we break even" in html  # the experiment file's question, its arms unchanged
    assert "a weekly sales blast for 52 weeks" in html  # the warm-up, stated


def test_a_bad_current_practice_is_one_line_and_writes_nothing(tmp_path):
    for bad, says in (("experiment.current.weeks=0", "experiment.current.weeks=0"),
                      ("experiment.current.strategy=nope", "experiment.current.strategy='nope': unknown"),
                      ("experiment.current={strategy: constant_sales, week: 20}", "week")):
        out = rapport("experiment=switch_to_value", "market.customers=300", "horizon_weeks=5", bad, cwd=tmp_path)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and says in out.stderr, out.stderr
        assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("*.parquet"))


# --- words -----------------------------------------------------------------------------------
def test_the_headline_names_strategies_by_their_labels_and_says_when_there_is_no_range():
    spec = switch_spec([{"name": "stay", "strategy": "constant_sales"}, {"name": "switch", "strategy": "lifecycle"}],
                       replications=1, horizon=20)
    res = run_experiment(spec, progress=False)
    lines = headline(res)
    assert lines[0].startswith("Switching from a weekly sales blast to lifecycle contact ")
    assert "between" not in lines[0] and "no range can be given" in lines[1]
    res.current = None  # the same comparison without a current practice
    assert headline(res)[0].startswith("Lifecycle contact instead of a weekly sales blast ")
    table = switch_table(res.weekly, [("switch", "stay")], 20)
    assert list(table.columns[:3]) == ["arm", "versus", "pairs"] and table["pairs"].iloc[0] == 1


def test_a_single_arm_leads_with_its_sentence_against_no_contact_from_its_summary():
    from sim.words import about

    cfg = {"market": {"customers": 500}, "behaviour": {}, "economics": {}, "experiment": {"arms": []},
           "strategy": "lifecycle", "workers": 1, "horizon_weeks": 40, "replications": 3, "seed": 1}
    res = run_experiment(experiment_spec(cfg, "strategy-lifecycle"), progress=False)
    first = headline(res)[0]
    s = res.summary.set_index("arm").loc["lifecycle"]
    assert first.startswith("Lifecycle contact, against no contact, ")
    assert f"it {'adds' if s['profit'] >= 0 else 'loses'} {about(s['profit'])} (between " in first
    if s["payback_share"] == 1:
        assert f"pays back in about {s['payback_week']:.0f} weeks" in first


def test_current_practice_can_be_given_whole_on_the_command_line(tmp_path):
    from sim.cli import main

    assert main(["experiment.current={strategy: constant_sales, weeks: 10}", "market.customers=300", "horizon_weeks=6",
                 "replications=1", "workers=1", "report=false", f"results_dir={tmp_path}"]) == 0
    folder = next((tmp_path / "sales_vs_reciprocal").iterdir())
    res = load(folder)
    assert res.current == {"strategy": "constant_sales", "label": "a weekly sales blast", "weeks": 10,
                           "description": res.current["description"]}
    assert res.headline[0].startswith("Switching from a weekly sales blast to value first ")


def test_the_command_passes_its_overrides_so_that_replaced_arms_title_the_report(tmp_path):
    import json

    from sim.cli import main

    arms = "experiment.arms=[{name: blast, strategy: constant_sales}, {name: stages, strategy: lifecycle}]"
    assert main([arms, "experiment.baseline=blast", "market.customers=300", "horizon_weeks=8", "replications=1",
                 "workers=1", f"results_dir={tmp_path}"]) == 0
    folder = next((tmp_path / "sales_vs_reciprocal").iterdir())
    described = json.loads((folder / "meta.json").read_text())["experiment"]
    assert described["name"] == "blast_vs_stages"
    assert described["question"] == "Does lifecycle contact earn more than a weekly sales blast?"
    assert "<title>Rapport: blast_vs_stages</title>" in (folder / "report.html").read_text()


def test_a_run_without_comparisons_has_an_empty_switch_table_and_a_report(tmp_path):
    from sim.cli import main

    assert main(["strategy=lifecycle", "market.customers=300", "horizon_weeks=6", "replications=1", "workers=1",
                 f"results_dir={tmp_path}"]) == 0
    folder = next((tmp_path / "strategy-lifecycle").iterdir())
    table = pd.read_csv(folder / "switch.csv")
    assert table.empty and {"pairs", "break_even", "gain_6"} <= set(table.columns)
    assert "Lifecycle contact, against no contact, " in (folder / "report.html").read_text()
