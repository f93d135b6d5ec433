"""Rapport's default launcher (``sim.launcher``): a sweep's jobs in this process and in
helper processes, with the results of one process, and nothing left behind.

The helper only takes jobs once it is ready (imported, kernels loaded), so on a short sweep
it may never take one; where a test needs the helper to run jobs, a ``sitecustomize`` hook
slows down the jobs of the main process only (every job still runs its real code).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.results import COMPARISON, INCOMPLETE, MARKER
from test_faults import alive, descendants, needs_proc, wait_for

RAPPORT = shutil.which("rapport", path=str(Path(sys.executable).parent)) or "rapport"
SMALL = ["market.customers=400", "horizon_weeks=26", "replications=1"]
SWEEP = ["strategy=constant_sales,reciprocal_value", "seed=range(4)", *SMALL]

# Loaded by every Python process of the sweep: the main process's jobs wait SLEEP seconds
# first, so that the helper has started before the main process runs out of jobs.
HELPER = "open('/proc/self/cmdline').read().count('spawn_main')"  # a helper's command line names it
SLOW_MAIN = f'''
import os, time
if os.environ.get("SLOW_MAIN") and not {HELPER}:
    import sim.cli
    _run = sim.cli.run_experiment
    def run_experiment(*args, **kwargs):
        time.sleep(float(os.environ["SLOW_MAIN"]))
        return _run(*args, **kwargs)
    sim.cli.run_experiment = run_experiment
'''


def rapport(*args: str, cwd: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([RAPPORT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**environ, **(env or {})})


def slowed(tmp_path: Path, seconds: float) -> dict:
    hooks = tmp_path / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(SLOW_MAIN)
    return {"PYTHONPATH": str(hooks), "SLOW_MAIN": str(seconds)}


def where_jobs_ran(stdout: str) -> tuple[int, int]:
    """(jobs run in the main process, jobs run in helpers), from the launcher's log line."""
    found = re.search(r"(\d+) jobs ran in this process, (\d+) in \d+ helper", stdout)
    assert found, stdout
    return int(found[1]), int(found[2])


def tables(sweep: Path) -> dict[str, pd.DataFrame]:
    """Every job's and the comparison's summary and differences, by folder and file."""
    out = {}
    for folder in sorted(p for p in sweep.iterdir() if p.is_dir()):
        assert (folder / MARKER).is_file(), folder
        for name in ("summary.csv", "differences.csv"):
            out[f"{folder.name}/{name}"] = pd.read_csv(folder / name)
    return out


@pytest.mark.slow
def test_jobs_run_by_a_helper_give_exactly_the_results_of_one_process(tmp_path):
    one = rapport("-m", *SWEEP, "hydra.launcher.processes=1", f"results_dir={tmp_path / 'one'}", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    two = rapport("-m", *SWEEP, "hydra.launcher.processes=2", f"results_dir={tmp_path / 'two'}", cwd=tmp_path,
                  env=slowed(tmp_path, 3))
    assert two.returncode == 0, two.stderr
    here, helpers = where_jobs_ran(two.stdout)
    assert here + helpers == 8 and helpers >= 1, two.stdout
    [a] = (tmp_path / "one" / "multirun").iterdir()
    [b] = (tmp_path / "two" / "multirun").iterdir()
    ta, tb = tables(a), tables(b)
    assert sorted(ta) == sorted(tb) and len(ta) == 2 * 9
    for key in ta:
        pd.testing.assert_frame_equal(ta[key], tb[key], obj=key)
    for job in range(8):  # a helper's job is recorded as a job of the sweep, with the user's command
        assert (b / str(job) / ".hydra" / "overrides.yaml").is_file()
        assert '"-m"' in (b / str(job) / "meta.json").read_text()


def test_one_process_runs_every_job_here(tmp_path, monkeypatch):
    """``processes=1`` is the basic launcher's one job after another in this process."""
    import sim.cli

    ran = []
    real = sim.cli.run_experiment
    monkeypatch.setattr(sim.cli, "run_experiment", lambda spec, **kw: ran.append(spec.seed) or real(spec, **kw))
    assert main(["-m", *SWEEP[:1], "seed=0", *SMALL, "hydra.launcher.processes=1", "report=false",
                 f"results_dir={tmp_path}"]) == 0
    assert ran == [0, 0]
    [sweep] = (tmp_path / "multirun").iterdir()
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1", COMPARISON]


@pytest.mark.parametrize("value", ["-1", "two", "1.5", ""])
def test_a_bad_number_of_processes_is_one_line_and_writes_nothing(tmp_path, capsys, value):
    assert main(["-m", "seed=0,1", *SMALL, f"hydra.launcher.processes={value}", f"results_dir={tmp_path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"hydra.launcher.processes={value}: expected a whole number >= 0" in err
    assert not list(tmp_path.iterdir())


def test_the_launcher_itself_refuses_a_bad_number_of_processes():
    from sim.launcher import JobsAcrossProcesses

    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ValueError, match="hydra.launcher.processes"):
            JobsAcrossProcesses(processes=bad)


def test_jobs_that_share_the_cores_use_one_process_each():
    from omegaconf import OmegaConf

    import sim.launcher as launcher

    def hydra(target: str):
        return OmegaConf.create({"launcher": {"_target_": target}})

    assert not launcher.shares_cores(hydra("hydra._internal.core_plugins.basic_launcher.BasicLauncher"))
    assert launcher.shares_cores(hydra("hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"))
    assert not launcher.shares_cores(hydra("hydra_plugins.rapport_sweeper.RapportLauncher"))
    launcher._sharing = True
    try:
        assert launcher.shares_cores(hydra("hydra_plugins.rapport_sweeper.RapportLauncher"))
    finally:
        launcher._sharing = False


# --- faults: a helper that dies, Ctrl-C and kill -----------------------------------------------
KILL_HELPER = f'''
import os, signal
if os.environ.get("KILL_HELPER") and {HELPER}:
    import sim.cli
    def run_experiment(spec, *args, **kwargs):  # the helper dies in the middle of its first job
        os.kill(os.getpid(), signal.SIGKILL)
    sim.cli.run_experiment = run_experiment
'''


@pytest.mark.slow
def test_a_helper_that_dies_fails_its_job_alone_and_the_comparison_says_so(tmp_path):
    env = slowed(tmp_path, 3)
    (tmp_path / "hooks" / "sitecustomize.py").write_text(SLOW_MAIN + KILL_HELPER)
    proc = rapport("-m", "strategy=constant_sales", "seed=range(6)", *SMALL, "hydra.launcher.processes=2",
                   f"results_dir={tmp_path / 'out'}", cwd=tmp_path, env={**env, "KILL_HELPER": "1"})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    [failed] = re.findall(r"rapport: job (\d+) failed: its process ended before the job did", proc.stderr)
    [sweep] = (tmp_path / "out" / "multirun").iterdir()
    done = sorted(p.name for p in sweep.iterdir() if (p / MARKER).is_file() and p.name != COMPARISON)
    assert done == sorted(str(j) for j in range(6) if str(j) != failed)
    assert (sweep / COMPARISON / MARKER).is_file()
    assert f"job {failed} (" in (sweep / COMPARISON / "meta.json").read_text()
    assert f"rapport: partial comparison: job {failed} (" in proc.stderr


def helpers_of(pid: int) -> list[int]:
    return [p for p, command in descendants(pid).items() if "spawn_main" in command]


@needs_proc
@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_stopping_a_sweep_stops_its_helpers_and_leaves_nothing_complete(tmp_path, how):
    big = ["strategy=constant_sales,reciprocal_value,lifecycle", "market.customers=100000", "horizon_weeks=5200",
           "replications=2"]
    proc = subprocess.Popen([RAPPORT, "-m", *big, "hydra.launcher.processes=2", f"results_dir={tmp_path}"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert wait_for(lambda: helpers_of(proc.pid), 120), "no helper started"
        # wait until the helper runs a job (its staging folder appears), then stop the sweep
        assert wait_for(lambda: len(list(tmp_path.rglob(f"*{INCOMPLETE}"))) >= 2, 180)
        family = descendants(proc.pid)
        os.killpg(proc.pid, how) if how == signal.SIGINT else proc.send_signal(how)
        _, err = proc.communicate(timeout=60)
        assert wait_for(lambda: not any(alive(p) for p in family), 30), [p for p in family if alive(p)]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == (1 if how == signal.SIGINT else -signal.SIGKILL)
    if how == signal.SIGINT:
        assert err.strip().splitlines()[-1].startswith("rapport: interrupted"), err
    assert not [p for p in tmp_path.rglob(MARKER)], "a stopped sweep left a folder that looks complete"


# --- work shared with the helpers (the comparison's figures) -----------------------------------
def where(argument: int) -> tuple[int, int]:
    """A task for ``spread`` (a tenth of a second, so that the helper gets some): its
    argument and the process that ran it."""
    import time

    if argument < 0:
        raise ValueError(f"negative: {argument}")
    time.sleep(0.1)
    return argument, os.getpid()


def test_spread_shares_calls_with_ready_helpers_keeps_their_order_and_raises_here():
    import time

    from hydra.types import HydraContext

    import sim.launcher as launcher

    assert launcher.spread(where, [1, 2]) == [(1, os.getpid()), (2, os.getpid())]  # no helpers: all here
    helpers = launcher.Helpers(1, HydraContext(config_loader=None, callbacks=None), where)
    launcher._HELPERS[id(helpers)] = helpers
    try:
        end = time.monotonic() + 120
        while not helpers.idle and time.monotonic() < end:  # started, kernels loaded
            time.sleep(0.1)
        assert helpers.idle, "the helper did not start"
        results = launcher.spread(where, list(range(12)))
        assert [a for a, _ in results] == list(range(12))
        assert {pid for _, pid in results} == {os.getpid(), helpers.processes[0].pid}
        with pytest.raises(ValueError, match="negative: -1"):  # failed in a helper or here: raised here
            launcher.spread(where, [-1, -1, -1])
    finally:
        launcher.stop_helpers()
    assert not helpers.processes[0].is_alive()
