"""The verdict's first sentences, in words a dealer principal reads.

One sentence per comparison (arm, versus), from the switch table (``sim.switch``): what
the change costs at its lowest point, when it pays back, and what it adds over the
horizon, with the 95% interval in plain words. Strategies are named by their labels
("value first"), not their code names; the intervals are explained once (``interval_note``).
"""

from __future__ import annotations

import math

import pandas as pd

from .analysis import bands, horizon_words
from .metrics import money
from .switch import YEARS, gain_weeks


def interval_note(replications: int) -> str:
    """What the ranges in brackets mean, said once."""
    if replications < 2:
        return "One run per strategy: no range can be given; run more replications for one."
    return (f"Ranges in brackets are 95% confidence intervals: over {replications} paired runs (the same customers "
            f"and the same random numbers for every strategy), the average lies in that range with 95% confidence, "
            f"given the model.")


def about(x: float) -> str:
    """Dollars rounded for a sentence: ``33482`` -> ``$33.5k``."""
    return money(abs(x), compact=True)


def labels(res) -> dict[str, str]:
    """Arm name -> the words a sentence uses for it (its label, else its name)."""
    return {a["name"]: a.get("label") or a["name"] for a in res.arms}


def subject(res, arm: str, versus: str | None) -> str:
    """``Switching from a weekly sales blast to value first`` (from current practice, when
    ``versus`` stays with it), ``Value first instead of a weekly sales blast``, or, against
    the holdout (``versus`` None), ``Value first, against no contact,``."""
    words = labels(res)
    if versus is None:
        text = f"{words[arm]}, against no contact,"
        return text[0].upper() + text[1:]
    current = res.current or {}
    stays = next((a.get("strategy") for a in res.arms if a["name"] == versus), None) == current.get("strategy")
    if current and stays:
        return f"Switching from {current.get('label') or current['strategy']} to {words[arm]}"
    text = f"{words[arm]} instead of {words[versus]}"
    return text[0].upper() + text[1:]


def _range(lo: float, hi: float, show) -> str:
    return "" if lo is None or math.isnan(lo) or math.isnan(hi) else f" (between {show(lo)} and {show(hi)})"


def _signed(x: float) -> str:
    return ("-" if x < 0 else "") + about(x)


def sentence(res, row: pd.Series) -> str:
    """One comparison in one sentence: dip, break-even, gain over the horizon."""
    span = horizon_words(res.horizon_weeks)
    head = subject(res, row["arm"], row["versus"])
    be, share, pairs = row["break_even"], row["break_even_share"], int(row["pairs"])
    weeks = _range(row["break_even_lo"], row["break_even_hi"], lambda w: f"{w:.0f}")
    if math.isnan(row["dip"]):
        start = "is ahead from the first week"
    else:
        start = f"costs up to about {about(row['dip'])} (lowest in week {row['dip_week']:.0f})"
        if share == 1:
            start += f" and pays back in about {be:.0f} weeks{weeks}"
        elif not math.isnan(be):
            start += (f"; the average pays back in about {be:.0f} weeks, but only {round(share * pairs)} of "
                      f"{pairs} runs did within {span}")
        else:
            start += f" and does not pay back within {span}"
    gain, lo, hi = (row[f"gain_{res.horizon_weeks}{s}"] for s in ("", "_lo", "_hi"))
    verb = "adds" if gain >= 0 else "loses"
    end = f"over {span} it {verb} {about(gain)}{_range(lo, hi, _signed)}"
    if not (math.isnan(lo) or lo > 0 or hi < 0):
        end += ", a range that includes zero"
    return f"{head} {start}; {end}."


def by_year(res, row: pd.Series) -> str:
    """The gain at each year mark within the horizon (1, 3, 5 years), with its range, in
    one line; empty with fewer than two marks (the sentence says the one)."""
    marks = [w for w in gain_weeks(res.switch) if w in [52 * y for y in YEARS]]
    if len(marks) < 2:
        return ""
    parts = [f"after {horizon_words(w)} {_signed(row[f'gain_{w}'])}"
             f"{_range(row[f'gain_{w}_lo'], row[f'gain_{w}_hi'], _signed)}" for w in marks]
    head = subject(res, row["arm"], row["versus"])
    return f"Year by year ({head[0].lower() + head[1:]}): " + "; ".join(parts) + "."


def against_no_contact(res, arm: str) -> pd.Series:
    """One arm alone against its no-contact holdout, as a row of the switch table."""
    s = res.summary.set_index("arm").loc[arm]
    curve = bands(res.weekly[res.weekly["arm"] == arm], "incremental_profit").set_index("week")["mean"]
    low = curve.idxmin() if len(curve) and curve.min() < 0 else None
    h = res.horizon_weeks
    return pd.Series({"arm": arm, "versus": None, "pairs": s["replications"],
                      "dip_week": math.nan if low is None else low, "dip": math.nan if low is None else curve[low],
                      "break_even": s["payback_week"], "break_even_lo": s["payback_week_lo"],
                      "break_even_hi": s["payback_week_hi"], "break_even_share": s["payback_share"],
                      f"gain_{h}": s["profit"], f"gain_{h}_lo": s["profit_lo"], f"gain_{h}_hi": s["profit_hi"]})


def headline(res) -> list[str]:
    """The verdict's first sentences: one per comparison (each arm against no contact when
    there is none), the gains year by year, then what the ranges mean."""
    lines = []
    if res.switch is not None and not res.switch.empty:
        for _, row in res.switch[res.switch["pairs"] > 0].iterrows():
            lines += [sentence(res, row)] + [t for t in [by_year(res, row)] if t]
    elif res.summary is not None:
        lines = [sentence(res, against_no_contact(res, arm)) for arm in res.arm_names if arm in set(res.summary["arm"])]
    return lines + [interval_note(len(res.seeds))] if lines else []
