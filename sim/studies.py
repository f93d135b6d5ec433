"""Studies of the verdict, written to ``docs/verdict.md``: is it earned by the mechanisms?

Two studies, each a set of paired runs under common random numbers (every strategy and its
no-contact holdout on the same market and draws, seed by seed), reported with 95% intervals
over seeds:

- ``frequency_sweep``: incremental profit (against no contact) as a function of contact
  frequency, for a strategy scaled to each frequency. Under reactance (``fatigue``) the
  curve can rise and then fall: an interior maximum.
- ``regime_table``: ``constant_sales`` against ``reciprocal_value`` (and each against no
  contact, in the first months too) under the defaults and under other plausible parameter
  regimes (``REGIMES``, every value within its ``Param.plausible`` range), so that the
  ranking is seen to depend on the market and not on the rules' structure.

``python -m sim.studies [customers=N seeds=N weeks=N]`` runs both and rewrites the section
of ``docs/verdict.md`` between its markers (``make studies``).
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .analysis import mean_ci
from .commands import write_section
from .metrics import money
from .params import PARAMS, ParameterError, validate
from .strategies import load_strategy

FREQUENCIES = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
CHECKPOINTS = (13, 26, 52, 156, 260)  # weeks at which the regime table reports
MARKERS = ("<!-- studies:start -->", "<!-- studies:end -->")


@dataclass(frozen=True)
class Regime:
    """A named set of parameter values, every one within its plausible range."""

    name: str
    doc: str
    params: dict


REGIMES = (
    Regime("defaults", "The calibrated defaults.", {}),
    Regime("short cycles, keen on offers",
           "Customers replace cars often and act on offers; little reactance, no reciprocity.",
           {"replacement_weeks": 260, "offer_lift": 5.0, "offer_pull": 3.0, "purchase_hazard": 0.08,
            "reactance_trust_cost": 0.0, "fatigue_irrelevant": 0.03, "unsubscribe_rate": 0.002,
            "reciprocity_strength": 0.5, "reciprocity_heed": 0.03, "interest_share": 0.5}),
    Regime("transactional market",
           "Price-driven buyers: offers pull hard, relationships count for little.",
           {"offer_lift": 5.0, "offer_pull": 3.0, "trust_weight": 1.0, "affinity_weight": 1.0,
            "reactance_trust_cost": 0.005, "reciprocity_strength": 0.5, "interest_share": 0.5}),
    Regime("relationship-minded",
           "Customers value the relationship and resent noise.",
           {"trust_weight": 4.0, "affinity_weight": 4.0, "reactance_trust_cost": 0.05, "fatigue_irrelevant": 0.2,
            "reciprocity_strength": 2.0, "value_trust_gain": 0.03}),
)


def check_regimes() -> None:
    """Every regime value exists and lies within its parameter's plausible range."""
    for regime in REGIMES:
        for name, value in regime.params.items():
            lo, hi = PARAMS[name].plausible
            assert lo <= value <= hi, f"{regime.name}: {name}={value} outside its plausible range [{lo}, {hi}]"


def at_frequency(strategy: str, frequency: float) -> dict:
    """The built-in ``strategy`` with every contact frequency scaled so its default one is ``frequency``."""
    spec = copy.deepcopy(load_strategy(strategy).spec)
    scale = frequency / spec["default"]["frequency"]
    for part in (spec["default"], *spec.get("rules", [])):
        if "frequency" in part:
            part["frequency"] = min(1.0, part["frequency"] * scale)
    spec["name"] = f"{strategy} at {frequency:g}/week"
    return spec


def incremental_profit(strategy, params: dict, customers: int, weeks: int, seeds) -> np.ndarray:
    """(seeds, len(CHECKPOINTS within weeks) + 1): cumulative profit against the no-contact holdout
    at each checkpoint and at ``weeks``."""
    from .experiment import quiet_mesa  # noqa: PLC0415
    from .model import RelationshipModel  # noqa: PLC0415

    quiet_mesa()
    marks = [w for w in CHECKPOINTS if w < weeks] + [weeks]
    out = np.empty((len(seeds), len(marks)))
    for row, seed in enumerate(seeds):
        m = RelationshipModel(customers, strategy, rng=seed, journeys=0, **params)
        for col, mark in enumerate(marks):
            m.run(mark - m.week)
            out[row, col] = m.totals["profit"] - m.totals["holdout_profit"]
    return out


def frequency_sweep(strategies=("reciprocal_value", "constant_sales"), frequencies=FREQUENCIES, customers=10_000,
                    weeks=260, seeds=range(1, 6), params=None) -> pd.DataFrame:
    """Incremental profit at ``weeks`` per strategy and frequency: mean and 95% interval over
    seeds, and the paired difference from the lowest frequency (same seeds: common random numbers)."""
    rows = []
    for strategy in strategies:
        lowest = None
        for f in sorted(frequencies):
            final = incremental_profit(at_frequency(strategy, f), params or {}, customers, weeks, list(seeds))[:, -1]
            lowest = final if lowest is None else lowest
            mean, lo, hi = mean_ci(final)
            rise, rise_lo, rise_hi = mean_ci(final - lowest)
            rows.append({"strategy": strategy, "frequency": f, "mean": mean, "lo": lo, "hi": hi,
                         "vs_lowest": rise, "vs_lowest_lo": rise_lo, "vs_lowest_hi": rise_hi})
    return pd.DataFrame(rows)


def interior_maximum(sweep: pd.DataFrame, strategy: str) -> bool:
    """Whether the strategy's best frequency is neither the lowest nor the highest swept."""
    curve = sweep[sweep["strategy"] == strategy].sort_values("frequency")
    best = int(np.argmax(curve["mean"].to_numpy()))
    return 0 < best < len(curve) - 1


def regime_table(regimes=REGIMES, customers=10_000, weeks=260, seeds=range(1, 6)) -> pd.DataFrame:
    """Per regime and checkpoint: each strategy against no contact, and reciprocal_value minus
    constant_sales (paired by seed), mean and 95% interval."""
    rows = []
    for regime in regimes:
        sales = incremental_profit("constant_sales", regime.params, customers, weeks, list(seeds))
        value = incremental_profit("reciprocal_value", regime.params, customers, weeks, list(seeds))
        marks = [w for w in CHECKPOINTS if w < weeks] + [weeks]
        for col, week in enumerate(marks):
            for what, values in (("constant_sales vs no contact", sales[:, col]),
                                 ("reciprocal_value vs no contact", value[:, col]),
                                 ("reciprocal_value - constant_sales", value[:, col] - sales[:, col])):
                mean, lo, hi = mean_ci(values)
                rows.append({"regime": regime.name, "week": week, "comparison": what, "mean": mean, "lo": lo,
                             "hi": hi})
    return pd.DataFrame(rows)


def _cell(row, column: str = "mean") -> str:
    """``column``'s mean and interval (``<column>_lo``, ``<column>_hi``; ``lo``, ``hi`` for the mean)."""
    lo, hi = ("lo", "hi") if column == "mean" else (f"{column}_lo", f"{column}_hi")
    return f"{money(row[column])} [{money(row[lo])}, {money(row[hi])}]"


def markdown(sweep: pd.DataFrame, regimes: pd.DataFrame, command: str) -> str:
    """The generated section of docs/verdict.md."""
    lines = [f"Generated by `{command}`.", "", "### Profit against contact frequency (5 years, against no contact)", "",
             "| frequency (contacts/week) | " + " | ".join(sweep["strategy"].unique()) + " |",
             "|---|" + "---|" * sweep["strategy"].nunique()]
    for f, group in sweep.groupby("frequency"):
        lines.append(f"| {f:g} | " + " | ".join(_cell(r) for _, r in group.iterrows()) + " |")
    lowest = sweep["frequency"].min()
    lines += ["", f"The same, as the paired difference from {lowest:g} contacts a week (same seeds and customers: "
              "the noise common to both frequencies cancels):", "",
              "| frequency (contacts/week) | " + " | ".join(sweep["strategy"].unique()) + " |",
              "|---|" + "---|" * sweep["strategy"].nunique()]
    for f, group in sweep.groupby("frequency"):
        lines.append(f"| {f:g} | " + " | ".join(_cell(r, "vs_lowest") for _, r in group.iterrows()) + " |")
    for strategy in sweep["strategy"].unique():
        curve = sweep[sweep["strategy"] == strategy]
        best = curve.loc[curve["mean"].idxmax()]
        where = "an interior maximum" if interior_maximum(sweep, strategy) else "no interior maximum"
        lines.append(f"\n{strategy}: best at {best['frequency']:g} contacts a week ({where}); "
                     f"against {lowest:g} a week: {_cell(best, 'vs_lowest')}.")
    lines += ["", "### The ranking under plausible regimes", ""]
    for regime in REGIMES:
        if regime.name in set(regimes["regime"]):
            values = ", ".join(f"`{k}={v:g}`" for k, v in regime.params.items()) or "none changed"
            lines.append(f"- **{regime.name}**: {regime.doc} ({values})")
    lines += ["", "| regime | week | comparison | mean [95% CI] |", "|---|---|---|---|"]
    for _, r in regimes.iterrows():
        lines.append(f"| {r['regime']} | {r['week']} | {r['comparison']} | {_cell(r)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``python -m sim.studies [customers=N] [seeds=N] [weeks=N] [doc=PATH]``."""
    settings = {"customers": 10_000, "seeds": 5, "weeks": 260, "doc": "docs/verdict.md"}
    for word in argv:
        key, _, value = word.partition("=")
        if key not in settings or not value:
            print(f"studies: error: {word!r}: expected one of {', '.join(settings)} as key=value", file=sys.stderr)
            return 2
        settings[key] = value if key == "doc" else int(value)
    check_regimes()
    validate({"customers": settings["customers"]})
    seeds = range(1, settings["seeds"] + 1)
    sweep = frequency_sweep(customers=settings["customers"], weeks=settings["weeks"], seeds=seeds)
    table = regime_table(customers=settings["customers"], weeks=settings["weeks"], seeds=seeds)
    command = "python -m sim.studies " + " ".join(argv) if argv else "python -m sim.studies"
    write_section(Path(settings["doc"]), MARKERS, markdown(sweep, table, command.strip()))
    print(f"studies: wrote {settings['doc']}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ParameterError as err:
        print(f"studies: error: {err}", file=sys.stderr)
        sys.exit(2)
