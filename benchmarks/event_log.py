"""What the event log costs: a run with ``events=True`` against the same run without, in one
process, interleaved, as ratios (the machine is shared: read the median ratio).

Run: ``.venv/bin/python benchmarks/event_log.py [--customers 5000] [--weeks 260] [--rounds 5]``.
Each round times a run of reciprocal_value with its holdout, with and without the log
(alternating which goes first); "with" includes building the table and writing it as Parquet.
A run without the log against main is measured by ``benchmarks/compare.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench import machine  # noqa: E402
from sim import RelationshipModel  # noqa: E402
from sim.events import write_events  # noqa: E402


def one_run(customers: int, weeks: int, events: bool, folder: Path) -> tuple[float, int]:
    start = time.perf_counter()
    m = RelationshipModel(customers=customers, strategy="reciprocal_value", rng=1, journeys=0, events=events)
    m.run(weeks)
    rows = 0
    if events:
        table = m.event_log.table()
        write_events(table, folder)
        rows = len(table)
    return time.perf_counter() - start, rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=5000)
    p.add_argument("--weeks", type=int, default=260)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    one_run(200, 2, True, Path(tempfile.mkdtemp()))  # compile and warm up
    ratios, with_log, without, rows = [], [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            got = {events: one_run(args.customers, args.weeks, events, Path(tmp)) for events in order}
            with_log.append(got[True][0])
            without.append(got[False][0])
            rows = got[True][1]
            ratios.append(got[True][0] / got[False][0])
            print(f"round {r + 1}: with {got[True][0]:.2f} s, without {got[False][0]:.2f} s, "
                  f"ratio {ratios[-1]:.3f}", flush=True)
    print(json.dumps({"machine": machine(), "customers": args.customers, "weeks": args.weeks, "rows": rows,
                      "median_seconds_with": statistics.median(with_log),
                      "median_seconds_without": statistics.median(without),
                      "median_ratio": statistics.median(ratios)}, indent=1))


if __name__ == "__main__":
    main()
