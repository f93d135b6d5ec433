"""The ``rapport`` command (also ``python -m sim``).

- ``rapport [overrides]``: run an experiment composed by Hydra (default: sales_vs_reciprocal),
  e.g. ``rapport experiment=targeting market.customers=20000 horizon_weeks=520``;
  ``rapport -m ...`` sweeps (Hydra multirun) and gathers the jobs into one comparison.
- ``rapport report DIR``: gather the complete runs under DIR into ``DIR/comparison/``
  (or re-render the report of one run folder).
- ``rapport dashboard [args]``: the interactive dashboard (``sim.app``).
- ``rapport sensitivity [key=value ...]``: Morris and Sobol indices over plausible ranges (``sim.sensitivity``).
- ``rapport validate [key=value ...]``: the model's quantities against published figures (``sim.validation``).
- ``rapport calibrate [key=value ...]``: fit parameters to a targets file with Optuna (``sim.calibrate``).

Hydra stays here: the model only sees plain values. Every combination of overrides is
composed and checked before Hydra creates any folder, so a bad value stops the run with
one line (no traceback) and writes nothing.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import DictConfig, OmegaConf

from .analysis import summary_text
from .dealership import check_overrides
from .events import check_writable
from .experiment import quiet_mesa, run_experiment
from .gathering import GatherCallback, find_complete_job, gather, report_problems
from .limits import (EnvironmentFault, check_output_dir, ctrl_c_stops_within, end_quickly, fault_line,
                     loky_workers_die_with_parent, say_interrupted)
from .results import TOKEN, final_path, is_complete, load
from .writing import COMMAND_ENV, write_results
from .params import ParameterError
from .preflight import check_slips, hydra_arguments, one_line, preflight, strategy_paths
from .resources import CONFIG_DIR
from .schema import experiment_spec, register, run_name
from .launcher import register as register_launcher, shares_cores, stop_helpers
from .sweeper import register as register_sweeper

__all__ = ["CONFIG_DIR", "main", "one_line", "preflight", "run_name"]



LOG = logging.getLogger("rapport")
USER_CONFIG_DIRS: list[str] = []  # from --config-dir: searched before the built-in configs


class UserConfigsFirst(SearchPathPlugin):
    """Puts the user's ``--config-dir`` before the built-in configs, so that a file of the
    same name (``experiment/targeting.yaml``) replaces the built-in one. Hydra itself would
    search it after them."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for folder in USER_CONFIG_DIRS:
            search_path.prepend("rapport-user", f"file://{folder}", anchor=SearchPathQuery(provider="main"))


def _resolvers() -> None:
    """The resolvers config.yaml uses; registered on import, so that a launcher's worker
    processes (joblib's), which import this module, know them too."""
    if not OmegaConf.has_resolver("rapport_name"):
        OmegaConf.register_new_resolver("rapport_name", run_name)
    if not OmegaConf.has_resolver("rapport_token"):
        OmegaConf.register_new_resolver("rapport_token", lambda: TOKEN, use_cache=True)


_resolvers()


def _setup(argv: list[str] | None = None) -> None:
    register()
    register_sweeper()
    register_launcher()
    _resolvers()
    loky_workers_die_with_parent()  # the joblib launcher's workers end with the sweep
    config_dir = hydra_arguments(argv or []).config_dir
    USER_CONFIG_DIRS[:] = [str(Path(config_dir).resolve())] if config_dir else []
    if UserConfigsFirst not in Plugins.instance().discover(SearchPathPlugin):
        Plugins.instance().register(UserConfigsFirst)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    """Hydra's task: check the config, run the experiment, write its results folder.

    Returns the run's objective (``optimized_metric``, see ``Results.objective``), a float
    for sweepers such as Optuna. A sweep job that is already complete in the sweep folder
    is not run again; a job that fails says so in one line and returns NaN, and the sweep
    goes on (the gathering names it)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    quiet_mesa()
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    # A job that runs alone (Hydra's basic launcher, or Rapport's with one process) may use every core.
    parallel_jobs = multirun and shares_cores(hc)
    staging = Path(hc.runtime.output_dir)
    final = final_path(staging)
    choices = hc.runtime.choices
    job = f"job {hc.job.num} ({' '.join(hc.overrides.task)})" if multirun else ""
    config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    try:
        spec = experiment_spec(cfg, run_name(choices.get("experiment"), choices.get("strategy")), parallel_jobs,
                               list(hc.overrides.task))
        events_dir = check_writable(staging / "events") if spec.events else None
    except ParameterError as err:
        if multirun:
            print(f"rapport: {job} failed: {err}", file=sys.stderr)
            return math.nan
        _discard(staging, Path(str(cfg.results_dir)))
        print(f"rapport: error: {err}", file=sys.stderr)
        sys.exit(1 if isinstance(err, EnvironmentFault) else 2)
    _log_start(spec, list(hc.overrides.task), staging)
    if multirun:
        done = find_complete_job(staging.parent, list(hc.overrides.task), config_yaml)
        if done is not None:
            shutil.rmtree(staging, ignore_errors=True)
            print(f"rapport: {job} already complete in {done}, not run again", file=sys.stderr)
            return load(done).objective(spec.optimized_metric)
    started = time.time()
    report = cfg.report if cfg.report is not None else not multirun
    try:
        results = run_experiment(spec, progress=not parallel_jobs, events_dir=events_dir)
        out = write_results(results, final, report=report, config_yaml=config_yaml, started=started,
                            staging=staging)
    except Exception as err:
        return _failed(err, staging, job)
    LOG.info("results written to %s in %.1f s", out, time.time() - started)
    if not multirun:
        print(summary_text(results))
        print(f"\nResults: {out}")
        if report:
            print(f"Report:  {out / 'report.html'}")
    return results.objective(spec.optimized_metric)


def _log_start(spec: Any, overrides: list[str], staging: Path) -> None:
    """What the run is about to do, into the job's log file (``rapport.log``; the terminal
    shows warnings only: ``hydra.job_logging`` in config.yaml)."""
    LOG.info("rapport %s, overrides: %s", spec.name, " ".join(overrides) or "none")
    LOG.info("%d arm(s): %s; %d replication(s) of %d weeks from seed %d, %d worker(s); %d customers",
             len(spec.arms), ", ".join(f"{a.name} ({a.strategy_name})" for a in spec.arms), spec.replications,
             spec.horizon_weeks, spec.seed, spec.workers, spec.params["customers"])
    LOG.info("writing into %s", staging)


def _failed(err: Exception, staging: Path, job: str) -> float:
    """A run that failed: its partial files removed, one line; a sweep job returns NaN and
    the sweep goes on, a single run exits with 1. An unexpected error in a single run is a
    bug: it is raised again, with its traceback."""
    _clear(staging)
    if isinstance(err, OSError):
        line = fault_line(err, f"could not write the results in {staging}")
    elif job:
        line = f"{type(err).__name__}: {err}".splitlines()[0]
    else:
        raise err
    if job:
        print(f"rapport: {job} failed: {line}", file=sys.stderr)
        return math.nan
    print(f"rapport: error: {line}", file=sys.stderr)
    sys.exit(1)


def _clear(staging: Path) -> None:
    """Remove what a failed run wrote into its staging folder, except Hydra's record of the
    job (``.hydra``), which names it as failed; the folder stays ``.incomplete``."""
    if not staging.is_dir():
        return
    for p in staging.iterdir():
        if p.name != ".hydra":
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def _discard(staging: Path, root: Path) -> None:
    """Remove the folder Hydra made for a run that never started, and the parents it left
    empty, up to and including ``root`` (the results folder)."""
    shutil.rmtree(staging, ignore_errors=True)
    root = root.resolve()
    parent = staging.parent.resolve()
    while parent == root or root in parent.parents:
        try:
            parent.rmdir()  # only if empty
        except OSError:
            break
        if parent == root:
            break
        parent = parent.parent


# --- subcommands ----------------------------------------------------------------------------
def report_command(argv: list[str]) -> int:
    """``rapport report DIR``: gather a multirun (or any folder of runs) into one comparison,
    or, for a single run folder, write its report.html again."""
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: rapport report DIR  (a results folder, e.g. results/multirun/<timestamp>)", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    quiet_mesa()
    try:
        if is_complete(folder) and not any(is_complete(p) for p in folder.iterdir() if p.is_dir()):
            results = load(folder)  # one run: (re)write its own report
            info = json.loads((folder / "meta.json").read_text())
            target = write_report(results, folder / "report.html", info).parent
        else:
            target = gather(folder)
            results = load(target)
    except ParameterError as err:
        print(f"rapport: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"rapport: error: {fault_line(err, f'could not write the report in {folder}')}", file=sys.stderr)
        return 1
    print(summary_text(results))
    print(f"\nResults: {target}\nReport:  {target / 'report.html'}")
    report_problems(target)
    return 0


def write_report(results, path: Path, info: dict) -> Path:
    from .report import write_report as write

    return write(results, path, info)


def dashboard_command(argv: list[str]) -> int:
    """``rapport dashboard``: start the dashboard from ``sim.app`` (imported only when asked for)."""
    try:
        from sim.app import main as app_main
    except ModuleNotFoundError as err:
        if err.name in ("sim.app",):
            print("rapport: error: the dashboard is not available yet (sim/app.py is missing)", file=sys.stderr)
            return 1
        raise
    return app_main(argv) or 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rapport`` console script.

    Exit codes: 0 done; 2 bad input (one line naming the field or file); 1 the machine
    stopped it (memory, a folder that cannot be written, a full disk), Ctrl-C, or a sweep
    with jobs that failed."""
    console = argv is None  # the process ends after this call: a Ctrl-C's watchdog may outlive it
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with ctrl_c_stops_within(after=console):
            return _command(argv)
    except KeyboardInterrupt:
        say_interrupted()
        return 1
    finally:
        if console:
            end_quickly()


def _command(argv: list[str]) -> int:
    if argv and argv[0] == "report":
        return report_command(argv[1:])
    if argv and argv[0] == "dashboard":
        return dashboard_command(argv[1:])
    if argv and argv[0] == "sensitivity":
        from .sensitivity import main as sensitivity_main

        return sensitivity_main(argv[1:])
    if argv and argv[0] == "validate":
        from .validation import main as validate_main

        return validate_main(argv[1:])
    if argv and argv[0] == "calibrate":
        from .calibrate import main as calibrate_main

        return calibrate_main(argv[1:])
    if argv and argv[0] in ("--version", "-V"):
        from . import __version__

        print(f"rapport {__version__}")
        return 0
    _setup(argv)
    with tempfile.TemporaryDirectory(prefix="rapport-strategies-") as folder:
        return _run(argv, Path(folder))


def _run(argv: list[str], strategy_folder: Path) -> int:
    """Check the command, then let Hydra run it (the user's strategy files, given by path,
    are copied into ``strategy_folder``, searched first)."""
    try:
        check_slips(argv, hydra_arguments(argv).multirun)
        user_argv, argv = argv, strategy_paths(argv, strategy_folder)
        if argv != user_argv:
            USER_CONFIG_DIRS.insert(0, str(strategy_folder))
        check_overrides(hydra_arguments(argv).overrides)
        preflight(argv, CONFIG_DIR)
        for key, _, value in (o.partition("=") for o in argv):
            if key in ("hydra.run.dir", "hydra.sweep.dir"):  # folders given to Hydra itself
                check_output_dir(value, key)
    except ParameterError as err:
        print(f"rapport: error: {err}", file=sys.stderr)
        return 1 if isinstance(err, EnvironmentFault) else 2
    # Jobs record the user's command in meta.json, also where a launcher runs them in workers.
    program = Path(sys.argv[0] or "rapport").name
    before = os.environ.get(COMMAND_ENV)
    os.environ[COMMAND_ENV] = json.dumps(["rapport" if program == "__main__.py" else program] + user_argv)
    sys.argv = [sys.argv[0] or "rapport"] + argv  # Hydra reads its arguments from sys.argv
    GatherCallback.problems = None
    try:
        hydra_main()
    except SystemExit as stop:  # a run's one-line error (and Hydra's own) end it this way
        return stop.code if isinstance(stop.code, int) else 1
    finally:
        stop_helpers()
        _release_job_log()
        if before is None:
            os.environ.pop(COMMAND_ENV, None)
        else:
            os.environ[COMMAND_ENV] = before
    return 1 if GatherCallback.problems else 0


def _release_job_log() -> None:
    """Close the log files Hydra opened for the job. The job's folder has been renamed by
    then, so a later log call in the same process (a notebook, a test) would otherwise try
    to open ``rapport.log`` inside a folder that no longer exists."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
        root.removeHandler(handler)
        handler.close()
