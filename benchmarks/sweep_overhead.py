"""A sweep job's fixed overhead: a 40-job sweep through the CLI against the same runs' compute.

Run with ``.venv/bin/python benchmarks/sweep_overhead.py [--jobs 40] [--repeats 3]``.

Measured, in one run of this script (the machine is shared: compare within a run):
    (a) compute: the same 40 experiments run one after another in this process with
        ``run_experiment`` (kernels already compiled), seconds summed;
    (b) CLI: the wall time of ``rapport -m seed=range(40) ...`` (Rapport's default launcher:
        jobs in this process and in one helper process per further core, ``sim.launcher``),
        the whole process: imports, loading the compiled kernels, composing and checking
        the sweep, each job's folder, the gathering of the 40 jobs and the comparison report;
    (b1) the same sweep in one process (``hydra.launcher.processes=1``, one job after
        another, as Hydra's basic launcher): what the fixed costs alone add;
    (c) the parts of (b): imports of ``sim.cli`` in a fresh process, the pre-run check,
        writing one job's folder, and gathering;
and the ratios (b) / (a), target at most 1.5, and (b1) / (a). Medians over ``--repeats``; prints a table and
exits 0 (benchmarks report, they do not assert).

With ``--before DIR`` (a checkout of another commit: ``git archive <commit> | tar -x -C DIR``)
the CLI sweep of DIR is timed too, in the same repeats, alternating which goes first, and
the ratio of the two wall times is printed (``--after DIR`` times another checkout instead
of this one); (a) is this checkout's compute. ``--extra`` adds arguments to every CLI sweep,
e.g. ``--extra hydra/launcher=joblib`` (jobs in parallel processes, one per core: the
ratio then compares a parallel sweep with serial compute).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import machine  # noqa: E402

SETTINGS = ["market.customers=2000", "horizon_weeks=104", "replications=2"]  # a small run: two arms
TARGET = 1.5


def rapport() -> str:
    return shutil.which("rapport", path=str(Path(sys.executable).parent)) or "rapport"


def compute_seconds(jobs: int) -> float:
    """(a): the sweep's experiments run in this process, compute only."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from sim.cli import CONFIG_DIR, _setup
    from sim.experiment import run_experiment
    from sim.schema import experiment_spec

    _setup()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        specs = [experiment_spec(compose("config", overrides=[*SETTINGS, f"seed={seed}", "workers=1"]),
                                 "sales_vs_reciprocal") for seed in range(jobs)]
    GlobalHydra.instance().clear()
    run_experiment(specs[0], progress=False)  # compiles or loads the kernels
    start = time.perf_counter()
    for spec in specs:
        run_experiment(spec, progress=False)
    return time.perf_counter() - start


def cli_seconds(jobs: int, extra: list[str], checkout: Path | None = None) -> float:
    """(b): the whole sweep command, wall time (of ``checkout``'s code if given)."""
    command = [sys.executable, "-m", "sim"] if checkout else [rapport()]
    env = {**os.environ, "TQDM_DISABLE": "1", **({"PYTHONPATH": str(checkout)} if checkout else {})}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        proc = subprocess.run([*command, "-m", f"seed=range({jobs})", *SETTINGS, *extra, f"results_dir={tmp}"],
                              capture_output=True, text=True, cwd=tmp, env=env)
        seconds = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit(proc.stderr[-2000:])
        return seconds


def parts() -> dict[str, float]:
    """(c): the fixed costs one by one."""
    out = {}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sim.cli"], check=True)
    out["fresh process: python + import sim.cli"] = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from sim import RelationshipModel; RelationshipModel(300, rng=1).run(1)"],
                   check=True)
    out["fresh process: import + load compiled kernels + 1 week"] = time.perf_counter() - start

    from sim.cli import CONFIG_DIR, _setup
    from sim.preflight import preflight

    _setup()
    start = time.perf_counter()
    preflight(["-m", "seed=range(40)", *SETTINGS], CONFIG_DIR)
    out["pre-run check of the sweep"] = time.perf_counter() - start
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before", type=Path, help="checkout of another commit, whose CLI sweep is timed too")
    ap.add_argument("--after", type=Path, help="checkout timed instead of this one (with --before)")
    ap.add_argument("--no-serial", action="store_true", help="skip (b1), the sweep in one process")
    ap.add_argument("--extra", nargs="*", default=[], help="more arguments of the CLI sweeps (e.g. hydra/launcher=joblib)")
    args = ap.parse_args()
    info, load0 = machine(), os.getloadavg()[0]
    compute, cli, serial, before = [], [], [], []
    after = args.after.resolve() if args.after else None
    for r in range(args.repeats):  # interleaved, so that all see the same load
        compute.append(compute_seconds(args.jobs))
        if args.before and r % 2 == 0:
            before.append(cli_seconds(args.jobs, args.extra, args.before.resolve()))
        cli.append(cli_seconds(args.jobs, args.extra, after))
        if args.before and r % 2 == 1:
            before.append(cli_seconds(args.jobs, args.extra, args.before.resolve()))
        if not args.no_serial:
            serial.append(cli_seconds(args.jobs, [*args.extra, "hydra.launcher.processes=1"], after))
        print(f"repeat {r + 1}: compute {compute[-1]:.1f} s, CLI {cli[-1]:.1f} s"
              + (f", CLI in one process {serial[-1]:.1f} s" if serial else "")
              + (f", CLI before {before[-1]:.1f} s" if before else "") + f"; load {os.getloadavg()[0]:.1f}", flush=True)
    c, w = statistics.median(compute), statistics.median(cli)
    print(f"machine: {info.get('cpu')}, {info.get('cores')} cores; load {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{args.jobs} jobs of {' '.join(SETTINGS + args.extra)} (2 arms each), medians of {args.repeats}:")
    print(f"  (a) compute in one process   {c:7.2f} s  ({c / args.jobs * 1000:.0f} ms per job)")
    print(f"  (b) CLI sweep, wall time     {w:7.2f} s  ({(w - c) / args.jobs * 1000:.0f} ms overhead per job)")
    print(f"  ratio (b)/(a)                {w / c:7.2f}    target <= {TARGET}: {'PASS' if w / c <= TARGET else 'MISS'}")
    if serial:
        s1 = statistics.median(serial)
        print(f"  (b1) CLI sweep, one process  {s1:7.2f} s  ({(s1 - c) / args.jobs * 1000:.0f} ms overhead per job); "
              f"ratio (b1)/(a) {s1 / c:.2f}")
    if before:
        b = statistics.median(before)
        pairs = [x / y for x, y in zip(cli, before)]
        print(f"  (b) of {args.before}: {b:7.2f} s, ratio to (a) {b / c:.2f}; after/before per repeat "
              f"{', '.join(f'{x:.2f}' for x in pairs)} (median {statistics.median(pairs):.2f})")
    for name, seconds in parts().items():
        print(f"  {name:<55s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
