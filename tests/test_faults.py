"""Faults an unlucky user meets (issue 11), one test or more per case: hostile files, huge
inputs, kills, full or read-only disks, concurrent runs, damaged folders. Each case's
number in the issue is in the test's comment. End-to-end tests run the real command and
are marked ``slow``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import assert_one_line_error
from sim import ParameterError, RelationshipModel, limits, load_strategy
from sim.cli import main
from sim.gathering import recorded_overrides
from sim.results import COMPARISON, INCOMPLETE, MARKER, final_path, staging_path
from sim.writing import publish
from sim.limits import cores, estimate_bytes, plan_workers
from sim.strategies import MAX_DEPTH, MAX_FILE_BYTES

RAPPORT = shutil.which("rapport", path=str(Path(sys.executable).parent)) or "rapport"


# --- hostile strategy files (cases 2, 9, 10) --------------------------------------------------
def laughs(levels: int) -> str:
    """A "billion laughs" YAML: each level lists the previous one nine times."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\nname: laughs\n"


def test_billion_laughs_is_refused_before_expansion(tmp_path):  # case 2
    path = tmp_path / "laughs.yaml"
    path.write_text(laughs(6))  # 9**7 values once expanded from 300 bytes (9 levels would hang unchecked code)
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "laughs.yaml", "aliases")


def test_a_few_aliases_to_values_still_work(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text("default: &d {frequency: 0.5, mix: {value_content: 1}}\n"
                    "rules: [{stages: [loyalty], frequency: 0.25}]\nextra: *d\n")
    with pytest.raises(ParameterError) as err:  # parsed fine; the unknown key is what is wrong
        load_strategy(path)
    assert_one_line_error(err, "strategy.extra")


def test_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("default: &d\n  mix: *d\n")
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "loop.yaml", "itself")


def test_oversized_strategy_file_is_refused_without_reading_it(tmp_path):  # case 2 (100 MB rules)
    path = tmp_path / "big.yaml"
    with path.open("w") as f:
        f.write("rules:\n")
        f.write("  - {stages: [loyalty], frequency: 0.5}\n" * (MAX_FILE_BYTES // 30))
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "big.yaml", "bytes")


def test_non_utf8_strategy_file_is_one_line_naming_the_file(tmp_path):  # case 10
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "latin1.yaml", "UTF-8")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 5000])
def test_deeply_nested_strategy_file_is_one_line_naming_the_file(tmp_path, depth):  # case 10
    path = tmp_path / "deep.yaml"
    path.write_text("default: " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(ParameterError) as err:
        load_strategy(path)
    assert_one_line_error(err, "deep.yaml", "nested too deeply")


def test_self_referencing_mapping_in_the_api_is_one_line():  # case 10
    spec: dict = {"name": "loop"}
    spec["default"] = spec
    with pytest.raises(ParameterError) as err:
        load_strategy(spec)
    assert_one_line_error(err, "strategy")


def test_huge_mix_weights_are_one_line(tmp_path):  # case 9
    path = tmp_path / "huge.yaml"
    path.write_text("default: {frequency: 0.5, mix: {sales_offer: 1.0e+308, value_content: 1.0e+308}}\n")
    with np.errstate(all="raise"), pytest.raises(ParameterError) as err:  # no overflow on the way
        load_strategy(path)
    assert_one_line_error(err, "huge.yaml", "strategy.default.mix", "sum to inf, expected 1")
    # shares that sum to 1 however small some of them are
    tiny = load_strategy({"default": {"mix": {"sales_offer": 5e-324, "value_content": 1.0}}})
    np.testing.assert_allclose(np.diff(tiny.mix_cum[0, 0], prepend=0)[:2], [0.0, 1.0])


def test_whole_number_too_big_for_a_float_is_one_line():  # case 9
    with pytest.raises(ParameterError) as err:
        load_strategy({"default": {"mix": {"sales_offer": 10**400}}})
    message = assert_one_line_error(err, "strategy.default.mix.sales_offer", "finite weight")
    assert len(message) < 200


def test_numpy_integer_seed_is_a_seed():  # case 10
    a = RelationshipModel(customers=200, rng=np.int64(3), journeys=0).run(3).metrics()
    b = RelationshipModel(customers=200, rng=3, journeys=0).run(3).metrics()
    assert a.equals(b)


# --- memory and cores (case 5) ----------------------------------------------------------------
def test_workers_never_exceed_the_cores_or_the_runs():
    assert plan_workers(64, 64, 5000, 6, 2, available=2**40) == min(64, cores())
    assert plan_workers(0, 1, 5000, 6, 1, available=2**40) == 1


def test_workers_shrink_to_what_fits_in_memory():
    one = estimate_bytes(1_000_000, 6, 2, 1)
    assert plan_workers(2, 10, 1_000_000, 6, 2, available=one + 1) == 1


def test_a_run_too_big_for_the_memory_stops_with_one_line_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(limits, "available_bytes", lambda: 8 * 2**30)
    code = main(["market.customers=10000000", "market.social_ties=50", f"results_dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "market.customers=10000000" in err and "GiB" in err  # the machine, not the input
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_memory_estimate_covers_a_measured_run(tmp_path):
    """Peak resident memory of a real run (parent and workers) stays under the estimate,
    and the estimate is not wildly above it."""
    customers, ties = 300_000, 20
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)")
    out = subprocess.run([sys.executable, "-c", probe, RAPPORT, f"market.customers={customers}",
                          f"market.social_ties={ties}", "horizon_weeks=2", "replications=1", "workers=1", "report=false",
                          f"results_dir={tmp_path}"], capture_output=True, text=True, timeout=300, check=True)
    peak = int(out.stdout.strip())
    estimate = estimate_bytes(customers, ties, 2, 1)  # the default experiment has two arms
    assert peak <= estimate <= 3 * peak, (peak, estimate)


# --- helpers for end-to-end runs --------------------------------------------------------------
SMALL = ["market.customers=300", "horizon_weeks=8", "replications=2", "workers=1"]


def rapport(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([RAPPORT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**environ, **(env or {})})


def start(*args: str, cwd: Path) -> subprocess.Popen:
    """``rapport`` in the background, in its own session so that a test can clean up after it."""
    environ = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.Popen([RAPPORT, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environ, start_new_session=True)


def one_error_line(stderr: str) -> str:
    """The single line a failing command printed (progress bars aside)."""
    lines = [ln for ln in re.split(r"[\r\n]", stderr) if ln.strip() and "%|" not in ln]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


def complete_runs(folder: Path) -> list[Path]:
    return sorted(p.parent for p in folder.rglob(MARKER))


def assert_consistent(run: Path) -> None:
    """Every file of a COMPLETE folder describes the same run: config, overrides, meta, tables."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    info = json.loads((run / "meta.json").read_text())["experiment"]
    weekly = pd.read_parquet(run / "weekly.parquet")
    arms = [a["name"] for a in info["arms"]]
    assert len(info["seeds"]) == config["replications"] == weekly["replication"].nunique()
    assert sorted(weekly["arm"].unique()) == sorted(arms) == sorted(pd.read_csv(run / "summary.csv")["arm"])
    assert info["market"]["customers"] == config["market"]["customers"]
    if (run / "customers.parquet").exists():
        customers = pd.read_parquet(run / "customers.parquet")
        assert len(customers) == config["market"]["customers"] * len(arms)
    if config.get("strategy"):
        assert arms == [config["strategy"]["name"]]
    overrides = recorded_overrides(run) or []
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "strategy":
            assert config["strategy"]["name"] == value == arms[0]
        if key == "replications":
            assert config["replications"] == int(value)
    if (run / "report.html").exists():
        html = (run / "report.html").read_text()
        assert f"{config['replications']} replication" in html


# --- concurrent runs and sweeps (case 1) ------------------------------------------------------
def test_a_staging_folder_is_unique_to_the_process_and_publishing_never_overwrites(tmp_path):
    final = tmp_path / "2026-01-01_00-00-00"
    staging = staging_path(final)
    assert staging.name == f"{final.name}.{os.getpid()}{INCOMPLETE}" and final_path(staging) == final
    for n in range(3):
        folder = staging_path(final)
        folder.mkdir()
        (folder / "mine").write_text(str(n))
        assert publish(folder, final).name == final.name + (f"_{n}" if n else "")
    assert [(p.name, (p / "mine").read_text()) for p in sorted(tmp_path.iterdir())] == [
        (final.name, "0"), (f"{final.name}_1", "1"), (f"{final.name}_2", "2")]


@pytest.mark.slow
def test_two_runs_and_two_sweeps_started_together_keep_apart(tmp_path):  # case 1
    out = tmp_path / "out"
    runs = [start("market.customers=300", "replications=2", "horizon_weeks=6", f"results_dir={out}", cwd=tmp_path),
            start("market.customers=400", "replications=3", "horizon_weeks=6", f"results_dir={out}", cwd=tmp_path),
            start("-m", "strategy=lifecycle,best_customers", *SMALL, f"results_dir={out}", cwd=tmp_path),
            start("-m", "strategy=constant_sales,reciprocal_value", "market.customers=400", "horizon_weeks=6",
                  "replications=3", "workers=1", f"results_dir={out}", cwd=tmp_path)]
    for proc in runs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    singles = complete_runs(out / "sales_vs_reciprocal")
    assert len(singles) == 2
    assert sorted(yaml.safe_load((r / "config.yaml").read_text())["replications"] for r in singles) == [2, 3]
    sweeps = sorted((out / "multirun").iterdir())
    assert len(sweeps) == 2, "two sweeps started in the same second share a folder"
    for sweep in sweeps:
        assert sorted(p.name for p in sweep.iterdir()) == ["0", "1", COMPARISON, "multirun.yaml"]
    for run in singles + [r for s in sweeps for r in complete_runs(s) if r.name != COMPARISON]:
        assert_consistent(run)
    for sweep in sweeps:  # each comparison holds its own sweep's arms only
        jobs = {json.loads((sweep / j / "meta.json").read_text())["experiment"]["arms"][0]["name"] for j in "01"}
        assert {a.split(" | ")[0] for a in pd.read_csv(sweep / COMPARISON / "summary.csv")["arm"]} == jobs
    assert not list(out.rglob(f"*{INCOMPLETE}"))


# --- no orphans (case 3) and Ctrl-C (case 10) -------------------------------------------------
def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, with its command line."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            try:
                out[child] = Path(f"/proc/{child}/cmdline").read_text().replace("\0", " ")
            except OSError:
                continue
            todo.append(child)
    return out


def wait_for(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
BIG = ["market.customers=100000", "horizon_weeks=5200", "replications=4"]  # runs of minutes: killed mid-run


@needs_proc
@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("kind", ["run", "joblib sweep"])
def test_killing_rapport_leaves_no_process_behind(tmp_path, kind, how):  # case 3
    if kind == "run":
        args, workers = [*BIG, "workers=2", f"results_dir={tmp_path}"], "spawn_main"
    else:
        pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
        args = ["-m", "hydra/launcher=joblib", "strategy=constant_sales,reciprocal_value", *BIG, f"results_dir={tmp_path}"]
        workers = "loky"
    proc = start(*args, cwd=tmp_path)
    try:
        assert wait_for(lambda: sum(workers in c for c in descendants(proc.pid).values()) >= 2, 120), \
            f"no workers started: {descendants(proc.pid)}"
        time.sleep(1)
        family = descendants(proc.pid)
        proc.send_signal(how)
        proc.wait(30)
        # A worker still starting (importing) when its parent died ends as soon as it is up;
        # a run takes minutes, so a worker that outlives this wait would have been left behind.
        assert wait_for(lambda: not any(alive(p) for p in family), 60), \
            {p: c[:80] for p, c in family.items() if alive(p)}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not complete_runs(tmp_path), "a killed run left a folder that looks complete"


@needs_proc
@pytest.mark.slow
def test_ctrl_c_prints_one_line_and_stops_the_workers(tmp_path):  # cases 3 and 10
    proc = start(*BIG, "workers=2", f"results_dir={tmp_path}", cwd=tmp_path)
    try:
        assert wait_for(lambda: sum("spawn_main" in c for c in descendants(proc.pid).values()) >= 2, 120)
        time.sleep(1)
        family = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group gets it
        _, err = proc.communicate(timeout=60)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 1
    assert "interrupted" in one_error_line(err)
    assert wait_for(lambda: not any(alive(p) for p in family), 20)
    assert not complete_runs(tmp_path) and list(tmp_path.rglob(f"*{INCOMPLETE}"))


BLOCKED_CLEAN_UP = """
import sys, threading, time
from sim import limits
with limits.ctrl_c_stops_within(grace=1.0, after={after}):
    try:
        print("ready", flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        {clean_up}
print("alive", flush=True)
time.sleep(2)
print("still alive", flush=True)
"""


@pytest.mark.parametrize("after", [True, False])
def test_a_ctrl_c_whose_clean_up_blocks_still_ends_the_process_with_its_one_line(after):  # case 3
    """The watchdog: a clean-up that never ends (here a lock taken twice) does not keep the
    process: the line is printed and it ends with exit 1 shortly after the grace period."""
    script = BLOCKED_CLEAN_UP.format(after=after, clean_up="lock = threading.Lock(); lock.acquire(); lock.acquire()")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and err.strip() == limits.INTERRUPTED and out == ""


def test_after_a_clean_stop_in_python_the_watchdog_is_called_off():
    """Called from Python (``after=False``) a Ctrl-C that was handled does not end the process later."""
    script = BLOCKED_CLEAN_UP.format(after=False, clean_up="pass")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out == "alive\nstill alive\n" and err == ""


# --- resumable sweeps, partial and damaged comparisons (cases 7, 8) ---------------------------
@pytest.mark.slow
def test_a_broken_sweep_is_reported_partial_resumed_and_damage_is_named(tmp_path):  # cases 7 and 8
    sweep = tmp_path / "sweep"
    command = ["-m", "strategy=constant_sales,reciprocal_value", "market.customers=200,300", *SMALL[1:],
               f"results_dir={tmp_path}", f"hydra.sweep.dir={sweep}"]
    assert rapport(*command, cwd=tmp_path).returncode == 0
    # What a SIGKILL after two jobs leaves: jobs 2 and 3 never ran, or were cut while writing.
    shutil.rmtree(sweep / "2")
    (sweep / "3" / MARKER).unlink()
    (sweep / "3").rename(sweep / f"3.4242{INCOMPLETE}")
    shutil.rmtree(sweep / COMPARISON)
    before = {p.name: (p / MARKER).stat().st_mtime_ns for p in (sweep / "0", sweep / "1")}

    report = rapport("report", str(sweep), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    lines = [ln for ln in report.stderr.splitlines() if "partial comparison" in ln]
    assert len(lines) == 2 and "job 2 (" in lines[0] and "missing" in lines[0]
    assert "job 3 (" in lines[1] and f"3.4242{INCOMPLETE}" in lines[1]
    info = json.loads((sweep / COMPARISON / "meta.json").read_text())
    assert info["partial"] and len(info["problems"]) == 2 and info["gathered_from"] == ["0", "1"]
    assert "PARTIAL comparison" in (sweep / COMPARISON / "report.html").read_text()
    assert "(partial)" in report.stdout

    again = rapport(*command, cwd=tmp_path)  # the same command resumes: only jobs 2 and 3 run
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("not run again") == 2
    assert {p: (sweep / p / MARKER).stat().st_mtime_ns for p in before} == before
    assert all((sweep / j / MARKER).is_file() for j in "0123")
    info = json.loads((sweep / COMPARISON / "meta.json").read_text())
    assert not info["partial"] and sorted(info["gathered_from"]) == ["0", "1", "2", "3"]

    # Damaged job folders are skipped and named, not a traceback (case 8).
    (sweep / "1" / "weekly.parquet").unlink()
    (sweep / "2" / "meta.json").write_text("{not json")
    tiers = sweep / "3" / "tiers.parquet"
    tiers.write_bytes(tiers.read_bytes()[:40])
    damaged = rapport("report", str(sweep), cwd=tmp_path)
    assert damaged.returncode == 0 and "Traceback" not in damaged.stderr, damaged.stderr
    lines = [ln for ln in damaged.stderr.splitlines() if "damaged" in ln]
    assert [ln.split(": ")[2] for ln in lines] == ["1", "2", "3"], damaged.stderr
    assert "weekly.parquet" in lines[0] and "meta.json" in lines[1] and "tiers.parquet" in lines[2]
    assert not any("missing" in ln for ln in damaged.stderr.splitlines())  # each job named once
    assert json.loads((sweep / COMPARISON / "meta.json").read_text())["gathered_from"] == ["0"]
    single = rapport("report", str(sweep / "2"), cwd=tmp_path)
    assert single.returncode == 2 and "damaged" in one_error_line(single.stderr)


# --- a job that cannot write does not stop a joblib sweep (case 6) ----------------------------
UNWRITABLE = '''
import os, pathlib
_write_text = pathlib.Path.write_text
def write_text(self, *args, **kwargs):
    if "/multirun/" in str(self) and self.parent.name.startswith("1."):
        raise PermissionError(13, "Permission denied", str(self))
    return _write_text(self, *args, **kwargs)
pathlib.Path.write_text = write_text
'''


@pytest.mark.slow
def test_one_unwritable_job_folder_does_not_stop_a_joblib_sweep(tmp_path):  # case 6
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    hooks = tmp_path / "hooks"  # every process of the sweep, joblib's workers too, finds job 1's folder unwritable
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(UNWRITABLE)
    out = tmp_path / "out"
    proc = rapport("-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                   "strategy=constant_sales,reciprocal_value,lifecycle", *SMALL, f"results_dir={out}", cwd=tmp_path,
                   env={"PYTHONPATH": str(hooks)})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    [sweep] = (out / "multirun").iterdir()
    assert (sweep / "0" / MARKER).is_file() and (sweep / "2" / MARKER).is_file()
    [failed] = [ln for ln in proc.stderr.splitlines() if ln.startswith("rapport: job") and "failed" in ln]
    assert "job 1 (" in failed and "Permission denied" in failed
    info = json.loads((sweep / COMPARISON / "meta.json").read_text())
    assert info["partial"] and sorted(info["gathered_from"]) == ["0", "2"] and "job 1 (" in info["problems"][0]


# --- one-line errors and where results go (cases 4, 10, 11) -----------------------------------
def run_main(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("value, fragment", [("", "results_dir=''"), ("/dev/null", "not a folder")])
def test_results_dir_that_is_not_a_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys,
                                                                                   value, fragment):  # cases 10, 11
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, *SMALL, f"results_dir={value}")
    assert code == 2 and fragment in one_error_line(err)
    assert list(tmp_path.iterdir()) == []


def test_experiment_path_climbing_out_stays_in_the_results_folder(tmp_path, monkeypatch, capsys):  # case 11
    source = Path(__file__).resolve().parent.parent
    before = sorted(p.name for p in (source / "experiments").iterdir())
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, "experiment=../experiments/targeting", *SMALL, "report=false")
    assert code == 0, err
    assert sorted(p.name for p in (source / "experiments").iterdir()) == before
    [run] = complete_runs(tmp_path / "results")
    assert run.parent == tmp_path / "results" / "targeting"


@pytest.fixture
def mounted(tmp_path):
    """A tmpfs mounted with the given options (root only); skips where mounting is not allowed."""
    mounts = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mnt{len(mounts)}"
        point.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_read_only_results_folder_is_one_line_with_exit_1(tmp_path, monkeypatch, capsys, mounted):  # case 10
    folder = mounted("ro,size=1m")
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, *SMALL, f"results_dir={folder / 'results'}")
    assert code == 1 and "read-only" in one_error_line(err)


@pytest.mark.slow
def test_full_disk_is_one_line_with_exit_1_and_nothing_complete(tmp_path, monkeypatch, capsys, mounted):  # case 10
    disk = mounted("size=200k")  # room for Hydra's records, not for the tables
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, "market.customers=3000", "horizon_weeks=8", "replications=2", "workers=1",
                         f"results_dir={disk}")
    line = one_error_line(err)
    assert code == 1 and "No space left on device" in line and "free some disk space" in line
    assert not complete_runs(disk)
    [staging] = [p for p in disk.rglob(f"*{INCOMPLETE}")]
    assert [p.name for p in staging.iterdir()] == [".hydra"]  # the partial tables were removed


def test_disk_full_while_writing_is_one_line_with_exit_1(tmp_path, monkeypatch, capsys):  # case 10
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "weekly.parquet")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, *SMALL)
    line = one_error_line(err)
    assert code == 1 and "No space left on device" in line and "weekly.parquet" in line
    assert not complete_runs(tmp_path)


@pytest.mark.parametrize("weeks", [1, 2, 3])
def test_the_shortest_horizons_give_a_report(tmp_path, monkeypatch, capsys, weeks):  # case 4
    monkeypatch.chdir(tmp_path)
    code, err = run_main(capsys, f"horizon_weeks={weeks}", "market.customers=300", "replications=2", "workers=1")
    assert code == 0, err
    [run] = complete_runs(tmp_path / "results")
    html = (run / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3


def test_a_sweep_folder_that_is_not_a_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # case 10
    code, err = run_main(capsys, "-m", "strategy=constant_sales,lifecycle", *SMALL, "hydra.sweep.dir=/dev/null/sweep")
    assert code == 2 and "hydra.sweep.dir=/dev/null/sweep" in one_error_line(err)
    assert list(tmp_path.iterdir()) == []
