"""A self-contained HTML report of an experiment, for a strategist.

It states the question, the arms, the market and the verdict in plain words (from the
numbers and their 95% intervals), then shows the figures (matplotlib, embedded as base64
PNG so that the file reads offline): the J-curve of cumulative incremental profit with
the payback week, ROI over time, loyalty and equity, the stage funnel, engagement,
fatigue and unsubscribes, and value per customer tier.
"""

from __future__ import annotations

import base64
import io
import math
import os
from pathlib import Path

import jinja2
import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import analysis  # noqa: E402
from .metrics import MAIN, MORE, OUTCOMES, TERMINAL, money, show  # noqa: E402
from .results import Results  # noqa: E402
from .state import STAGES  # noqa: E402

COLORS = plt.get_cmap("tab10").colors


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _band_plot(ax, weekly: pd.DataFrame, column: str, arms: list[str], title: str, ylabel: str,
               rolling: int = 1, percent: bool = False) -> None:
    b = analysis.bands(weekly, column)
    for k, arm in enumerate(arms):
        d = b[b["arm"] == arm].sort_values("week")
        if d.empty:
            continue
        scale = 100.0 if percent else 1.0
        mean, lo, hi = (d[c].rolling(rolling, min_periods=1).mean() * scale for c in ("mean", "lo", "hi"))
        color = COLORS[k % len(COLORS)]
        ax.plot(d["week"], mean, color=color, label=arm, lw=1.6)
        ax.fill_between(d["week"], lo, hi, color=color, alpha=0.2, lw=0)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("week")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ylabel == "$":
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _pos: money(x, compact=True)))


def fig_jcurve(res: Results) -> str:
    """Cumulative incremental profit (the J-curve, payback marked) and ROI over time."""
    arms = res.arm_names
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    _band_plot(axes[0], res.weekly, "incremental_profit", arms, "Cumulative incremental profit vs no contact",
               "$")
    axes[0].axhline(0, color="black", lw=0.8)
    s = res.summary.set_index("arm")
    for k, arm in enumerate(arms):
        pb = s.loc[arm, "payback_week"] if arm in s.index else math.nan
        if not math.isnan(pb):
            color = COLORS[k % len(COLORS)]
            axes[0].axvline(pb, color=color, ls=":", lw=1.2)
            axes[0].annotate(f"payback wk {pb:.0f}", (pb, 0), xytext=(4, 6 + 12 * k), textcoords="offset points",
                             fontsize=8, color=color)
    axes[0].legend(fontsize=8)
    _band_plot(axes[1], res.weekly, "roi", arms, "Cumulative incremental ROI ($ per $ of marketing)", "$/$")
    axes[1].axhline(0, color="black", lw=0.8)
    start = min(max(4, res.horizon_weeks // 10), res.horizon_weeks)  # a horizon under 4 weeks keeps its last week
    late = analysis.bands(res.weekly[res.weekly["week"] >= start], "roi")
    lo, hi = np.nanmin(late[["lo", "mean"]].to_numpy()), np.nanmax(late[["hi", "mean"]].to_numpy())
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:  # the first weeks' ROI swings widely: keep the rest readable
        pad = 0.1 * (hi - lo)
        axes[1].set_ylim(min(lo - pad, -pad), max(hi + pad, pad))
    return _png(fig)


def fig_panels(res: Results, panels: list[tuple[str, str, str, int, bool]], ncols: int = 2) -> str:
    """Small multiples of weekly metrics with 95% bands: (column, title, ylabel, rolling, percent)."""
    n = len(panels)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 3.4 * nrows), squeeze=False)
    for ax, (col, title, ylabel, rolling, percent) in zip(axes.flat, panels):
        _band_plot(ax, res.weekly, col, res.arm_names, title, ylabel, rolling, percent)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    return _png(fig)


def fig_funnel(res: Results) -> str:
    """The lifecycle funnel: customers per stage over time (one panel per arm), and at the
    end of the horizon for all arms side by side (log scale, so that small stages show)."""
    arms = res.arm_names
    ncols = min(len(arms), 3) + 1
    nrows = math.ceil(len(arms) / (ncols - 1))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.4 * nrows), squeeze=False)
    cols = [f"stage_{s}" for s in STAGES]
    stage_colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.9, len(STAGES)))
    panels = [ax for row in axes for ax in row[:-1]]
    for ax, arm in zip(panels, arms):
        m = res.weekly[res.weekly["arm"] == arm].groupby("week")[cols].mean()
        ax.stackplot(m.index, m.T.to_numpy(), labels=STAGES, colors=stage_colors, alpha=0.9)
        ax.set_title(arm, fontsize=10)
        ax.set_xlabel("week")
        ax.set_ylabel("customers")
        ax.margins(x=0)
    for ax in panels[len(arms):] + [row[-1] for row in axes[1:]]:
        ax.set_visible(False)
    panels[0].legend(fontsize=7, loc="lower left")
    ax = axes[0][-1]
    last = res.weekly[res.weekly["week"] == res.weekly["week"].max()]
    height = 0.8 / len(arms)
    for k, arm in enumerate(arms):
        means = last[last["arm"] == arm][cols].mean()
        y = np.arange(len(STAGES)) + (k - (len(arms) - 1) / 2) * height
        ax.barh(y, means.clip(lower=0.5), height, color=COLORS[k % len(COLORS)], label=arm)
    ax.set_yticks(np.arange(len(STAGES)), STAGES)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _pos: f"{x:,.0f}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("customers (log scale)")
    ax.set_title("Stages at the end (mean)", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)


def fig_tiers(res: Results) -> str:
    """Value per customer by tier: incremental value (vs no contact) and net value, 95% intervals."""
    arms = res.arm_names
    tiers = list(dict.fromkeys(res.tiers["tier"]))
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    width = 0.8 / max(len(arms), 1)
    for ax, col, title in ((axes[0], "incremental_value", "Incremental value per customer vs no contact"),
                           (axes[1], "net_value", "Net value per customer (margin minus marketing cost)")):
        for k, arm in enumerate(arms):
            means, errs = [], []
            for tier in tiers:
                vals = res.tiers[(res.tiers["arm"] == arm) & (res.tiers["tier"] == tier)][col]
                m, lo, hi = analysis.mean_ci(vals)
                means.append(m)
                errs.append(0 if math.isnan(lo) else (hi - lo) / 2)
            x = np.arange(len(tiers)) + (k - (len(arms) - 1) / 2) * width
            ax.bar(x, means, width, yerr=errs, capsize=3, color=COLORS[k % len(COLORS)], label=arm)
        ax.set_xticks(np.arange(len(tiers)), [f"{t} tier" for t in tiers])
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylabel("$ per customer")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=8)
    return _png(fig)


def fig_response(res: Results, key: str) -> str:
    """Each main outcome against one swept parameter: mean and 95% interval per arm, one
    line per strategy (and per value of the other swept parameters)."""
    outcomes = [o for o in OUTCOMES if o.shown in (TERMINAL, MAIN)]
    s = res.summary
    values = list(dict.fromkeys(v for v in s[key] if v is not None and v == v))
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    position = {v: (v if numeric else k) for k, v in enumerate(sorted(values) if numeric else values)}
    series: dict[str, list[int]] = {}
    swept = {a["name"]: a.get("swept") or {} for a in res.arms}
    for row, arm in enumerate(s["arm"]):
        base = next((a.get("base", a["name"]) for a in res.arms if a["name"] == arm), arm)
        others = " ".join(f"{k}={v}" for k, v in swept[arm].items() if k not in (key, "strategy"))
        series.setdefault(f"{base} {others}".strip(), []).append(row)
    ncols = min(len(outcomes), 5)
    fig, axes = plt.subplots(math.ceil(len(outcomes) / ncols), ncols, figsize=(3.4 * ncols, 2.9 * math.ceil(
        len(outcomes) / ncols)), squeeze=False)
    for ax, o in zip(axes.flat, outcomes):
        for k, (name, rows) in enumerate(series.items()):
            d = s.iloc[rows]
            d = d[d[key].isin(position)].assign(_x=lambda t: t[key].map(position)).sort_values("_x")
            scale = 100.0 if o.unit == "share" else 1.0
            mean, lo, hi = (d[c].to_numpy(dtype=float) * scale for c in (o.name, f"{o.name}_lo", f"{o.name}_hi"))
            err = np.vstack([np.where(np.isnan(lo), 0, mean - lo), np.where(np.isnan(hi), 0, hi - mean)])
            ax.errorbar(d["_x"], mean, yerr=err, color=COLORS[k % len(COLORS)], marker="o", ms=3, capsize=3,
                        lw=1.2, label=name)
        ax.set_title(f"{o.name} ({'%' if o.unit == 'share' else o.unit})", fontsize=9)
        ax.set_xlabel(key, fontsize=8)
        ax.grid(alpha=0.3)
        if o.unit == "$":
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _pos: money(x, compact=True)))
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values], fontsize=7)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    return _png(fig)


# --- HTML ---------------------------------------------------------------------------------
def _table(df: pd.DataFrame, first: list[str], outcomes: list, difference: bool = False) -> dict:
    """Header and cells (value, interval) of a table of outcomes, for the template."""
    rows = []
    for _, r in df.iterrows():
        cells = [{"value": r[c], "interval": ""} for c in first]
        for o in outcomes:
            lo, hi = r.get(f"{o.name}_lo", math.nan), r.get(f"{o.name}_hi", math.nan)
            interval = "" if pd.isna(lo) and pd.isna(hi) else \
                f"{show(lo, o.unit, difference)} to {show(hi, o.unit, difference)}"
            cells.append({"value": show(r[o.name], o.unit, difference), "interval": interval})
        rows.append(cells)
    return {"head": first + [o.name for o in outcomes], "rows": rows}


def _figures(res: Results) -> list[dict]:
    """The report's figures: title, base64 PNG and caption."""
    return [
        {"title": "When does it pay back? (the J-curve)", "png": fig_jcurve(res), "caption":
         "Cumulative profit the strategy added against the no-contact holdout (same customers, same random "
         "numbers), mean and 95% band over replications. Dotted lines: payback week, from which cumulative "
         "incremental profit stays at or above zero (the mean over runs when every run paid back, else the "
         "mean curve's)."},
        {"title": "Loyalty and relationship equity", "png": fig_panels(res, [
            ("trust", "Trust (CRM customers)", "0-1", 1, False),
            ("affinity", "Affinity (CRM customers)", "0-1", 1, False),
            ("retention", "Retention: customers ever ours still active", "%", 1, True),
            ("repurchase", "Repurchase with us (cumulative)", "%", 1, True),
            ("service_retention", "Service visits kept (cumulative)", "%", 1, True),
            ("promoter_share", "Promoters", "%", 1, True)], ncols=3)},
        {"title": "Lifecycle stage funnel", "png": fig_funnel(res),
         "caption": "Mean number of customers in each stage, week by week."},
        {"title": "Engagement", "png": fig_panels(res, [
            ("opens", "Contacts opened per week (4-week mean)", "opens", 4, False),
            ("visits", "Website visits per week (4-week mean)", "visits", 4, False),
            ("event_attendance", "Event attendance per week (4-week mean)", "attendees", 4, False)], ncols=3)},
        {"title": "Fatigue and unsubscribes", "png": fig_panels(res, [
            ("fatigue", "Mean fatigue (CRM customers)", "0-1", 1, False),
            ("unsubscribe_rate", "Unsubscribed (cumulative, of opted in at start)", "%", 1, True),
            ("opted_in", "Opted in (share of CRM)", "%", 1, True)], ncols=3)},
        {"title": "Value per customer tier", "png": fig_tiers(res),
         "caption": "Mean over customers of each tier, with 95% intervals over replications. Heavy = top spenders."},
    ] + [{"title": f"Outcomes against {key}", "png": fig_response(res, key),
          "caption": f"Each outcome at the horizon against the swept {key}: mean and 95% interval over "
                     f"replications, one line per arm."}
         for key in res.swept if key != "strategy" and res.summary[key].nunique() > 1]


def render(res: Results, info: dict) -> str:
    """The report as one HTML string (``templates/report.html``, shipped in the package)."""
    with plt.rc_context({"text.parse_math": False}):  # "$" in labels is a dollar, not math
        figures = _figures(res)
    main = [o for o in OUTCOMES if o.shown in (TERMINAL, MAIN)]
    other = [o for o in OUTCOMES if o.shown == MORE]
    arms = [{"name": a["name"], "strategy": a.get("strategy", ""), "description": a.get("description", ""),
             "params": ", ".join(f"{k}={v}" for k, v in (a.get("params") or {}).items())} for a in res.arms]
    market = ", ".join(f"{k} = {v:,}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k} = {v}"
                       for k, v in res.market.items())
    return _template().render(
        res=res, info=info, span=analysis.horizon_words(res.horizon_weeks), arms=arms, market=market,
        verdict=analysis.verdict(res.summary, res.differences, res.comparisons, res.horizon_weeks),
        comparisons="; ".join(f"{a} against {b}" for a, b in res.comparisons),
        main=_table(res.summary, ["arm"], main), other=_table(res.summary, ["arm"], other),
        diffs=_table(res.differences, ["arm", "versus", "pairs"], [o for o in main if o.has_difference], True),
        figures=figures)


def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("sim", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html")


def write_report(res: Results, path: Path, info: dict) -> Path:
    """Render the report and write it atomically (temporary file, then rename)."""
    path = Path(path)
    config = path.parent / "config.yaml"
    info = {**info, "config_yaml": config.read_text() if config.is_file() else ""}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(res, info), encoding="utf-8")
    os.replace(tmp, path)
    return path
