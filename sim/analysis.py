"""From weekly tables of replicated runs to the numbers a strategist reads.

One row of ``weekly`` is one week of one run (arm, seed); the model's own columns are
used as they are (``incremental_profit`` and ``roi`` are the model's, measured against
the no-contact holdout under the same random numbers). This module computes:

- per-run outcomes (``run_outcomes``): the end-of-horizon value of each metric;
- ``summary``: one row per arm, mean over replications with a 95% t-interval;
- ``differences``: paired differences between arms over common seeds (same random numbers);
- ``bands``: weekly mean and 95% interval, for the figures;
- ``verdict`` and ``summary_text``: plain sentences and a terminal table from the numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special

from .metrics import BOUNDED_UNITS, OUTCOME, OUTCOMES, PAYBACK, SUM, TERMINAL, money, show


def t975(df: int | np.ndarray) -> float | np.ndarray:
    """97.5% quantile of Student's t with ``df`` degrees of freedom (NaN below 1): SciPy's
    ``special.stdtrit``, which ``scipy.stats.t.ppf`` calls (the same values), without the
    import of ``scipy.stats`` (about a second of each sweep's start)."""
    df = np.asarray(df, dtype=float)
    out = np.where(df >= 1, special.stdtrit(np.maximum(df, 1), 0.975), np.nan)
    return float(out) if out.ndim == 0 else out


MIN_REPLICATIONS = 3  # fewer runs give no interval worth reading (2 runs: a t-quantile of 12.7)


def mean_ci(values, min_n: int = 2) -> tuple[float, float, float]:
    """Mean and 95% t-interval of the mean (NaN dropped; interval NaN below ``min_n`` values)."""
    a = np.asarray(values, dtype=float)
    a = a[~np.isnan(a)]
    if a.size == 0:
        return (math.nan, math.nan, math.nan)
    m = float(a.mean())
    if a.size < max(min_n, 2):
        return (m, math.nan, math.nan)
    half = t975(a.size - 1) * float(a.std(ddof=1)) / math.sqrt(a.size)
    return (m, m - half, m + half)


def bootstrap_mean_ci(values, min_n: int = MIN_REPLICATIONS, resamples: int = 4000) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval of the mean (fixed seed: reproducible).

    Used for payback weeks: the interval stays within the smallest and largest run, so
    never before week 1 nor beyond the horizon, where a t-interval of a few skewed runs
    would go (below week 0 with two runs). Interval NaN below ``min_n`` values."""
    a = np.asarray(values, dtype=float)
    a = a[~np.isnan(a)]
    if a.size == 0:
        return (math.nan, math.nan, math.nan)
    if a.size < min_n:
        return (float(a.mean()), math.nan, math.nan)
    rng = np.random.default_rng(0)
    chunk = max(1, 2_000_000 // a.size)  # resampled means in chunks: bounded memory for many runs
    means = np.concatenate([a[rng.integers(0, a.size, (min(chunk, resamples - i), a.size))].mean(axis=1)
                            for i in range(0, resamples, chunk)])
    lo, hi = np.percentile(means, [2.5, 97.5])
    return (float(a.mean()), float(max(lo, a.min())), float(min(hi, a.max())))


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
            if o.how == PAYBACK:
                row[o.name] = payback_week(run["week"].to_numpy(), col)
            else:
                row[o.name] = float(np.nansum(col)) if o.how == SUM else float(col[-1])
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
    payback weeks with its 95% percentile-bootstrap interval (inside the horizon);
    otherwise the payback week of the mean cumulative incremental profit curve (NaN if it
    ends below zero) and no interval. ``payback_share`` is the share of runs that paid back.
    With fewer than ``MIN_REPLICATIONS`` runs no interval is given (NaN).
    Intervals of shares and 0-1 scores are clipped to [0, 1], where the metric lives.
    """
    runs = run_outcomes(weekly)
    rows = []
    for arm in arms:
        r = runs[runs["arm"] == arm]
        row: dict = {"arm": arm}
        for o in OUTCOMES:
            name = o.name
            if o.how == PAYBACK and not (len(r) and r[name].notna().all()):
                b = bands(weekly[weekly["arm"] == arm], o.column).sort_values("week")
                row[name] = payback_week(b["week"].to_numpy(), b["mean"].to_numpy())
                row[f"{name}_lo"] = row[f"{name}_hi"] = math.nan
                continue
            interval = bootstrap_mean_ci if o.how == PAYBACK else lambda v: mean_ci(v, MIN_REPLICATIONS)
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = interval(r[name])
            if o.unit in BOUNDED_UNITS:
                row[f"{name}_lo"], row[f"{name}_hi"] = (min(max(v, 0.0), 1.0) if not math.isnan(v) else v
                                                        for v in (row[f"{name}_lo"], row[f"{name}_hi"]))
        row["payback_share"] = float(r["payback_week"].notna().mean()) if len(r) else math.nan
        row["replications"] = int(len(r))
        rows.append(row)
    return pd.DataFrame(rows)


DIFF_METRICS = tuple(o.name for o in OUTCOMES if o.has_difference)


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
    the paired differences; NaN with fewer than ``MIN_REPLICATIONS`` pairs).
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
            row[name], row[f"{name}_lo"], row[f"{name}_hi"] = mean_ci(d, MIN_REPLICATIONS)
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


NO_INTERVAL = f"no interval: fewer than {MIN_REPLICATIONS} replications"


def _ci(lo: float, hi: float, unit: str, difference: bool = False, runs: int = MIN_REPLICATIONS) -> str:
    """``95% CI lo to hi``, or why there is none (too few ``runs``, or an undefined value)."""
    if lo is None or math.isnan(lo) or math.isnan(hi):
        return NO_INTERVAL if runs < MIN_REPLICATIONS else "no interval"
    return f"95% CI {show(lo, unit, difference)} to {show(hi, unit, difference)}"


def _clear(lo: float, hi: float) -> int:
    """+1 if an interval lies above zero, -1 below, 0 if it includes zero (or is unknown)."""
    if lo is None or math.isnan(lo) or math.isnan(hi):
        return 0
    return 1 if lo > 0 else (-1 if hi < 0 else 0)


def _unknown(lo: float, hi: float) -> bool:
    """Whether there is no interval (too few replications)."""
    return lo is None or math.isnan(lo) or math.isnan(hi)


LOYALTY = tuple(OUTCOME[n] for n in ("retention", "trust", "unsubscribe_rate"))  # what the verdict says of loyalty


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
        gain, n = row["profit"], int(row["replications"])
        sign = _clear(row["profit_lo"], row["profit_hi"])
        if sign > 0:
            head = f"{arm} earns more than no contact over {span}"
        elif sign < 0:
            head = f"{arm} loses money against no contact over {span}"
        elif _unknown(row["profit_lo"], row["profit_hi"]):
            head = f"{arm} against no contact over {span}"
        else:
            head = f"{arm} cannot be told apart from no contact over {span} (the interval includes zero)"
        text = (f"{head}: {money(gain, True)} incremental profit ({_ci(row['profit_lo'], row['profit_hi'], '$', True, n)}), "
                f"ROI {show(row['roi'], '$/$')} per $ spent ({_ci(row['roi_lo'], row['roi_hi'], '$/$', runs=n)}).")
        pb, share = row["payback_week"], row["payback_share"]
        if share == 1:
            ci = _ci(row["payback_week_lo"], row["payback_week_hi"], "week", runs=n)
            text += f" Every run paid back: in week {pb:.0f} on average ({ci})."
        elif share > 0:
            runs = f"{round(share * n)} of {n} runs paid back within {span}"
            text += (f" {runs}; the mean curve does not." if math.isnan(pb)
                     else f" {runs}; the mean curve pays back from week {pb:.0f}.")
        else:
            text += f" No run paid back within {span}."
        alone.append(text)
    keyed = diffs.set_index(["arm", "versus"])
    for arm, baseline in comparisons:
        if (arm, baseline) not in keyed.index:
            continue
        d = keyed.loc[(arm, baseline)]
        sign = _clear(d["profit_lo"], d["profit_hi"])
        pairs = int(d["pairs"])
        ci = _ci(d["profit_lo"], d["profit_hi"], "$", True, pairs)
        if sign > 0:
            lines.append(f"{arm} earns more than {baseline} over {span}: {money(d['profit'], True)} ({ci}).")
        elif sign < 0:
            lines.append(f"{arm} earns less than {baseline} over {span}: {money(d['profit'], True)} ({ci}).")
        elif _unknown(d["profit_lo"], d["profit_hi"]):
            lines.append(f"{arm} against {baseline} over {span}: {money(d['profit'], True)} ({ci}; run at least "
                         f"{MIN_REPLICATIONS} to know whether the difference is real).")
        else:
            lines.append(f"{arm} and {baseline} cannot be told apart on profit over {span}: "
                         f"{money(d['profit'], True)} ({ci}, which includes zero); more replications or a "
                         f"larger market would narrow it.")
        parts = []
        for o in LOYALTY:
            val, lo, hi = d[o.name], d[f"{o.name}_lo"], d[f"{o.name}_hi"]
            note = "" if _clear(lo, hi) or _unknown(lo, hi) else ", includes zero"
            parts.append(f"{o.label} {show(val, o.unit, True)} ({_ci(lo, hi, o.unit, True, pairs)}{note})")
        lines.append(f"Loyalty, {arm} against {baseline}: " + "; ".join(parts) + ".")
    return lines + alone


def summary_text(res) -> str:
    """A short table (one row per arm, the outcomes shown in the terminal) and the verdict.

    Args:
        res: A ``sim.results.Results`` (analysed).
    """
    s = res.summary
    table = pd.DataFrame({"arm": s["arm"]})
    for o in OUTCOMES:
        if o.shown != TERMINAL:
            continue
        if o.how == PAYBACK:
            table[o.label] = ["never" if math.isnan(v) else f"{v:.0f}" for v in s[o.name]]
            continue
        table[o.label] = [f"{show(v, o.unit)} [{show(lo, o.unit)}, {show(hi, o.unit)}]" if not math.isnan(lo)
                          else show(v, o.unit) for v, lo, hi in zip(s[o.name], s[f"{o.name}_lo"], s[f"{o.name}_hi"])]
    head = (f"{res.name}: {len(res.arms)} arm(s), {len(res.seeds)} replication(s), "
            f"{horizon_words(res.horizon_weeks)}; mean [95% CI], against the no-contact holdout")
    lead = getattr(res, "headline", [])  # one plain sentence per comparison (sim.words)
    lines = [head, table.to_string(index=False), ""] + (lead + [""] if lead else [])
    lines += ["- " + v for v in verdict(res.summary, res.differences, res.comparisons, res.horizon_weeks)]
    return "\n".join(lines)
