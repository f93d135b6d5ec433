"""Run an experiment: every arm, replicated under common random numbers.

Replication r of every arm runs with seed ``seed + r``, so arms and their no-contact
holdout see the same market and the same weekly draws; differences between arms are then
not noise from different draws. For the same reason the holdout of seed r is the same for
every arm of the same market: it is simulated once per seed and market and replayed by
each arm (an arm alone in its market runs its holdout in lockstep, which is as fast).
With a current practice (``sim.switch``) the warm-up of seed r is computed with that
holdout and shared by the arms in the same way.

The results (``sim.results``) are written by ``sim.writing``, pooled over runs by
``sim.gathering`` and drawn by ``sim.report``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .events import check_writable, partition, write_events
from .limits import SMALL_WORK, cores, ctrl_c_to_parent_only, worker_init
from .results import MARKET_KEYS, Results
from .schema import ExperimentSpec
from .switch import describe_practice

if TYPE_CHECKING:
    from .model import HoldoutRun

LOG = logging.getLogger(__name__)  # under Hydra: the job's rapport.log


def quiet_mesa() -> None:
    """Mesa logs every step at DEBUG under Hydra's logging, which slows runs tenfold."""
    logging.getLogger("MESA").setLevel(logging.WARNING)


def load_kernels() -> None:
    """Compile the weekly pass, or load it from numba's cache, before the first run is asked
    for: on a fresh install compiling takes tens of seconds, which would otherwise fall on a
    class's first click on Step (the dashboard) or on a sweep helper's first job."""
    from .model import RelationshipModel

    quiet_mesa()
    RelationshipModel(customers=50, rng=0, journeys=0).step()


# --- one run ------------------------------------------------------------------------------
def run_once(strategy: Any, params: dict, weeks: int, seed: int, keep_customers: bool,
             threads: int | None = None, holdout: "bool | HoldoutRun" = True, events_to: Path | None = None,
             start: Any = None) -> dict:
    """One run of one arm with its holdout: weekly metrics, value per tier, customers (optional).

    ``threads`` caps the compiled kernel's threads: when runs already go in parallel
    processes, more threads per process only oversubscribe the cores. ``holdout``: True
    runs it in lockstep, a ``HoldoutRun`` (``run_holdout``) replays it, and its warm-up
    with it. ``events_to``: the partition folder the run's event log (``sim.events``,
    holdout rows included) goes to. ``start``: the current practice run first (``sim.switch``).
    """
    quiet_mesa()
    if threads:
        _set_threads(threads)
    from .model import RelationshipModel

    params = dict(params)
    customers = params.pop("customers")
    if not isinstance(holdout, bool) and holdout.start is not None:
        start = holdout.start  # recorded with the holdout of this seed: every arm starts from it
    m = RelationshipModel(customers=customers, strategy=strategy, rng=seed, holdout=holdout, journeys=0,
                          events=events_to is not None, start=start, **params)
    m.run(weeks)
    if events_to is not None:
        _write_log(m, holdout, events_to)
    table = m.customers_table()
    held = m.holdout_net_value()  # same customers without contact: what each one adds
    table["incremental_value"] = table["net_value"] - held if held is not None else np.nan
    tiers = (table.groupby("tier", observed=False)
             .agg(customers=("customer", "size"), margin=("margin", "mean"), cost=("cost", "mean"),
                  net_value=("net_value", "mean"), incremental_value=("incremental_value", "mean"))
             .reset_index())
    tiers["tier"] = tiers["tier"].astype(str)
    return {"weekly": m.metrics(), "tiers": tiers, "customers": table if keep_customers else None}


def _write_log(m: Any, holdout: "bool | HoldoutRun", folder: Path) -> None:
    """The run's event log, with the replayed holdout's rows, as ``folder/part-0.parquet``."""
    table = m.event_log.table()
    if not isinstance(holdout, bool) and holdout.events is not None:
        table = pd.concat([table, holdout.events], ignore_index=True)
    write_events(table, folder)


def run_holdout(params: dict, weeks: int, seed: int, threads: int | None = None,
                events: bool = False, start: Any = None) -> "HoldoutRun":
    """The no-contact holdout of a market and seed, recorded for the arms to replay (with
    the warm-up under current practice ``start``, computed once here for all the arms)."""
    quiet_mesa()
    if threads:
        _set_threads(threads)
    from .model import record_holdout

    params = dict(params)
    return record_holdout(params.pop("customers"), weeks, rng=seed, journeys=0, events=events, start=start,
                          **params)


def _set_threads(n: int) -> None:
    try:
        import numba
    except ImportError:  # the core may run without numba
        return
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


# --- an experiment --------------------------------------------------------------------------
def _workers(requested: int, tasks: int, work: float = math.inf) -> int:
    """Processes for ``tasks`` runs: as requested (0 = one per core, or 1 for little work),
    never more than the cores or the runs."""
    if requested:
        return max(1, min(requested, cores(), tasks))
    if work < SMALL_WORK:
        return 1
    return max(1, min(cores(), tasks))


def shared_markets(spec: ExperimentSpec) -> dict[int, int]:
    """Arm index -> index of the first arm with the same market, for arms whose market
    (parameters) another arm shares: their holdout is simulated once per seed."""
    first: dict[str, int] = {}
    keys = [json.dumps(a.params, sort_keys=True, default=str) for a in spec.arms]
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    return {i: first[k] for i, k in enumerate(keys) if keys.count(k) > 1}


def run_experiment(spec: ExperimentSpec, progress: bool = True, events_dir: Path | None = None) -> Results:
    """Run every arm for every replication (in parallel processes when workers > 1); with
    ``events_dir``, checked first, every run's event log goes there (``sim.events``)."""
    events_dir = check_writable(events_dir) if events_dir is not None else None
    tasks = [(i, r) for r in range(spec.replications) for i in range(len(spec.arms))]
    market_of = shared_markets(spec)
    holdout_tasks = sorted({(market_of[i], r) for i, r in tasks if i in market_of}, key=lambda t: (t[1], t[0]))
    workers = _workers(spec.workers, len(tasks), _work(spec, market_of, holdout_tasks))
    threads = 1 if workers > 1 else None
    out: dict[tuple[int, int], dict] = {}
    holdouts: dict[tuple[int, int], Any] = {}  # (market's first arm, replication) -> HoldoutRun
    from tqdm import tqdm

    def arm_job(i: int, r: int) -> tuple:
        arm = spec.arms[i]
        holdout = holdouts[market_of[i], r] if i in market_of else True
        log = partition(events_dir, arm.name, r) if events_dir is not None else None
        return (run_once, arm.strategy, arm.params, spec.horizon_weeks, spec.seed + r, r == 0, threads, holdout, log,
                spec.current)

    def holdout_job(g: int, r: int) -> tuple:
        return (run_holdout, spec.arms[g].params, spec.horizon_weeks, spec.seed + r, threads, events_dir is not None,
                spec.current)

    # The bar is closed however the runs end, so that a message after it starts a line of its own.
    with tqdm(total=len(tasks), desc=f"{spec.name}: {len(spec.arms)} arms x {spec.replications} runs",
              unit="run", disable=not progress, mininterval=0.5, file=sys.stderr) as bar:
        if workers > 1:
            _run_in_workers(tasks, holdout_tasks, market_of, arm_job, holdout_job, workers, out, holdouts, bar)
        for i, r in tasks:
            if (i, r) in out:
                continue
            if i in market_of and (market_of[i], r) not in holdouts:
                func, *args = holdout_job(market_of[i], r)
                holdouts[market_of[i], r] = func(*args)
            func, *args = arm_job(i, r)
            out[i, r] = func(*args)
            bar.update()
            LOG.info("%s: replication %d of %d done (seed %d)", spec.arms[i].name, r + 1, spec.replications,
                     spec.seed + r)
            if i in market_of and all((j, r) in out for j, g in market_of.items() if g == market_of[i]):
                del holdouts[market_of[i], r]  # every arm of this market replayed it

    weekly, tiers, customers = [], [], []
    for (i, r), res in sorted(out.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        tag = {"arm": spec.arms[i].name, "replication": r, "seed": spec.seed + r}
        weekly.append(res["weekly"].assign(**tag))
        tiers.append(res["tiers"].assign(**tag))
        if res["customers"] is not None:
            customers.append(res["customers"].assign(**tag))
    lead = ["arm", "replication", "seed"]
    weekly_df = _lead(pd.concat(weekly, ignore_index=True), lead)
    arms = [{"name": a.name, "strategy": a.strategy_name, "label": a.label, "description": a.description,
             "params": {k: v for k, v in a.params.items() if spec.params.get(k) != v}} for a in spec.arms]
    return Results(spec.name, spec.question, arms, spec.baseline, spec.horizon_weeks, spec.seeds,
                   {k: spec.params[k] for k in MARKET_KEYS}, weekly_df,
                   _lead(pd.concat(tiers, ignore_index=True), lead),
                   _lead(pd.concat(customers, ignore_index=True), lead) if customers else None,
                   comparisons=list(spec.comparisons), current=describe_practice(spec.current)).analyse()


def _work(spec: ExperimentSpec, market_of: dict[int, int], holdout_tasks: list) -> float:
    """Customer-weeks an experiment simulates: arms (with their lockstep holdouts), shared
    holdouts, and warm-ups (one per seed and market, or per arm alone in its market)."""
    work = spec.horizon_weeks * sum(a.params["customers"] * (1 if i in market_of else 2)
                                    for i, a in enumerate(spec.arms)) * spec.replications
    work += spec.horizon_weeks * sum(spec.arms[g].params["customers"] for g, _ in holdout_tasks)
    if spec.current is not None:
        markets = {market_of.get(i, i) for i in range(len(spec.arms))}
        work += spec.current.weeks * sum(spec.arms[g].params["customers"] for g in markets) * spec.replications
    return work


# Worker processes kept for the next experiment of this process (by number of workers): the
# jobs of a sweep run one after another in one process, and each would otherwise start its
# own workers, each importing Rapport and loading the compiled kernels (seconds per job).
_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """The kept pool of ``workers`` processes, started if there is none (or it broke)."""
    pool = _POOLS.get(workers)
    if pool is None or getattr(pool, "_broken", False):
        # spawn: the parent may hold threads (tqdm, the kernel's thread pool); forking those is unsafe.
        # Workers end with the parent, even when it is killed, and leave Ctrl-C to it (worker_init).
        pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                                     initializer=worker_init, initargs=(os.getpid(),))
    return pool


def _run_in_workers(tasks: list, holdout_tasks: list, market_of: dict, arm_job: Any, holdout_job: Any,
                    workers: int, out: dict, holdouts: dict, bar: Any) -> None:
    """Run the holdouts and arms in ``workers`` processes (kept for the next experiment),
    filling ``out`` and ``holdouts``; the runs left (if the workers could not start) are the caller's."""
    try:
        pool = _pool(workers)
        try:
            with ctrl_c_to_parent_only():
                running = {pool.submit(*holdout_job(*t)): ("holdout", t) for t in holdout_tasks}
                running |= {pool.submit(*arm_job(*t)): ("arm", t) for t in tasks if t[0] not in market_of}
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    kind, t = running.pop(fut)
                    if kind == "holdout":  # its arms can start
                        holdouts[t] = fut.result()
                        with ctrl_c_to_parent_only():
                            running |= {pool.submit(*arm_job(i, t[1])): ("arm", (i, t[1]))
                                        for i, g in market_of.items() if g == t[0]}
                        del holdouts[t]  # sent with its arms; a warmed-up market is large
                    else:
                        out[t] = fut.result()
                        bar.update()
                        LOG.info("arm %d: replication %d done", t[0] + 1, t[1] + 1)
        except BaseException:  # Ctrl-C, a failed run: stop the other runs now rather than wait for them
            _POOLS.pop(workers, None)
            _stop(pool)
            raise
    except BrokenProcessPool:
        # A worker could not start, e.g. a script without `if __name__ == "__main__":`
        # or code read from stdin: the runs left are done here, one after another.
        print(f"rapport: worker processes could not start; running the {len(tasks) - len(out)} runs left "
              f"in this process (set workers=1 to skip trying)", file=sys.stderr)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the runs not started and end the worker processes of ``pool`` without waiting."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.terminate()
    for p in processes:
        p.join(5)


def _lead(df: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return df[first + [c for c in df.columns if c not in first]]
