"""The dashboard's charts: Vega-Lite specs drawn in the browser, fed week by week.

The charts are drawn by Vega in the browser (``ChartBoard``, a Vue widget). The server
sends each chart's specification once, then, every week, only the rows of the weeks the
browser has not drawn yet; the browser appends them to its data (``view.change``) and
redraws locally, then reports the week it has drawn (``drawn``), so that Play never runs
ahead of what the class sees. Vega and Vega-Lite are loaded from Solara's local assets
(``solara-assets``, exact versions), never from the network.

Series rows are ``{"week", "series", "value"}`` (plus ``"lo"``/``"hi"`` for spread bands and
``"rank"`` for the stage order); every chart over time has "week" on its x axis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import ipyvuetify as v
import numpy as np
import pandas as pd
import traitlets

from .app_logic import STAGE_COLOURS, VEGA, VEGA_LITE, payback_week
from .state import STAGES

HEIGHT = 190  # px per chart: two rows of charts and the lesson fit a 1280 x 720 screen

RELATIONSHIP = ("trust", "affinity", "fatigue")
ENGAGEMENT = {"opens": "opens", "visits": "website visits", "event_attendance": "event guests",
              "unsubscribes": "unsubscribes"}
COLOURS = {"trust": "#0072B2", "affinity": "#009E73", "fatigue": "#D55E00", "opens": "#0072B2",
           "website visits": "#E69F00", "event guests": "#009E73", "unsubscribes": "#D55E00"}
CONFIG = {
    "font": "Roboto, Helvetica, Arial, sans-serif",
    "axis": {"labelFontSize": 13, "titleFontSize": 14, "titleFontWeight": "normal", "gridOpacity": 0.35},
    "legend": {"labelFontSize": 13, "orient": "top", "title": None, "symbolStrokeWidth": 3, "padding": 0},
    "line": {"strokeWidth": 2.5},
    "view": {"stroke": None},
}
WEEK = {"field": "week", "type": "quantitative", "title": "week",
        "axis": {"tickMinStep": 1, "format": "d"}, "scale": {"nice": False}}


def _colour(names: Sequence[str]) -> dict:
    return {"field": "series", "type": "nominal", "sort": list(names),
            "scale": {"domain": list(names), "range": [COLOURS.get(n, STAGE_COLOURS.get(n)) for n in names]}}


def _zero_rule() -> dict:
    return {"data": {"values": [{"zero": 0}]}, "mark": {"type": "rule", "color": "#333333"},
            "encoding": {"y": {"field": "zero", "type": "quantitative"}}}


def _spec(name: str, layers: list[dict], data: Sequence[str] = ("series",)) -> dict:
    """One chart: its name, the datasets the browser feeds, and its Vega-Lite spec."""
    return {"name": name, "data": list(data), "vl": {
        "width": "container", "height": HEIGHT, "autosize": {"type": "fit-x", "contains": "padding", "resize": True},
        "data": {"name": data[0]}, "layer": layers, "config": CONFIG}}


def chart_specs() -> list[dict]:
    """The charts in screen order (the first four are above the fold at 1280 x 720)."""
    profit = _spec("profit", [
        _zero_rule(),
        {"mark": {"type": "area", "color": "#D55E00", "opacity": 0.25},
         "transform": [{"calculate": "min(datum.value, 0)", "as": "red"}],
         "encoding": {"x": WEEK, "y": {"field": "red", "type": "quantitative"}}},
        {"mark": {"type": "line", "color": "#0072B2"},
         "encoding": {"x": WEEK, "y": {"field": "value", "type": "quantitative", "title": "$ thousand"}}},
        {"data": {"name": "payback"}, "mark": {"type": "rule", "color": "#009E73", "strokeDash": [6, 4],
                                               "strokeWidth": 2},
         "encoding": {"x": WEEK}},
    ], data=("series", "payback"))
    relationship = _spec("relationship", [
        {"mark": {"type": "area", "opacity": 0.15},
         "encoding": {"x": WEEK, "y": {"field": "lo", "type": "quantitative"}, "y2": {"field": "hi"},
                      "color": _colour(RELATIONSHIP)}},
        {"mark": "line", "encoding": {
            "x": WEEK, "y": {"field": "value", "type": "quantitative", "title": "0 to 1",
                             "scale": {"domain": [0, 1]}},
            "color": _colour(RELATIONSHIP)}},
    ])
    funnel = _spec("funnel", [
        {"mark": {"type": "area", "opacity": 0.9}, "encoding": {
            "x": WEEK, "y": {"field": "value", "type": "quantitative", "stack": "zero", "title": "customers"},
            "color": {**_colour(STAGES), "legend": {"orient": "right"}},
            "order": {"field": "rank", "type": "quantitative"}}},
    ])
    engagement = _spec("engagement", [
        {"mark": "line", "encoding": {
            "x": WEEK, "y": {"field": "value", "type": "quantitative", "title": "per week (log)",
                             "scale": {"type": "symlog"},
                             "axis": {"values": [0, 1, 10, 100, 1000, 10000, 100000], "format": "~s"}},
            "color": _colour(list(ENGAGEMENT.values()))}},
    ])
    roi = _spec("roi", [
        _zero_rule(),
        {"mark": {"type": "line", "color": "#CC79A7"},
         "encoding": {"x": WEEK, "y": {"field": "value", "type": "quantitative", "title": "$ per $ spent"}}},
    ])
    none = {"axis": None, "scale": {"domain": [-0.03, 1.03]}}
    network = _spec("network", [
        {"data": {"name": "edges"}, "mark": {"type": "rule", "color": "#999999", "opacity": 0.6, "strokeWidth": 0.8},
         "encoding": {"x": {"field": "x", "type": "quantitative", **none},
                      "y": {"field": "y", "type": "quantitative", **none},
                      "x2": {"field": "x2"}, "y2": {"field": "y2"}}},
        {"mark": {"type": "circle", "size": 60, "opacity": 1, "stroke": "white", "strokeWidth": 0.6},
         "encoding": {"x": {"field": "x", "type": "quantitative", **none},
                      "y": {"field": "y", "type": "quantitative", **none},
                      "color": {"field": "stage", "type": "nominal", "sort": list(STAGES),
                                "scale": {"domain": list(STAGES), "range": [STAGE_COLOURS[s] for s in STAGES]},
                                "legend": {"orient": "right"}}}},
    ], data=("nodes", "edges"))
    return [profit, relationship, funnel, engagement, roi, network]


def _num(x: float, digits: int = 4) -> float | None:
    """A JSON-safe number: None for NaN or infinity (Vega leaves a gap)."""
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def series_rows(frame: pd.DataFrame, spread: Mapping[int, dict], after: int) -> dict[str, list[dict]]:
    """Rows of each chart over time for the weeks after week ``after``.

    Args:
        frame: ``RelationshipModel.metrics()``.
        spread: Week -> {"trust": (p10, p90), ...} of CRM customers (``spread_row``).
        after: Last week the browser has drawn (0 for none).
    """
    new = frame[frame["week"] > after]
    col = {name: new[name].to_numpy() for name in ("week", "incremental_profit", "roi", *RELATIONSHIP, *ENGAGEMENT,
                                                   *(f"stage_{s}" for s in STAGES))}
    out: dict[str, list[dict]] = {"profit": [], "roi": [], "relationship": [], "funnel": [], "engagement": []}
    for i, week in enumerate(col["week"].tolist()):
        out["profit"].append({"week": week, "series": "incremental profit",
                              "value": _num(col["incremental_profit"][i] / 1e3)})
        out["roi"].append({"week": week, "series": "ROI", "value": _num(col["roi"][i])})
        bands = spread.get(week, {})
        for name in RELATIONSHIP:
            lo, hi = bands.get(name, (math.nan, math.nan))
            out["relationship"].append({"week": week, "series": name, "value": _num(col[name][i]),
                                        "lo": _num(lo), "hi": _num(hi)})
        for rank, stage in enumerate(STAGES):
            out["funnel"].append({"week": week, "series": stage, "rank": rank,
                                  "value": int(col[f"stage_{stage}"][i])})
        for column, label in ENGAGEMENT.items():
            out["engagement"].append({"week": week, "series": label, "value": _num(col[column][i])})
    return out


def spread_row(pop) -> dict[str, tuple[float, float]]:
    """10th and 90th percentiles of trust, affinity and fatigue over CRM customers this week."""
    known = pop.known
    if not known.any():
        return {}
    return {name: tuple(np.percentile(getattr(pop, name)[known], [10, 90]).tolist()) for name in RELATIONSHIP}


def _money(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    sign, x = ("-" if x < 0 else ""), abs(x)
    if x >= 1e6:
        return f"{sign}${x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{sign}${x / 1e3:.0f}k"
    return f"{sign}${x:.0f}"


def titles(frame: pd.DataFrame, stages_now: Mapping[str, int], network_size: int) -> dict[str, str]:
    """Each chart's title with this week's figures."""
    if not len(frame):
        return {"profit": "Incremental profit vs holdout: press Step or ▶", "roi": "Incremental ROI",
                "relationship": "Trust, affinity, fatigue (mean, band: 10-90 %)",
                "funnel": "Customers per stage", "engagement": "Engagement and unsubscribes per week",
                "network": f"{network_size} customers and their ties, by stage"}
    last = frame.iloc[-1]
    week = payback_week(frame["week"].to_numpy(), frame["incremental_profit"].to_numpy())
    payback = f" · payback week {week}" if week is not None and (frame["incremental_profit"] < 0).any() else ""
    roi = last["roi"]
    return {
        "profit": f"Incremental profit vs holdout {_money(last['incremental_profit'])}{payback}",
        "roi": f"Incremental ROI {roi:.2f} $ per $ spent" if math.isfinite(roi) else "Incremental ROI",
        "relationship": "Trust, affinity, fatigue (mean, band: 10-90 %)",
        "funnel": "Customers per stage · " + ", ".join(f"{s} {stages_now[s]:,}" for s in ("connection", "loyalty")),
        "engagement": f"Engagement per week · {int(last['unsubscribes'])} unsubscribed this week",
        "network": f"{network_size} customers and their ties, by stage",
    }


def payback_rows(frame: pd.DataFrame) -> list[dict]:
    """The payback week as a one-row dataset (empty while not paid back or never in the red)."""
    if not len(frame) or not (frame["incremental_profit"] < 0).any():
        return []
    week = payback_week(frame["week"].to_numpy(), frame["incremental_profit"].to_numpy())
    return [] if week is None else [{"week": week}]


TEMPLATE = """
<template>
  <div class="rapport-board" :data-week="shownWeek" :data-epoch="shownEpoch">
    <div v-for="name in names" :key="name" class="rapport-chart" :data-chart="name">
      <div class="rapport-chart-title">{{ titles[name] || '' }}</div>
      <div class="rapport-chart-body"></div>
    </div>
  </div>
</template>
<script>
module.exports = {
  data() { return { titles: {}, shownWeek: -1, shownEpoch: -1 }; },
  mounted() {
    this.views = null;
    this.busy = false;
    this.pending = this.update;
    this.charts = JSON.parse(this.specs);
    this.build().then(() => this.drain()).catch(e => console.error('rapport charts:', e));
  },
  beforeDestroy() { (this.views || []).forEach(view => view.finalize()); },
  computed: { names() { return JSON.parse(this.specs).map(spec => spec.name); } },
  watch: { update(u) { this.pending = u; this.drain(); } },
  methods: {
    load() {
      const cdn = (window.solara && window.solara.cdn) || '_solara/cdn';
      window.requirejs.config({map: {'*': {'vega': `${cdn}/VEGA`, 'vega-lite': `${cdn}/VEGA_LITE`}}});
      return new Promise((resolve, reject) => window.requirejs(['vega', 'vega-lite'], (vega, vl) => resolve([vega, vl]), reject));
    },
    async build() {
      const [vega, vl] = await this.load();
      this.vega = vega;
      const bodies = this.$el.querySelectorAll('.rapport-chart-body');
      const views = [];
      for (let i = 0; i < this.charts.length; i++) {
        const spec = vl.compile(this.charts[i].vl).spec;
        const view = new vega.View(vega.parse(spec), {renderer: 'svg', container: bodies[i], hover: false});
        await view.runAsync();
        views.push(view);
      }
      this.views = views;
    },
    async drain() {
      if (this.busy || !this.views) return;
      this.busy = true;
      try {
        while (this.pending) {
          const u = JSON.parse(this.pending);
          this.pending = null;
          await this.draw(u);
        }
      } catch (e) {
        console.error('rapport charts:', e);
      } finally {
        this.busy = false;
      }
    },
    async draw(u) {
      const vega = this.vega, fresh = u.epoch !== this.shownEpoch, after = fresh ? -1 : this.shownWeek;
      if (fresh && !u.full) {  // a new board (e.g. after a reconnect): ask for the whole history
        this.drawn({epoch: -1, week: -1});
        return;
      }
      if (!fresh && u.week < this.shownWeek) return;  // an older update arriving late
      const copy = rows => rows.map(r => Object.assign({}, r));
      this.views.forEach((view, i) => {
        const spec = this.charts[i];
        for (const name of spec.data) {
          if (name === 'series') {
            const rows = copy((u.series[spec.name] || []).filter(r => r.week > after));
            if (fresh) view.data('series', rows);
            else if (rows.length) view.change('series', vega.changeset().insert(rows));
          } else if (name !== 'edges' || fresh) {
            view.data(name, copy(u[name] || []));
          }
        }
      });
      await Promise.all(this.views.map(view => view.runAsync()));
      this.titles = u.titles || {};
      this.shownEpoch = u.epoch;
      this.shownWeek = u.week;
      this.drawn({epoch: u.epoch, week: u.week});
    },
  },
};
</script>
""".replace("VEGA_LITE", VEGA_LITE).replace("VEGA", VEGA)


class ChartBoard(v.VuetifyTemplate):
    """The charts, drawn by Vega in the browser; ``update`` carries the weeks not drawn yet.

    Traits (JSON text: the framework would otherwise walk every row on each render):
        specs: ``chart_specs()``, sent once.
        update: ``{"epoch", "week", "series": {chart: rows}, "nodes", "edges", "payback", "titles"}``.
        drawn_callback: Called with ``{"epoch", "week"}`` once the browser has drawn an update.
    """

    template = traitlets.Unicode(TEMPLATE).tag(sync=True)
    specs = traitlets.Unicode("[]").tag(sync=True)
    update = traitlets.Unicode("").tag(sync=True)
    drawn_callback = traitlets.Callable(None, allow_none=True)

    def vue_drawn(self, data) -> None:
        if self.drawn_callback is not None:
            self.drawn_callback(data)
