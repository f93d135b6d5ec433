"""Rapport's default Hydra launcher: a sweep's jobs in this process and, at the same time,
in helper processes, one per core.

Hydra's basic launcher runs the jobs one after another in one process, so a sweep of small
jobs (each under ``SMALL_WORK``, run in one process) uses one core; Hydra's joblib launcher
ships Hydra's whole state with every job and composes it again in its workers, which cost
more than they saved on a loaded 2-core machine (docs/benchmarks.md). This launcher:

- runs jobs here and in ``processes - 1`` helper processes (``processes=0``: one process per
  core, at most one per job; ``processes=1``: the basic launcher's one job after another);
- composes every job here (with the sweeper's ``SweepConfigs``, a job that only changes
  values is derived, not composed) and hands a helper the composed config, so helpers
  never compose; each helper imports Rapport and loads the compiled kernels once;
- gives a helper a job only once it is ready (imported, kernels loaded), so a short sweep
  never waits for a helper to start: this process takes every job no helper is ready for;
- runs each job through Hydra's ``run_job``, as the basic launcher does: the job's folder,
  its ``.hydra/`` record, its log and the callbacks are Hydra's;
- keeps its helpers for the next batch of the same sweep (Optuna's batches) until
  ``stop_helpers`` (``rapport`` calls it when the command ends); helpers end with this
  process even when it is killed, and leave Ctrl-C to it (``sim.limits.worker_init``).

A job that runs while others run uses one process (``shares_cores``: ``workers=0`` means 1).
Built on Hydra's public plugin API (``Launcher``, ``run_job``, ``Singleton``), as Hydra's
own joblib launcher is.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.basecontainer import BaseContainer

from .limits import cores, ctrl_c_to_parent_only, end_quickly, worker_init

LOG = logging.getLogger(__name__)
# Jobs composed ahead per process, so that a helper that finishes finds one waiting rather than
# waiting for this process to end its own job (1 and 2 measured alike on the 40-job sweep).
QUEUED_PER_PROCESS = 2
# What an idle helper imports (after IDLE_SECONDS without a task), and this process while it
# waits for the helpers' last jobs: the sweep's gathering then draws the comparison's figures
# in every process (``spread``) without waiting for that import.
PRELOAD_WHEN_IDLE = ("sim.report",)
IDLE_SECONDS = 1.0


@dataclass
class RapportLauncherConf:
    _target_: str = "hydra_plugins.rapport_sweeper.RapportLauncher"
    processes: int = 0  # processes running the sweep's jobs, this one included; 0 = one per core


def register() -> None:
    """Store the launcher as ``hydra/launcher=rapport`` (config.yaml's default) and make sure
    Hydra knows its class (also from a checkout that is not installed)."""
    from hydra_plugins.rapport_sweeper import RapportLauncher

    if RapportLauncher not in Plugins.instance().discover(Launcher):
        Plugins.instance().register(RapportLauncher)
    ConfigStore.instance().store(group="hydra/launcher", name="rapport", node=RapportLauncherConf, provider="rapport")


_sharing = False  # True while this process runs jobs of a sweep that also runs jobs elsewhere


def shares_cores(hydra_cfg: Any) -> bool:
    """Whether the job of ``hydra_cfg`` (a sweep job's Hydra config) runs while other jobs of
    its sweep run: then it should use one process and show no progress bar."""
    target = str(OmegaConf.select(hydra_cfg, "launcher._target_", default=""))
    if "BasicLauncher" in target:
        return False
    if target.endswith("RapportLauncher"):
        return _sharing
    return True  # joblib, Submitit, Ray...: other launchers run jobs at once


def check_processes(value: Any, given: str | None = None) -> int:
    """``hydra.launcher.processes``: a whole number >= 0, else ValueError naming it (as
    ``given`` on the command line, if it came from there)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = repr(value) if given is None else given
        raise ValueError(f"hydra.launcher.processes={shown}: expected a whole "
                         f"number >= 0 (0 = one process per core, 1 = one job after another in this process)")
    return value


class JobsAcrossProcesses(Launcher):
    """See the module; Hydra runs it as ``hydra_plugins.rapport_sweeper.RapportLauncher``."""

    def __init__(self, processes: int = 0) -> None:
        self.processes = check_processes(processes)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: Any, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        global _sharing
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        count = min(self.processes or cores(), max(len(job_overrides), 1))
        LOG.info("Launching %d jobs in %d process(es)", len(job_overrides), count)
        todo = [(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]
        if count == 1 and _HELPERS.get(id(self)) is None:
            return [self._run_here(self._compose(idx, o)) for idx, o in todo]
        helpers = _HELPERS.get(id(self)) or Helpers(count - 1, self.hydra_context, self.task_function)
        _HELPERS[id(self)] = helpers
        _sharing = True
        try:
            return self._launch_with(helpers, todo)
        finally:
            _sharing = False

    def _launch_with(self, helpers: Helpers, todo: list[tuple[int, list[str]]]) -> list[JobReturn]:
        """Run ``todo`` here and in ``helpers``: this process composes the jobs, keeps a few
        ready for the helpers and runs one whenever none is ready for it."""
        tasks = (("job", *self._compose(idx, overrides)) for idx, overrides in todo)
        returns, here = helpers.share(tasks, lambda task: self._run_here(task[1:]))
        LOG.info("%d jobs ran in this process, %d in %d helper process(es)", here, len(returns) - here, helpers.count)
        return [returns[idx] for idx in sorted(returns)]

    def _compose(self, idx: int, overrides: list[str]) -> tuple[int, DictConfig]:
        """Job ``idx``'s config (the basic launcher's ``load_sweep_config`` and job number)."""
        LOG.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(cfg):
            cfg.hydra.job.id = idx
            cfg.hydra.job.num = idx
        return idx, cfg

    def _run_here(self, job: tuple[int, DictConfig]) -> JobReturn:
        """Run a composed job in this process, as the basic launcher does."""
        ret = run_job(hydra_context=self.hydra_context, task_function=self.task_function, config=job[1],
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return ret


class Helpers:
    """Helper processes that run the tasks handed to them, each helper once it is ready.

    A task is ``("job", idx, config)``, a sweep job run through ``run_job``, or ``("call",
    idx, (function reference, argument))`` (``spread``). ``ready`` holds the tasks waiting
    for a process; a thread hands the first one to each idle helper and collects what the
    helpers return."""

    def __init__(self, count: int, hydra_context: HydraContext, task_function: Any) -> None:
        self.count = count
        self.ready: deque[tuple] = deque()
        self.lock = threading.Lock()
        self.returned: dict[int, Any] = {}
        self.running: dict[Connection, tuple[str, int]] = {}  # helper -> the kind and idx of its task
        self.changed = threading.Condition(self.lock)
        self.stopping = False
        context = multiprocessing.get_context("spawn")  # this process holds threads: forking those is unsafe
        # Hydra's global state without OmegaConf's resolvers (functions pickle cannot carry): a
        # helper registers its own, importing the task's module as this process did.
        setup = pickle.dumps((Singleton.get_state()["instances"], hydra_context.callbacks, _reference(task_function)))
        self.processes, self.idle, self.starting = [], [], []
        with ctrl_c_to_parent_only():  # they start ignoring Ctrl-C, which this process handles
            for _ in range(count):
                mine, theirs = context.Pipe()
                p = context.Process(target=serve, args=(theirs, os.getpid(), setup), daemon=True,
                                    name="rapport-sweep-helper")
                try:
                    p.start()
                except OSError as err:  # no process to be had (limits): this process runs the jobs
                    print(f"rapport: could not start a helper process ({err.strerror or err}); "
                          f"running the sweep's jobs in fewer processes", file=sys.stderr)
                    break
                theirs.close()
                self.processes.append(p)
                self.starting.append(mine)
        self.thread = threading.Thread(target=self._hand_out, name="rapport-sweep-helpers", daemon=True)
        self.thread.start()

    def share(self, tasks: Iterator[tuple], run_here: Callable[[tuple], Any]) -> tuple[dict[int, Any], int]:
        """Run ``tasks`` here (``run_here``) and in the helpers: a few are taken from
        ``tasks`` ahead, each ready helper takes the first waiting, this process the first
        no helper took. Returns every task's result by idx, and how many ran here."""
        done: dict[int, Any] = {}
        ahead = QUEUED_PER_PROCESS * (self.count + 1)
        while True:
            while len(self.ready) < ahead and (task := next(tasks, None)) is not None:
                with self.changed:
                    self.ready.append(task)
                    self.changed.notify_all()
            with self.lock:
                task = self.ready.popleft() if self.ready else None
            if task is None:
                break
            done[task[1]] = run_here(task)
        here = len(done)
        if self.running:  # this process would wait for the helpers: it imports what comes next instead
            preload()
        with self.changed:
            while self.running:
                self.changed.wait()
            done.update(self.returned)
            self.returned = {}
        return done, here

    def _hand_out(self) -> None:
        """The thread: hand ready tasks to idle helpers, collect returns, notice helpers that died."""
        while not self.stopping:
            with self.lock:
                while self.idle and self.ready:
                    conn, task = self.idle.pop(), self.ready.popleft()
                    try:
                        conn.send(task)
                        self.running[conn] = task[:2]
                    except (OSError, ValueError, pickle.PicklingError):
                        self.ready.appendleft(task)  # this process runs it
                listening = self.starting + list(self.running)
            for conn in wait(listening, timeout=0.05) if listening else []:
                self._receive(conn)
            if not listening:
                time.sleep(0.05)

    def _receive(self, conn: Connection) -> None:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the helper died (killed, out of memory)
            message = None
        with self.changed:
            if conn in self.starting:
                self.starting.remove(conn)
                if message == "ready":
                    self.idle.append(conn)
            elif conn in self.running:
                kind, idx = self.running.pop(conn)
                if kind == "job":
                    self.returned[idx] = message if isinstance(message, JobReturn) else _died(idx)
                else:  # a call that failed or was lost is run again here, where its error shows
                    self.returned[idx] = message[1] if isinstance(message, tuple) and message[0] else LOST
                if message is not None:
                    self.idle.append(conn)
            self.changed.notify_all()

    def stop(self) -> None:
        """End the helpers now (a job they run stays ``*.incomplete``)."""
        self.stopping = True
        self.thread.join(1)  # before reading ``idle``, which the thread fills
        for conn in self.idle:
            try:
                conn.send(None)
            except OSError:
                pass
        for p in self.processes:
            p.join(0.2)
            if p.is_alive():
                p.terminate()
        for p in self.processes:
            p.join(5)
            if p.is_alive():
                p.kill()


_HELPERS: dict[int, Helpers] = {}  # launcher -> its helpers, kept for the sweep's next batch


def stop_helpers() -> None:
    """End every helper process this process started (``rapport`` calls it when it ends)."""
    while _HELPERS:
        _HELPERS.popitem()[1].stop()


LOST = object()  # a call a helper did not return


def spread(function: Callable[[Any], Any], arguments: list[Any]) -> list[Any]:
    """``[function(a) for a in arguments]``, shared with the helpers of the sweep this
    process runs, if any are up (idle once its jobs are done: the gathering draws the
    comparison's figures this way, ``sim.report``). ``function`` must be importable by
    name and its arguments and results picklable."""
    helpers = next(iter(_HELPERS.values()), None)
    if helpers is None or not helpers.processes or len(arguments) < 2:
        return [function(a) for a in arguments]
    tasks = (("call", i, (_reference(function), a)) for i, a in enumerate(arguments))
    done, _ = helpers.share(tasks, lambda task: function(task[2][1]))
    return [function(arguments[i]) if done[i] is LOST else done[i] for i in range(len(arguments))]


def preload() -> None:
    """Import ``PRELOAD_WHEN_IDLE``, in a process that would otherwise wait."""
    for module in PRELOAD_WHEN_IDLE:
        importlib.import_module(module)


def _died(idx: int) -> JobReturn:
    """The return of a job whose helper process ended before returning it: a failed job that
    does not stop the sweep (NaN, as ``sim.cli`` returns for a job that failed)."""
    print(f"rapport: job {idx} failed: its process ended before the job did", file=sys.stderr, flush=True)
    ret = JobReturn()
    ret.return_value, ret.status = math.nan, JobStatus.COMPLETED
    return ret


def _reference(function: Any) -> tuple[str, str]:
    """Where a task function can be imported from (module, name): Hydra hands the launcher
    the function beneath ``@hydra.main``, which pickle cannot name."""
    return function.__module__, function.__qualname__


def _task(reference: tuple[str, str]) -> Any:
    module, name = reference
    return inspect.unwrap(getattr(importlib.import_module(module), name))


def _end(signum: int, frame: Any) -> None:
    """A helper asked to stop mid-job: unwind (the job's folder stays ``*.incomplete``), so
    that what the process holds is released (multiprocessing's semaphores, else reported
    as leaked when this process ends)."""
    raise SystemExit(1)


def serve(conn: Connection, parent: int, setup: bytes) -> None:
    """A helper process: load the kernels, say it is ready, then run each task it is sent
    (``None`` ends it): a job, whose ``JobReturn`` it sends back, or a call (``spread``),
    whose result it sends back as ``(True, result)``, or ``(False, None)`` if it raised."""
    global _sharing
    worker_init(parent)
    signal.signal(signal.SIGTERM, _end)  # ``Helpers.stop``: end cleanly, releasing what it holds
    _sharing = True
    instances, callbacks, reference = pickle.loads(setup)
    setup_globals()
    task_function = _task(reference)  # its module registers its resolvers (sim.cli's)
    Singleton.set_state({"instances": instances, "omegaconf_resolvers": BaseContainer._resolvers})
    from .experiment import load_kernels

    load_kernels()
    context = HydraContext(config_loader=None, callbacks=callbacks)
    conn.send("ready")
    preloaded = False
    while True:
        if not preloaded and not conn.poll(IDLE_SECONDS):
            preload()
            preloaded = True
        task = conn.recv()
        if task is None:
            end_quickly()
            return
        kind, idx, payload = task
        if kind == "call":
            reference, argument = payload
            try:
                conn.send((True, _task(reference)(argument)))
            except Exception:  # run again by the parent, where the error is raised
                conn.send((False, None))
            continue
        ret = run_job(hydra_context=context, task_function=task_function, config=payload,
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        try:
            conn.send(ret)
        except Exception:  # an error pickle cannot carry: its text goes instead
            ret.return_value = RuntimeError(f"{type(ret._return_value).__name__}: {ret._return_value}")
            conn.send(ret)
