"""Where the time of one week goes, at 1,000,000 customers: a breakdown of ``RelationshipModel.step``.

Run: ``.venv/bin/python benchmarks/profile_step.py [--customers N] [--holdout]``.

The rules are compiled (numba) kernels, so a Python profiler sees each kernel as one call.
This script therefore times the parts of a step by wrapping, after warm-up, the functions
``step`` calls (the draws' ``fill``, every compiled kernel of ``sim.rules`` called from Python,
the metrics and the journeys), with numba on 1 thread and on all threads. It then runs two
experiments that bound what is left to gain: the cost of the week's uniforms drawn by numpy
versus generated inside a compiled loop (all 16, or only the ~4 a customer needs on average),
the serial budget pass, and a small default run on one thread versus all threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402

import sim.metrics  # noqa: E402
import sim.model  # noqa: E402
import sim.rules  # noqa: E402
from sim import RelationshipModel  # noqa: E402

TIMES: dict[str, list[float]] = defaultdict(list)


def timed(name: str, fn):
    """``fn`` wrapped so that each call's wall time is added to TIMES[name]."""
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[name].append(time.perf_counter() - t)
    return wrapper


def instrument(model: RelationshipModel) -> None:
    """Wrap the parts of a step (after warm-up, so that nothing is compiled any more)."""
    for name in dir(sim.rules):
        obj = getattr(sim.rules, name)
        if isinstance(obj, nb.core.registry.CPUDispatcher):
            setattr(sim.rules, name, timed(f"kernel {name}", obj))
    model.draws.fill = timed("draws.fill", model.draws.fill)
    sim.model.step = timed("rules.step (total)", sim.rules.step)
    model._record_journeys = timed("journeys", model._record_journeys)
    for metric in sim.metrics.METRICS:
        object.__setattr__(metric, "compute", timed("metrics (all)", metric.compute))


def breakdown(n: int, holdout: bool, weeks: int, threads: int) -> tuple[float, dict[str, float]]:
    """Median seconds per step and per part, with numba on ``threads`` threads."""
    nb.set_num_threads(threads)
    m = RelationshipModel(customers=n, rng=1, holdout=holdout, journeys=0)
    m.run(2)
    TIMES.clear()
    instrument(m)
    steps = []
    for _ in range(weeks):
        t = time.perf_counter()
        m.step()
        steps.append(time.perf_counter() - t)
    per_step = {}
    for name, times in TIMES.items():
        per_step[name] = sum(times) / weeks
    return statistics.median(steps), per_step


@nb.njit(cache=True, inline="always")
def _uniform(key, i, j):
    """A float32 uniform from a counter-based hash (splitmix64) of (key, customer i, decision j)."""
    z = key ^ (np.uint64(i) << np.uint64(4)) ^ np.uint64(j)
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float32(z >> np.uint64(40)) * np.float32(1.0 / 16777216.0)


@nb.njit(cache=True)
def _hashed(key, n, per_customer, out):
    """Generate ``per_customer`` uniforms for each of n customers inside a compiled loop."""
    acc = np.float32(0)
    for i in range(n):
        for j in range(per_customer):
            acc += _uniform(key, i, j)
    out[0] = acc


@nb.njit(cache=True)
def _budget_pass(known, opted_in, stage, tier, seg_cost):
    """The serial pass that sums what the policy wants to spend (as at the top of the week)."""
    wanted = 0.0
    for i in range(known.shape[0]):
        if known[i] and opted_in[i]:
            wanted += seg_cost[stage[i] * 2 + tier[i]]
    return wanted


def median_ms(fn, repeats: int = 9) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def experiments(n: int) -> dict[str, float]:
    """Milliseconds per week of alternatives to parts of the step, on one thread."""
    nb.set_num_threads(1)
    rng = np.random.default_rng(1)
    table = np.empty((16, n), np.float32)
    out = np.zeros(1, np.float32)
    key = np.uint64(12345) << np.uint64(24)
    m = RelationshipModel(customers=n, rng=1, holdout=False, journeys=0)
    m.run(2)
    p = m.pop
    seg_cost = np.ones(12)
    res = {
        "numpy rng.random(float32), 16 x n (draws before 9f9cabb)": median_ms(lambda: rng.random(out=table, dtype=np.float32)),
        "compiled hash, 16 uniforms per customer": median_ms(lambda: _hashed(key, n, 16, out)),
        "compiled hash, 4 per customer (drawn when needed)": median_ms(lambda: _hashed(key, n, 4, out)),
        "budget pass (serial; only with a finite budget)": median_ms(lambda: _budget_pass(p.known, p.opted_in, p.stage, p.tier,
                                                                            seg_cost)),
    }
    nb.set_num_threads(nb.config.NUMBA_NUM_THREADS)
    return res


def small_runs(customers: int = 5_000, weeks: int = 260) -> dict[int, float]:
    """Seconds for a default run of ``customers`` x ``weeks`` with 1 thread and with all threads."""
    out = {}
    for threads in sorted({1, nb.config.NUMBA_NUM_THREADS}):
        nb.set_num_threads(threads)
        RelationshipModel(customers=customers, rng=0).run(2)
        t = time.perf_counter()
        RelationshipModel(customers=customers, rng=0).run(weeks)
        out[threads] = time.perf_counter() - t
    nb.set_num_threads(nb.config.NUMBA_NUM_THREADS)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--holdout", action="store_true", help="profile with the holdout twin")
    ap.add_argument("--weeks", type=int, default=8)
    args = ap.parse_args(argv)
    n = args.customers
    max_threads = nb.config.NUMBA_NUM_THREADS
    print(f"{n:,} customers, holdout={args.holdout}, median of {args.weeks} weeks after 2 warm-up weeks")
    for threads in sorted({1, max_threads}):
        step_s, parts = breakdown(n, args.holdout, args.weeks, threads)
        print(f"\nnumba threads {threads}: {1e3 * step_s:.1f} ms per step, {n / step_s / 1e6:.2f} M customer-weeks/s")
        for name, s in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<34} {1e3 * s:8.1f} ms  {100 * s / step_s:5.1f} %")
    nb.set_num_threads(max_threads)
    print(f"\nexperiments at {n:,} customers, 1 thread (median ms per week):")
    for name, ms in experiments(n).items():
        print(f"  {name:<52} {ms:8.1f} ms")
    print("\ndefault run 5,000 customers x 260 weeks (build + run):")
    for threads, s in small_runs().items():
        print(f"  numba threads {threads}: {s:.2f} s")
    print(f"\nload average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} logical CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
