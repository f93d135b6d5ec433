"""The Rapport classroom dashboard: a Solara page, one simulation per browser tab.

Started by ``rapport dashboard`` (see ``sim/app.py``). The page has a bar with the run
buttons (Reset, Play/Pause, Step) and the play speed, a left column with the lesson and
the controls (foldable), and the charts, which the browser draws itself with Vega
(``sim/app_charts.py``): each week the server sends only the new rows. Strategy and market
controls apply live, from the next week; customers and seed apply at Reset.

Play is paced by the browser: after each week the server waits until the tab reports that
week drawn, so a slow or busy tab slows Play down instead of falling behind, and Pause
stops within the week being drawn.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from html import escape

import ipyvuetify as v
import solara

from sim.app_charts import ChartBoard, chart_specs, payback_rows, series_rows, spread_row, titles
from sim.app_logic import (
    DEFAULT_CUSTOMERS, DEFAULT_LESSON, DEFAULT_SEED, DEFAULT_SPEED, JOURNEYS, LESSONS, MARKET_CONTROLS, NETWORK_SAMPLE,
    PRESET_CONTROL, SEED_CONTROL, SPEED_CONTROL, STRATEGY_CONTROLS, Control, build_strategy, customers_control,
    default_controls, lesson_controls, network_sample, parse_budget, parse_seed, stage_counts, update_controls,
)
from sim.model import RelationshipModel
from sim.params import ParameterError, validate
from sim.rules import Coefficients
from sim.state import STAGES
from sim.strategies import load_strategy

logging.getLogger("MESA").setLevel(logging.WARNING)
logger = logging.getLogger("rapport.dashboard")

CUSTOMERS = int(os.environ.get("RAPPORT_DASHBOARD_CUSTOMERS", DEFAULT_CUSTOMERS))
CUSTOMERS_CONTROL = customers_control(CUSTOMERS)
MARKET_NAMES = tuple(c.name for c in MARKET_CONTROLS)
SPECS = json.dumps(chart_specs())
DRAW_TIMEOUT = 2.0  # s: a tab that does not report a week drawn (hidden, broken) does not stop Play
LABELS_EVERY = 0.25  # s: during Play, how often the week label, status and journey are re-rendered


class DashboardModel(RelationshipModel):
    """The relationship model driven by the dashboard's controls.

    Args:
        customers: Number of customers.
        seed: Seed as typed in the dashboard; an invalid one falls back to 0 with a notice.
        controls: Control values (see ``sim.app_logic.CONTROLS``); defaults for missing ones.
    """

    def __init__(self, customers: int = DEFAULT_CUSTOMERS, seed: str = DEFAULT_SEED, controls: Mapping | None = None):
        values = default_controls() | dict(controls or {})
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
        self._frame, self._frame_week = None, -1

    def frame(self):
        """``metrics()`` computed once per week (the charts and titles read it)."""
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


def controls_to_model(values: Mapping) -> tuple[dict, dict]:
    """Control values -> (strategy mapping, model parameters)."""
    strategy = build_strategy(values["preset"], values["frequency"], values["value_share"],
                              values["targeting"], values["channel"])
    params = {name: values[name] for name in MARKET_NAMES}
    params["budget"] = parse_budget(values["budget"])
    return strategy, params


class Session:
    """One tab's simulation: the model, the spread bands, and the week the browser has drawn.

    ``epoch`` counts resets, so that the browser knows when to start its charts afresh.
    Steps, resets and control changes come from different threads (Play, button clicks)
    and take ``lock``.
    """

    def __init__(self, customers: int, seed: str, controls: Mapping):
        self.lock = threading.RLock()
        self.drawn_changed = threading.Condition()
        self.drawn = (-1, -1)  # (epoch, week) the browser reported drawn
        self.epoch = 0
        self.board = None  # the tab's ChartBoard widget, once shown: Play feeds it directly
        self.reset(customers, seed, controls)

    def reset(self, customers: int, seed: str, controls: Mapping) -> None:
        model = DashboardModel(customers=customers, seed=seed, controls=controls)
        with self.lock:
            self.model, self.spread = model, {}
            self.epoch += 1

    def step(self, weeks: int = 1) -> None:
        with self.lock:
            for _ in range(weeks):
                self.model.step()
                self.spread[self.model.week] = spread_row(self.model.pop)

    def apply(self, controls: Mapping) -> None:
        with self.lock:
            self.model.apply_controls(controls)

    def update(self) -> dict:
        """What the browser needs to draw the current week: the rows it has not drawn yet."""
        with self.lock:
            m, epoch = self.model, self.epoch
            drawn_epoch, drawn_week = self.drawn
            full = drawn_epoch != epoch
            frame = m.frame()
            net = m.network
            stages = m.pop.stage[net.nodes]
            nodes = [{"x": round(float(x), 4), "y": round(float(y), 4), "stage": STAGES[s]}
                     for (x, y), s in zip(net.pos, stages)]
            edges = [{"x": round(float(net.pos[a, 0]), 4), "y": round(float(net.pos[a, 1]), 4),
                      "x2": round(float(net.pos[b, 0]), 4), "y2": round(float(net.pos[b, 1]), 4)}
                     for a, b in net.edges] if full else []
            return {"epoch": epoch, "week": m.week, "full": full,
                    "series": series_rows(frame, self.spread, -1 if full else drawn_week),
                    "nodes": nodes, "edges": edges, "payback": payback_rows(frame),
                    "titles": titles(frame, stage_counts(m.pop.stage), len(net.nodes))}

    def push(self) -> bool:
        """Send the weeks not drawn yet straight to the tab's chart board; False if not shown yet."""
        board = self.board
        if board is None:
            return False
        board.update = json.dumps(self.update())
        return True

    def on_drawn(self, data) -> None:
        """The browser drew ``{"epoch", "week"}`` (anything else is ignored)."""
        if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("epoch", "week")):
            return
        with self.drawn_changed:
            self.drawn = (data["epoch"], data["week"])
            self.drawn_changed.notify_all()

    def wait_drawn(self, timeout: float) -> bool:
        """Wait until the browser has drawn the current week; False after ``timeout`` seconds."""
        with self.drawn_changed:
            return self.drawn_changed.wait_for(lambda: self.drawn == (self.epoch, self.model.week), timeout)


# --- per-tab state (Solara scopes module-level reactives to each browser session) ------
controls = solara.reactive(lesson_controls(DEFAULT_LESSON))
run_settings = solara.reactive({"customers": CUSTOMERS, "seed": DEFAULT_SEED, "speed": DEFAULT_SPEED})
lesson = solara.reactive(DEFAULT_LESSON)
playing = solara.reactive(False)
tick = solara.reactive(0)  # bumped after each change of the model: re-renders what shows the week
show_controls = solara.reactive(True)
rejected = solara.reactive("")  # the last value a control refused, as one line
journey_pick = solara.reactive(0)


def bump() -> None:
    tick.set(tick.value + 1)


def _html(content: str, classes: list[str] | None = None) -> None:
    """Static HTML (not solara.Markdown, which fetches KaTeX from a CDN and so fails offline)."""
    solara.HTML(tag="div", unsafe_innerHTML=content, classes=classes or [])


def refuse(err: ParameterError) -> bool:
    """Say, in one line, what was refused; returns False (the value was not taken)."""
    logger.info("refused a control value: %s", err)
    rejected.set(f"Refused {err}")
    return False


def set_control(session: Session, control: Control, value) -> bool:
    """A strategy or market control changed in the browser: check it and apply it live.

    Returns:
        False if the value was refused (the previous value stays), else True.
    """
    try:
        update = update_controls(controls.value, control, value)
    except ParameterError as err:
        return refuse(err)
    old = controls.value[control.name]
    if update == controls.value or (control.kind == "float" and abs(update[control.name] - old) < 1e-9):
        return True  # a slider reporting its (rounded) value when it appears: not a change
    controls.set(update)
    lesson.set("")
    rejected.set("")
    session.apply(update)
    bump()
    return True


def set_setting(control: Control, value) -> bool:
    """Customers, seed (used at Reset) or speed changed in the browser: check and keep it."""
    try:
        update = update_controls(run_settings.value, control, value)
    except ParameterError as err:
        return refuse(err)
    rejected.set("")
    run_settings.set(update)
    return True


def reset(session: Session) -> None:
    playing.set(False)
    s = run_settings.value
    session.reset(s["customers"], s["seed"], controls.value)
    bump()


# --- controls --------------------------------------------------------------------------
@solara.component
def ControlWidget(control: Control, value, on_value, hint: bool = True):
    """One control: its label with value and unit, the input, and a hint.

    ``on_value(new)`` returns False when it refuses the value; the input then shows ``value`` again.
    """
    shown = bool(value) if control.kind == "bool" else str(value) if control.kind == "text" else value

    widget = solara.use_ref(None)

    def changed(new):
        if not on_value(new) and widget.current is not None:
            widget.current.v_model = shown  # the browser holds the refused value: show ours

    with solara.Column(gap="0px", classes=["rapport-control"]):
        common = {"v_model": shown, "hide_details": True, "dense": True, "on_v_model": changed}
        if control.kind in ("float", "int"):
            solara.Text(control.shown(value), classes=["rapport-label"])
            element = v.Slider.element(min=control.lo, max=control.hi, step=control.step, **common)
        elif control.kind == "choice":
            element = v.Select.element(label=control.label, items=list(control.choices), **common)
        elif control.kind == "bool":
            element = v.Switch.element(label=control.shown(value), **common)
        else:
            element = v.TextField.element(label=control.shown(value), **common)
        if hint:
            solara.Text(control.hint, classes=["rapport-hint"])
    solara.use_effect(lambda: setattr(widget, "current", solara.get_widget(element)))


@solara.component
def Controls(session: Session):
    """Strategy, market and run settings."""
    values, settings = controls.value, run_settings.value
    with solara.Column(gap="0px"):
        solara.Text("Strategy (applies from the next week)", classes=["rapport-heading"])
        for c in (PRESET_CONTROL, *STRATEGY_CONTROLS):
            ControlWidget(c, values[c.name], lambda x, c=c: set_control(session, c, x))
        solara.Text("Market (applies from the next week)", classes=["rapport-heading"])
        for c in MARKET_CONTROLS:
            ControlWidget(c, values[c.name], lambda x, c=c: set_control(session, c, x))
        solara.Text("Run (applies at Reset)", classes=["rapport-heading"])
        for c in (CUSTOMERS_CONTROL, SEED_CONTROL):
            ControlWidget(c, settings[c.name], lambda x, c=c: set_setting(c, x))


@solara.component
def StatusLine(session: Session):
    """What runs this week."""
    tick.get()
    m = session.model
    c = m.controls
    _html(f"<b>Week {m.week}</b> · <i>{escape(m.policy.name)}</i> · {c['frequency']:.2f} contacts/week · "
          f"value share {c['value_share']:.2f} · targeting {c['targeting']:.2f} · channel {escape(c['channel'])} · "
          f"budget {escape(c['budget'])} · {m.pop.n:,} customers · seed {m.seed}", ["rapport-status"])
    if m.notice:
        solara.Error(m.notice)


@solara.component
def LessonText(session: Session):
    """The lesson's explanation, and what runs this week."""
    if lesson.value in LESSONS:
        chosen = LESSONS[lesson.value]
        _html(f"<h3>{escape(chosen.title)}</h3><p>{escape(chosen.text)}</p>"
              f"<p><b>What to watch:</b> {escape(chosen.watch)}</p>", ["rapport-lesson"])
    else:
        _html("<h3>Rapport classroom</h3><p>Pick a lesson, or a strategy preset and adjust it, then press "
              "<b>▶</b> or <b>Step</b>. Strategy and market controls apply from the next week, even while "
              "the run plays; customers and seed apply at <b>Reset</b>.</p>", ["rapport-lesson"])
    StatusLine(session)


@solara.component
def Sidebar(session: Session):
    """Lesson picker and text, the fold button and the controls."""

    def choose_lesson(title):
        if title not in LESSONS:
            refuse(ParameterError(f"lesson={title!r}: allowed are {', '.join(LESSONS)}"))
            if picker_widget.current is not None:
                picker_widget.current.v_model = lesson.value or None
            return
        values = lesson_controls(title)
        controls.set(values)
        lesson.set(title)
        rejected.set("")
        reset(session)

    shown = show_controls.value
    picker_widget = solara.use_ref(None)
    with solara.Column(gap="4px", classes=["rapport-sidebar"]):
        picker = v.Select.element(label="Lesson (restarts the run)", items=list(LESSONS), v_model=lesson.value or None,
                                  hide_details=True, dense=True, on_v_model=choose_lesson)
        solara.use_effect(lambda: setattr(picker_widget, "current", solara.get_widget(picker)))
        LessonText(session)
        with solara.Column(gap="0px"):  # one slot: the controls below keep their widgets when it fills
            if rejected.value:
                solara.Error(rejected.value, classes=["rapport-refused"])
        solara.Button("Hide controls" if shown else "Show controls", icon_name="mdi-tune", outlined=True, small=True,
                      on_click=lambda: show_controls.set(not shown), classes=["rapport-toggle"])
        if shown:
            Controls(session)


# --- run bar -------------------------------------------------------------------------------
@solara.component
def Player(session: Session):
    """Plays while ``playing``: one week, wait until the tab has drawn it, keep the pace.

    Each week goes straight to the chart board; the week label, status line and journey,
    which the page re-renders, follow a few times a second.
    """

    def play(cancel: threading.Event):
        if not playing.value:
            return
        next_at = shown_at = time.monotonic()
        while not cancel.is_set():
            session.step()
            if not session.push() or time.monotonic() - shown_at >= LABELS_EVERY:
                bump()
                shown_at = time.monotonic()
            session.wait_drawn(DRAW_TIMEOUT)
            next_at += 1.0 / run_settings.value["speed"]
            delay = next_at - time.monotonic()
            if delay > 0:
                cancel.wait(delay)
            else:
                next_at = time.monotonic()  # behind: carry on at the pace the tab can draw
        bump()  # paused: every label shows the last week

    solara.use_thread(play, dependencies=[playing.value], intrusive_cancel=False)


@solara.component
def WeekLabel(session: Session):
    tick.get()
    solara.Text(f"Week {session.model.week}", classes=["rapport-week"])


@solara.component
def RunBar(session: Session):
    """Reset, Play/Pause, Step, the week, the speed (re-rendered on Play/Pause, not every week)."""

    def step():
        if not playing.value:
            session.step()
            bump()

    with solara.Row(classes=["rapport-runbar"], style={"align-items": "center"}):
        solara.Text("Rapport", classes=["rapport-title"])
        solara.Button("Reset", icon_name="mdi-restore", on_click=lambda: reset(session), outlined=True)
        if playing.value:
            solara.Button("Pause", icon_name="mdi-pause", on_click=lambda: playing.set(False), color="primary")
        else:
            solara.Button("Play", icon_name="mdi-play", on_click=lambda: playing.set(True), color="primary")
        solara.Button("Step", icon_name="mdi-step-forward", on_click=step, disabled=playing.value, outlined=True)
        WeekLabel(session)
        with solara.Column(gap="0px", classes=["rapport-speed"]):
            ControlWidget(SPEED_CONTROL, run_settings.value["speed"], lambda x: set_setting(SPEED_CONTROL, x),
                          hint=False)


# --- charts ----------------------------------------------------------------------------------
@solara.component
def Charts(session: Session):
    """The chart board: Vega in the browser, fed the weeks it has not drawn."""
    tick.get()

    def drawn(data):
        session.on_drawn(data)
        if isinstance(data, dict) and data.get("epoch") == -1:
            bump()  # a new board (reconnect) asks for the whole history

    board = ChartBoard.element(specs=SPECS, update=json.dumps(session.update()), drawn_callback=drawn)
    solara.use_effect(lambda: setattr(session, "board", solara.get_widget(board)), [])


@solara.component
def JourneyPanel(session: Session):
    """One sampled customer's journey: state now and the latest events."""
    tick.get()
    m = session.model
    ids = [int(i) for i in m.journey_ids]
    if not ids:
        return
    pick = journey_pick.value if journey_pick.value in ids else ids[0]
    view = m.customer(pick)
    s = view.state
    with solara.Row(classes=["rapport-journey"]):
        v.Select.element(label="Customer journey", items=ids, v_model=pick, hide_details=True, dense=True,
                         style_="max-width: 200px", on_v_model=lambda x: journey_pick.set(x) if x in ids else None)
        events = (view.journey or [])[-6:][::-1]
        items = "".join(f"<li>week {w}: {escape(text)}</li>" for w, text in events) or "<li>no contact yet</li>"
        _html(f"<p><b>Customer {pick}</b>: {view.stage}, {view.tier} tier · trust {s['trust']:.2f} · "
              f"affinity {s['affinity']:.2f} · fatigue {s['fatigue']:.2f} · {s['contacts']} contacts · "
              f"{s['purchases']} cars bought from us</p><ul>{items}</ul>")


CSS = """
.rapport-runbar { padding: 4px 12px; border-bottom: 1px solid #ddd; gap: 10px; flex-wrap: nowrap; }
.rapport-title { font-size: 22px; font-weight: 600; margin-right: 8px; }
.rapport-week { font-size: 20px; font-weight: 600; min-width: 90px; margin-left: 8px; }
.rapport-speed { width: 220px; margin-left: 12px; }
.rapport-main { display: flex; flex-direction: row; align-items: flex-start; gap: 12px; width: 100%; }
.rapport-sidebar { width: 330px; flex: 0 0 330px; height: calc(100vh - 64px); overflow-y: auto; padding: 4px 8px; }
.rapport-content { flex: 1 1 auto; min-width: 0; height: calc(100vh - 64px); overflow-y: auto; }
.rapport-hint { display: block; font-size: 13px; line-height: 1.2; opacity: 0.7; margin: 0 0 8px 0; }
.rapport-label { display: block; font-size: 15px; font-weight: 500; }
.rapport-heading { display: block; font-size: 16px; font-weight: 600; margin: 8px 0 4px 0; }
.rapport-lesson { font-size: 16px; line-height: 1.4; }
.rapport-lesson h3 { font-size: 20px; margin: 4px 0 4px 0; }
.rapport-lesson p { margin-bottom: 6px; }
.rapport-status { font-size: 14px; opacity: 0.85; margin-bottom: 4px; }
.rapport-toggle { align-self: flex-start; }
.rapport-board { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 16px; padding: 4px 8px 0 0; }
.rapport-chart { min-width: 0; }
.rapport-chart-title { font-size: 16px; font-weight: 600; white-space: nowrap; overflow: hidden;
                       text-overflow: ellipsis; }
.rapport-chart-body { width: 100%; }
.rapport-journey { font-size: 15px; padding: 8px; align-items: flex-start; }
"""


@solara.component
def Page():
    """The dashboard page: one simulation per browser tab."""
    session = solara.use_memo(lambda: Session(CUSTOMERS, DEFAULT_SEED, controls.value), [])
    solara.Style(CSS)
    solara.Title("Rapport dashboard")
    with solara.Column(gap="0px", style={"width": "100%", "padding": "0"}):
        RunBar(session)
        Player(session)
        with solara.Row(classes=["rapport-main"]):
            Sidebar(session)
            with solara.Column(gap="0px", classes=["rapport-content"]):
                Charts(session)
                JourneyPanel(session)


page = Page
