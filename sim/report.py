"""A self-contained HTML report of an experiment, for a strategist.

It states the question, the arms, the market and the verdict in plain words (from the
numbers and their 95% intervals), then shows the figures (matplotlib, embedded as base64
PNG so that the file reads offline): the J-curve of cumulative incremental profit with
the payback week, ROI over time, loyalty and equity, the stage funnel, engagement,
fatigue and unsubscribes, and value per customer tier.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import analysis  # noqa: E402
from .state import STAGES  # noqa: E402

if TYPE_CHECKING:
    from .experiment import Results

COLORS = plt.get_cmap("tab10").colors


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _dollars(x: float, _pos=None) -> str:
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{'-' if x < 0 else ''}${abs(x) / scale:g}{suffix}"
    return f"{'-' if x < 0 else ''}${abs(x):g}"


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
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_dollars))


def fig_jcurve(res: "Results") -> str:
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
    late = analysis.bands(res.weekly[res.weekly["week"] >= max(4, res.horizon_weeks // 10)], "roi")
    lo, hi = np.nanmin(late[["lo", "mean"]].to_numpy()), np.nanmax(late[["hi", "mean"]].to_numpy())
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:  # the first weeks' ROI swings widely: keep the rest readable
        pad = 0.1 * (hi - lo)
        axes[1].set_ylim(min(lo - pad, -pad), max(hi + pad, pad))
    return _png(fig)


def fig_panels(res: "Results", panels: list[tuple[str, str, str, int, bool]], ncols: int = 2) -> str:
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


def fig_funnel(res: "Results") -> str:
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


def fig_tiers(res: "Results") -> str:
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


# --- HTML ---------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0} td,th{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f4f4f4} td:first-child,th:first-child{text-align:left} .verdict li{margin:.35em 0}
.muted{color:#666;font-size:.85em} img{max-width:100%} pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.8em}
table.text td{text-align:left} .question{font-size:1.1em;background:#f3f7fb;border-left:4px solid #4a7fb5;padding:.5em .8em}
"""

KINDS = {"roi": "f2", "profit": "money", "payback_week": "int", "retention": "pct", "repurchase": "pct",
         "service_retention": "pct", "trust": "f3", "affinity": "f3", "unsubscribe_rate": "pct", "referrals": "int",
         "fatigue": "f3", "promoter_share": "pct", "detractor_share": "pct", "sales": "int", "cost": "money",
         "total_profit": "money"}


def _fmt(name: str, v: float, sign: bool = False) -> str:
    """A metric value as text; ``sign`` shows + on positive values (for differences)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "&ndash;"
    kind = KINDS.get(name, "g")
    p = "+" if sign else ""
    if kind == "money":
        return analysis.money(v, sign)
    if kind == "pct":
        return f"{v:{p}.1%}"
    if kind == "int":
        return f"{v:{p},.0f}"
    if kind == "f2":
        return f"{v:{p}.2f}"
    if kind == "f3":
        return f"{v:{p}.3f}"
    return f"{v:{p}.3g}"


def _metric_table(df: pd.DataFrame, first: list[str], metrics: list[str], sign: bool = False) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in first + metrics)
    rows = []
    for _, r in df.iterrows():
        cells = [f"<td>{html.escape(str(r[c]))}</td>" for c in first]
        for m in metrics:
            lo, hi = r.get(f"{m}_lo", math.nan), r.get(f"{m}_hi", math.nan)
            ci = "" if (lo is None or math.isnan(lo)) and (hi is None or math.isnan(hi)) else \
                f"<br><span class='muted'>{_fmt(m, lo, sign)} to {_fmt(m, hi, sign)}</span>"
            cells.append(f"<td>{_fmt(m, r[m], sign)}{ci}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def render(res: "Results", info: dict) -> str:
    """The report as one HTML string."""
    with plt.rc_context({"text.parse_math": False}):  # "$" in labels is a dollar, not math
        return _render(res, info)


def _render(res: "Results", info: dict) -> str:
    e = html.escape
    span = analysis.horizon_words(res.horizon_weeks)
    verdict = analysis.verdict(res.summary, res.differences, res.comparisons, res.horizon_weeks)
    arms_rows = "".join(
        f"<tr><td>{e(a['name'])}</td><td>{e(str(a.get('strategy', '')))}</td><td>{e(a.get('description', ''))}</td>"
        f"<td>{e(', '.join(f'{k}={v}' for k, v in (a.get('params') or {}).items()) or '')}</td></tr>"
        for a in res.arms)
    market = ", ".join(f"{k} = {v:,}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k} = {v}"
                       for k, v in res.market.items())
    figures = [
        ("When does it pay back? (the J-curve)", fig_jcurve(res),
         "Cumulative profit the strategy added against the no-contact holdout (same customers, same random "
         "numbers), mean and 95% band over replications. Dotted lines: payback week, from which cumulative "
         "incremental profit stays at or above zero (the mean over runs when every run paid back, else the "
         "mean curve's)."),
        ("Loyalty and relationship equity", fig_panels(res, [
            ("trust", "Trust (CRM customers)", "0-1", 1, False),
            ("affinity", "Affinity (CRM customers)", "0-1", 1, False),
            ("retention", "Retention: customers ever ours still active", "%", 1, True),
            ("repurchase", "Repurchase with us (cumulative)", "%", 1, True),
            ("service_retention", "Service visits kept (cumulative)", "%", 1, True),
            ("promoter_share", "Promoters", "%", 1, True)], ncols=3), ""),
        ("Lifecycle stage funnel", fig_funnel(res), "Mean number of customers in each stage, week by week."),
        ("Engagement", fig_panels(res, [
            ("opens", "Contacts opened per week (4-week mean)", "opens", 4, False),
            ("visits", "Website visits per week (4-week mean)", "visits", 4, False),
            ("event_attendance", "Event attendance per week (4-week mean)", "attendees", 4, False)], ncols=3), ""),
        ("Fatigue and unsubscribes", fig_panels(res, [
            ("fatigue", "Mean fatigue (CRM customers)", "0-1", 1, False),
            ("unsubscribe_rate", "Unsubscribed (cumulative, of opted in at start)", "%", 1, True),
            ("opted_in", "Opted in (share of CRM)", "%", 1, True)], ncols=3), ""),
        ("Value per customer tier", fig_tiers(res),
         "Mean over customers of each tier, with 95% intervals over replications. Heavy = top spenders."),
    ]
    figs_html = "".join(f"<h2>{e(t)}</h2><img alt='{e(t)}' src='data:image/png;base64,{b}'>"
                        + (f"<p class='muted'>{e(c)}</p>" if c else "") for t, b, c in figures)
    metrics = list(analysis.METRIC_NAMES)
    main_metrics = ["profit", "roi", "payback_week", "retention", "repurchase", "service_retention", "trust",
                    "affinity", "unsubscribe_rate", "referrals"]
    other = [m for m in metrics if m not in main_metrics]
    diffs = res.differences
    config = info.get("config_yaml", "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Rapport: {e(res.name)}</title><style>{CSS}</style></head><body>
<h1>Rapport: {e(res.name)}</h1>
<p class="question">{e(res.question or 'Which strategy pays, when does it pay back, and what does it do to loyalty?')}</p>
<p class="muted">{len(res.arms)} arm(s), {len(res.seeds)} replication(s) each (seeds {res.seeds[0] if res.seeds else ''}
to {res.seeds[-1] if res.seeds else ''}, the same for every arm), {span} ({res.horizon_weeks} weeks).
Every arm is measured against a no-contact holdout run in lockstep on the same customers with the same random
numbers. Intervals are 95% confidence intervals over replications.</p>
<h2>Verdict</h2>
<ul class="verdict">{''.join(f'<li>{e(v)}</li>' for v in verdict)}</ul>
<h2>Arms</h2>
<table class="text"><tr><th>arm</th><th>strategy</th><th>what it does</th><th>parameter overrides</th></tr>{arms_rows}</table>
<p>Main comparisons: {e('; '.join(f'{a} against {b}' for a, b in res.comparisons)) or 'none (one arm)'}.</p>
<h2>Market</h2><p>{e(market) if market else 'The arms run in different markets (see arm labels).'}</p>
<h2>Summary: one row per arm</h2>
<p class="muted">Mean over replications, 95% interval below. profit and roi are incremental against the
holdout. payback_week: when every run paid back, the mean of the runs' payback weeks;
otherwise the week the mean curve pays back (no interval; see payback_share).</p>
{_metric_table(res.summary, ['arm'], main_metrics)}
{_metric_table(res.summary, ['arm'], other)}
<h2>Paired differences (arm minus versus, same seeds)</h2>
{_metric_table(diffs, ['arm', 'versus', 'pairs'], [m for m in main_metrics if m != 'payback_week'], sign=True)
 if len(diffs) else '<p>Only one arm: no differences.</p>'}
{figs_html}
<h2>About this run</h2>
<ul class="muted">{''.join(f'<li>{e(n)}</li>' for n in res.notes)}
<li>rapport {e(str(info.get('rapport_version')))}, git commit {e(str(info.get('commit')))}
{'(with uncommitted changes)' if info.get('dirty') else ''}, started {e(str(info.get('started')))} UTC,
{e(str(info.get('seconds')))} s.</li></ul>
{f'<details><summary>Resolved configuration</summary><pre>{e(config)}</pre></details>' if config else ''}
</body></html>
"""


def write_report(res: "Results", path: Path, info: dict) -> Path:
    """Render the report and write it atomically (temporary file, then rename)."""
    path = Path(path)
    config = path.parent / "config.yaml"
    info = {**info, "config_yaml": config.read_text() if config.is_file() else ""}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(res, info), encoding="utf-8")
    os.replace(tmp, path)
    return path
