"""A self-contained HTML report of an experiment, for a strategist.

It states the question, the arms, the market and the verdict in plain words (from the
numbers and their 95% intervals): first one sentence per comparison (``sim.words``), then
the switch (``sim.switch``: dip, break-even, gains), then the figures (matplotlib,
embedded as base64 PNG so that the file reads offline): the switch's paired gap, the
J-curve of cumulative incremental profit with the payback week, ROI over time, loyalty
and equity, the stage funnel, engagement, fatigue and unsubscribes, and value per
customer tier. Figures are readable when printed: at most the page's column wide, texts
at least 11 px, legends outside the axes, no line cut off by its axes; wide tables scroll.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import analysis, switch, words  # noqa: E402
from .metrics import MAIN, MORE, OUTCOMES, TERMINAL, money, show  # noqa: E402
from .resources import template  # noqa: E402
from .results import Results, write_text_atomically  # noqa: E402
from .state import STAGES  # noqa: E402

COLORS = plt.get_cmap("tab10").colors
# Figures are shown at their size in CSS pixels (96 per inch), never wider than the page's
# column (1180 px less padding), so that printed or read at 1400 px every text is at least
# MIN_TEXT_PX tall; they are drawn at twice that resolution for sharpness.
COLUMN_PX = 1140
MAX_WIDTH_IN = COLUMN_PX / 96
MIN_TEXT_PX = 11
STYLE = {"text.parse_math": False,  # "$" in labels is a dollar, not math
         "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9,
         "ytick.labelsize": 9, "legend.fontsize": 9, "figure.dpi": 96}


def figure(ncols: int, nrows: int, width: float, height: float, **kw):
    """A figure of ``nrows`` x ``ncols`` axes, ``width`` x ``height`` inches per panel, at
    most the page's column wide; legends go outside the axes (``legend``)."""
    size = (min(width * ncols, MAX_WIDTH_IN), height * nrows)
    return plt.subplots(nrows, ncols, figsize=size, squeeze=False, layout="constrained", **kw)


def legend(fig, ax, where: str = "outside upper center") -> None:
    """The arms' legend above the figure, outside every axes, so that it covers no data."""
    handles, names = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc=where, ncols=min(len(names), 6), frameon=False)


def smallest_text_px(fig) -> float:
    """The smallest visible text of ``fig`` in CSS pixels, as the report shows it."""
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]
    return min(sizes, default=math.inf) * 96 / 72


def lines_outside(fig) -> int:
    """How many lines drawn in data coordinates have points outside their axes' limits
    (a line cut off by the axes misleads; tests keep this at 0)."""
    out = 0
    for ax in fig.axes:
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        for line in ax.get_lines():
            if line.get_transform() != ax.transData:
                continue
            x, y = (np.asarray(v, dtype=float) for v in line.get_data())
            ok = np.isfinite(x) & np.isfinite(y)
            out += bool(((x[ok] < x0) | (x[ok] > x1) | (y[ok] < y0) | (y[ok] > y1)).any())
    return out


def _png(fig) -> dict:
    """The figure as base64 PNG, the width it is shown at, and what makes it readable: its
    smallest text in px, legends inside axes (0: all outside), lines cut off (0)."""
    buf = io.BytesIO()
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(buf, format="png", dpi=192)
    checks = {"width": round(fig.get_figwidth() * 96), "text_px": smallest_text_px(fig),
              "legends_in_axes": sum(ax.get_legend() is not None for ax in fig.axes), "lines_outside": lines_outside(fig)}
    plt.close(fig)
    return {"data": base64.b64encode(buf.getvalue()).decode("ascii"), **checks}


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
    ax.set_title(title)
    ax.set_xlabel("week")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.margins(x=0)
    if ylabel == "$":
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _pos: money(x, compact=True)))


def fig_jcurve(res: Results) -> dict:
    """Cumulative incremental profit (the J-curve, payback marked) and ROI over time.

    The first weeks' ROI swings widely (little cost yet): the ROI panel starts later, so
    that its lines stay inside the axes and the rest is readable."""
    arms = res.arm_names
    fig, axes = figure(2, 1, 6, 4.2)
    axes = axes[0]
    _band_plot(axes[0], res.weekly, "incremental_profit", arms, "Cumulative incremental profit vs no contact",
               "$")
    axes[0].axhline(0, color="black", lw=0.8)
    s = res.summary.set_index("arm")
    for k, arm in enumerate(arms):
        pb = s.loc[arm, "payback_week"] if arm in s.index else math.nan
        if not math.isnan(pb):
            color = COLORS[k % len(COLORS)]
            axes[0].axvline(pb, color=color, ls=":", lw=1.2, label=f"payback, {arm}: week {pb:.0f}")
    legend(fig, axes[0])
    start = min(max(4, res.horizon_weeks // 10), res.horizon_weeks)  # a horizon under 4 weeks keeps its last week
    _band_plot(axes[1], res.weekly[res.weekly["week"] >= start], "roi", arms,
               f"Cumulative incremental ROI ($ per $), from week {start}", "$/$")
    axes[1].axhline(0, color="black", lw=0.8)
    return _png(fig)


def fig_switch(res: Results) -> dict:
    """The paired gap in cumulative profit of each comparison (arm minus versus), mean and
    95% band over common seeds, with its dip and break-even week marked."""
    fig, axes = figure(1, 1, MAX_WIDTH_IN, 4.2)
    ax = axes[0][0]
    rows = res.switch.set_index(["arm", "versus"]) if res.switch is not None else None
    for k, (arm, versus) in enumerate(res.comparisons):
        gap = switch.paired_gap(res.weekly, arm, versus)
        if gap.shape[1] == 0:
            continue
        color = COLORS[k % len(COLORS)]
        stats = np.array([analysis.mean_ci(gap.loc[w]) for w in gap.index])  # mean, lo, hi per week
        ax.plot(gap.index, stats[:, 0], color=color, lw=1.8, label=f"{arm} minus {versus}")
        if gap.shape[1] > 1:
            ax.fill_between(gap.index, stats[:, 1], stats[:, 2], color=color, alpha=0.2, lw=0)
        row = rows.loc[(arm, versus)]
        if not math.isnan(row["dip"]):
            ax.plot([row["dip_week"]], [row["dip"]], "v", color=color, ms=8,
                    label=f"lowest: {money(row['dip'])} in week {row['dip_week']:.0f}")
        if not math.isnan(row["break_even"]) and row["break_even"] > gap.index[0]:
            ax.axvline(row["break_even"], color=color, ls=":", lw=1.2,
                       label=f"break-even: week {row['break_even']:.0f}")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title("Cumulative profit against the comparison arm (same customers, same random numbers)")
    ax.set_xlabel("week")
    ax.set_ylabel("$")
    ax.margins(x=0)
    ax.grid(alpha=0.3)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _pos: money(x, compact=True)))
    legend(fig, ax)
    return _png(fig)


def fig_panels(res: Results, panels: list[tuple[str, str, str, int, bool]], ncols: int = 2) -> dict:
    """Small multiples of weekly metrics with 95% bands: (column, title, ylabel, rolling, percent)."""
    n = len(panels)
    nrows = math.ceil(n / ncols)
    fig, axes = figure(ncols, nrows, 6, 3.4)
    for ax, (col, title, ylabel, rolling, percent) in zip(axes.flat, panels):
        _band_plot(ax, res.weekly, col, res.arm_names, title, ylabel, rolling, percent)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    legend(fig, axes.flat[0])
    return _png(fig)


def fig_funnel(res: Results) -> dict:
    """The lifecycle funnel: customers per stage over time (one panel per arm), and at the
    end of the horizon for all arms side by side (log scale, so that small stages show)."""
    arms = res.arm_names
    ncols = min(len(arms), 2) + 1  # at most three panels side by side: each stays readable
    nrows = math.ceil(len(arms) / (ncols - 1))
    fig, axes = figure(ncols, nrows, 4.6, 3.4)
    cols = [f"stage_{s}" for s in STAGES]
    stage_colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.9, len(STAGES)))
    panels = [ax for row in axes for ax in row[:-1]]
    for ax, arm in zip(panels, arms):
        m = res.weekly[res.weekly["arm"] == arm].groupby("week")[cols].mean()
        ax.stackplot(m.index, m.T.to_numpy(), labels=STAGES, colors=stage_colors, alpha=0.9)
        ax.set_title(arm)
        ax.set_xlabel("week")
        ax.set_ylabel("customers")
        ax.margins(x=0)
    for ax in panels[len(arms):] + [row[-1] for row in axes[1:]]:
        ax.set_visible(False)
    legend(fig, panels[0], "outside lower center")
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
    legend(fig, ax)
    ax.set_xlabel("customers (log scale)")
    ax.set_title("Stages at the end (mean)")
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)


def fig_tiers(res: Results) -> dict:
    """Value per customer by tier: incremental value (vs no contact) and net value, 95% intervals."""
    arms = res.arm_names
    tiers = list(dict.fromkeys(res.tiers["tier"]))
    fig, axes = figure(2, 1, 6, 3.8)
    axes = axes[0]
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
        ax.set_title(title)
        ax.grid(alpha=0.3, axis="y")
    legend(fig, axes[0])
    return _png(fig)


def fig_response(res: Results, key: str) -> dict:
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
    fig, axes = figure(ncols, math.ceil(len(outcomes) / ncols), 3.4, 2.9)
    for ax, o in zip(axes.flat, outcomes):
        for k, (name, rows) in enumerate(series.items()):
            d = s.iloc[rows]
            d = d[d[key].isin(position)].assign(_x=lambda t: t[key].map(position)).sort_values("_x")
            scale = 100.0 if o.unit == "share" else 1.0
            mean, lo, hi = (d[c].to_numpy(dtype=float) * scale for c in (o.name, f"{o.name}_lo", f"{o.name}_hi"))
            err = np.vstack([np.where(np.isnan(lo), 0, mean - lo), np.where(np.isnan(hi), 0, hi - mean)])
            ax.errorbar(d["_x"], mean, yerr=err, color=COLORS[k % len(COLORS)], marker="o", ms=3, capsize=3,
                        lw=1.2, label=name)
        ax.set_title(f"{o.name} ({'%' if o.unit == 'share' else o.unit})")
        ax.set_xlabel(key)
        ax.grid(alpha=0.3)
        if o.unit == "$":
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _pos: money(x, compact=True)))
        if not numeric:
            ax.set_xticks(range(len(values)), [str(v) for v in values], rotation=30)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.set_visible(False)
    legend(fig, axes.flat[0])
    return _png(fig)


FIGURES = {f.__name__: f for f in (fig_switch, fig_jcurve, fig_panels, fig_funnel, fig_tiers, fig_response)}


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
    """The report's figures: title, PNG (``_png``) and caption. They are drawn by
    ``draw_figure``, shared with a sweep's idle helper processes where there are any
    (``sim.launcher.spread``: the gathering of a sweep then draws them on every core)."""
    switched = [] if res.switch is None or not (res.switch["pairs"] > 0).any() else [
        ("The switch: what changing costs, and when it pays back", ("fig_switch",),
         "Cumulative profit of each arm minus its comparison arm, run by run on the same customers with the same "
         "random numbers; mean and 95% band. Triangle: the lowest point of the mean. Dotted line: break-even, "
         "the week after the last week the difference is below zero.")]
    figures = switched + [
        ("When does it pay back? (the J-curve)", ("fig_jcurve",),
         "Cumulative profit the strategy added against the no-contact holdout (same customers, same random "
         "numbers), mean and 95% band over replications. Dotted lines: payback week, from which cumulative "
         "incremental profit stays at or above zero (the mean over runs when every run paid back, else the "
         "mean curve's)."),
        ("Loyalty and relationship equity", ("fig_panels", [
            ("trust", "Trust (CRM customers)", "0-1", 1, False),
            ("affinity", "Affinity (CRM customers)", "0-1", 1, False),
            ("retention", "Retention: customers ever ours still active", "%", 1, True),
            ("repurchase", "Repurchase with us (cumulative)", "%", 1, True),
            ("service_retention", "Service visits kept (cumulative)", "%", 1, True),
            ("promoter_share", "Promoters", "%", 1, True)], 3), None),
        ("Lifecycle stage funnel", ("fig_funnel",), "Mean number of customers in each stage, week by week."),
        ("Engagement", ("fig_panels", [
            ("opens", "Contacts opened per week (4-week mean)", "opens", 4, False),
            ("visits", "Website visits per week (4-week mean)", "visits", 4, False),
            ("event_attendance", "Event attendance per week (4-week mean)", "attendees", 4, False)], 3), None),
        ("Fatigue and unsubscribes", ("fig_panels", [
            ("fatigue", "Mean fatigue (CRM customers)", "0-1", 1, False),
            ("unsubscribe_rate", "Unsubscribed (cumulative, of opted in at start)", "%", 1, True),
            ("opted_in", "Opted in (share of CRM)", "%", 1, True)], 3), None),
        ("Value per customer tier", ("fig_tiers",),
         "Mean over customers of each tier, with 95% intervals over replications. Heavy = top spenders."),
    ] + [(f"Outcomes against {key}", ("fig_response", key),
          f"Each outcome at the horizon against the swept {key}: mean and 95% interval over "
          f"replications, one line per arm.")
         for key in res.swept if key != "strategy" and res.summary[key].nunique() > 1]
    from .launcher import spread

    drawn = dataclasses.replace(res, customers=None)  # what the figures read, lighter to hand to a helper
    pngs = spread(draw_figure, [(drawn, how) for _, how, _ in figures])
    return [{"title": title, "png": png, **({"caption": caption} if caption else {})}
            for (title, _, caption), png in zip(figures, pngs)]


def draw_figure(task: tuple[Results, tuple]) -> dict:
    """One figure of the report: ``(res, (name, *arguments))`` -> ``name(res, *arguments)``,
    in the report's style."""
    res, (name, *arguments) = task
    with plt.rc_context(STYLE):
        return FIGURES[name](res, *arguments)


def switch_rows(res: Results) -> dict:
    """The switch table for the template: per comparison, the dip, break-even week and
    gains at 1, 3 and 5 years (those within the horizon) and at the horizon."""
    table = res.switch if res.switch is not None else pd.DataFrame()
    weeks = switch.gain_weeks(table) if len(table) else []
    head = ["comparison", "lowest point", "break-even week"] + [f"gain at {analysis.horizon_words(w)}" for w in weeks]
    rows = []
    for _, r in table[table["pairs"] > 0].iterrows() if len(table) else []:
        dip = "never below zero" if math.isnan(r["dip"]) else f"{money(r['dip'])} in week {r['dip_week']:.0f}"
        be = {"value": "never" if math.isnan(r["break_even"]) else f"{r['break_even']:.0f}",
              "interval": "" if math.isnan(r["break_even_lo"]) else
              f"{r['break_even_lo']:.0f} to {r['break_even_hi']:.0f}"}
        if 0 < r["break_even_share"] < 1:
            be["interval"] = f"{r['break_even_share']:.0%} of runs broke even; mean curve"
        cells = [{"value": f"{words.subject(res, r['arm'], r['versus'])}", "interval": ""},
                 {"value": dip, "interval": ""}, be]
        for w in weeks:
            lo, hi = r[f"gain_{w}_lo"], r[f"gain_{w}_hi"]
            cells.append({"value": money(r[f"gain_{w}"], True),
                          "interval": "" if math.isnan(lo) else f"{money(lo, True)} to {money(hi, True)}"})
        rows.append(cells)
    return {"head": head, "rows": rows}


def render(res: Results, info: dict) -> str:
    """The report as one HTML string (``templates/report.html``, shipped in the package)."""
    with plt.rc_context(STYLE):
        figures = _figures(res)
    main = [o for o in OUTCOMES if o.shown in (TERMINAL, MAIN)]
    other = [o for o in OUTCOMES if o.shown == MORE]
    arms = [{"name": a["name"], "strategy": a.get("strategy", ""), "label": a.get("label") or a["name"],
             "description": a.get("description", ""),
             "params": ", ".join(f"{k}={v}" for k, v in (a.get("params") or {}).items())} for a in res.arms]
    market = ", ".join(f"{k} = {v:,}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k} = {v}"
                       for k, v in res.market.items())
    return template("report.html").render(
        res=res, info=info, span=analysis.horizon_words(res.horizon_weeks), arms=arms, market=market,
        headline=res.headline, switch=switch_rows(res), current=res.current,
        verdict=analysis.verdict(res.summary, res.differences, res.comparisons, res.horizon_weeks),
        comparisons="; ".join(f"{a} against {b}" for a, b in res.comparisons),
        main=_table(res.summary, ["arm"], main), other=_table(res.summary, ["arm"], other),
        diffs=_table(res.differences, ["arm", "versus", "pairs"], [o for o in main if o.has_difference], True),
        figures=figures)


def write_report(res: Results, path: Path, info: dict) -> Path:
    """Render the report and write it atomically (temporary file, then rename)."""
    path = Path(path)
    config = path.parent / "config.yaml"
    info = {**info, "config_yaml": config.read_text() if config.is_file() else ""}
    return write_text_atomically(path, render(res, info))
