"""Where the time of one week goes, at 1,000,000 customers: a breakdown of ``RelationshipModel.step``.

Run: ``.venv/bin/python benchmarks/profile_step.py [--customers N] [--holdout]``.

The rules are compiled (numba) kernels, so a Python profiler sees each kernel as one call.
This script therefore times the parts of a step by wrapping, after warm-up, the functions
``step`` calls (the draws' ``fill``, every compiled kernel of ``sim.rules`` called from Python,
the metrics and the journeys), with numba on 1 thread and on all threads. It then runs two
experiments that bound what is left to gain: the cost of the week's uniforms drawn by numpy
versus generated inside a compiled loop, and a memory-traffic floor (one compiled pass that
reads and writes the bytes a week must touch).
"""

from __future__ import annotations

import argparse
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
    model.draws.fill = timed("draws.fill (numpy RNG)", model.draws.fill)
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


@nb.njit(cache=True, parallel=True)
def _hash_uniforms(seed, week, out):
    """16 float32 uniforms per customer from a counter-based hash (splitmix64 of seed, week, i, j)."""
    rows, n = out.shape
    for i in nb.prange(n):
        for j in range(rows):
            z = np.uint64(seed) ^ (np.uint64(week) << np.uint64(40)) ^ (np.uint64(i) << np.uint64(4)) ^ np.uint64(j)
            z = (z + np.uint64(0x9E3779B97F4A7C15))
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z = z ^ (z >> np.uint64(31))
            out[j, i] = np.float32(z >> np.uint64(40)) * np.float32(1.0 / (1 << 24))


@nb.njit(cache=True, parallel=True)
def _traffic(state_f32, state_small, draws, out):
    """Touch what a week must: read+write 4 float32 and 8 bytes of small fields, read 16 draws."""
    n = out.shape[0]
    for i in nb.prange(n):
        acc = np.float32(0)
        for j in range(draws.shape[0]):
            acc += draws[j, i]
        for j in range(state_f32.shape[0]):
            state_f32[j, i] = state_f32[j, i] * np.float32(0.99) + acc * np.float32(1e-6)
        for j in range(state_small.shape[0]):
            state_small[j, i] += 1
        out[i] = acc


def experiments(n: int, repeats: int = 5) -> dict[str, float]:
    """Milliseconds for the draws (numpy, one thread / two streams, vs compiled hash) and the traffic floor."""
    rng = np.random.default_rng(1)
    table = np.empty((16, n), np.float32)
    res = {}

    def median_ms(fn):
        fn()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 1e3 * statistics.median(times)

    res["numpy rng.random(float32), 16 x n, 1 thread"] = median_ms(lambda: rng.random(out=table, dtype=np.float32))
    d = sim.rules.Draws(n, rng)
    res["sim Draws.fill (2 streams, 2 threads)"] = median_ms(d.fill)
    week = [0]

    def hashed():
        week[0] += 1
        _hash_uniforms(12345, week[0], table)
    res["compiled counter-based hash, 16 x n"] = median_ms(hashed)
    f32 = np.random.default_rng(2).random((4, n), dtype=np.float32)
    small = np.zeros((2, n), np.int32)
    out = np.empty(n, np.float32)
    res["memory-traffic floor (state + draws)"] = median_ms(lambda: _traffic(f32, small, table, out))
    return res


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
    print("\nexperiments (median ms per week):")
    for name, ms in experiments(n).items():
        print(f"  {name:<48} {ms:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
