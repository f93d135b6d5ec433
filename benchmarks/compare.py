"""Throughput of two checkouts of Rapport measured in one run, interleaved, as ratios.

Run: ``.venv/bin/python benchmarks/compare.py --before DIR [--after DIR] [--rounds 5]``, where
DIR is a checkout of another commit (``git archive <commit> | tar -x -C DIR``). Each round
times one fresh process per checkout, alternating which goes first, each importing ``sim``
from its own directory: a market of ``--customers`` steps ``--weeks`` weeks after two
warm-up weeks, one market and with the holdout twin. The machine is shared, so the figure
to read is the median over rounds of the per-round ratio after / before. Each is given twice:
from wall time, and from the process's CPU time (``*_cpu``: not slowed by the time other
processes hold the core, so steadier on a busy machine; meaningful with one thread only, as
waiting threads' spinning counts as CPU time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import machine  # noqa: E402

PROBE = """
import json, statistics, sys, time
sys.path.insert(0, {root!r})
import sim
assert sim.__file__.startswith({root!r}), sim.__file__
from sim import RelationshipModel
out = {{}}
for holdout in (False, True):
    m = RelationshipModel(customers={n}, strategy={strategy!r}, rng=1, holdout=holdout, journeys=0)
    m.run(2)
    times, cpu = [], []
    for _ in range({weeks}):
        t, c = time.perf_counter(), time.process_time()
        m.step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    key = "holdout" if holdout else "one_market"
    out[key] = {n} / statistics.median(times)
    out[key + "_cpu"] = {n} / statistics.median(cpu)
print(json.dumps(out))
"""


def probe(root: Path, n: int, weeks: int, strategy: str, threads: int) -> dict:
    """Customer-weeks per second of the checkout at ``root``, in a fresh process."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), PYTHONPATH=str(root))
    code = PROBE.format(root=str(root), n=n, weeks=weeks, strategy=strategy)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="checkout of the reference commit")
    ap.add_argument("--after", type=Path, default=HERE.parent, help="checkout to compare (default: this one)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--weeks", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--strategy", default="reciprocal_value")
    args = ap.parse_args(argv)
    roots = {"before": args.before.resolve(), "after": args.after.resolve()}
    for root in roots.values():  # compile (or load) each checkout's kernels once, untimed
        probe(root, 1000, 1, args.strategy, args.threads)
    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores, numba {info.get('numba')}, {args.threads} thread(s); "
          f"load average {info['load_average_1min']:.2f}; {args.customers:,} customers, median of {args.weeks} weeks")
    ratios: dict[str, list[float]] = {"one_market": [], "holdout": [], "one_market_cpu": [], "holdout_cpu": []}
    for r in range(args.rounds):
        order = ("before", "after") if r % 2 == 0 else ("after", "before")
        got = {name: probe(roots[name], args.customers, args.weeks, args.strategy, args.threads) for name in order}
        for key in ratios:
            ratios[key].append(got["after"][key] / got["before"][key])
        print(f"round {r + 1}: " + "; ".join(
            f"{key}: before {got['before'][key] / 1e6:.2f} M, after {got['after'][key] / 1e6:.2f} M cw/s, "
            f"ratio {ratios[key][-1]:.3f}" for key in ratios), flush=True)
    for key, values in ratios.items():
        print(f"{key}: median ratio after/before {statistics.median(values):.3f} "
              f"(min {min(values):.3f}, max {max(values):.3f}, {len(values)} rounds)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
