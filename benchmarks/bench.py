"""Rapport benchmarks: throughput, ratio to the object-per-customer baseline, run time, memory.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench.py [--quick]``). Prints a table
with PASS/MISS against the targets of the issue and writes ``benchmarks/results/latest.json``.
Benchmarks report, they do not assert: the exit status is 0 whatever the figures.

Measured (medians of several repeats):
    (a) ``RelationshipModel.step`` throughput in customer-weeks per second at 1,000,000 customers,
        one market (holdout=False) and with the holdout twin (holdout=True; customer-weeks of the
        treated market only), journeys=0, after warm-up weeks; with numba's default thread
        count and with one thread;
    (b) the same for ``BaselineModel`` (one Mesa agent per customer) on a small market, and the ratio;
    (c) wall time of a default run, 5,000 customers for 260 weeks (holdout on), build included;
    (d) memory per customer: the state arrays, everything the model holds at rest, and the extra
        peak during one step (tracemalloc), the network's edges reported separately.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import mesa  # noqa: E402
import numpy as np  # noqa: E402

from baseline_objects import BaselineModel  # noqa: E402
from sim import RelationshipModel  # noqa: E402

TARGET_THROUGHPUT = 10e6  # customer-weeks per second at 1M customers
TARGET_RATIO = 30.0  # vectorised / baseline throughput
TARGET_RUN_SECONDS = 0.5  # 5,000 customers x 260 weeks "well under a second"
TARGET_BYTES = 200.0  # per customer, network edges excluded


def machine() -> dict:
    """CPU model, cores and software versions, to name the machine beside the figures."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {"cpu": cpu, "cores": usable, "logical_cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "mesa": mesa.__version__, "platform": platform.platform()}
    info["load_average_1min"] = os.getloadavg()[0]
    try:
        import numba
        info.update(numba=numba.__version__, numba_threads=numba.get_num_threads())
    except ImportError:
        pass
    return info


def set_threads(threads: int | None) -> int | None:
    """Set numba's thread count (None: all); returns the count in force, None without numba."""
    try:
        import numba
    except ImportError:
        return None
    numba.set_num_threads(threads or numba.config.NUMBA_NUM_THREADS)
    return numba.get_num_threads()


def step_times(model, warmup: int, repeats: int) -> list[float]:
    """Seconds per ``model.step()``, one entry per measured week, after ``warmup`` weeks."""
    for _ in range(warmup):
        model.step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t)
    return times


def throughput(make, n: int, warmup: int, repeats: int, threads: int | None = None) -> dict:
    """Median customer-weeks per second of the model ``make()`` builds (n customers)."""
    used = set_threads(threads)
    gc.collect()
    t = time.perf_counter()
    model = make()
    build = time.perf_counter() - t
    times = step_times(model, warmup, repeats)
    med = statistics.median(times)
    set_threads(None)
    return {"customers": n, "threads": used, "build_s": build, "step_s_median": med, "step_s_min": min(times),
            "step_s_max": max(times), "repeats": repeats, "customer_weeks_per_s": n / med}


def default_run(customers: int, weeks: int, repeats: int, threads: int | None = None) -> dict:
    """Wall time of ``RelationshipModel(customers).run(weeks)`` with default settings, build included."""
    used = set_threads(threads)
    times, runs = [], []
    for seed in range(repeats):
        gc.collect()
        t = time.perf_counter()
        m = RelationshipModel(customers=customers, rng=seed)
        t_built = time.perf_counter()
        m.run(weeks)
        end = time.perf_counter()
        times.append(end - t)
        runs.append(end - t_built)
    set_threads(None)
    return {"customers": customers, "weeks": weeks, "repeats": repeats, "threads": used,
            "wall_s_median": statistics.median(times), "run_only_s_median": statistics.median(runs), "wall_s_min": min(times)}


FRESH = ("import time; t = time.perf_counter(); from sim import RelationshipModel; "
         "RelationshipModel(customers={n}, rng=0).run({weeks}); print(time.perf_counter() - t)")


def fresh_run(customers: int, weeks: int, repeats: int, threads: int | None = None) -> dict:
    """Wall time of the same run in a new Python process: import (and compiled-code loading) included."""
    env = dict(os.environ, **({"NUMBA_NUM_THREADS": str(threads)} if threads else {}))
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", FRESH.format(n=customers, weeks=weeks)], cwd=HERE.parent,
                             capture_output=True, text=True, check=True, env=env)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return {"customers": customers, "weeks": weeks, "repeats": repeats, "threads": threads,
            "wall_s_median": statistics.median(times)}


def model_memory(n: int, holdout: bool, strategy: str) -> dict:
    """Bytes per customer held by a model at rest and the extra peak during one step (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    m = RelationshipModel(customers=n, strategy=strategy, rng=1, holdout=holdout, journeys=0)
    m.step()  # first week allocates the persistent buffers of later weeks, if any
    gc.collect()
    at_rest = tracemalloc.get_traced_memory()[0] - base
    peaks = []
    for _ in range(2):
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        m.step()
        peaks.append(tracemalloc.get_traced_memory()[1] - before)
    tracemalloc.stop()
    pops = [m.pop] + ([m.holdout] if m.holdout is not None else [])
    edges = sum(p.ties.nbytes for p in pops)
    state = sum(p.nbytes() for p in pops)
    rest = at_rest - edges
    peak = max(peaks)
    return {"customers": n, "holdout": holdout, "state_bytes_per_customer": state / n,
            "at_rest_bytes_per_customer": rest / n, "step_peak_extra_bytes_per_customer": peak / n,
            "total_peak_bytes_per_customer": (rest + peak) / n, "edges_bytes": edges,
            "edges_bytes_per_customer": edges / n, "ties_per_customer": m.pop.ties.shape[1],
            "markets": len(pops)}


def baseline_memory(n: int) -> dict:
    """Bytes per customer of the object-per-customer baseline (agents, their state and tie lists)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    b = BaselineModel(n, rng=1)
    b.step()
    gc.collect()
    at_rest = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del b
    return {"customers": n, "at_rest_bytes_per_customer": at_rest / n}


def to_markdown(res: dict, rows: list[tuple]) -> str:
    """The results table as Markdown, with the machine named (for docs/benchmarks.md)."""
    m = res["machine"]
    numba_text = f", numba {m['numba']} ({m['numba_threads']} threads)" if "numba" in m else ""
    head = (f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, "
            f"Mesa {m['mesa']}{numba_text}; load average {m['load_average_1min']:.1f} before, "
            f"{res['load_average_1min_after']:.1f} after; {res['when']}{' (quick run)' if res['quick'] else ''}.\n\n")
    lines = ["| Measure | Size | Result (median) | Target | |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return head + "\n".join(lines) + "\n"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200,000 customers, few repeats (under a minute)")
    ap.add_argument("--customers", type=int, help="customers of the vectorised throughput runs (default 1,000,000)")
    ap.add_argument("--baseline-customers", type=int, help="customers of the baseline runs (default 2,000)")
    ap.add_argument("--strategy", default="reciprocal_value", help="strategy of the throughput runs")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "latest.json", help="JSON results file")
    args = ap.parse_args(argv)

    quick = args.quick
    n = args.customers or (200_000 if quick else 1_000_000)
    nbase = args.baseline_customers or (1_000 if quick else 2_000)
    warmup, repeats = (1, 3) if quick else (2, 7)
    strategy = args.strategy
    info = machine()
    threaded = info.get("numba_threads", 1) > 1
    numba_text = f", numba {info['numba']} ({info['numba_threads']} threads)" if "numba" in info else ""
    print(f"Rapport benchmarks{' (quick)' if quick else ''}: {info['cpu']}, {info['cores']} cores, "
          f"Python {info['python']}, numpy {info['numpy']}, Mesa {info['mesa']}{numba_text}")
    if info["load_average_1min"] > 0.5 * info["cores"]:
        print(f"WARNING: the machine is busy (load average {info['load_average_1min']:.1f} on {info['cores']} cores):"
              " timings are pessimistic")
    print(f"strategy {strategy}, medians of {repeats} weeks after {warmup} warm-up week(s)\n", flush=True)

    res: dict = {"machine": info, "quick": quick, "strategy": strategy,
                 "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def vec(size, holdout):
        return lambda: RelationshipModel(customers=size, strategy=strategy, rng=1, holdout=holdout, journeys=0)

    def obj(size, holdout):
        return lambda: BaselineModel(size, strategy, rng=1, holdout=holdout)

    print("measuring vectorised throughput ...", flush=True)
    res["vectorised"] = throughput(vec(n, False), n, warmup, repeats)
    res["vectorised_holdout"] = throughput(vec(n, True), n, warmup, repeats)
    res["vectorised_small"] = throughput(vec(nbase, False), nbase, warmup, repeats * 3)
    if threaded:
        res["vectorised_1thread"] = throughput(vec(n, False), n, warmup, repeats, threads=1)
        res["vectorised_holdout_1thread"] = throughput(vec(n, True), n, warmup, repeats, threads=1)
        res["vectorised_small_1thread"] = throughput(vec(nbase, False), nbase, warmup, repeats * 3, threads=1)
    print("measuring baseline throughput ...", flush=True)
    res["baseline"] = throughput(obj(nbase, False), nbase, warmup, repeats)
    res["baseline_holdout"] = throughput(obj(nbase, True), nbase, warmup, repeats)
    cw = {k: v["customer_weeks_per_s"] for k, v in res.items() if isinstance(v, dict) and "customer_weeks_per_s" in v}
    res["ratio"] = cw["vectorised"] / cw["baseline"]
    res["ratio_holdout"] = cw["vectorised_holdout"] / cw["baseline_holdout"]
    res["ratio_same_size"] = cw["vectorised_small"] / cw["baseline"]
    print("measuring the 5,000 x 260 run ...", flush=True)
    res["run_5000x260"] = default_run(5_000, 260, 2 if quick else 5)
    if threaded:
        res["run_5000x260_1thread"] = default_run(5_000, 260, 2 if quick else 5, threads=1)
    res["run_5000x260_fresh"] = fresh_run(5_000, 260, 1 if quick else 3)
    if threaded:
        res["run_5000x260_fresh_1thread"] = fresh_run(5_000, 260, 1 if quick else 3, threads=1)
    print("measuring memory ...", flush=True)
    res["memory"] = model_memory(n, False, strategy)
    res["memory_holdout"] = model_memory(n, True, strategy)
    res["memory_baseline"] = baseline_memory(nbase)

    mem, memh = res["memory"], res["memory_holdout"]
    run = res["run_5000x260"]
    all_threads = f"{info.get('numba_threads', 1)} thr"
    goal = f">= {TARGET_THROUGHPUT / 1e6:.0f} M"
    rows = [
        ("Vectorised, 1 market", f"{n:,}, {all_threads}", f"{cw['vectorised'] / 1e6:.2f} M cw/s", goal,
         verdict(cw["vectorised"] >= TARGET_THROUGHPUT)),
        ("Vectorised, + holdout twin", f"{n:,}, {all_threads}", f"{cw['vectorised_holdout'] / 1e6:.2f} M cw/s", goal,
         verdict(cw["vectorised_holdout"] >= TARGET_THROUGHPUT)),
    ]
    if threaded:
        rows += [
            ("Vectorised, 1 market", f"{n:,}, 1 thr", f"{cw['vectorised_1thread'] / 1e6:.2f} M cw/s", goal,
             verdict(cw["vectorised_1thread"] >= TARGET_THROUGHPUT)),
            ("Vectorised, + holdout twin", f"{n:,}, 1 thr", f"{cw['vectorised_holdout_1thread'] / 1e6:.2f} M cw/s",
             goal, verdict(cw["vectorised_holdout_1thread"] >= TARGET_THROUGHPUT)),
            ("Vectorised, 1 market, small", f"{nbase:,}, 1 thr", f"{cw['vectorised_small_1thread'] / 1e6:.2f} M cw/s",
             "", ""),
        ]
    rows += [
        ("Vectorised, 1 market, small", f"{nbase:,}, {all_threads}", f"{cw['vectorised_small'] / 1e6:.2f} M cw/s",
         "", ""),
        ("Baseline (Mesa agents), 1 market", f"{nbase:,}", f"{cw['baseline'] / 1e3:.1f} k cw/s", "", ""),
        ("Baseline, + holdout twin", f"{nbase:,}", f"{cw['baseline_holdout'] / 1e3:.1f} k cw/s", "", ""),
        ("Ratio vectorised / baseline", f"{n:,} vs {nbase:,}", f"{res['ratio']:.0f} x", f">= {TARGET_RATIO:.0f} x",
         verdict(res["ratio"] >= TARGET_RATIO)),
        ("Ratio, with holdout twins", f"{n:,} vs {nbase:,}", f"{res['ratio_holdout']:.0f} x",
         f">= {TARGET_RATIO:.0f} x", verdict(res["ratio_holdout"] >= TARGET_RATIO)),
        ("Ratio at the same size", f"{nbase:,} vs {nbase:,}", f"{res['ratio_same_size']:.0f} x", "", ""),
        ("Run 5,000 x 260 weeks (default)", f"build + run, {all_threads}", f"{run['wall_s_median']:.2f} s",
         f"<= {TARGET_RUN_SECONDS} s", verdict(run["wall_s_median"] <= TARGET_RUN_SECONDS)),
    ]
    if threaded:
        run1 = res["run_5000x260_1thread"]
        rows.append(("Run 5,000 x 260 weeks (default)", "build + run, 1 thr", f"{run1['wall_s_median']:.2f} s",
                     f"<= {TARGET_RUN_SECONDS} s", verdict(run1["wall_s_median"] <= TARGET_RUN_SECONDS)))
    rows.append(("Same, in a fresh process", f"import + build + run, {all_threads}",
                 f"{res['run_5000x260_fresh']['wall_s_median']:.2f} s", "", ""))
    if threaded:
        rows.append(("Same, in a fresh process", "import + build + run, 1 thr",
                     f"{res['run_5000x260_fresh_1thread']['wall_s_median']:.2f} s", "", ""))
    rows += [
        ("Memory, state arrays", "per customer", f"{mem['state_bytes_per_customer']:.0f} B", "", ""),
        ("Memory, model at rest", "per customer", f"{mem['at_rest_bytes_per_customer']:.0f} B", "", ""),
        ("Memory, extra peak in a step", "per customer", f"{mem['step_peak_extra_bytes_per_customer']:.0f} B",
         "", ""),
        ("Memory, total peak, 1 market", "per customer", f"{mem['total_peak_bytes_per_customer']:.0f} B",
         f"<= {TARGET_BYTES:.0f} B", verdict(mem["total_peak_bytes_per_customer"] <= TARGET_BYTES)),
        ("Memory, total peak, + holdout", "per customer", f"{memh['total_peak_bytes_per_customer']:.0f} B",
         f"<= {TARGET_BYTES:.0f} B", verdict(memh["total_peak_bytes_per_customer"] <= TARGET_BYTES)),
        ("Network edges (not counted above)", f"{mem['ties_per_customer']} ties each",
         f"{mem['edges_bytes_per_customer']:.0f} B/customer/market", "", ""),
        ("Baseline memory at rest", "per customer", f"{res['memory_baseline']['at_rest_bytes_per_customer']:.0f} B",
         "", ""),
    ]
    widths = [max(len(r[i]) for r in rows + [("Measure", "Size", "Result", "Target", "")]) for i in range(5)]
    line = "  ".join("{:<%d}" % w for w in widths)
    print()
    print(line.format("Measure", "Size", "Result", "Target", ""))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line.format(*r))
    if quick:
        print(f"\n(quick run: throughput measured at {n:,} customers, not 1,000,000)")
    res["load_average_1min_after"] = os.getloadavg()[0]
    print(f"\nload average (1 min) before {info['load_average_1min']:.1f}, after {res['load_average_1min_after']:.1f}")
    res["table"] = [dict(zip(("measure", "size", "result", "target", "verdict"), r)) for r in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2, default=float))
    markdown = args.out.with_suffix(".md")
    markdown.write_text(to_markdown(res, rows))
    print(f"\nwrote {args.out} and {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
