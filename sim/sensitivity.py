"""Sensitivity analysis: which parameters drive an outcome, over their plausible ranges (SALib).

``rapport sensitivity key=value ...`` (see ``SETTINGS`` and docs/research.md) varies the
chosen parameters (``params=a,b,c``) over their plausible ranges (``Param.plausible``, or
``range.NAME=lo:hi`` inside the validity bounds), runs the model at each design point, and
estimates with SALib:

- Morris elementary effects (``method=morris``): mu* (mean absolute effect, with a bootstrap
  95% interval) and sigma (non-linearity and interactions), ``trajectories`` x (k + 1) points;
- Sobol indices (``method=sobol``): first-order S1 and total ST with 95% intervals,
  ``samples`` x (k + 2) points (Saltelli's scheme, no second order).

The outcome is one of ``sim.metrics.OUTCOMES`` (default ``profit``: five-year incremental
profit against the no-contact holdout), for ``strategy``; with ``versus=OTHER`` it is the
paired difference strategy minus OTHER (same seeds, one shared holdout).

Seed policy: common random numbers. Replication r of *every* design point runs with seed
``seed + r``: the same market and the same weekly draws, so that differences between points
come from the parameters, not from different draws. A point's value is the mean of its
``replications``; the between-seed standard deviation at a point (pooled over points) is
reported beside the indices, so that an index can be read against the noise.

Points run in parallel processes (at most one per core, ``workers``). The results folder
(``<results_dir>/sensitivity/<time>``: ``morris.csv`` / ``sobol.csv``, ``design.csv``,
``meta.json``, ``report.html``, ``sensitivity.png``) is written under a ``.incomplete`` name
and renamed when complete, as an experiment's is. Bad input stops with one line naming the
setting (exit 2) and writes nothing.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .commands import fresh_folder, number, parameter, publish, staging_folder, whole
from .events import check_writable
from .metrics import OUTCOME, OUTCOMES, show
from .params import BELOW, PARAMS, ParameterError, validate
from .strategies import load_strategy

METHODS = ("morris", "sobol", "both")
INTEGER_SETTINGS = {  # name: (lo, hi)
    "trajectories": (2, 10_000), "levels": (2, 64), "samples": (2, 2**16), "replications": (1, 1000),
    "seed": (0, 2**32 - 1), "horizon_weeks": (1, 5200), "workers": (0, 1024)}
DEFAULT_PARAMS = ("trust_weight", "affinity_weight", "offer_lift", "attention_email", "fatigue_irrelevant",
                  "rival_pull")


@dataclass(frozen=True)
class SensitivitySpec:
    """A checked sensitivity analysis: what varies, over which ranges, for which outcome."""

    params: tuple[str, ...] = DEFAULT_PARAMS  # varied over their ranges
    ranges: dict = field(default_factory=dict)  # name -> (lo, hi); default: the plausible range
    outcome: str = "profit"  # an outcome of sim.metrics.OUTCOMES
    strategy: str = "reciprocal_value"
    versus: str | None = None  # None: the outcome itself (profit and roi are against no contact)
    method: str = "morris"  # morris, sobol or both
    trajectories: int = 10  # Morris: trajectories (points = trajectories x (k + 1))
    levels: int = 4  # Morris: grid levels
    samples: int = 32  # Sobol: base samples, a power of 2 (points = samples x (k + 2))
    replications: int = 2  # seeds per point (seed + r, the same for every point)
    seed: int = 0
    horizon_weeks: int = 260
    fixed: dict = field(default_factory=lambda: {"customers": 2000})  # other parameters, the same at every point
    workers: int = 0  # processes; 0 = one per core
    results_dir: str = "results"

    def problem(self) -> dict:
        """The SALib problem: names and bounds."""
        return {"num_vars": len(self.params), "names": list(self.params),
                "bounds": [list(self.ranges[name]) for name in self.params]}


SETTINGS = tuple(f.name for f in fields(SensitivitySpec) if f.name not in ("ranges", "fixed"))


# --- checking the command line -------------------------------------------------------------
def parse(argv: list[str]) -> SensitivitySpec:
    """``key=value`` words as a checked spec; ParameterError (one line) for anything wrong.

    Keys: the settings of ``SensitivitySpec``, ``range.NAME=lo:hi``, and any parameter
    (``NAME=value`` or ``group.NAME=value``) held fixed at every point.
    """
    values: dict[str, Any] = {}
    ranges: dict[str, tuple[float, float]] = {}
    fixed = dict(SensitivitySpec().fixed)
    for word in argv:
        key, eq, text = word.partition("=")
        if not eq or not key:
            raise ParameterError(f"{word!r}: expected key=value (see `rapport sensitivity --help`)")
        given = parameter(key, text)
        if key.startswith("range."):
            ranges[key.partition(".")[2]] = _range(key, text)
        elif key in SETTINGS:
            values[key] = text
        elif given is not None:
            fixed[given[0]] = given[1]
        else:
            raise ParameterError(f"{key}: unknown setting, allowed are {', '.join(SETTINGS)}, range.NAME=lo:hi "
                                 f"or a parameter (NAME=value)")
    return check(values, ranges, fixed)


def _range(key: str, text: str) -> tuple[float, float]:
    lo, colon, hi = text.partition(":")
    if not colon:
        raise ParameterError(f"{key}={text!r}: expected lo:hi, e.g. {key}=0.1:0.5")
    return (number(key, lo), number(key, hi))


def check(values: dict[str, str], ranges: dict, fixed: dict) -> SensitivitySpec:
    """The settings as a spec, every one checked (see ``parse``)."""
    params = tuple(p for p in values.get("params", ",".join(DEFAULT_PARAMS)).split(",") if p)
    for name in params:
        if name not in PARAMS:
            raise ParameterError(f"params: unknown parameter {name!r}, allowed are {', '.join(PARAMS)}")
    if len(set(params)) != len(params) or len(params) < 2:
        raise ParameterError(f"params={','.join(params)}: expected at least two different parameters")
    extra = sorted(set(ranges) - set(params))
    if extra:
        raise ParameterError(f"range.{extra[0]}: {extra[0]} is not in params={','.join(params)}")
    for name in params:
        p = PARAMS[name]
        if name not in ranges and p.plausible is None:
            raise ParameterError(f"params: {name} has no plausible range; give one with range.{name}=lo:hi")
        lo, hi = ranges.get(name, p.plausible)
        where = f"range.{name}={lo:g}:{hi:g}" if name in ranges else f"{name}: plausible range [{lo:g}, {hi:g}]"
        if p.kind is bool or not (p.lo <= lo < hi <= p.hi):
            allowed = "a switch, not a range" if p.kind is bool else f"lo < hi within the valid range {p.allowed}"
            raise ParameterError(f"{where}: outside the validity bounds, allowed is {allowed}")
        ranges[name] = (float(lo), float(hi))
    spec_values: dict[str, Any] = {"params": params, "ranges": ranges, "fixed": fixed}
    for key, text in values.items():
        if key in INTEGER_SETTINGS:
            spec_values[key] = whole(key, text, *INTEGER_SETTINGS[key])
        elif key != "params":
            spec_values[key] = text
    spec = SensitivitySpec(**spec_values)
    _check_choices(spec)
    try:
        validate({**spec.fixed, **{name: PARAMS[name].default for name in params}})
    except ParameterError as err:
        raise ParameterError(f"fixed parameters: {err}") from None
    return spec


def _check_choices(spec: SensitivitySpec) -> None:
    allowed = [o.name for o in OUTCOMES if o.has_difference]
    if spec.outcome not in allowed:
        raise ParameterError(f"outcome={spec.outcome!r}: unknown, allowed are {', '.join(allowed)}")
    if spec.method not in METHODS:
        raise ParameterError(f"method={spec.method!r}: unknown, allowed are {', '.join(METHODS)}")
    if spec.method != "morris" and spec.samples & (spec.samples - 1):
        raise ParameterError(f"samples={spec.samples}: expected a power of 2 (Sobol sequences), e.g. 32 or 64")
    for key in ("strategy", "versus"):
        name = getattr(spec, key)
        if name is not None:
            try:
                load_strategy(name)
            except ParameterError as err:
                raise ParameterError(f"{key}: {err}") from None


# --- the runs --------------------------------------------------------------------------------
def design(spec: SensitivitySpec) -> dict[str, np.ndarray]:
    """The design points of each method (rows: points, columns: ``spec.params``)."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    out = {}
    if spec.method in ("morris", "both"):
        out["morris"] = morris_sample.sample(spec.problem(), spec.trajectories, num_levels=spec.levels,
                                             seed=spec.seed)
    if spec.method in ("sobol", "both"):
        out["sobol"] = sobol_sample.sample(spec.problem(), spec.samples, calc_second_order=False, seed=spec.seed)
    return out


def point_params(spec: SensitivitySpec, x: np.ndarray) -> dict:
    """The full parameter set of one design point (whole-number parameters rounded)."""
    varied = {name: (int(round(v)) if PARAMS[name].kind is int else float(v)) for name, v in zip(spec.params, x)}
    params = validate({**spec.fixed, **varied})
    for low, high in BELOW:
        if params[low] >= params[high]:
            raise ParameterError(f"{low}={params[low]} must be below {high}={params[high]} at a design point: "
                                 f"narrow range.{low} or range.{high}")
    return params


def evaluate(spec: SensitivitySpec, params: dict, threads: int | None = 1) -> list[float]:
    """The outcome at one design point, one value per replication (seed + r)."""
    from .analysis import run_outcomes
    from .experiment import run_holdout, run_once

    values = []
    for r in range(spec.replications):
        seed = spec.seed + r

        def outcome(strategy: str, holdout: Any) -> float:
            weekly = run_once(strategy, params, spec.horizon_weeks, seed, False, threads, holdout)["weekly"]
            return float(run_outcomes(weekly.assign(arm=strategy, seed=seed))[spec.outcome].iloc[0])

        if spec.versus is None:
            values.append(outcome(spec.strategy, True))
        else:
            held = run_holdout(params, spec.horizon_weeks, seed, threads)
            values.append(outcome(spec.strategy, held) - outcome(spec.versus, held))
    return values


def run_points(spec: SensitivitySpec, points: np.ndarray, progress: bool = True) -> np.ndarray:
    """Evaluate every point (rows of ``points``), in parallel processes; (points, replications)."""
    params = [point_params(spec, x) for x in points]  # every point checked before any run
    workers = max(1, min(spec.workers or os.cpu_count() or 1, os.cpu_count() or 1, len(params)))
    from tqdm import tqdm

    bar = tqdm(total=len(params), desc=f"sensitivity: {len(params)} points x {spec.replications} seeds",
               unit="point", disable=not progress, mininterval=0.5, file=sys.stderr)
    out = []
    if workers == 1:
        for p in params:
            out.append(evaluate(spec, p, None))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for values in pool.map(evaluate, [spec] * len(params), params, [1] * len(params)):
                out.append(values)
                bar.update()
    bar.close()
    return np.array(out, dtype=float)


# --- the indices -----------------------------------------------------------------------------
def analyse(spec: SensitivitySpec, method: str, points: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """The indices of ``method`` with 95% intervals, one row per parameter, most influential first."""
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    if method == "morris":
        si = morris_analyze.analyze(spec.problem(), points, y, num_resamples=1000, conf_level=0.95,
                                    num_levels=spec.levels, seed=spec.seed)
        df = pd.DataFrame({"parameter": spec.params, "mu_star": si["mu_star"], "mu": si["mu"],
                           "sigma": si["sigma"]})
        half = np.asarray(si["mu_star_conf"], dtype=float)
        df["mu_star_lo"], df["mu_star_hi"] = df["mu_star"] - half, df["mu_star"] + half
        key = "mu_star"
    else:
        si = sobol_analyze.analyze(spec.problem(), y, calc_second_order=False, num_resamples=1000,
                                   conf_level=0.95, seed=spec.seed)
        df = pd.DataFrame({"parameter": spec.params, "ST": si["ST"], "S1": si["S1"]})
        for name in ("ST", "S1"):
            half = np.asarray(si[f"{name}_conf"], dtype=float)
            df[f"{name}_lo"], df[f"{name}_hi"] = df[name] - half, df[name] + half
        key = "ST"
    df.insert(1, "lo", [spec.ranges[p][0] for p in spec.params])
    df.insert(2, "hi", [spec.ranges[p][1] for p in spec.params])
    df = df.sort_values(key, ascending=False, kind="stable").reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df


@dataclass
class SensitivityResults:
    """Indices per method, the design with its values, and the between-seed noise."""

    spec: SensitivitySpec
    indices: dict[str, pd.DataFrame]
    designs: dict[str, pd.DataFrame]
    noise_sd: float  # between-seed standard deviation of the outcome at a point, pooled over points

    @property
    def top(self) -> str:
        """The most influential parameter (Morris mu*, else Sobol ST)."""
        return str(next(iter(self.indices.values()))["parameter"].iloc[0])


def run_sensitivity(spec: SensitivitySpec, progress: bool = True) -> SensitivityResults:
    """Sample, run and analyse every method of ``spec``."""
    indices, designs, variances = {}, {}, []
    samples = design(spec)
    every = run_points(spec, np.vstack(list(samples.values())), progress)  # one pool for every method
    ends = np.cumsum([len(points) for points in samples.values()])
    for (method, points), values in zip(samples.items(), np.split(every, ends[:-1])):
        y = values.mean(axis=1)
        indices[method] = analyse(spec, method, points, y)
        table = pd.DataFrame(points, columns=list(spec.params))
        for r in range(values.shape[1]):
            table[f"seed_{spec.seed + r}"] = values[:, r]
        table[spec.outcome] = y
        designs[method] = table
        if values.shape[1] > 1:
            variances.append(values.var(axis=1, ddof=1))
    noise = float(math.sqrt(np.concatenate(variances).mean())) if variances else math.nan
    return SensitivityResults(spec, indices, designs, noise)


# --- the results folder ----------------------------------------------------------------------
def write_sensitivity(res: SensitivityResults, final_dir: Path, started: float) -> Path:
    """Write the results folder under ``<final_dir>.incomplete``, ``COMPLETE`` last, then rename it."""
    from .writing import git_commit

    staging = staging_folder(final_dir)
    for method, df in res.indices.items():
        df.to_csv(staging / f"{method}.csv", index=False)
        res.designs[method].to_csv(staging / f"design_{method}.csv", index=False)
    info = {**git_commit(), "argv": sys.argv,
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 2), "noise_sd": res.noise_sd,
            "seed_policy": f"common random numbers: replication r of every design point uses seed "
                           f"{res.spec.seed} + r ({res.spec.replications} per point)",
            "spec": {**asdict(res.spec), "ranges": {k: list(v) for k, v in res.spec.ranges.items()}}}
    (staging / "meta.json").write_text(json.dumps(info, indent=2, default=str))
    from .sensitivity_report import write_report

    write_report(res, staging, info)
    return publish(staging, final_dir, f"{info['started']} rapport sensitivity {info['commit']}")


def summary_text(res: SensitivityResults) -> str:
    """The ranking as a few terminal lines."""
    unit = OUTCOME[res.spec.outcome].unit
    what = res.spec.outcome + (f" ({res.spec.strategy} minus {res.spec.versus})" if res.spec.versus
                               else f" ({res.spec.strategy})")
    lines = [f"Sensitivity of {what}; between-seed sd at a point {show(res.noise_sd, unit)} "
             f"({res.spec.replications} seeds per point, the same for every point)"]
    for method, df in res.indices.items():
        key = "mu_star" if method == "morris" else "ST"
        fmt = (lambda x: show(x, unit)) if method == "morris" else (lambda x: f"{x:.3f}")
        ranked = ", ".join(f"{r.parameter} {fmt(getattr(r, key))} [{fmt(getattr(r, key + '_lo'))}, "
                           f"{fmt(getattr(r, key + '_hi'))}]" for r in df.itertuples())
        lines.append(f"{method} ({key}, 95% CI): {ranked}")
    return "\n".join(lines)


HELP = """usage: rapport sensitivity [key=value ...]
Morris screening and/or Sobol indices (SALib) of an outcome over parameters' plausible ranges.
  params=a,b,c        parameters to vary (default: {params})
  range.NAME=lo:hi    a range other than NAME's plausible one (within its valid range)
  outcome=profit      one of: {outcomes}
  strategy=NAME       the strategy measured (default reciprocal_value)
  versus=NAME         measure the paired difference strategy minus NAME (default: none)
  method=morris       morris, sobol or both
  trajectories=10 levels=4    Morris design; samples=32 Sobol base samples (power of 2)
  replications=2 seed=0       seeds per point: seed + r, the same at every point
  horizon_weeks=260 workers=0 results_dir=results
  NAME=value          any other parameter, fixed at every point (default customers=2000)
Guide: docs/research.md"""


def main(argv: list[str]) -> int:
    """``rapport sensitivity``: check, run, write the folder; 2 and one line on bad input."""
    if any(a in ("-h", "--help") for a in argv):
        print(HELP.format(params=",".join(DEFAULT_PARAMS),
                          outcomes=", ".join(o.name for o in OUTCOMES if o.has_difference)))
        return 0
    from .experiment import quiet_mesa

    quiet_mesa()
    started = time.time()
    try:
        spec = parse(argv)
        check_writable(Path(spec.results_dir), create=False)
        for points in design(spec).values():
            for x in points:
                point_params(spec, x)
    except ParameterError as err:
        print(f"rapport: error: {err}", file=sys.stderr)
        return 2
    res = run_sensitivity(spec)
    out = write_sensitivity(res, fresh_folder(Path(spec.results_dir), "sensitivity"), started)
    print(summary_text(res))
    print(f"\nResults: {out}\nReport:  {out / 'report.html'}")
    return 0
