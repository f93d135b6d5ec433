"""The README tried as a new user would (issue 10, part 5): each defect found that way, with
a test that failed before its fix. Strategy files given by path, empty or slipped strategy
files, YAML syntax errors that name file and line, hints for common command-line slips,
intervals that need three replications and payback intervals inside the horizon, the run's
own log, and a .gitignore that ignores no tracked file.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import assert_one_line_error, synthetic

from sim import ParameterError, analysis, load_strategy
from sim.cli import main
from sim.results import MARKER
from sim.strategies import STRATEGY_DIR
from sim.targets import load_targets

ROOT = Path(__file__).resolve().parent.parent
TINY = ["market.customers=200", "horizon_weeks=8", "workers=1", "report=false"]
MY_PLAN = {"name": "my_plan", "description": "Value first, offers to customers in the market.",
           "default": {"frequency": 0.5, "channel": "email", "targeting": 0.6,
                       "mix": {"value_content": 0.7, "event_invite": 0.1, "sales_offer": 0.2}},
           "rules": [{"stages": ["consideration"], "mix": {"sales_offer": 0.6, "value_content": 0.4}},
                     {"tiers": ["heavy"], "channel": "mail"}]}  # the README's example


def files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


# --- strategy=<path>, as the README says --------------------------------------------------------
@pytest.mark.parametrize("form", ["absolute", "relative"])
def test_strategy_given_by_path_runs(tmp_path, monkeypatch, form):
    """``rapport strategy=/abs/path/my.yaml`` and ``strategy=./my.yaml`` failed as unknown
    config-group choices (``strategy//home/me/plans=my.yaml: unknown``)."""
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "my.yaml").write_text(yaml.safe_dump(MY_PLAN, sort_keys=False))
    monkeypatch.chdir(plans)
    value = str(plans / "my.yaml") if form == "absolute" else "./my.yaml"
    out = tmp_path / "results"
    assert main([f"strategy={value}", *TINY, "replications=1", f"results_dir={out}"]) == 0
    [run] = list((out / "strategy-my").iterdir())
    assert (run / MARKER).is_file()
    assert list(pd.read_csv(run / "summary.csv")["arm"]) == ["my_plan"]
    meta = json.loads((run / "meta.json").read_text())
    assert f"strategy={value}" in meta["argv"]  # the user's own command is recorded
    composed = yaml.safe_load((run / "config.yaml").read_text())
    assert composed["strategy"]["default"] == MY_PLAN["default"]


def test_strategy_paths_in_a_sweep_are_checked_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**MY_PLAN, "default": {**MY_PLAN["default"], "frequency": 1.5}}))
    out = tmp_path / "results"
    assert main(["-m", f"strategy=constant_sales,{bad}", *TINY, f"results_dir={out}"]) == 2
    line = one_error_line(capsys)
    assert str(bad) in line and "strategy.default.frequency=1.5" in line
    assert main([f"strategy={tmp_path / 'missing.yaml'}", f"results_dir={out}"]) == 2
    assert "missing.yaml: file not found" in one_error_line(capsys)
    assert files(out) == []


def test_a_bad_strategy_file_of_an_experiment_arm_names_arm_and_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: {frequency: 2}\n")
    out = tmp_path / "results"
    assert main([f"experiment.arms=[{{name: a, strategy: {bad}}}]", "experiment.baseline=a", f"results_dir={out}"]) == 2
    assert f"error: experiment.arms[0].strategy: {bad}: strategy.default.frequency=2" in one_error_line(capsys)


# --- strategy files that say nothing or slip -----------------------------------------------------
def test_empty_strategy_file_in_a_config_dir_is_refused_naming_it(tmp_path, capsys):
    """It ran as no contact and reported "Every run paid back: in week 1"."""
    (tmp_path / "configs" / "strategy").mkdir(parents=True)
    empty = tmp_path / "configs" / "strategy" / "mine.yaml"
    empty.write_text("# to be written\n")
    out = tmp_path / "results"
    assert main(["--config-dir", str(tmp_path / "configs"), "strategy=mine", f"results_dir={out}"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"rapport: error: {empty}: ") and "empty" in line
    assert main([f"strategy={empty}", f"results_dir={out}"]) == 2
    assert str(empty) in one_error_line(capsys)
    assert files(out) == []


@pytest.mark.parametrize("change,field", [
    ({"default": {**MY_PLAN["default"], "mix": {"value_content": 3, "sales_offer": 1}}}, "strategy.default.mix"),
    ({"rules": [{"stages": "consideration", "frequency": 1.0}]}, "strategy.rules[0].stages"),
])
def test_mix_not_summing_to_one_and_stages_not_a_list_are_refused_naming_file_and_field(tmp_path, change, field):
    """Both were accepted: the mix silently normalised, the lone stage read as a list."""
    path = tmp_path / "slip.yaml"
    path.write_text(yaml.safe_dump({**MY_PLAN, **change}))
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    message = assert_one_line_error(err, str(path), field)
    assert message.startswith(f"{path}: ")


# --- YAML syntax errors name file, line and column ------------------------------------------------
BROKEN = "name: broken\ndefault:\n  frequency: 0.5\n  mix: {value_content: 1.0\n"  # the mapping is not closed


def assert_file_line_col(line: str, path: Path) -> None:
    assert re.search(rf"{re.escape(str(path))}:\d+:\d+: \S", line), line


def test_yaml_syntax_error_in_a_strategy_file_names_file_line_and_column(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_file_line_col(assert_one_line_error(err), path)
    assert main([f"strategy={path}", f"results_dir={tmp_path / 'results'}"]) == 2
    assert_file_line_col(one_error_line(capsys), path)


@pytest.mark.parametrize("group,choice", [("experiment", "experiment=broken"), ("strategy", "strategy=broken")])
def test_yaml_syntax_error_in_a_config_dir_names_file_line_and_column(tmp_path, capsys, group, choice):
    (tmp_path / "configs" / group).mkdir(parents=True)
    path = tmp_path / "configs" / group / "broken.yaml"
    path.write_text(BROKEN if group == "strategy" else "experiment:\n  question: [unclosed\n  arms: []\n")
    out = tmp_path / "results"
    assert main(["--config-dir", str(tmp_path / "configs"), choice, f"results_dir={out}"]) == 2
    line = one_error_line(capsys)
    assert_file_line_col(line, path)
    assert files(out) == []


def test_yaml_syntax_error_in_a_targets_file_names_file_line_and_column(tmp_path):
    path = tmp_path / "targets.yaml"
    path.write_text("targets:\n  - name: opens\n    band: [0.1, 0.3\n")
    with pytest.raises(ParameterError) as err:
        load_targets(path)
    assert_file_line_col(assert_one_line_error(err), path)


# --- common slips on the command line ------------------------------------------------------------
@pytest.mark.parametrize("args,hint", [
    (["customers=2000"], "did you mean market.customers=2000?"),
    (["--customers", "2000"], "write market.customers=2000"),
    (["--customers=2000"], "write market.customers=2000"),
    (["--horizon-weeks", "52"], "write horizon_weeks=52"),
    (["market.customers=20,000"], "write 20000"),
    (["-m", "market.customers=20,000"], "write 20000"),
    (["market.custmers=2000"], "did you mean market.customers?"),
    (["horizon_week=52"], "did you mean horizon_weeks?"),
    (["strategy=lifecyle"], "did you mean strategy=lifecycle?"),
])
def test_common_slips_get_a_one_line_hint(tmp_path, capsys, args, hint):
    out = tmp_path / "results"
    assert main([*args, f"results_dir={out}"]) == 2
    assert hint in one_error_line(capsys)
    assert files(out) == []


# --- intervals --------------------------------------------------------------------------------------


def paying_back(week: int, horizon: int, gain: float = 1.0) -> list[float]:
    """A cumulative curve below zero until ``week``, at ``gain`` from then on."""
    return [-1.0] * (week - 1) + [gain] * (horizon - week + 1)


def test_payback_interval_stays_within_week_1_and_the_horizon():
    """A t-interval of skewed payback weeks went below week 0 ("95% CI -318 to 444")."""
    horizon = 52
    weeks = [1, 1, 2, 50]  # skewed: a t-interval of their mean starts below week 1
    t_lo = analysis.mean_ci(weeks)[1]
    assert t_lo < 1
    weekly = synthetic({("a", s): paying_back(w, horizon) for s, w in enumerate(weeks)})
    row = analysis.summary(weekly, ["a"]).iloc[0]
    assert row["payback_week"] == np.mean(weeks)
    assert 1 <= row["payback_week_lo"] < row["payback_week"] < row["payback_week_hi"] <= horizon
    again = analysis.summary(weekly, ["a"]).iloc[0]  # reproducible
    assert (again["payback_week_lo"], again["payback_week_hi"]) == (row["payback_week_lo"], row["payback_week_hi"])


@pytest.mark.parametrize("replications", [1, 2])
def test_fewer_than_three_replications_give_no_interval_and_say_so(replications):
    """With two runs the payback interval went below week 0; with one, the verdict said
    "the interval includes zero" where there was no interval."""
    weekly = synthetic({**{("a", s): paying_back(3 + s, 10, gain=5.0 + s) for s in range(replications)},
                        **{("b", s): paying_back(2, 10, gain=1.0) for s in range(replications)}})
    summ = analysis.summary(weekly, ["a", "b"])
    diffs = analysis.differences(weekly, [("a", "b")])
    for name in ("profit", "payback_week"):
        assert summ[f"{name}_lo"].isna().all() and summ[f"{name}_hi"].isna().all(), name
    assert diffs["profit_lo"].isna().all()
    text = " ".join(analysis.verdict(summ, diffs, [("a", "b")], 10))
    assert "includes zero" not in text and "cannot be told apart" not in text
    assert "no interval: fewer than 3 replications" in text
    three = synthetic({("a", s): paying_back(3 + s, 10, gain=5.0 + s) for s in range(3)})
    assert analysis.summary(three, ["a"])[["profit_lo", "payback_week_lo"]].notna().all(axis=None)


def test_an_undefined_value_is_not_blamed_on_too_few_replications():
    """ROI of a strategy that spends nothing is undefined: no interval, whatever the runs."""
    weekly = synthetic({("a", s): paying_back(2, 6) for s in range(3)})
    weekly["roi"] = np.nan
    text = " ".join(analysis.verdict(analysis.summary(weekly, ["a"]), analysis.differences(weekly, []), [], 6))
    assert "ROI n/a per $ spent (no interval)" in text and "fewer than" not in text


# --- the run's own log ---------------------------------------------------------------------------
def test_the_run_logs_what_it_did_into_its_folder_not_the_terminal(tmp_path, capsys):
    """rapport.log in each results folder was empty."""
    out = tmp_path / "results"
    assert main(["strategy=lifecycle", *TINY, "replications=2", f"results_dir={out}"]) == 0
    [run] = list((out / "strategy-lifecycle").iterdir())
    log = (run / "rapport.log").read_text()
    assert "strategy=lifecycle" in log and "2 replication(s) of 8 weeks" in log
    assert len(re.findall(r"lifecycle: replication \d of 2 done", log)) == 2
    assert f"results written to {run}" in log
    shown = capsys.readouterr()
    assert "[INFO]" not in shown.out + shown.err  # the terminal shows the summary, not the log
    assert not [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]


# --- the repository ------------------------------------------------------------------------------
@pytest.mark.skipif(not (ROOT / ".git").exists() or shutil.which("git") is None, reason="not a git checkout")
def test_no_tracked_file_is_ignored():
    """configs/config.yaml was reported both tracked and ignored."""
    proc = subprocess.run(["git", "ls-files", "--cached", "--ignored", "--exclude-standard"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []
    assert (STRATEGY_DIR.parent / "config.yaml").is_file()


def test_readme_strategy_example_is_valid(tmp_path):
    """The strategy the README shows compiles (its mix sums to 1, its stages are lists)."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```yaml\n(name: my_strategy.*?)```", text, re.S)
    assert block, "README's strategy example not found"
    path = tmp_path / "my_strategy.yaml"
    path.write_text(block.group(1))
    assert load_strategy(path).name == "my_strategy"
    assert not math.isnan(load_strategy(path).frequency.mean())
