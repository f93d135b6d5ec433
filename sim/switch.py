"""The switch: start from the dealer's current practice, then let the arms diverge.

A dealership that has sent weekly offers for years has a tired list with many
unsubscribes; switching from there is the real decision. With a ``CurrentPractice`` the
model's market first runs under that strategy for ``weeks`` weeks (the warm-up), with
draws from a stream spawned from the model's generator before the run's own streams.
Every arm (and the no-contact holdout) of a seed then starts from the same warmed-up
state and sees the same draws (common random numbers). The run's counters (margin,
cost, contacts, purchases, service visits and the repurchase and service counters) are
reset at the end of the warm-up, so week 1 of the results is the first week after the
switch. An experiment computes the warm-up once per seed and market and shares it
(``WarmedMarket``) between its arms.

The second half of the module measures a switch (``switch_table``): per comparison
(arm, versus), the paired gap in cumulative profit week by week over common seeds, its
lowest point (the dip), the break-even week and the gain at 1, 3 and 5 years.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from .analysis import MIN_REPLICATIONS, mean_ci, payback_week
from .params import ParameterError
from .rules import Coefficients, Draws, step
from .state import Population
from .strategies import load_strategy

COUNTERS = ("margin", "cost", "contacts", "purchases", "service_visits")  # per customer, zeroed at the switch
RATE_COUNTERS = ("replacements_by_our_owners", "repurchases_with_us", "service_by_our_owners",
                 "service_with_us_by_our_owners")  # of the market, zeroed at the switch
MAX_WEEKS = 5200


@dataclass(frozen=True)
class CurrentPractice:
    """What the dealer does today: a strategy (built-in name, YAML path or mapping) run for
    ``weeks`` weeks before the arms diverge."""

    strategy: Any
    weeks: int

    def __post_init__(self):
        weeks = self.weeks
        if isinstance(weeks, bool) or not isinstance(weeks, Integral) or not 1 <= weeks <= MAX_WEEKS:
            raise ParameterError(f"experiment.current.weeks={weeks!r}: expected a whole number of weeks "
                                 f"in [1, {MAX_WEEKS}]")
        try:
            load_strategy(self.strategy)
        except ParameterError as err:
            raise ParameterError(f"experiment.current.{err}") from None


@dataclass(frozen=True)
class WarmedMarket:
    """A market after its warm-up under current practice, counters reset: week 0 of every
    arm of one seed. ``population`` is never changed; a model starts from a copy."""

    practice: CurrentPractice
    population: Population


def describe_practice(practice: "CurrentPractice | None") -> dict | None:
    """Current practice as plain data for the results: strategy name, label, description, weeks."""
    if practice is None:
        return None
    policy = load_strategy(practice.strategy)
    return {"strategy": policy.name, "label": policy.label or policy.name, "description": policy.description,
            "weeks": int(practice.weeks)}


def warm_up(pop: Population, practice: CurrentPractice, coefficients: Coefficients,
            rng: np.random.Generator) -> WarmedMarket:
    """Run ``pop`` (changed in place) under current practice with draws from a stream
    spawned from ``rng``, then zero the run's counters."""
    policy = load_strategy(practice.strategy)
    draws = Draws(pop.n, rng)  # spawns the warm-up's own stream
    events = np.zeros(pop.n, np.uint32)
    for _ in range(practice.weeks):
        draws.fill()
        step(pop, policy, draws, coefficients, events)
    for name in COUNTERS:
        getattr(pop, name)[:] = 0
    for name in RATE_COUNTERS:
        setattr(pop, name, 0)
    return WarmedMarket(practice, pop)


def begin(pop: Population, start: "CurrentPractice | WarmedMarket | None", coefficients: Coefficients,
          rng: np.random.Generator) -> "WarmedMarket | None":
    """The model's hook: its market warmed up under ``start`` (or ``start`` itself when it
    was recorded for this seed), None without a current practice.

    A recorded warm-up spawns (and discards) the same stream as computing it would, so that
    the run's own draws are the same either way.
    """
    if start is None:
        return None
    if isinstance(start, WarmedMarket):
        if start.population.n != pop.n:
            raise ParameterError(f"start: warmed up for {start.population.n} customers, not {pop.n}")
        rng.spawn(1)
        return start
    if not isinstance(start, CurrentPractice):
        raise ParameterError(f"start={start!r}: expected a CurrentPractice, a WarmedMarket or None")
    return warm_up(pop, start, coefficients, rng)


# --- measuring a switch ---------------------------------------------------------------------
YEARS = (1, 3, 5)  # the gain is reported at these marks, those within the horizon


def paired_gap(weekly: pd.DataFrame, arm: str, versus: str) -> pd.DataFrame:
    """Cumulative profit of ``arm`` minus ``versus``, one column per common seed, one row per week."""
    wide = weekly[weekly["arm"].isin([arm, versus])].pivot_table(
        index="week", columns=["arm", "seed"], values="cum_profit", aggfunc="first", observed=True)
    if arm not in wide.columns.get_level_values(0) or versus not in wide.columns.get_level_values(0):
        return pd.DataFrame(index=wide.index)
    a, b = wide[arm], wide[versus]
    common = a.columns.intersection(b.columns)
    return (a[common] - b[common]).sort_index()


def break_even(gap: pd.DataFrame) -> tuple[float, float, float, float]:
    """Break-even week of a switch (mean, 95% low, high) and the share of seeds that broke even.

    A seed breaks even in the week after the last week its paired gap is negative (week 1
    if it never is), and not at all if the gap is negative in the last week. When every
    seed broke even: their mean, with a t-interval from 3 seeds on (never below week 1);
    otherwise the break-even of the mean gap, no interval.
    """
    weeks = gap.index.to_numpy()
    each = np.array([payback_week(weeks, gap[s].to_numpy()) for s in gap.columns], dtype=float)
    if each.size == 0:
        return (math.nan, math.nan, math.nan, math.nan)
    share = float(np.mean(~np.isnan(each)))
    if share < 1:
        return (payback_week(weeks, gap.mean(axis=1).to_numpy()), math.nan, math.nan, share)
    mean, lo, hi = mean_ci(each, MIN_REPLICATIONS)
    return (mean, max(lo, float(weeks[0])) if not math.isnan(lo) else lo, hi, share)


def marks(horizon: int) -> list[int]:
    """The weeks gains are reported at: 1, 3 and 5 years within the horizon, and the horizon."""
    weeks = [52 * y for y in YEARS if 52 * y <= horizon]
    return weeks + ([horizon] if horizon not in weeks else [])


def switch_row(weekly: pd.DataFrame, arm: str, versus: str, horizon: int) -> dict:
    """One comparison's switch: dip, break-even and gains at the year marks and the horizon."""
    gap = paired_gap(weekly, arm, versus)
    row: dict = {"arm": arm, "versus": versus, "pairs": int(gap.shape[1])}
    mean = gap.mean(axis=1) if gap.shape[1] else pd.Series(dtype=float)
    low = mean.idxmin() if len(mean) and mean.min() < 0 else None
    row["dip_week"] = float(low) if low is not None else math.nan
    row["dip"] = float(mean[low]) if low is not None else math.nan
    row["break_even"], row["break_even_lo"], row["break_even_hi"], row["break_even_share"] = break_even(gap)
    for week in marks(horizon):
        values = gap.loc[week] if week in gap.index else []
        row[f"gain_{week}"], row[f"gain_{week}_lo"], row[f"gain_{week}_hi"] = mean_ci(values)
    return row


def switch_table(weekly: pd.DataFrame, comparisons: list[tuple[str, str]], horizon: int) -> pd.DataFrame:
    """One row per comparison (arm, versus): ``pairs``; ``dip_week`` and ``dip`` (the lowest
    point of the mean paired gap in cumulative profit, NaN if never below zero);
    ``break_even`` with ``_lo``, ``_hi`` and ``_share`` (see ``break_even``); and
    ``gain_<week>`` with ``_lo`` and ``_hi`` (the paired gap at weeks 52, 156 and 260
    within the horizon, and at the horizon)."""
    columns = ["arm", "versus", "pairs", "dip_week", "dip", "break_even", "break_even_lo", "break_even_hi",
               "break_even_share"] + [f"gain_{w}{s}" for w in marks(horizon) for s in ("", "_lo", "_hi")]
    return pd.DataFrame([switch_row(weekly, a, b, horizon) for a, b in comparisons], columns=columns)


def gain_weeks(table: pd.DataFrame) -> list[int]:
    """The weeks ``switch_table`` reports gains at, in order."""
    return sorted({int(c.split("_")[1]) for c in table.columns if c.startswith("gain_") and c.count("_") == 1})
