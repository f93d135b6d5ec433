"""The Rapport classroom dashboard: a Solara page built on Mesa's SolaraViz.

Started by ``rapport dashboard`` (see ``sim/app.py``), which runs
``solara run sim.app_page``. Mesa's SolaraViz gives the play / pause / step / reset
controls, the "Model Parameters" card (customers and seed, applied at Reset) and the
chart grid. The strategy and market controls are in a card of their own because they
apply live, from the next simulated week, so a trainer can change course mid-run.
"""

from __future__ import annotations

import logging
from html import escape
import math
import os
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import solara  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mesa.visualization import SolaraViz, make_plot_component  # noqa: E402
from mesa.visualization.utils import force_update, update_counter  # noqa: E402

from sim.app_logic import (  # noqa: E402
    DEFAULT_CUSTOMERS, DEFAULT_SEED, JOURNEYS, LESSONS, MARKET_CONTROLS, NETWORK_SAMPLE,
    STAGE_COLOURS, STRATEGY_CONTROLS, build_strategy, default_controls, lesson_controls,
    network_sample, parse_budget, parse_seed, payback_week, preset_controls, stage_counts,
)
from sim.model import RelationshipModel  # noqa: E402
from sim.params import ParameterError, validate  # noqa: E402
from sim.rules import Coefficients  # noqa: E402
from sim.state import STAGES  # noqa: E402
from sim.strategies import builtin_strategies, load_strategy  # noqa: E402

logging.getLogger("MESA").setLevel(logging.WARNING)

# Readable on a projector: large type, thick lines, no top/right frame.
matplotlib.rcParams.update({
    "font.size": 13, "axes.titlesize": 14, "axes.titleweight": "bold", "axes.labelsize": 13,
    "xtick.labelsize": 12, "ytick.labelsize": 12, "legend.fontsize": 11, "lines.linewidth": 2.4,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "legend.frameon": False, "figure.dpi": 100,
})
FIGSIZE = (5.6, 3.5)  # inches at 100 dpi: small enough that the text stays large once scaled
CUSTOMERS = int(os.environ.get("RAPPORT_DASHBOARD_CUSTOMERS", DEFAULT_CUSTOMERS))
MARKET_NAMES = tuple(c.name for c in MARKET_CONTROLS)
COLOURS = {"trust": "#0072B2", "affinity": "#009E73", "fatigue": "#D55E00",
           "opens": "#0072B2", "visits": "#E69F00", "event_attendance": "#009E73", "unsubscribes": "#D55E00"}


class MetricsCollector:
    """What Mesa's plot components read (``model.datacollector``): the weekly metrics by week."""

    def __init__(self, model: RelationshipModel):
        self.model = model

    def get_model_vars_dataframe(self):
        return self.model.frame().set_index("week")


class DashboardModel(RelationshipModel):
    """The relationship model driven by the dashboard's controls.

    Args:
        customers: Number of customers (applied at Reset).
        seed: Seed as typed in the dashboard; an invalid one falls back to 0 with a notice.
        controls: Control values (see ``sim.app_logic.CONTROLS``) as a mapping, or a
            Solara reactive holding one (so that Mesa's Reset picks up the current values).
    """

    def __init__(self, customers: int = DEFAULT_CUSTOMERS, seed: str = DEFAULT_SEED, controls=None):
        values = _controls_value(controls)
        self.notice = ""
        try:
            self.seed = parse_seed(seed)
        except ParameterError as err:
            self.seed = 0
            self.notice = f"{err}; used seed 0 instead."
        strategy, params = controls_to_model(values)
        super().__init__(customers=customers, strategy=strategy, rng=self.seed, holdout=True,
                         journeys=JOURNEYS, **params)
        self.controls = dict(values)
        self.network = network_sample(self.pop.ties, NETWORK_SAMPLE, seed=self.seed)
        self.start_counts = stage_counts(self.pop.stage)
        self.datacollector = MetricsCollector(self)
        self._frame, self._frame_week = None, -1

    def frame(self):
        """``metrics()`` computed once per week (several charts read it)."""
        if self._frame is None or self._frame_week != self.week:
            self._frame, self._frame_week = self.metrics(), self.week
        return self._frame

    def apply_controls(self, values: Mapping) -> None:
        """Use new control values from the next week on: strategy, budget and market."""
        strategy, params = controls_to_model(values)
        new_params = validate({**self.params, **params})
        self.policy = load_strategy(strategy)
        self.params = new_params
        self.coefficients = Coefficients(new_params)
        self.dealer.budget = new_params["budget"]
        self.dealer.strategy = self.policy.name
        self.controls = dict(values)


def _controls_value(controls) -> dict:
    if controls is None:
        return default_controls()
    if hasattr(controls, "value"):
        controls = controls.value
    return default_controls() | dict(controls)


def controls_to_model(values: Mapping) -> tuple[dict, dict]:
    """Control values -> (strategy mapping, model parameters)."""
    strategy = build_strategy(values["preset"], values["frequency"], values["value_share"],
                              values["targeting"], values["channel"])
    params = {name: values[name] for name in MARKET_NAMES}
    params["budget"] = parse_budget(values["budget"])
    return strategy, params


# --- per-session state (Solara scopes module-level reactives to each browser session) ---
controls = solara.reactive(default_controls())
lesson = solara.reactive("")
journey_pick = solara.reactive(0)
show_controls = solara.reactive(True)


# --- charts --------------------------------------------------------------------------
def _figure(rows: int = 1, cols: int = 1, margins: dict | None = None, **kw):
    """A figure with fixed margins (a layout engine would triple the drawing time per week)."""
    fig = Figure(figsize=FIGSIZE)
    axes = fig.subplots(rows, cols, **kw)
    fig.subplots_adjust(**{"left": 0.13, "right": 0.97, "bottom": 0.15, "top": 0.89, **(margins or {})})
    return fig, axes


def _show(fig) -> None:
    solara.FigureMatplotlib(fig, format="svg", dependencies=None)  # svg: crisp on a projector, as fast as png


def _week_axis(ax) -> None:
    ax.set_xlabel("week")
    ax.xaxis.get_major_locator().set_params(integer=True)


def _money(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e6:
        return f"{sign}\\${x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{sign}\\${x / 1e3:.0f}k"
    return f"{sign}\\${x:.0f}"


def draw_profit(model: DashboardModel) -> Figure:
    """The J-curve: cumulative incremental profit against the holdout, payback week, ROI."""
    df = model.frame()
    fig, (top, bottom) = _figure(2, 1, margins={"hspace": 0.55, "top": 0.91, "bottom": 0.13, "left": 0.14},
                                 sharex=True, height_ratios=[2, 1])
    if len(df):
        inc = df["incremental_profit"].to_numpy() / 1e3
        top.plot(df["week"], inc, color="#0072B2", label="incremental profit vs holdout")
        top.fill_between(df["week"], inc, 0, where=inc < 0, color="#D55E00", alpha=0.25, label="in the red")
        top.axhline(0, color="black", linewidth=1)
        week = payback_week(df["week"].to_numpy(), df["incremental_profit"].to_numpy())
        if week is not None and (df["incremental_profit"] < 0).any():
            top.axvline(week, color="#009E73", linestyle="--", linewidth=2)
            right_half = week > (df["week"].iloc[0] + df["week"].iloc[-1]) / 2
            top.annotate(f"payback week {week}", (week, 0), xytext=(-6 if right_half else 6, 8),
                         textcoords="offset points", ha="right" if right_half else "left",
                         color="#009E73", fontweight="bold")
        bottom.plot(df["week"], df["roi"], color="#CC79A7")
        bottom.axhline(0, color="black", linewidth=1)
        last = df.iloc[-1]
        top.set_title(f"Incremental profit {_money(last['incremental_profit'])}  ·  "
                      f"total profit {_money(last['cum_profit'])}")
        bottom.set_title(f"Incremental ROI {last['roi']:.2f} (\\$ per \\$ spent)", fontsize=13)
    else:
        top.set_title("Incremental profit vs holdout: press Step or ▶")
        bottom.set_title("Incremental ROI (\\$ per \\$ spent)", fontsize=13)
    top.set_ylabel("\\$ thousand")
    bottom.set_ylabel("\\$/\\$")
    _week_axis(bottom)
    return fig


@solara.component
def ProfitPanel(model: DashboardModel):
    """Mesa component: the J-curve: cumulative incremental profit against the holdout, payback week, ROI."""
    update_counter.get()
    _show(draw_profit(model))


def draw_relationship(model: DashboardModel) -> Figure:
    """Mean trust, affinity and fatigue of CRM customers, week by week."""
    df = model.frame()
    fig, ax = _figure(margins={"right": 0.78, "left": 0.12})
    for name in ("trust", "affinity", "fatigue"):
        ax.plot(df["week"], df[name], color=COLOURS[name], label=name)
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean over CRM customers")
    ax.set_title("Trust, affinity, fatigue")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    _week_axis(ax)
    return fig


@solara.component
def RelationshipPanel(model: DashboardModel):
    """Mesa component: mean trust, affinity and fatigue of CRM customers, week by week."""
    update_counter.get()
    _show(draw_relationship(model))


def draw_distributions(model: DashboardModel) -> Figure:
    """Histograms of trust, affinity and fatigue across CRM customers this week."""
    known = model.pop.known
    fig, axes = _figure(1, 3, margins={"top": 0.78, "wspace": 0.12, "bottom": 0.1, "right": 0.95}, sharey=True)
    bins = np.linspace(0, 1, 21)
    for ax, name in zip(axes, ("trust", "affinity", "fatigue")):
        values = getattr(model.pop, name)[known]
        counts, _ = np.histogram(values, bins=bins)
        ax.stairs(counts, bins, fill=True, color=COLOURS[name], alpha=0.85)  # one path: faster than bars
        ax.set_title(name)
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        ax.set_xticklabels(["0", "0.5", "1"])
    axes[0].set_ylabel("customers")
    fig.suptitle(f"Spread across CRM customers, week {model.week}", fontweight="bold")
    return fig


@solara.component
def DistributionPanel(model: DashboardModel):
    """Mesa component: histograms of trust, affinity and fatigue across CRM customers this week."""
    update_counter.get()
    _show(draw_distributions(model))


def draw_funnel(model: DashboardModel) -> Figure:
    """Customers per lifecycle stage now, with the start as an outline."""
    now = stage_counts(model.pop.stage)
    fig, ax = _figure(margins={"left": 0.23, "right": 0.96})
    y = np.arange(len(STAGES))[::-1]
    ax.barh(y, [now[s] for s in STAGES], color=[STAGE_COLOURS[s] for s in STAGES], height=0.7)
    ax.barh(y, [model.start_counts[s] for s in STAGES], fill=False, edgecolor="black", linewidth=1.2,
            linestyle="--", height=0.7, label="week 0")
    for yi, s in zip(y, STAGES):
        ax.annotate(f"{now[s]:,}", (max(now[s], model.start_counts[s]), yi), xytext=(5, 0),
                    textcoords="offset points", va="center")
    ax.set_yticks(y, STAGES)
    ax.set_xlabel("customers (dashed: week 0)")
    ax.set_title(f"Stage funnel, week {model.week}")
    ax.grid(axis="y", visible=False)
    ax.set_xlim(0, max(max(now.values()), max(model.start_counts.values())) * 1.18)
    return fig


@solara.component
def FunnelPanel(model: DashboardModel):
    """Mesa component: customers per lifecycle stage now, with the start as an outline."""
    update_counter.get()
    _show(draw_funnel(model))


ENGAGEMENT_LABELS = {"opens": "opens", "visits": "website visits", "event_attendance": "event guests",
                     "unsubscribes": "unsubscribes"}


def _engagement_style(ax) -> None:
    """Post-process for Mesa's plot component: size, titles, readable labels and a log scale."""
    ax.figure.set_size_inches(*FIGSIZE)
    ax.figure.subplots_adjust(left=0.15, right=0.7, bottom=0.15, top=0.89)
    for line in ax.get_lines():
        line.set_label(ENGAGEMENT_LABELS.get(line.get_label(), line.get_label()))
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylabel("per week (log)")
    ax.set_title("Engagement and unsubscribes per week")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))


ENGAGEMENT = make_plot_component(
    {"opens": COLOURS["opens"], "visits": COLOURS["visits"], "event_attendance": COLOURS["event_attendance"],
     "unsubscribes": COLOURS["unsubscribes"]},
    post_process=_engagement_style,
    save_format="svg",
)


def draw_network(model: DashboardModel) -> Figure:
    """A connected sample of customers on their social network, coloured by stage."""
    net = model.network
    stages = model.pop.stage[net.nodes]
    fig, ax = _figure(margins={"left": 0.02, "right": 0.62, "bottom": 0.03, "top": 0.9})
    if net.edges.size:
        segments = net.pos[net.edges]
        ax.add_collection(LineCollection(segments, colors="#888888", linewidths=0.7, alpha=0.6, zorder=1))
    colours = [STAGE_COLOURS[STAGES[s]] for s in stages]
    ax.scatter(net.pos[:, 0], net.pos[:, 1], c=colours, s=46, edgecolors="white", linewidths=0.6, zorder=2)
    for i, name in enumerate(STAGES):
        ax.scatter([], [], color=STAGE_COLOURS[name], s=60, label=f"{name} ({int((stages == i).sum())})")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), handletextpad=0.2)
    fig.suptitle(f"{len(net.nodes)} customers and their ties, by stage", fontweight="bold")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_aspect("equal", adjustable="datalim")
    return fig


@solara.component
def NetworkPanel(model: DashboardModel):
    """Mesa component: a connected sample of customers on their social network, coloured by stage."""
    update_counter.get()
    _show(draw_network(model))


def _html(content: str) -> None:
    """Static HTML (not solara.Markdown, which fetches KaTeX from a CDN and so fails offline)."""
    solara.HTML(tag="div", unsafe_innerHTML=content)


@solara.component
def JourneyPanel(model: DashboardModel):
    """One sampled customer's journey: state now and the latest events."""
    update_counter.get()
    ids = [int(i) for i in model.journey_ids]
    if not ids:
        _html("<p>No journeys recorded.</p>")
        return
    pick = journey_pick.value if journey_pick.value in ids else ids[0]
    view = model.customer(pick)
    s = view.state
    with solara.Column(classes=["rapport-journey"]):
        solara.Select("Customer", values=ids, value=pick, on_value=journey_pick.set)
        events = (view.journey or [])[-8:][::-1]
        items = "".join(f"<li>week {w}: {escape(text)}</li>" for w, text in events) or \
            "<li>no contact or event yet</li>"
        _html(f"<p><b>Customer {pick}</b>: {view.stage}, {view.tier} tier · trust {s['trust']:.2f} · "
              f"affinity {s['affinity']:.2f} · fatigue {s['fatigue']:.2f} · {s['contacts']} contacts · "
              f"{s['purchases']} cars bought from us</p><p><b>Latest events</b></p><ul>{items}</ul>")


COMPONENTS = [ProfitPanel, RelationshipPanel, FunnelPanel, ENGAGEMENT, DistributionPanel, NetworkPanel,
              JourneyPanel]


# --- lesson and controls (in the main area above the charts: the sidebar holds Mesa's run buttons) ---
@solara.component
def LessonText(model: DashboardModel):
    """The lesson's explanation, and what strategy is running this week."""
    update_counter.get()
    with solara.Column(classes=["rapport-lesson"]):
        if lesson.value in LESSONS:
            chosen = LESSONS[lesson.value]
            _html(f"<h3>Lesson: {escape(chosen.title)}</h3><p>{escape(chosen.text)}</p>"
                  f"<p><b>What to watch:</b> {escape(chosen.watch)}</p>")
        else:
            _html("<h3>Rapport classroom</h3><p>Pick a lesson, or a strategy preset and adjust it, then press "
                  "<b>▶</b> or <b>Step</b> on the left. Strategy and market controls apply from the next "
                  "week, even while the run plays; customers and seed apply at <b>Reset</b>.</p>")
        c = model.controls
        _html(f"<p class='rapport-status'><b>Week {model.week}</b> · <i>{escape(model.policy.name)}</i> · "
              f"{c['frequency']:.2f} contacts/week · value share {c['value_share']:.2f} · "
              f"targeting {c['targeting']:.2f} · channel {escape(c['channel'])} · budget {escape(c['budget'])} · "
              f"{model.pop.n:,} customers · seed {model.seed}</p>")
        if model.notice:
            solara.Error(model.notice)


def _control(c, model: solara.Reactive) -> None:
    """One control bound to the session's control values, applied live to the model."""
    value = controls.value[c.name]

    def set_value(new, name=c.name):
        old = controls.value[name]
        if new == old or (c.kind == "float" and abs(float(new) - float(old)) < 1e-9):
            return  # sliders report their (rounded) value on mount; not a change
        update = {**controls.value, name: new}
        controls.set(update)
        lesson.set("")
        model.value.apply_controls(update)
        force_update()

    with solara.Column(gap="0px", classes=["rapport-control"]):
        if c.kind == "float":
            # label above the slider (with the value), so that the slider gets the full width
            solara.Text(f"{c.label}: {float(value):g}", classes=["rapport-label"])
            solara.SliderFloat("", value=float(value), min=c.lo, max=c.hi, step=c.step, on_value=set_value,
                               thumb_label=False)
        elif c.kind == "choice":
            solara.Select(c.label, values=list(c.choices), value=value, on_value=set_value)
        elif c.kind == "bool":
            solara.Switch(label=c.label, value=bool(value), on_value=set_value)
        solara.Text(c.hint, classes=["rapport-hint"])


@solara.component
def ControlPanel(model: solara.Reactive):
    """Lesson and preset pickers, strategy and market controls (all applied live)."""

    def choose_lesson(title):
        if not title:
            return
        values = lesson_controls(title)
        controls.set(values)
        lesson.set(title)
        old = model.value
        model.value = DashboardModel(customers=old.pop.n, seed=str(old.seed), controls=values)

    def choose_preset(name):
        update = {**controls.value, **preset_controls(name)}
        controls.set(update)
        lesson.set("")
        model.value.apply_controls(update)
        force_update()

    choices = {c.name: c for c in STRATEGY_CONTROLS}
    shown = show_controls.value

    def lesson_picker():
        with solara.Column(gap="0px", classes=["rapport-control"]):
            solara.Select("Lesson (restarts the run)", values=list(LESSONS), value=lesson.value or None,
                          on_value=choose_lesson)
            solara.Text("Sets every control for a classroom story.", classes=["rapport-hint"])
        solara.Button("Hide controls" if shown else "Show controls", icon_name="mdi-tune", outlined=True,
                      on_click=lambda: show_controls.set(not shown), classes=["rapport-toggle"])

    with solara.Card(classes=["rapport-controls"]):
        if not shown:  # compact: more room for the charts on a small projector
            with solara.Columns([3, 9]):
                with solara.Column(gap="0px"):
                    lesson_picker()
                LessonText(model.value)
            return
        with solara.Columns([4, 3, 3, 3]):
            with solara.Column(gap="0px"):
                lesson_picker()
                LessonText(model.value)
            with solara.Column(gap="0px"):
                with solara.Column(gap="0px", classes=["rapport-control"]):
                    solara.Select("Strategy preset", values=builtin_strategies(), value=controls.value["preset"],
                                  on_value=choose_preset)
                    solara.Text("Who gets what, when: a policy from configs/strategy, adjusted by the sliders.",
                                classes=["rapport-hint"])
                _control(choices["channel"], model)
                _control(choices["budget"], model)
            with solara.Column(gap="0px"):
                for name in ("frequency", "value_share", "targeting"):
                    _control(choices[name], model)
            with solara.Column(gap="0px"):
                for c in MARKET_CONTROLS:
                    _control(c, model)

CSS = """
.rapport-hint { display: block; font-size: 14px; line-height: 1.25; opacity: 0.75; margin: -2px 0 10px 0; }
.rapport-label { display: block; font-size: 16px; font-weight: 500; margin-top: 2px; }
.rapport-controls .v-slider { margin: 0 0 -4px 0; }
.rapport-controls .v-input--selection-controls { margin-top: 0; }
.rapport-controls .v-text-field { padding-top: 8px; margin-top: 0; }
.rapport-heading { display: block; font-size: 18px; font-weight: 600; margin: 4px 0 8px 0; }
.rapport-controls .v-label, .rapport-controls .v-select__selection { font-size: 16px; }
.rapport-controls .v-input__slot { margin-bottom: 0; }
.rapport-controls .v-messages { display: none; }
.rapport-lesson, .rapport-journey { font-size: 17px; line-height: 1.45; }
.rapport-lesson h3 { font-size: 22px; margin: 8px 0 6px 0; }
.rapport-status { font-size: 15px; opacity: 0.85; }
.rapport-toggle { margin: 0 0 8px 0; align-self: flex-start; }
.vue-grid-item { overflow: hidden; }
.vue-grid-item img { max-width: 100%; max-height: 100%; object-fit: contain; }
.v-tabs { display: none; }
"""


@solara.component
def Page():
    """The dashboard page: one model per browser session."""
    initial = solara.use_memo(lambda: DashboardModel(customers=CUSTOMERS, seed=DEFAULT_SEED,
                                                     controls=controls.value), [])
    model = solara.use_reactive(initial)
    solara.Style(CSS)
    solara.Title("Rapport dashboard")
    model_params = {
        "customers": {"type": "SliderInt", "value": CUSTOMERS, "min": min(500, CUSTOMERS),
                      "max": max(10000, CUSTOMERS), "step": 500, "label": "Customers (at Reset)"},
        "seed": {"type": "InputText", "value": DEFAULT_SEED, "label": "Random seed (at Reset)"},
        "controls": controls,
    }
    with solara.Column(style={"width": "100%"}):
        ControlPanel(model)
        SolaraViz(model, components=list(COMPONENTS), model_params=model_params,
                  name="Rapport: relationship marketing, week by week", play_interval=150)


page = Page
