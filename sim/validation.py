"""Validation: the model's quantities against published figures (``rapport validate``).

``rapport validate key=value ...`` (see ``HELP``) reads a targets file (``sim.targets``,
default ``targets=published``: ``configs/targets/published.yaml``), runs the market under
``strategy`` for ``horizon_weeks`` with ``replications`` seeds, measures every target's
quantity (``sim.quantities``) on each run and writes a results folder
(``<results_dir>/validation/<time>``): ``validation.csv`` and ``validation.html`` (quantity,
published figure and source, band, model value with a 95% t-interval over the seeds, within
band or OUTSIDE), ``replications.csv`` (each seed's values) and ``meta.json``. Every target
is reported, those outside their band marked; a target the run cannot measure (e.g. no
emails under ``strategy=no_contact``) is marked "not measured". It is a report: the exit code
is 0 whatever the verdicts, and the terminal says how many targets are outside.
``docs=FILE.md`` also refreshes the validation section of a Markdown file (``make validation``).

Seed policy: common random numbers. Replication r runs with seed ``seed + r``, as every arm
of an experiment does, so two validations of different parameters differ by the parameters,
not by their draws. Seeds run in parallel processes (``workers``). The folder is written under
a ``.incomplete`` name and renamed when complete. Bad input stops with one line naming the
setting or the target (exit 2) and writes nothing.
"""

from __future__ import annotations

import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .commands import fresh_folder, publish, read_settings, run_info, staging_folder, write_section
from .events import check_writable
from .params import ParameterError, validate
from .quantities import QUANTITY, Run
from .strategies import load_strategy
from .targets import Target, describe_conditions, load_targets

INTEGER_SETTINGS = {"replications": (1, 1000), "seed": (0, 2**32 - 1), "horizon_weeks": (1, 5200),
                    "workers": (0, 1024)}
WITHIN, OUTSIDE, NOT_MEASURED = "within", "OUTSIDE", "not measured"


@dataclass(frozen=True)
class ValidationSpec:
    """A checked validation: which targets, measured on which runs."""

    targets: str = "published"  # a built-in targets file's name or a YAML path
    strategy: str = "reciprocal_value"  # the dealer's practice the quantities are measured under
    replications: int = 5  # seeds: seed + r
    seed: int = 0
    horizon_weeks: int = 520
    fixed: dict = field(default_factory=lambda: {"customers": 10_000})  # parameters other than the defaults
    workers: int = 0  # processes; 0 = one per core
    results_dir: str = "results"
    docs: str = ""  # a Markdown file whose validation section is refreshed ("": none)


SETTINGS = tuple(f.name for f in fields(ValidationSpec) if f.name != "fixed")


# --- checking the command line -------------------------------------------------------------
def parse(argv: list[str]) -> tuple[ValidationSpec, tuple[Target, ...]]:
    """``key=value`` words as a checked spec and its targets; ParameterError (one line) if wrong.

    Keys: the settings of ``ValidationSpec`` and any parameter (``NAME=value`` or
    ``group.NAME=value``), e.g. ``customers=2000``."""
    values, fixed = read_settings(argv, "validate", SETTINGS, INTEGER_SETTINGS, ValidationSpec().fixed)
    spec = ValidationSpec(**values, fixed=fixed)
    try:
        load_strategy(spec.strategy)
    except ParameterError as err:
        raise ParameterError(f"strategy: {err}") from None
    try:
        validate(spec.fixed)
    except ParameterError as err:
        raise ParameterError(f"parameters: {err}") from None
    if spec.docs and not (Path(spec.docs).is_file() and has_markers(Path(spec.docs).read_text())):
        raise ParameterError(f"docs={spec.docs!r}: expected a Markdown file with the markers {MARKERS[0]} and "
                             f"{MARKERS[1]}")
    return spec, load_targets(spec.targets)


# --- the runs --------------------------------------------------------------------------------
def observe(params: dict, strategy: Any, weeks: int, seed: int, threads: int | None = None) -> Run:
    """One run of the market under ``strategy``, with what the quantities are computed from."""
    from .experiment import _set_threads, quiet_mesa
    from .model import RelationshipModel

    quiet_mesa()
    if threads:
        _set_threads(threads)
    params = validate(params)
    customers = params.pop("customers")
    m = RelationshipModel(customers, strategy, rng=seed, holdout=False, journeys=0, events=True, **params)
    start_owner, start_age = m.pop.owner.copy(), m.pop.vehicle_age.copy()
    m.run(weeks)
    return Run(m.event_log.table(), start_owner, start_age, m.customers_table(), weeks)


def measure(targets: tuple[Target, ...], params: dict, strategy: Any, weeks: int, seed: int,
            threads: int | None = None) -> list[float]:
    """Every target's quantity on one run (seed), in the order of ``targets``."""
    run = observe(params, strategy, weeks, seed, threads)
    return [QUANTITY[t.quantity].compute(run, t.condition) for t in targets]


def measure_seeds(targets: tuple[Target, ...], params: dict, strategy: Any, weeks: int, seeds: list[int],
                  workers: int = 0) -> np.ndarray:
    """``measure`` for each seed, in parallel processes when it pays; (seeds, targets)."""
    from .experiment import _workers

    n = len(seeds)
    jobs = _workers(workers, n, params.get("customers", 5000) * weeks * n)
    if jobs == 1:
        return np.array([measure(targets, params, strategy, weeks, s) for s in seeds], dtype=float).reshape(n, -1)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        rows = list(pool.map(measure, [targets] * n, [params] * n, [strategy] * n, [weeks] * n, seeds, [1] * n))
    return np.array(rows, dtype=float).reshape(n, -1)


@dataclass
class ValidationResults:
    """The table of targets with the model's values, and each seed's values."""

    spec: ValidationSpec
    targets: tuple[Target, ...]
    table: pd.DataFrame  # one row per target (see ``table``)
    values: pd.DataFrame  # one row per seed, one column per target

    @property
    def outside(self) -> list[str]:
        return list(self.table.loc[self.table["status"] != WITHIN, "target"])


def table(targets: tuple[Target, ...], values: np.ndarray, measured_under: str) -> pd.DataFrame:
    """One row per target: the published figure and band, the model's mean and 95% interval over
    the seeds (rows of ``values``), and the status (within, OUTSIDE or not measured)."""
    from .analysis import mean_ci

    rows = []
    for j, t in enumerate(targets):
        q = QUANTITY[t.quantity]
        mean, lo, hi = mean_ci(values[:, j])
        if q.unit == "share":  # where a share lives
            lo, hi = (min(max(v, 0.0), 1.0) if not math.isnan(v) else v for v in (lo, hi))
        status = NOT_MEASURED if math.isnan(mean) else (WITHIN if t.within(mean) else OUTSIDE)
        rows.append({"target": t.name, "quantity": t.quantity, "unit": q.unit, "conditions": describe_conditions(t),
                     "figure": t.figure, "band_lo": t.lo, "band_hi": t.hi, "source": t.source, "year": t.year,
                     "model": mean, "model_lo": lo, "model_hi": hi, "replications": int(np.sum(~np.isnan(values[:, j]))),
                     "status": status, "measured": f"{q.measured}; {measured_under}", "note": t.note})
    return pd.DataFrame(rows)


def run_validation(spec: ValidationSpec, targets: tuple[Target, ...]) -> ValidationResults:
    """Run every seed and compare each target's quantity with its band."""
    seeds = [spec.seed + r for r in range(spec.replications)]
    values = measure_seeds(targets, spec.fixed, spec.strategy, spec.horizon_weeks, seeds, spec.workers)
    per_seed = pd.DataFrame(values, columns=[t.name for t in targets])
    per_seed.insert(0, "seed", seeds)
    return ValidationResults(spec, targets, table(targets, values, measured_under(spec)), per_seed)


def measured_under(spec: ValidationSpec) -> str:
    changed = ", ".join(f"{k}={v}" for k, v in spec.fixed.items() if k != "customers")
    return (f"strategy {spec.strategy}, {spec.fixed['customers']:,} customers, {spec.horizon_weeks} weeks, seeds "
            f"{spec.seed}-{spec.seed + spec.replications - 1}" + (f", {changed}" if changed else ""))


# --- showing values --------------------------------------------------------------------------
def show(x: float, unit: str) -> str:
    """A quantity's value as text: shares in percent (3 significant digits), others by unit."""
    if x is None or x != x:
        return "n/a"
    if unit == "share":
        return f"{x * 100:.3g}%"
    if unit == "months":
        return f"{x:.1f}"
    return f"{x:.2f}"


def interval(row: Any) -> str:
    """``model [lo, hi]`` of a table row."""
    if math.isnan(row.model_lo):
        return show(row.model, row.unit)
    return f"{show(row.model, row.unit)} [{show(row.model_lo, row.unit)}, {show(row.model_hi, row.unit)}]"


def band(row: Any) -> str:
    return f"{show(row.band_lo, row.unit)}-{show(row.band_hi, row.unit)}"


def summary_text(res: ValidationResults) -> str:
    """The table as terminal lines, and how many targets are outside their band."""
    t = res.table
    width = max(len(n) for n in t["target"])
    lines = [f"Validation against {res.spec.targets} ({measured_under(res.spec)}); model: mean [95% CI]"]
    for row in t.itertuples():
        lines.append(f"  {row.target:<{width}}  {row.status:<12}  model {interval(row):<28}  "
                     f"band {band(row):<14}  published {show(row.figure, row.unit)} ({row.year})")
    outside = (t["status"] == OUTSIDE).sum()
    unmeasured = (t["status"] == NOT_MEASURED).sum()
    verdict = f"{outside} of {len(t)} targets outside their band"
    if unmeasured:
        verdict += f", {unmeasured} not measured"
    lines.append(verdict + (": " + ", ".join(res.outside) if res.outside else ""))
    return "\n".join(lines)


# --- docs/model.md -----------------------------------------------------------------------------
MARKERS = ("<!-- validation:start -->", "<!-- validation:end -->")
MARKDOWN_HEADER = ("| target | published figure | band | model, mean [95% CI] | verdict | source |\n"
                   "|---|---|---|---|---|---|")


def markdown_section(res: ValidationResults, command: str, date: str) -> str:
    """The validation section of docs/model.md: how it was made, and the table."""
    t = res.table
    outside = int((t["status"] != WITHIN).sum())
    rows = [f"Generated by `{command}` on {date} ({measured_under(res.spec)}): "
            f"{len(t) - outside} of {len(t)} targets within their band, {outside} outside.", "", MARKDOWN_HEADER]
    for row in t.itertuples():
        what = f"`{row.target}`" + (f" ({row.conditions})" if row.conditions else "")
        verdict = "within" if row.status == WITHIN else f"**{row.status}**"
        rows.append(f"| {what} | {show(row.figure, row.unit)} | {band(row)} | {interval(row)} | {verdict} "
                    f"| {row.source} |")
    return "\n".join(rows)


def has_markers(text: str) -> bool:
    """Whether ``text`` has the validation markers, start before end."""
    return MARKERS[0] in text and MARKERS[1] in text.split(MARKERS[0], 1)[1]


# --- the results folder ----------------------------------------------------------------------
def write_validation(res: ValidationResults, final_dir: Path, started: float) -> Path:
    """Write the results folder under ``<final_dir>.incomplete``, ``COMPLETE`` last, then rename it."""
    from .validation_report import write_report
    staging = staging_folder(final_dir)
    res.table.to_csv(staging / "validation.csv", index=False)
    res.values.to_csv(staging / "replications.csv", index=False)
    info = {**run_info(started, f"common random numbers: replication r uses seed {res.spec.seed} + r "
                                f"({res.spec.replications} replications)", res.spec),
            "targets": [asdict(t) for t in res.targets]}
    (staging / "meta.json").write_text(json.dumps(info, indent=2, default=str))
    write_report(res, staging / "validation.html", info)
    return publish(staging, final_dir, f"{info['started']} rapport validate {info['commit']}")


HELP = """usage: rapport validate [key=value ...]
The model's quantities against published figures, each with a 95% interval over seeds.
  targets=published   a built-in targets file (configs/targets/) or a YAML path
  strategy=reciprocal_value   the dealer's practice the quantities are measured under
  replications=5 seed=0       seeds seed + r (common random numbers)
  horizon_weeks=520 workers=0 results_dir=results
  docs=FILE.md        also refresh the validation section of FILE.md (make validation)
  NAME=value          any parameter (default customers=10000)
Writes <results_dir>/validation/<time>/validation.csv and validation.html; exit 0 even when
targets are outside their band (the summary says how many). Quantities: {quantities}"""


def main(argv: list[str]) -> int:
    """``rapport validate``: check, run, write the folder; 2 and one line on bad input."""
    if any(a in ("-h", "--help") for a in argv):
        print(HELP.format(quantities=", ".join(QUANTITY)))
        return 0
    started = time.time()
    try:
        spec, targets = parse(argv)
        check_writable(Path(spec.results_dir), create=False)
    except ParameterError as err:
        print(f"rapport: error: {err}", file=sys.stderr)
        return 2
    res = run_validation(spec, targets)
    out = write_validation(res, fresh_folder(Path(spec.results_dir), "validation"), started)
    if spec.docs:
        command = " ".join(["rapport validate", *(a for a in argv if not a.startswith(("docs=", "results_dir=")))])
        write_section(Path(spec.docs), MARKERS, markdown_section(res, command, datetime.now().strftime("%Y-%m-%d")))
    print(summary_text(res))
    print(f"\nResults: {out}\nReport:  {out / 'validation.html'}")
    return 0
