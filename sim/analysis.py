"""From weekly tables of replicated runs to the numbers a strategist reads.

One row of ``weekly`` is one week of one run (arm, seed); the model's own columns are
used as they are (``incremental_profit`` and ``roi`` are the model's, measured against
the no-contact holdout under the same random numbers). This module computes:

- per-run outcomes (``run_outcomes``): the end-of-horizon value of each metric;
- ``summary``: one row per arm, mean over replications with a 95% t-interval;
- ``differences``: paired differences between arms over common seeds (same random numbers);
- ``bands``: weekly mean and 95% interval, for the figures;
- ``verdict``: plain sentences derived from the numbers and their intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Outcome:
    """A summary metric: how it is taken from a run's weekly table, and how to read it."""

    name: str
    column: str
    how: str  # "final" (value in the last week) or "sum" (total over the weeks)
    unit: str
    doc: str


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("roi", "roi", "final", "$/$", "Incremental profit per dollar of marketing, against the no-contact holdout."),
    Outcome("profit", "incremental_profit", "final", "$", "Cumulative incremental profit against the holdout."),
    Outcome("retention", "retention", "final", "share", "Share of customers ever ours still in an active relationship."),
    Outcome("repurchase", "repurchase", "final", "share", "Share of our owners' replacement purchases made with us."),
    Outcome("service_retention", "service_retention", "final", "share", "Share of our owners' service visits made with us."),
    Outcome("trust", "trust", "final", "0-1", "Mean trust of the customers in our CRM."),
    Outcome("affinity", "affinity", "final", "0-1", "Mean affinity of the customers in our CRM."),
    Outcome("unsubscribe_rate", "unsubscribe_rate", "final", "share", "Unsubscribes per customer opted in at the start."),
    Outcome("referrals", "referrals", "sum", "customers", "New prospects brought by recommendations (cumulative)."),
    Outcome("fatigue", "fatigue", "final", "0-1", "Mean contact fatigue of the customers in our CRM."),
    Outcome("promoter_share", "promoter_share", "final", "share", "Share of experienced customers who are promoters."),
    Outcome("detractor_share", "detractor_share", "final", "share", "Share of experienced customers who are detractors."),
    Outcome("sales", "our_sales", "sum", "vehicles", "Vehicles we sold (cumulative)."),
    Outcome("cost", "cum_cost", "final", "$", "Cumulative marketing cost."),
    Outcome("total_profit", "cum_profit", "final", "$", "Cumulative profit (not incremental)."),
)
METRIC_NAMES = ("roi", "profit", "payback_week") + tuple(o.name for o in OUTCOMES[2:])

# Two-sided 95% Student t quantiles for 1..30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t975(df: int | np.ndarray) -> float | np.ndarray:
    """97.5% quantile of Student's t (table up to 30 df, Cornish-Fisher expansion above)."""
    df = np.asarray(df, dtype=float)
    z = 1.959964
    with np.errstate(divide="ignore", invalid="ignore"):
        approx = z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
    idx = np.clip(df, 1, 30).astype(int) - 1
    out = np.where(df <= 30, np.asarray(_T975)[idx], approx)
    out = np.where(df >= 1, out, np.nan)
    return float(out) if out.ndim == 0 else out


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the mean (NaN dropped; interval NaN below 2 values)."""
    a = np.asarray(values, dtype=float)
    a = a[~np.isnan(a)]
    if a.size == 0:
        return (math.nan, math.nan, math.nan)
    m = float(a.mean())
    if a.size < 2:
        return (m, math.nan, math.nan)
    half = t975(a.size - 1) * float(a.std(ddof=1)) / math.sqrt(a.size)
    return (m, m - half, m + half)


def payback_week(weeks: np.ndarray, cum_incremental: np.ndarray) -> float:
    """First week from which cumulative incremental profit stays >= 0; NaN if it ends below 0."""
    c = np.asarray(cum_incremental, dtype=float)
    if c.size == 0 or np.isnan(c[-1]) or c[-1] < 0:
        return math.nan
    below = np.nonzero(~(c >= 0))[0]
    return float(weeks[0] if below.size == 0 else weeks[below[-1] + 1])


def run_outcomes(weekly: pd.DataFrame) -> pd.DataFrame:
    """One row per run (arm, seed): each outcome at the horizon, and the run's payback week."""
    rows = []
    for (arm, seed), run in weekly.groupby(["arm", "seed"], sort=False, observed=True):
        run = run.sort_values("week")
        row = {"arm": arm, "seed": int(seed)}
        for o in OUTCOMES:
            col = run[o.column].to_numpy(dtype=float)
            row[o.name] = float(np.nansum(col)) if o.how == "sum" else float(col[-1])
        row["payback_week"] = payback_week(run["week"].to_numpy(), run["incremental_profit"].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows)


def bands(weekly: pd.DataFrame, column: str) -> pd.DataFrame:
    """Weekly mean and 95% interval of ``column`` per arm: columns arm, week, mean, lo, hi."""
    g = weekly.groupby(["arm", "week"], sort=False, observed=True)[column]
    out = g.agg(["mean", "std", "count"]).reset_index()
    half = t975(np.maximum(out["count"] - 1, 0)) * out["std"] / np.sqrt(out["count"])
    out["lo"] = out["mean"] - half
    out["hi"] = out["mean"] + half
    return out[["arm", "week", "mean", "lo", "hi"]]


def summary(weekly: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    """One row per arm: ``<metric>``, ``<metric>_lo``, ``<metric>_hi`` (mean and 95% interval).

    ``payback_week``: when every run paid back within the horizon, the mean of the runs'
    payback weeks with its 95% interval; otherwise the payback week of the mean
    cumulative incremental profit curve (NaN if it ends below zero) and no interval.
    ``payback_share`` is the share of runs that paid back.
    Intervals of shares and 0-1 scores are clipped to [0, 1], where the metric lives.
    """
    bounded = {o.name for o in OUTCOMES if o.unit in ("share", "0-1")}
    runs = run_outcomes(weekly)
    band = bands(weekly, "incremental_profit")
    rows = []
    for arm in arms:
        r = runs[runs["arm"] == arm]
        row: dict = {"arm": arm}
        for name in METRIC_NAMES:
            if name == "payback_week":
                if len(r) and r["payback_week"].notna().all():
                    row["payback_week"], row["payback_week_lo"], row["payback_week_hi"] = mean_ci(r["payback_week"])
                else:
                    b = band[band["arm"] == arm].sort_values("week")
                    row["payback_week"] = payback_week(b["week"].to_numpy(), b["mean"].to_numpy())
                    row["payback_week_lo"] = row["payback_week_hi"] = math.nan
                continue
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = mean_ci(r[name])
            if name in bounded:
                row[f"{name}_lo"], row[f"{name}_hi"] = (min(max(v, 0.0), 1.0) if not math.isnan(v) else v
                                                        for v in (row[f"{name}_lo"], row[f"{name}_hi"]))
        row["payback_share"] = float(r["payback_week"].notna().mean()) if len(r) else math.nan
        row["replications"] = int(len(r))
        rows.append(row)
    return pd.DataFrame(rows)


DIFF_METRICS = tuple(n for n in METRIC_NAMES if n != "payback_week")


def all_pairs(arms: list[str], comparisons: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The main comparisons first, then every other pair of arms (later arm minus earlier)."""
    pairs = list(comparisons)
    done = {frozenset(p) for p in pairs}
    for i, a in enumerate(arms):
        for b in arms[i + 1:]:
            if frozenset((a, b)) not in done:
                pairs.append((b, a))
                done.add(frozenset((a, b)))
    return pairs


def differences(weekly: pd.DataFrame, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Paired differences ``arm - versus`` over the seeds both arms ran (common random numbers).

    Columns: arm, versus, pairs (number of common seeds), and for each metric
    (payback_week excepted) its mean difference with ``_lo``/``_hi`` (95% t-interval of
    the paired differences).
    """
    runs = run_outcomes(weekly).set_index(["arm", "seed"])
    present = set(runs.index.get_level_values(0))
    rows = []
    for arm, versus in pairs:
        a = runs.loc[arm] if arm in present else pd.DataFrame(columns=list(DIFF_METRICS))
        b = runs.loc[versus] if versus in present else pd.DataFrame(columns=list(DIFF_METRICS))
        common = a.index.intersection(b.index)
        row: dict = {"arm": arm, "versus": versus, "pairs": int(len(common))}
        for name in DIFF_METRICS:
            d = (a.loc[common, name] - b.loc[common, name]) if len(common) else []
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = mean_ci(d)
        rows.append(row)
    cols = ["arm", "versus", "pairs"] + [f"{n}{s}" for n in DIFF_METRICS for s in ("", "_lo", "_hi")]
    return pd.DataFrame(rows, columns=cols)


# --- words --------------------------------------------------------------------------------
def horizon_words(weeks: int) -> str:
    """``260`` -> ``"5 years"``; weeks that are not whole years stay weeks."""
    if weeks % 52 == 0:
        years = weeks // 52
        return "1 year" if years == 1 else f"{years} years"
    return f"{weeks} weeks"


def money(x: float, sign: bool = False) -> str:
    """Dollars, rounded: ``-12345.6`` -> ``-$12,346``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    s = "-" if x < 0 else ("+" if sign and x > 0 else "")
    return f"{s}${abs(x):,.0f}"


def _num(x: float, kind: str, sign: bool = False) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    if kind == "money":
        return money(x, sign)
    if kind == "points":  # a share, shown in percentage points
        return f"{x * 100:+.1f} points" if sign else f"{x * 100:.1f}%"
    if kind == "ratio":
        return f"{x:+.2f}" if sign else f"{x:.2f}"
    if kind == "score":  # a 0-1 score such as trust
        return f"{x:+.3f}" if sign else f"{x:.3f}"
    return f"{x:+,.0f}" if sign else f"{x:,.0f}"


def _ci(lo: float, hi: float, kind: str, sign: bool = False) -> str:
    if lo is None or math.isnan(lo) or math.isnan(hi):
        return "no interval: one replication"
    return f"95% CI {_num(lo, kind, sign)} to {_num(hi, kind, sign)}"


def _clear(lo: float, hi: float) -> int:
    """+1 if an interval lies above zero, -1 below, 0 if it includes zero (or is unknown)."""
    if lo is None or math.isnan(lo) or math.isnan(hi):
        return 0
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def verdict(summ: pd.DataFrame, diffs: pd.DataFrame, comparisons: list[tuple[str, str]], weeks: int) -> list[str]:
    """Plain sentences for a strategist, each derived from a number and its 95% interval.

    First, for each main comparison (arm, versus), the paired difference in profit and in
    loyalty; then one sentence per arm against the no-contact holdout (profit, ROI, payback).
    """
    span = horizon_words(weeks)
    s = summ.set_index("arm")
    lines = []  # head to head first, then each arm against no contact
    alone = []
    for arm, row in s.iterrows():
        gain = row["profit"]
        sign = _clear(row["profit_lo"], row["profit_hi"])
        if sign > 0:
            head = f"{arm} earns more than no contact over {span}"
        elif sign < 0:
            head = f"{arm} loses money against no contact over {span}"
        else:
            head = f"{arm} cannot be told apart from no contact over {span} (the interval includes zero)"
        text = (f"{head}: {money(gain, True)} incremental profit ({_ci(row['profit_lo'], row['profit_hi'], 'money', True)}), "
                f"ROI {_num(row['roi'], 'ratio')} per $ spent ({_ci(row['roi_lo'], row['roi_hi'], 'ratio')}).")
        pb, share, n = row["payback_week"], row["payback_share"], int(row["replications"])
        if share == 1:
            ci = _ci(row["payback_week_lo"], row["payback_week_hi"], "count")
            text += f" Every run paid back: in week {pb:.0f} on average ({ci})."
        elif share > 0:
            runs = f"{round(share * n)} of {n} runs paid back within {span}"
            text += (f" {runs}; the mean curve does not." if math.isnan(pb)
                     else f" {runs}; the mean curve pays back from week {pb:.0f}.")
        else:
            text += f" No run paid back within {span}."
        alone.append(text)
    kinds = {"retention": ("points", "retention"), "trust": ("score", "trust"),
             "unsubscribe_rate": ("points", "unsubscribes")}
    keyed = diffs.set_index(["arm", "versus"])
    for arm, baseline in comparisons:
        if (arm, baseline) not in keyed.index:
            continue
        d = keyed.loc[(arm, baseline)]
        sign = _clear(d["profit_lo"], d["profit_hi"])
        ci = _ci(d["profit_lo"], d["profit_hi"], "money", True)
        if sign > 0:
            lines.append(f"{arm} earns more than {baseline} over {span}: {money(d['profit'], True)} ({ci}).")
        elif sign < 0:
            lines.append(f"{arm} earns less than {baseline} over {span}: {money(d['profit'], True)} ({ci}).")
        else:
            lines.append(f"{arm} and {baseline} cannot be told apart on profit over {span}: "
                         f"{money(d['profit'], True)} ({ci}, which includes zero); more replications or a "
                         f"larger market would narrow it.")
        parts = []
        for name in ("retention", "trust", "unsubscribe_rate"):
            kind, label = kinds[name]
            val, lo, hi = d[name], d[f"{name}_lo"], d[f"{name}_hi"]
            note = "" if _clear(lo, hi) else ", includes zero"
            parts.append(f"{label} {_num(val, kind, True)} ({_ci(lo, hi, kind, True)}{note})")
        lines.append(f"Loyalty, {arm} against {baseline}: " + "; ".join(parts) + ".")
    return lines + alone
