"""Experiments end to end: the real ``rapport`` command, its results folder, multirun
gathering, bad input, interrupted runs; and the statistics the reports rest on."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic

import sim
from sim import analysis
from sim.cli import main
from sim.gathering import gather
from sim.results import COMPARISON, INCOMPLETE, MARKER, load

ROOT = Path(__file__).resolve().parent.parent
RAPPORT = shutil.which("rapport", path=str(Path(sys.executable).parent)) or "rapport"
SMALL = ["market.customers=300", "horizon_weeks=20", "replications=2"]
METRICS = ["roi", "profit", "payback_week", "retention", "repurchase", "service_retention", "trust", "affinity",
           "unsubscribe_rate", "referrals"]


def rapport(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)  # Hydra would print full tracebacks
    return subprocess.run([RAPPORT, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --- statistics ------------------------------------------------------------------------------
def test_payback_week_is_the_first_week_from_which_the_curve_stays_nonnegative():
    weeks = np.arange(1, 7)
    assert analysis.payback_week(weeks, [-5, -3, 1, -1, 2, 4]) == 5  # dips again in week 4
    assert analysis.payback_week(weeks, [0, 1, 2, 3, 4, 5]) == 1
    assert math.isnan(analysis.payback_week(weeks, [1, 2, 3, 2, 1, -1]))  # ends below zero: never


def test_mean_ci_is_the_student_t_interval():
    m, lo, hi = analysis.mean_ci([1.0, 2.0, 3.0, np.nan])
    assert m == 2 and hi - m == pytest.approx(4.303 / math.sqrt(3), rel=1e-3) and m - lo == pytest.approx(hi - m)
    assert math.isnan(analysis.mean_ci([5.0])[1])
    # Known quantiles beyond the table (t(60) = 2.000, t(120) = 1.980).
    assert analysis.t975(60) == pytest.approx(2.000, abs=2e-3) and analysis.t975(120) == pytest.approx(1.980, abs=2e-3)




def test_paired_differences_use_common_seeds_only():
    weekly = synthetic({**{("a", s): [10.0 + s] * 2 for s in (0, 1, 2, 3)},
                        **{("b", s): [float(s)] * 2 for s in (1, 2, 3, 4)}})
    d = analysis.differences(weekly, [("a", "b")]).iloc[0]
    assert d["pairs"] == 3 and d["profit"] == 10 and d["profit_lo"] == d["profit_hi"] == 10


def test_summary_payback_is_the_mean_of_the_runs_only_when_every_run_paid_back():
    all_paid = synthetic({("a", 0): [-1, 1, 1, 1], ("a", 1): [-1, -1, -1, 1], ("a", 2): [-1, -1, 1, 1]})  # 2, 4, 3
    row = analysis.summary(all_paid, ["a"]).iloc[0]
    assert row["payback_week"] == 3 and 2 <= row["payback_week_lo"] < 3 < row["payback_week_hi"] <= 4
    assert row["payback_share"] == 1
    one_paid = synthetic({("a", 0): [-1, 5, 5, 5], ("a", 1): [-1, -1, -1, -2]})  # mean curve from week 2
    row = analysis.summary(one_paid, ["a"]).iloc[0]
    assert row["payback_week"] == 2 and math.isnan(row["payback_week_lo"]) and row["payback_share"] == 0.5
    verdict = " ".join(analysis.verdict(analysis.summary(one_paid, ["a"]), analysis.differences(one_paid, []), [], 4))
    assert "1 of 2 runs paid back" in verdict


# --- the real command ---------------------------------------------------------------------------
@pytest.mark.slow
def test_default_command_writes_a_complete_results_folder(tmp_path):
    out = tmp_path / "results"
    proc = rapport(*SMALL, "replications=3", "workers=1", f"results_dir={out}", cwd=tmp_path)  # 3: intervals
    assert proc.returncode == 0, proc.stderr
    [run] = list((out / "sales_vs_reciprocal").iterdir())
    assert not run.name.endswith(INCOMPLETE) and (run / MARKER).is_file()
    assert str(run / "report.html") in proc.stdout and "reciprocal_value" in proc.stdout
    for name in ("config.yaml", "weekly.parquet", "customers.parquet", "tiers.parquet", "summary.csv",
                 "differences.csv", "report.html", "meta.json"):
        assert (run / name).is_file(), name

    summary = pd.read_csv(run / "summary.csv")
    assert list(summary.columns[:4]) == ["arm", "roi", "roi_lo", "roi_hi"]
    for metric in METRICS:
        assert {metric, f"{metric}_lo", f"{metric}_hi"} <= set(summary.columns), metric
    assert list(summary["arm"]) == ["constant_sales", "reciprocal_value"]
    weekly = pd.read_parquet(run / "weekly.parquet")
    assert len(weekly) == 2 * 3 * 20 and {"arm", "replication", "seed", "week", "incremental_profit"} <= set(weekly)
    last = weekly[weekly["week"] == 20]
    # summary's profit and ROI are the model's columns, averaged (one definition of ROI)
    for col, metric in (("incremental_profit", "profit"), ("roi", "roi")):
        expected = last.groupby("arm")[col].mean()
        assert np.allclose(summary.set_index("arm")[metric], expected[summary["arm"]])
    diffs = pd.read_csv(run / "differences.csv")
    assert diffs.loc[0, ["arm", "versus"]].tolist() == ["reciprocal_value", "constant_sales"]
    a, b = (last[last["arm"] == n].set_index("seed")["incremental_profit"] for n in diffs.loc[0, ["arm", "versus"]])
    assert diffs.loc[0, "profit"] == pytest.approx((a - b).mean())
    customers = pd.read_parquet(run / "customers.parquet")
    assert set(customers["arm"]) == {"constant_sales", "reciprocal_value"} and len(customers) == 2 * 300

    meta = json.loads((run / "meta.json").read_text())
    assert meta["rapport_version"] == sim.__version__ and re.fullmatch(r"[0-9a-f]{40}|unknown", meta["commit"])
    html = (run / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 6
    assert not re.search(r"""(src|href)=["']?https?://""", html)  # readable offline
    assert "Verdict" in html and "95% CI" in html


@pytest.mark.slow
def test_bad_probability_exits_with_one_line_and_writes_nothing(tmp_path):
    """Through ``python -m sim``, which must behave as the ``rapport`` script."""
    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "sim", "market.our_share=1.7", f"results_dir={out}"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "market.our_share=1.7" in lines[0] and "Traceback" not in proc.stderr
    assert files(out) == [] and not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("args,fragment", [
    (["strategy=nope"], "strategy=nope"),
    (["experiment=nope"], "experiment=nope"),
    (["market.customers=many"], "market.customers"),
    (["-m", "strategy=constant_sales,nope", "market.customers=300"], "strategy=nope"),
    (["-m", "market.customers=300", "behaviour.heed_positive=0.5,1.7"], "behaviour.heed_positive=1.7"),
])
def test_bad_overrides_stop_before_any_folder_is_made(tmp_path, capsys, args, fragment):
    out = tmp_path / "results"
    assert main([*args, f"results_dir={out}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert files(out) == []


@pytest.mark.slow
def test_multirun_two_by_two_is_gathered_into_one_comparison(tmp_path):
    out = tmp_path / "results"
    proc = rapport("-m", "strategy=constant_sales,reciprocal_value", "market.customers=200,300", "horizon_weeks=20",
                   "replications=2", "workers=1", f"results_dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    [sweep] = list((out / "multirun").iterdir())
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name != COMPARISON)
    assert [p.name for p in jobs] == ["0", "1", "2", "3"] and all((p / MARKER).is_file() for p in jobs)
    assert not any((p / "report.html").exists() for p in jobs)  # one report, for the comparison
    comp = sweep / COMPARISON
    assert (comp / MARKER).is_file() and (comp / "report.html").is_file()
    summary = pd.read_csv(comp / "summary.csv")
    assert sorted(summary["arm"]) == sorted(f"{s} | market.customers={n}" for s in ("constant_sales", "reciprocal_value")
                                            for n in (200, 300))
    diffs = pd.read_csv(comp / "differences.csv")
    assert len(diffs) == 6 and (diffs["pairs"] == 2).all()
    # one column per swept parameter, in summary, differences and weekly tables
    assert list(summary.columns[:3]) == ["arm", "market.customers", "strategy"]
    for _, row in summary.iterrows():
        assert row["arm"] == f"{row['strategy']} | market.customers={row['market.customers']}"
    assert list(diffs.columns[3:5]) == ["market.customers", "strategy"]
    assert set(diffs["market.customers"]) == {200, 300}
    weekly = pd.read_parquet(comp / "weekly.parquet")
    assert list(weekly.columns[:5]) == ["arm", "replication", "seed", "market.customers", "strategy"]
    assert all(arm.endswith(f"={n}") for arm, n in zip(weekly["arm"], weekly["market.customers"]))
    assert "Outcomes against market.customers" in (comp / "report.html").read_text()
    res = load(comp)  # the verdict compares strategies within the same market
    assert ("reciprocal_value | market.customers=300", "constant_sales | market.customers=300") in res.comparisons

    # `rapport report` gathers again (the comparison is replaced, not duplicated), and
    # skips a job that did not finish.
    shutil.copytree(jobs[0], sweep / f"9{INCOMPLETE}")
    assert main(["report", str(sweep)]) == 0
    assert sorted(p.name for p in sweep.iterdir() if p.name.startswith(COMPARISON)) == [COMPARISON]
    assert f"9{INCOMPLETE}" in json.dumps(load(comp).notes)


def test_report_refuses_an_incomplete_folder(tmp_path, capsys):
    run = tmp_path / f"2026-01-01_00-00-00{INCOMPLETE}"
    run.mkdir()
    (run / "summary.csv").write_text("arm\n")
    assert main(["report", str(run)]) == 2
    assert "incomplete" in capsys.readouterr().err
    with pytest.raises(sim.ParameterError):
        gather(run)


def test_dashboard_subcommand_without_the_app_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sim.app", None)
    assert main(["dashboard"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dashboard" in err[0]


def test_a_run_that_fails_while_writing_leaves_only_an_incomplete_folder(tmp_path, monkeypatch):
    from sim import report
    from sim.results import Results
    from sim.writing import write_results

    weekly = synthetic({("a", 0): [1.0, 2.0]})
    tiers = pd.DataFrame({"tier": ["light"], "arm": ["a"], "seed": [0], "net_value": [1.0]})
    res = Results("x", "q?", [{"name": "a"}], "a", 2, [0], {}, weekly, tiers).analyse()

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C while the report was drawn

    monkeypatch.setattr(report, "write_report", broken)
    with pytest.raises(KeyboardInterrupt):
        write_results(res, tmp_path / "run")
    [staging] = tmp_path.iterdir()
    assert staging.name.startswith("run.") and staging.name.endswith(INCOMPLETE)
    assert not (staging / MARKER).exists()
    monkeypatch.undo()
    assert main(["report", str(staging)]) == 2


def test_a_run_in_process_leaves_no_log_file_open_behind(tmp_path):
    """``main`` renames the job's folder when done; a later log call in the same process (a
    notebook, the next test) must not try to open ``rapport.log`` in the old folder."""
    import logging

    assert main([*SMALL, "replications=1", f"results_dir={tmp_path}"]) == 0
    assert not [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    logging.getLogger("sim.after_the_run").warning("logged after the run")  # raised FileNotFoundError before
