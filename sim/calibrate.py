"""Calibration: fit chosen parameters to a targets file (``rapport calibrate``, Optuna).

``rapport calibrate key=value ...`` (see ``HELP``) searches the parameters named by
``params=a,b`` over their plausible ranges (``Param.plausible``) with Optuna's TPE sampler,
``trials`` trials per restart, ``restarts`` independent restarts (sampler seeds ``seed + k``).
Each trial runs the market under ``strategy`` for ``replications`` seeds and measures every
target of ``targets`` (``sim.validation.measure``); its loss is

    sum over targets of [outside the band] (1 + (distance to the band / band width)^2)
                        + (0.9 / targets) (distance of the mean from the band's middle / half the band)^2

so that a point with every target in its band beats every point without (the pull towards
the middles adds up to less than 0.9 inside the bands), fewer targets outside beats more,
and among points with every target in its band the one nearer the middles of the bands
wins: a fit at the edge of a band (where several published figures sit, e.g. the lowest
click rate) would leave it on other seeds. A target the run cannot measure adds ``UNMEASURED``.

Seed policy: common random numbers. Every trial of every restart runs with the same seeds
``seed + r``, so trials differ by their parameters, not by their draws.

Warm start (``start=PATH``): restart 0 tries the file's values first (the others start
afresh, so their spread still measures identification).

Polish (``polish=N``): two passes of coordinate search from the best trial, on the search's
seeds: each parameter in turn over N values (across its plausible range, then within one
step of that grid), the others held; it moves wherever the loss falls. The point it reaches
joins the candidates below.

Confirmation (``confirm``): the best trial of hundreds is partly the luckiest on the search
seeds (the winner's curse), and would leave its bands on others. So the ``confirm`` best
distinct trials of all restarts are run again on ``confirm_replications`` new seeds
(``seed + 1000 + r``, none of the search's) and the one with the lowest loss there is the
fit; ``fit.csv`` reports its values on those seeds.

Identification, two ways: (1) the best value of each parameter in each restart and their
spread as a share of the plausible range: a parameter the targets pin down comes out alike
in every restart, one they do not inform wanders; (2) with ``profile=N``, a one-at-a-time
profile: each parameter on N points across its plausible range, the others held at the fit,
on the search seeds; ``parameters.csv`` gives the range of values over which no more targets
leave their bands than at the fit (narrow: the targets pin the parameter down). It is not a
profile likelihood (the others are not re-fitted at each point).

The results folder (``<results_dir>/calibration/<time>``) holds ``parameters.csv``
(identification), ``fit.csv`` (the validation table at the fit), ``trials.csv``,
``confirmation.csv``, ``polish.csv``, ``profile.csv``, ``calibration.html`` (the report),
``calibrated.yaml`` (the fitted and fixed parameters, flat: ``RelationshipModel(**params)``),
``configs/<group>/calibrated.yaml`` (for ``rapport --config-dir <folder>/configs
behaviour=calibrated ...``) and ``meta.json``, written under a ``.incomplete`` name and
renamed when complete. Bad input stops with one line naming the setting (exit 2), nothing
written. Needs Optuna (the ``sweepers`` extra).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .commands import fresh_folder, publish, read_settings, run_info, staging_folder
from .events import check_writable
from .params import PARAMS, ParameterError, validate
from .schema import GROUPS
from .strategies import load_strategy
from .targets import Target, load_targets
from .results import write_text_atomically
from .validation import table

INTEGER_SETTINGS = {"trials": (1, 100_000), "restarts": (1, 100), "replications": (1, 1000),
                    "seed": (0, 2**32 - 1 - 2000), "horizon_weeks": (1, 5200), "workers": (0, 1024),
                    "confirm": (0, 1000), "confirm_replications": (1, 1000), "profile": (0, 101),
                    "polish": (0, 101)}
DEFAULT_PARAMS = ("attention_email", "visit_rate", "unsubscribe_rate")
NOT_FITTED = ("customers", "burn_in_weeks")  # the simulated market's size and burn-in, not properties of it
UNMEASURED = 100.0  # loss of a target the run cannot measure
MIDDLE_SHARE = 0.9  # the pull towards the middles of the bands: at most this much, all targets inside
CONFIRM_SEEDS = 1000  # confirmation seeds are seed + 1000 + r: none of the search's (replications <= 1000)
SPREAD_IDENTIFIED = 0.1  # best values of the restarts within this share of the plausible range: identified
EDGE = 0.02  # a best value this close (share of the range) to an end of the plausible range is at its edge


@dataclass(frozen=True)
class CalibrationSpec:
    """A checked calibration: which parameters, against which targets, on which runs."""

    params: tuple[str, ...] = DEFAULT_PARAMS
    targets: str = "published"
    fit: tuple[str, ...] = ()  # names of the targets fitted (default: every target of the file)
    strategy: str = "reciprocal_value"
    trials: int = 30  # per restart
    restarts: int = 3
    replications: int = 2  # seeds per trial: seed + r, the same for every trial
    seed: int = 0
    horizon_weeks: int = 260
    fixed: dict = field(default_factory=lambda: {"customers": 2000})
    workers: int = 0
    confirm: int = 5  # best distinct trials run again on new seeds; the best there is the fit (0: none)
    confirm_replications: int = 5  # new seeds per confirmed trial: seed + 1000 + r
    polish: int = 0  # points per parameter of the coordinate search after TPE (0: none)
    profile: int = 0  # points per parameter of the one-at-a-time profile (0: none)
    results_dir: str = "results"
    defaults: str = ""  # if set, also write the fitted values there as the shipped defaults (``make calibration``)
    start: str = ""  # a YAML file of fitted parameters' values: the first trial of restart 0 (a warm start)


SETTINGS = tuple(f.name for f in fields(CalibrationSpec) if f.name != "fixed")


def parse(argv: list[str]) -> tuple[CalibrationSpec, tuple[Target, ...]]:
    """``key=value`` words as a checked spec and its targets; ParameterError (one line) if wrong."""
    values, fixed = read_settings(argv, "calibrate", SETTINGS, INTEGER_SETTINGS, CalibrationSpec().fixed,
                                  lists=("params", "fit"))
    spec = CalibrationSpec(**values, fixed=fixed)
    check_params(spec.params, spec.fixed)
    try:
        load_strategy(spec.strategy)
    except ParameterError as err:
        raise ParameterError(f"strategy: {err}") from None
    try:
        validate(spec.fixed)
    except ParameterError as err:
        raise ParameterError(f"parameters: {err}") from None
    for name in ("profile", "polish"):
        if getattr(spec, name) in (1, 2):
            raise ParameterError(f"{name}={getattr(spec, name)}: expected 0 (none) or at least 3 points per parameter")
    read_start(spec)
    targets = load_targets(spec.targets)
    names = [t.name for t in targets]
    unknown = [n for n in spec.fit if n not in names]
    if unknown:
        raise ParameterError(f"fit: {unknown[0]!r} is not a target of {spec.targets}, allowed are {', '.join(names)}")
    return spec, tuple(t for t in targets if not spec.fit or t.name in spec.fit)


def check_params(params: tuple[str, ...], fixed: dict) -> None:
    """The parameters to fit exist, have a plausible range, are not switches and are not fixed."""
    if not params or len(set(params)) != len(params):
        raise ParameterError(f"params={','.join(params)}: expected one or more different parameters")
    for name in params:
        if name not in PARAMS or name in NOT_FITTED:
            allowed = ", ".join(n for n, p in PARAMS.items() if p.plausible and n not in NOT_FITTED)
            raise ParameterError(f"params: {name!r} is not a parameter that can be fitted, allowed are {allowed}")
        if PARAMS[name].plausible is None or PARAMS[name].kind is bool:
            raise ParameterError(f"params: {name} has no plausible range to fit it in")
        if name in fixed:
            raise ParameterError(f"params: {name} is also fixed ({name}={fixed[name]}); fit it or fix it")


# --- the fit ---------------------------------------------------------------------------------
def loss(targets: tuple[Target, ...], means: np.ndarray) -> float:
    """The distance of the model's means from the targets (see the module docstring)."""
    total = 0.0
    pull = MIDDLE_SHARE / max(len(targets), 1)
    for t, m in zip(targets, means):
        if math.isnan(m):
            total += UNMEASURED
            continue
        width = t.hi - t.lo
        outside = max(0.0, t.lo - m, m - t.hi) / width
        total += (1.0 + outside**2 if outside > 0 else 0.0) + pull * ((m - (t.lo + t.hi) / 2) / (width / 2)) ** 2
    return float(total)


def outside_count(targets: tuple[Target, ...], means: np.ndarray) -> int:
    """How many targets' means are outside their bands (or not measured)."""
    return sum(1 for t, m in zip(targets, means) if math.isnan(m) or not t.within(m))


def suggest(trial: Any, name: str) -> float | int:
    lo, hi = PARAMS[name].plausible
    if PARAMS[name].kind is int:
        return trial.suggest_int(name, int(lo), int(hi))
    return trial.suggest_float(name, float(lo), float(hi))


def evaluate(spec: CalibrationSpec, targets: tuple[Target, ...], params: dict,
             seeds: list[int] | None = None) -> tuple[float, np.ndarray]:
    """The loss of the fitted ``params`` (with the fixed ones) on ``seeds`` (default: the
    search's), and the per-seed values (seeds, targets): every trial, polish, confirmation and
    profile point is measured here."""
    from .validation import measure_seeds

    values = measure_seeds(targets, {**spec.fixed, **params}, spec.strategy, spec.horizon_weeks,
                           seeds_of(spec) if seeds is None else seeds, spec.workers)
    return loss(targets, np.nanmean(values, axis=0) if values.size else values), values


def read_start(spec: CalibrationSpec) -> dict:
    """The warm start: ``spec.start``'s values of the fitted parameters (a flat mapping, or one
    under ``parameters:`` as in configs/calibrated.yaml), each within its plausible range;
    ParameterError (one line naming the file and entry) otherwise. Empty without a start."""
    if not spec.start:
        return {}
    path = Path(spec.start)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ParameterError(f"start={spec.start}: {err.strerror or err}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise ParameterError(f"start={spec.start}: not a YAML file ({type(err).__name__})") from None
    values = data.get("parameters", data) if isinstance(data, dict) else None
    if not isinstance(values, dict) or set(values) != set(spec.params):
        raise ParameterError(f"start={spec.start}: expected a value for each fitted parameter, exactly "
                             f"{', '.join(spec.params)}")
    for name, value in values.items():
        lo, hi = PARAMS[name].plausible
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ParameterError(f"start={spec.start}: {name}={value!r}, expected a number in [{lo:g}, {hi:g}]")
    return values


def run_restart(spec: CalibrationSpec, targets: tuple[Target, ...], restart: int) -> Any:
    """One Optuna study (TPE, sampler seed ``seed + restart``); every trial on the same seeds.
    Restart 0 tries the warm start first, if there is one; the others start afresh, so that
    their spread still says how well the targets identify each parameter."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: Any) -> float:
        trial_loss, values = evaluate(spec, targets, {name: suggest(trial, name) for name in spec.params})
        trial.set_user_attr("values", values.tolist())
        return trial_loss

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=spec.seed + restart))
    if restart == 0 and spec.start:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # enqueue_trial in Optuna 2.x
            study.enqueue_trial(read_start(spec))
    study.optimize(objective, n_trials=spec.trials)
    return study


@dataclass
class CalibrationResults:
    spec: CalibrationSpec
    targets: tuple[Target, ...]
    best: dict  # the fitted parameters (the confirmed best point)
    identification: pd.DataFrame  # one row per parameter
    fit: pd.DataFrame  # the validation table at the fit (on the confirmation seeds if confirmed)
    trials: pd.DataFrame
    confirmation: pd.DataFrame  # one row per confirmed candidate (empty without confirm)
    profile: pd.DataFrame  # one row per parameter and point (empty without profile)
    polished: pd.DataFrame  # one row per point of the coordinate search (empty without polish)


def seeds_of(spec: CalibrationSpec, confirmation: bool = False) -> list[int]:
    """The search's seeds ``seed + r``, or the confirmation's ``seed + 1000 + r``."""
    if confirmation:
        return [spec.seed + CONFIRM_SEEDS + r for r in range(spec.confirm_replications)]
    return [spec.seed + r for r in range(spec.replications)]


def candidates(studies: list, spec: CalibrationSpec) -> list[tuple[dict, float, np.ndarray]]:
    """The ``confirm`` (at least one) best distinct trials of all restarts, best first:
    (parameters, search loss, per-seed values)."""
    finished = sorted((t for s in studies for t in s.trials if t.value is not None), key=lambda t: t.value)
    out, seen = [], set()
    for t in finished:
        key = tuple(sorted(t.params.items()))
        if key not in seen:
            seen.add(key)
            out.append((dict(t.params), float(t.value), np.array(t.user_attrs["values"], dtype=float)))
        if len(out) >= max(spec.confirm, 1):
            break
    return out


def confirm(spec: CalibrationSpec, targets: tuple[Target, ...], found: list) -> tuple[int, np.ndarray, pd.DataFrame]:
    """Run each candidate on the confirmation seeds: (index of the best there, its per-seed
    values, one row per candidate)."""
    rows, values = [], []
    for rank, (params, search_loss, _) in enumerate(found):
        confirmation_loss, v = evaluate(spec, targets, params, seeds_of(spec, confirmation=True))
        values.append(v)
        rows.append({"search_rank": rank + 1, "search_loss": search_loss, "confirmation_loss": confirmation_loss,
                     "outside": outside_count(targets, np.nanmean(v, axis=0)), **params})
    table_ = pd.DataFrame(rows)
    chosen = int(table_["confirmation_loss"].idxmin())
    return chosen, values[chosen], table_.assign(chosen=table_.index == chosen)


def grid(name: str, points: int, around: float | None = None, step: float = 0.0) -> list:
    """``points`` values of a parameter: across its plausible range, or within ``step`` of ``around``."""
    lo, hi = PARAMS[name].plausible
    if around is not None:
        lo, hi = max(lo, around - step), min(hi, around + step)
    values = np.linspace(lo, hi, points)
    return sorted({int(round(v)) for v in values}) if PARAMS[name].kind is int else [float(v) for v in values]




def polish(spec: CalibrationSpec, targets: tuple[Target, ...], start: tuple) -> tuple[tuple, pd.DataFrame]:
    """Two passes of coordinate search from the search's best ``start`` (parameters, loss,
    values), on the search's seeds: each parameter in turn over ``spec.polish`` values (first
    across its plausible range, then within one step of that grid around its current value),
    the others at the current point; it moves wherever the loss falls. Most targets answer
    mainly to one parameter (opens to attention, clicks to visit_rate, margin concentration to
    pareto_alpha), which a few hundred TPE trials in eight dimensions leave short of the middles."""
    current, best_loss, best_values = dict(start[0]), start[1], start[2]
    rows = []
    for sweep in (1, 2):
        for name in spec.params:
            lo, hi = PARAMS[name].plausible
            step = (hi - lo) / (spec.polish - 1)
            chosen = current[name]
            for value in grid(name, spec.polish, None if sweep == 1 else current[name], step):
                if value == current[name]:
                    continue
                value_loss, values = evaluate(spec, targets, {**current, name: value})
                rows.append({"pass": sweep, "parameter": name, "value": value, "loss": value_loss})
                if value_loss < best_loss:
                    best_loss, best_values, chosen = value_loss, values, value
            current[name] = chosen
    return (current, best_loss, best_values), pd.DataFrame(rows)


def profile(spec: CalibrationSpec, targets: tuple[Target, ...], best: dict) -> pd.DataFrame:
    """Each fitted parameter on ``spec.profile`` points across its plausible range and at its
    fitted value, the others at ``best``, on the search seeds: the loss and the targets outside
    at each point."""
    rows = []
    for name in spec.params:
        for value in sorted(set(grid(name, spec.profile)) | {best[name]}):  # the fit too: the profile passes through it
            value_loss, values = evaluate(spec, targets, {**best, name: value})
            means = np.nanmean(values, axis=0)
            rows.append({"parameter": name, "value": value, "loss": value_loss,
                         "outside": outside_count(targets, means), **{t.name: m for t, m in zip(targets, means)}})
    return pd.DataFrame(rows)


def identification(spec: CalibrationSpec, studies: list, best: dict, profiled: pd.DataFrame,
                   outside_at_fit: int) -> pd.DataFrame:
    """One row per parameter: the fit, the restarts' best values and their spread, and (with a
    profile) the range of values keeping no more targets outside than at the fit."""
    rows = []
    for name in spec.params:
        lo, hi = PARAMS[name].plausible
        found = [s.best_params[name] for s in studies]
        spread = (max(found) - min(found)) / (hi - lo)
        row = {"parameter": name, "plausible_lo": lo, "plausible_hi": hi, "best": best[name],
               "restart_mean": float(np.mean(found)),
               "restart_sd": float(np.std(found, ddof=1)) if len(found) > 1 else math.nan,
               "restart_spread": spread, **{f"restart_{k}": v for k, v in enumerate(found)},
               "identified": bool(len(found) > 1 and spread <= SPREAD_IDENTIFIED),
               "at_edge": bool(min(best[name] - lo, hi - best[name]) <= EDGE * (hi - lo))}
        if not profiled.empty:
            mine = profiled[profiled["parameter"] == name]
            good = mine.loc[mine["outside"] <= outside_at_fit, "value"]
            row["profile_lo"], row["profile_hi"] = float(good.min()), float(good.max())  # the fit is among them
            row["profile_share"] = (row["profile_hi"] - row["profile_lo"]) / (hi - lo)
        rows.append(row)
    return pd.DataFrame(rows)


def run_calibration(spec: CalibrationSpec, targets: tuple[Target, ...]) -> CalibrationResults:
    """Every restart; the best trials confirmed on new seeds; the identification of each parameter."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of an unmeasured target
        studies = [run_restart(spec, targets, k) for k in range(spec.restarts)]
        found = candidates(studies, spec)
        polished, origin = pd.DataFrame(), ["search"] * len(found)
        if spec.polish:
            point, polished = polish(spec, targets, found[0])
            if point[0] != found[0][0]:
                found.insert(0, point)  # the lowest loss on the search's seeds so far: first
                origin.insert(0, "polish")
        if spec.confirm:
            chosen, values, confirmed = confirm(spec, targets, found)
            confirmed.insert(1, "from", origin)
            seeds = seeds_of(spec, confirmation=True)
        else:
            chosen, values, confirmed, seeds = 0, found[0][2], pd.DataFrame(), seeds_of(spec)
        best = found[chosen][0]
        profiled = profile(spec, targets, best) if spec.profile else pd.DataFrame()
    trials = pd.concat([s.trials_dataframe(attrs=("number", "value", "params")).assign(restart=k)
                        for k, s in enumerate(studies)], ignore_index=True)
    means = np.nanmean(values, axis=0)
    outside_at_search = outside_count(targets, np.nanmean(found[chosen][2], axis=0))
    under = (f"strategy {spec.strategy}, best of {spec.restarts} x {spec.trials} trials"
             + (", polished" if spec.polish else "") + (f", confirmed among {len(found)}" if spec.confirm else "")
             + f", seeds {seeds[0]}-{seeds[-1]}")
    fit = table(targets, values, under).assign(loss=loss(targets, means))
    return CalibrationResults(spec, targets, best, identification(spec, studies, best, profiled, outside_at_search),
                              fit, trials, confirmed, profiled, polished)


# --- the results folder ----------------------------------------------------------------------
def calibrated_parameters(res: CalibrationResults) -> dict:
    """The fitted parameters and the fixed ones (but the market's size), by name."""
    fixed = {k: v for k, v in res.spec.fixed.items() if k not in NOT_FITTED}
    return {**fixed, **{k: (int(v) if PARAMS[k].kind is int else float(v)) for k, v in res.best.items()}}


def write_calibration(res: CalibrationResults, final_dir: Path, started: float) -> Path:
    """Write the results folder under ``<final_dir>.incomplete``, ``COMPLETE`` last, then rename it."""
    staging = staging_folder(final_dir)
    res.identification.to_csv(staging / "parameters.csv", index=False)
    res.fit.to_csv(staging / "fit.csv", index=False)
    res.trials.to_csv(staging / "trials.csv", index=False)
    res.confirmation.to_csv(staging / "confirmation.csv", index=False)
    res.profile.to_csv(staging / "profile.csv", index=False)
    res.polished.to_csv(staging / "polish.csv", index=False)
    params = calibrated_parameters(res)
    head = f"# rapport calibrate against {res.spec.targets} ({datetime.now():%Y-%m-%d})\n"
    (staging / "calibrated.yaml").write_text(head + yaml.safe_dump(params, sort_keys=False))
    for group, members in GROUPS.items():
        mine = {k: v for k, v in params.items() if PARAMS[k].group in members}
        if mine:
            (staging / "configs" / group).mkdir(parents=True)
            (staging / "configs" / group / "calibrated.yaml").write_text(head + yaml.safe_dump(mine, sort_keys=False))
    info = {**run_info(started, seed_policy(res.spec), res.spec),
            "loss": float(res.fit["loss"].iloc[0]), "calibrated": params}
    (staging / "meta.json").write_text(json.dumps(info, indent=2, default=str))
    from .calibration_report import write_report

    write_report(res, staging / "calibration.html", info)
    return publish(staging, final_dir, f"{info['started']} rapport calibrate {info['commit']}")


def seed_policy(spec: CalibrationSpec) -> str:
    text = (f"common random numbers: every trial runs seeds {spec.seed} + r ({spec.replications} per trial); "
            f"restart k samples with seed {spec.seed} + k")
    if spec.confirm:
        text += (f"; the {spec.confirm} best trials run again on seeds {spec.seed + CONFIRM_SEEDS} + r "
                 f"({spec.confirm_replications}), the best there is the fit")
    return text


def write_defaults(res: CalibrationResults, path: Path, argv: list[str]) -> None:
    """The fitted values as the shipped defaults (read by ``sim.params``), written whole or not at all."""
    fitted = {k: (int(v) if PARAMS[k].kind is int else float(v)) for k, v in res.best.items()}
    words = [w for w in argv if not w.startswith(("results_dir=", "workers="))]  # where and how fast, not what
    data = {"command": "rapport calibrate " + " ".join(words), "date": f"{datetime.now():%Y-%m-%d}",
            "targets": res.spec.targets, "loss": float(res.fit["loss"].iloc[0]), "parameters": fitted}
    head = ("# The shipped defaults of the calibrated parameters, written by `make calibration` (the command below).\n"
            "# sim/params.py reads it; do not edit by hand: rerun the command.\n")
    write_text_atomically(path, head + yaml.safe_dump(data, sort_keys=False))


def identification_words(row: Any) -> str:
    """How well one parameter is identified, in words (restarts, and the profile if run)."""
    words = "identified" if row.identified else "NOT identified (restarts disagree)"
    if row.at_edge:
        words += ", at the edge of its plausible range"
    if hasattr(row, "profile_share"):
        words += (f"; as good as the fit (no more targets outside) for {row.profile_lo:.4g} to {row.profile_hi:.4g}, "
                  f"{row.profile_share:.0%} of the range")
    return words


def summary_text(res: CalibrationResults, folder: Path) -> str:
    """The fitted parameters, their identification and the fit, as terminal lines."""
    from .validation import OUTSIDE, WITHIN, interval

    lines = [f"Calibration against {res.spec.targets}: loss {res.fit['loss'].iloc[0]:.4g} "
             f"(best of {res.spec.restarts} restarts x {res.spec.trials} trials"
             + (f", confirmed on {res.spec.confirm_replications} new seeds" if res.spec.confirm else "") + ")"]
    for row in res.identification.itertuples():
        lines.append(f"  {row.parameter} = {row.best:.4g}  restarts {row.restart_mean:.4g} +- {row.restart_sd:.2g}, "
                     f"spread {row.restart_spread:.0%} of [{row.plausible_lo:g}, {row.plausible_hi:g}]: "
                     f"{identification_words(row)}")
    for row in res.fit.itertuples():
        mark = WITHIN if row.status == WITHIN else OUTSIDE if row.status == OUTSIDE else row.status
        lines.append(f"  {row.target}: {mark}, model {interval(row)}")
    groups = " ".join(f"{g}=calibrated" for g in GROUPS if (folder / "configs" / g).is_dir())
    lines.append(f"Use: rapport --config-dir {folder / 'configs'} {groups}")
    lines.append(f"Report: {folder / 'calibration.html'}")
    return "\n".join(lines)


HELP = """usage: rapport calibrate [key=value ...]
Fit parameters to a targets file with Optuna (TPE) under common random numbers.
  params=a,b          parameters to fit over their plausible ranges (default {params})
  targets=published   a built-in targets file (configs/targets/) or a YAML path: published
                      figures, or a dealer's own rates (open_rate: 0.21 ..., docs/research.md)
  fit=a,b             names of the targets to fit (default: all of the file)
  strategy=reciprocal_value   the dealer's practice the targets are measured under
  trials=30 restarts=3        trials per restart; restarts show how well each parameter is identified
  replications=2 seed=0       seeds per trial: seed + r, the same for every trial
  confirm=5 confirm_replications=5
                      the best 5 distinct trials run again on 5 new seeds (seed + 1000 + r);
                      the best there is the fit (confirm=0: the search's best)
  polish=0            points per parameter of a coordinate search from the best trial, two passes
                      (0: none, else 3 or more); the point it reaches is confirmed with the others
  profile=0           points per parameter of a one-at-a-time profile (0: none, else 3 or more)
  horizon_weeks=260 workers=0 results_dir=results
  defaults=PATH       also write the fitted values to PATH as shipped defaults (make calibration)
  start=PATH          a YAML file with a value for each fitted parameter: restart 0 tries it first
  NAME=value          any other parameter, fixed (default customers=2000)
Writes <results_dir>/calibration/<time>/ with calibration.html, calibrated.yaml and
configs/<group>/calibrated.yaml."""


def main(argv: list[str]) -> int:
    """``rapport calibrate``: check, fit, write the folder; 2 and one line on bad input."""
    if any(a in ("-h", "--help") for a in argv):
        print(HELP.format(params=",".join(DEFAULT_PARAMS)))
        return 0
    started = time.time()
    try:
        spec, targets = parse(argv)
        check_writable(Path(spec.results_dir), create=False)
        if spec.defaults:
            check_writable(Path(spec.defaults).resolve().parent, create=False)
        import optuna  # noqa: F401
    except ModuleNotFoundError:
        print("rapport: error: calibrate needs Optuna: pip install 'rapport[sweepers]'", file=sys.stderr)
        return 2
    except ParameterError as err:
        print(f"rapport: error: {err}", file=sys.stderr)
        return 2
    res = run_calibration(spec, targets)
    out = write_calibration(res, fresh_folder(Path(spec.results_dir), "calibration"), started)
    if spec.defaults:
        write_defaults(res, Path(spec.defaults), argv)
        print(f"Shipped defaults: {spec.defaults}")
    print(summary_text(res, out))
    print(f"\nResults: {out}")
    return 0
