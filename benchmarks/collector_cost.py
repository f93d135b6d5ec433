"""What Mesa's DataCollector costs a run: the default run with and without collecting.

Run with ``.venv/bin/python benchmarks/collector_cost.py [--repeats 7]``. Times
``RelationshipModel(customers=5000).run(260)`` (holdout on) with 20 sampled customers
(the default; they are recorded by the collector every week) and with none, each with the
model's ``WeeklyCollector`` collecting and with its ``collect`` made a no-op, interleaved so
that both see the same load; prints medians and ratios (target: no noticeable slow-down).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim import RelationshipModel  # noqa: E402
from sim.model import WeeklyCollector  # noqa: E402


def run_seconds(journeys: int) -> float:
    start = time.perf_counter()
    RelationshipModel(customers=5000, strategy="reciprocal_value", rng=1, journeys=journeys).run(260)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    collect = WeeklyCollector.collect
    run_seconds(20)  # loads the compiled kernels
    times: dict[tuple[int, bool], list[float]] = {}
    for _ in range(args.repeats):
        for journeys in (20, 0):
            for on in (True, False):
                WeeklyCollector.collect = collect if on else (lambda self, model: None)
                times.setdefault((journeys, on), []).append(run_seconds(journeys))
    WeeklyCollector.collect = collect
    print(f"load average {os.getloadavg()[0]:.1f}; 5,000 customers x 260 weeks, medians of {args.repeats}")
    for journeys in (20, 0):
        on, off = (statistics.median(times[journeys, flag]) for flag in (True, False))
        print(f"  journeys={journeys:<3} collecting {on:.3f} s, not collecting {off:.3f} s, ratio {on / off:.3f}")


if __name__ == "__main__":
    main()
