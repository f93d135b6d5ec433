"""Run an experiment: every arm, replicated under common random numbers.

Replication r of every arm runs with seed ``seed + r``, so arms (and each arm's no-contact
holdout, run in lockstep by the model) see the same market and the same weekly draws;
differences between arms are then not noise from different draws.

The results (``sim.results``) are written by ``sim.writing``, pooled over runs by
``sim.gathering`` and drawn by ``sim.report``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

import numpy as np
import pandas as pd

from .limits import cores, worker_init
from .results import MARKET_KEYS, Results
from .schema import ExperimentSpec


def quiet_mesa() -> None:
    """Mesa logs every step at DEBUG under Hydra's logging, which slows runs tenfold."""
    logging.getLogger("MESA").setLevel(logging.WARNING)


# --- one run ------------------------------------------------------------------------------
def run_once(strategy: Any, params: dict, weeks: int, seed: int, keep_customers: bool,
             threads: int | None = None) -> dict:
    """One run of one arm with its holdout: weekly metrics, value per tier, customers (optional).

    ``threads`` caps the compiled kernel's threads: when runs already go in parallel
    processes, more threads per process only oversubscribe the cores.
    """
    quiet_mesa()
    if threads:
        _set_threads(threads)
    from .model import RelationshipModel

    params = dict(params)
    customers = params.pop("customers")
    m = RelationshipModel(customers=customers, strategy=strategy, rng=seed, holdout=True, journeys=0, **params)
    m.run(weeks)
    table = m.customers_table()
    if m.holdout is not None:  # same customers without contact: what each one adds
        table["incremental_value"] = table["net_value"] - (m.holdout.margin - m.holdout.cost)
    else:
        table["incremental_value"] = np.nan
    tiers = (table.groupby("tier", observed=False)
             .agg(customers=("customer", "size"), margin=("margin", "mean"), cost=("cost", "mean"),
                  net_value=("net_value", "mean"), incremental_value=("incremental_value", "mean"))
             .reset_index())
    tiers["tier"] = tiers["tier"].astype(str)
    return {"weekly": m.metrics(), "tiers": tiers, "customers": table if keep_customers else None}


def _set_threads(n: int) -> None:
    try:
        import numba
    except ImportError:  # the core may run without numba
        return
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


# --- an experiment --------------------------------------------------------------------------
def _workers(requested: int, tasks: int) -> int:
    """Processes for ``tasks`` runs: as requested (0 = one per core), never more than the cores or the runs."""
    return max(1, min(requested or cores(), cores(), tasks))


def run_experiment(spec: ExperimentSpec, progress: bool = True) -> Results:
    """Run every arm for every replication (in parallel processes when workers > 1)."""
    tasks = [(i, r) for r in range(spec.replications) for i in range(len(spec.arms))]
    workers = _workers(spec.workers, len(tasks))
    out: dict[tuple[int, int], dict] = {}
    from tqdm import tqdm

    def job(i: int, r: int) -> tuple:
        arm = spec.arms[i]
        return (arm.strategy, arm.params, spec.horizon_weeks, spec.seed + r, r == 0, 1 if workers > 1 else None)

    # The bar is closed however the runs end, so that a message after it starts a line of its own.
    with tqdm(total=len(tasks), desc=f"{spec.name}: {len(spec.arms)} arms x {spec.replications} runs",
              unit="run", disable=not progress, mininterval=0.5, file=sys.stderr) as bar:
        if workers > 1:
            _run_in_workers(tasks, job, workers, out, bar)
        for i, r in tasks:
            if (i, r) not in out:
                out[i, r] = run_once(*job(i, r))
                bar.update()

    weekly, tiers, customers = [], [], []
    for (i, r), res in sorted(out.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        tag = {"arm": spec.arms[i].name, "replication": r, "seed": spec.seed + r}
        weekly.append(res["weekly"].assign(**tag))
        tiers.append(res["tiers"].assign(**tag))
        if res["customers"] is not None:
            customers.append(res["customers"].assign(**tag))
    lead = ["arm", "replication", "seed"]
    weekly_df = _lead(pd.concat(weekly, ignore_index=True), lead)
    arms = [{"name": a.name, "strategy": a.strategy_name, "description": a.description,
             "params": {k: v for k, v in a.params.items() if spec.params.get(k) != v}} for a in spec.arms]
    return Results(spec.name, spec.question, arms, spec.baseline, spec.horizon_weeks, spec.seeds,
                   {k: spec.params[k] for k in MARKET_KEYS}, weekly_df,
                   _lead(pd.concat(tiers, ignore_index=True), lead),
                   _lead(pd.concat(customers, ignore_index=True), lead) if customers else None,
                   comparisons=list(spec.comparisons)).analyse()


@contextmanager
def _ctrl_c_to_parent_only():
    """Ignore Ctrl-C while worker processes start, so that they start ignoring it (an ignored
    signal stays ignored in a child) instead of dying with a traceback mid-import."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _run_in_workers(tasks: list, job: Any, workers: int, out: dict, bar: Any) -> None:
    """Run ``tasks`` in ``workers`` processes, filling ``out``; leaves the ones not run to the caller."""
    # spawn: the parent may hold threads (tqdm, the kernel's thread pool); forking those is unsafe.
    # Workers end with the parent, even when it is killed, and leave Ctrl-C to it (worker_init).
    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                   initializer=worker_init, initargs=(os.getpid(),))
        try:
            with _ctrl_c_to_parent_only():
                futures = {pool.submit(run_once, *job(i, r)): (i, r) for i, r in tasks}
            for fut in as_completed(futures):
                out[futures[fut]] = fut.result()
                bar.update()
        except BaseException:  # Ctrl-C, a failed run: stop the other runs now rather than wait for them
            _stop(pool)
            raise
        pool.shutdown()
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
