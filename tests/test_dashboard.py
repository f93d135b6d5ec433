"""Dashboard tests: the pure logic (fast), the server process (slow) and the real page in
headless Chromium (browser).

The browser test starts ``rapport dashboard`` on a free localhost port, checks the layout
at 1280 x 720, moves a control, sends a hand-edited value through the websocket, steps
and plays the model and checks that the charts change, that the page logged no error and
that no request left localhost (the dashboard must work offline). Its screenshot goes to
a temporary folder, or to ``$RAPPORT_SCREENSHOT`` (``make screenshot`` refreshes
docs/dashboard.png that way).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

from sim import ParameterError, validate
from sim.app_logic import (
    AS_PRESET, CONTROLS, CUSTOMERS_CONTROL, LESSONS, MARKET_CONTROLS, SPEED_CONTROL, build_strategy,
    default_controls, lesson_controls, network_sample, parse_budget, parse_seed, preset_controls,
    update_controls,
)
from sim.params import CHANNELS
from sim.strategies import builtin_strategies, load_strategy

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# --- pure logic ------------------------------------------------------------------------
def _tables(spec):
    policy = load_strategy(spec)
    return policy.frequency, policy.channel, policy.mix_cum, policy.targeting


@pytest.mark.parametrize("preset", builtin_strategies())
def test_sliders_at_preset_values_reproduce_the_preset(preset):
    values = preset_controls(preset)
    spec = build_strategy(values["preset"], values["frequency"], values["value_share"], values["targeting"],
                          values["channel"])
    for got, want in zip(_tables(spec), _tables(preset)):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert spec["name"] == preset


def test_sliders_override_default_and_move_rules_along():
    base = load_strategy("lifecycle")
    spec = build_strategy("lifecycle", frequency=0.5, value_share=0.3, targeting=0.9, channel="mail")
    policy = load_strategy(spec)
    assert spec["default"]["frequency"] == 0.5 and spec["default"]["targeting"] == 0.9
    mix = spec["default"]["mix"]
    assert mix["value_content"] / (mix["value_content"] + mix["sales_offer"]) == pytest.approx(0.3)
    assert (policy.channel == CHANNELS.index("mail")).all()  # the purchase rule's phone call too
    assert (policy.frequency <= 1.0).all()
    # frequency doubled (0.25 -> 0.5): rules scale with it, capped at 1 contact/week
    np.testing.assert_allclose(policy.frequency, np.minimum(1.0, base.frequency * 2), atol=1e-6)
    # targeting moved up by 0.3 everywhere, clipped at 1
    np.testing.assert_allclose(policy.targeting, np.minimum(1.0, base.targeting + 0.3), atol=1e-6)
    assert spec["name"] == "lifecycle (adjusted)"


def test_channel_as_preset_keeps_rule_channels():
    spec = build_strategy("service_followup", 0.1, 1.0, 0.5, AS_PRESET)
    assert any(rule.get("channel") == "phone" for rule in spec["rules"])


def test_less_value_share_means_more_sales_offers():
    shares = []
    for value_share in (0.0, 0.5, 1.0):
        policy = load_strategy(build_strategy("reciprocal_value", 0.5, value_share, 0.6))
        sales = policy.mix_cum[..., 0]  # cumulative share of the first content, sales_offer
        shares.append(float(sales.mean()))
    assert shares[0] > shares[1] > shares[2] == pytest.approx(0.0)


@pytest.mark.parametrize("field, kwargs", [
    ("frequency", {"frequency": 1.5}), ("value_share", {"value_share": -0.1}),
    ("targeting", {"targeting": "high"}), ("channel", {"channel": "fax"}),
])
def test_bad_slider_values_fail_with_one_line_naming_the_field(field, kwargs):
    args = {"preset": "reciprocal_value", "frequency": 0.5, "value_share": 0.5, "targeting": 0.5} | kwargs
    with pytest.raises(ParameterError, match=field) as err:
        build_strategy(**args)
    assert "\n" not in str(err.value)
    with pytest.raises(ParameterError, match="preset"):
        build_strategy("blast", 0.5, 0.5, 0.5)


def test_budget_and_seed_parsing():
    assert parse_budget("no limit") == math.inf
    assert parse_budget("$200") == 200.0
    with pytest.raises(ParameterError, match="budget"):
        parse_budget("$7")
    assert parse_seed(" 17 ") == 17 and parse_seed(3) == 3
    for bad in ("abc", "-1", "1.5", True):
        with pytest.raises(ParameterError, match="seed"):
            parse_seed(bad)


def test_controls_have_units_hints_and_valid_ranges():
    for c in (*CONTROLS.values(), CUSTOMERS_CONTROL, SPEED_CONTROL):
        assert c.hint and c.label
        if c.kind in ("float", "int"):
            assert c.lo < c.hi and c.step > 0
    assert CONTROLS["frequency"].shown(0.55) == "Contact frequency: 0.55 contacts/week"
    assert CUSTOMERS_CONTROL.shown(3000) == "Customers: 3,000 customers"
    assert SPEED_CONTROL.shown(15) == "Speed: 15 weeks/s"
    assert CONTROLS["fatigue_irrelevant"].shown(0.1) == "Fatigue per irrelevant offer: 0.1 fatigue/contact"
    assert CONTROLS["reciprocity_strength"].shown(2) == "Reciprocity strength: 2 (0 to 5)"
    assert all(c.unit for c in CONTROLS.values() if c.kind in ("float", "int"))
    for c in MARKET_CONTROLS:
        default = default_controls()[c.name]
        validate({c.name: default})
        if c.kind == "float":
            assert c.lo <= default <= c.hi, f"{c.name} default outside its slider"
            validate({c.name: c.lo})
            validate({c.name: c.hi})


def test_lessons_are_the_four_stories_and_valid():
    assert set(LESSONS) == {"Offers that drown each other", "Give before you ask", "Your best customers",
                            "After the sale"}
    for title, lesson in LESSONS.items():
        values = lesson_controls(title)
        assert set(values) == set(default_controls())
        assert values["preset"] in builtin_strategies()
        spec = build_strategy(values["preset"], values["frequency"], values["value_share"], values["targeting"],
                              values["channel"])
        load_strategy(spec)
        validate({c.name: values[c.name] for c in MARKET_CONTROLS} | {"budget": parse_budget(values["budget"])})
        sentences = lesson.text.count(". ") + 1
        assert 2 <= sentences <= 3 and lesson.watch
    drown = lesson_controls("Offers that drown each other")
    assert drown["value_share"] == 0 and drown["targeting"] == 0 and drown["frequency"] == 1
    with pytest.raises(ParameterError, match="lesson"):
        lesson_controls("Unknown")


def _ring(n, k, rewire=0):
    rng = np.random.default_rng(0)
    offsets = np.r_[np.arange(1, k // 2 + 1), -np.arange(1, k // 2 + 1)]
    ties = (np.arange(n)[:, None] + offsets[None, :]) % n
    mask = rng.random(ties.shape) < rewire
    ties[mask] = rng.integers(0, n, mask.sum())
    return ties.astype(np.int32)


def test_network_sample_is_connected_real_ties_with_fixed_layout():
    ties = _ring(3000, 6, rewire=0.1)
    net = network_sample(ties, 150, seed=3)
    assert len(net.nodes) == 150 and len(set(net.nodes.tolist())) == 150
    for a, b in net.edges:
        i, j = net.nodes[a], net.nodes[b]
        assert j in ties[i] or i in ties[j]
    assert len(net.edges) >= 149  # snowball sample: at least a spanning tree of ties
    assert net.pos.shape == (150, 2) and net.pos.min() >= 0 and net.pos.max() <= 1
    again = network_sample(ties, 150, seed=3)
    np.testing.assert_array_equal(net.nodes, again.nodes)
    np.testing.assert_allclose(net.pos, again.pos)
    other = network_sample(ties, 150, seed=4)
    assert not np.array_equal(net.nodes, other.nodes)


def test_network_sample_without_ties_and_small_markets():
    lonely = network_sample(np.zeros((40, 0), dtype=np.int32), 150, seed=1)
    assert len(lonely.nodes) == 40 and lonely.edges.shape == (0, 2)


def test_dashboard_model_applies_controls_live():
    pytest.importorskip("solara")
    from sim.app_page import DashboardModel

    m = DashboardModel(customers=400, seed="5")
    m.run(3)
    values = default_controls() | preset_controls("constant_sales") | {"budget": "$50", "rival_pull": 1.0}
    m.apply_controls(values)
    assert m.policy.name == "constant_sales" and m.params["budget"] == 50.0 and m.params["rival_pull"] == 1.0
    assert m.coefficients.p["rival_pull"] == 1.0
    m.run(3)
    assert m.frame()["week"].tolist() == [1, 2, 3, 4, 5, 6]
    assert (m.metrics()["cost"].iloc[3:] <= 50.0 + 1e-6).all()
    bad = DashboardModel(customers=200, seed="x1")
    assert bad.seed == 0 and "seed" in bad.notice


def test_server_environment_is_offline():
    from sim.app import offline_env

    env = offline_env({"PATH": "/bin", "SOLARA_ASSETS_PROXY": "False"})
    assert env["SOLARA_ASSETS_PROXY"] == "True"  # False would make the browser fetch from the CDN
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False" and env["PATH"] == "/bin"
    assert env["JUPYTER_WIDGETS_ECHO"] == "0"  # a refused value is not echoed back to the browser


def test_main_rejects_bad_arguments():
    from sim.app import main, server_command, build_parser

    with pytest.raises(SystemExit) as exit_:
        main(["--port", "70000"])
    assert exit_.value.code == 2
    cmd = server_command(build_parser().parse_args(["--port", "9000"]))
    assert "--production" in cmd and "--no-check-version" in cmd and "127.0.0.1" in cmd


# --- bad input: every control admits only valid values ------------------------------------
BAD_FOR_EVERY_CONTROL = [None, "abc", float("nan"), float("inf"), [0.5], {"value": 1}, 1e9, -1e9, "0.5; rm -rf /"]


@pytest.mark.parametrize("control", [*CONTROLS.values(), CUSTOMERS_CONTROL, SPEED_CONTROL], ids=lambda c: c.name)
def test_every_control_refuses_invalid_values_and_keeps_the_previous(control):
    values = default_controls() | {"customers": 3000, "speed": 15}
    before = json.dumps(values, sort_keys=True)
    bad = BAD_FOR_EVERY_CONTROL + ([] if control.kind == "bool" else [True])
    for value in bad:
        with pytest.raises(ParameterError, match=control.name) as err:
            update_controls(values, control, value)
        assert "\n" not in str(err.value)
    assert json.dumps(values, sort_keys=True) == before
    good = {"float": control.hi, "int": control.lo, "choice": (control.choices or ("",))[-1], "bool": False,
            "text": "17"}[control.kind]
    assert update_controls(values, control, good)[control.name] == good


def test_out_of_range_and_wrong_type_per_kind():
    freq, seed, customers = CONTROLS["frequency"], CONTROLS["seed"], CUSTOMERS_CONTROL
    for bad in (1.05, -0.01, "0.5"):
        with pytest.raises(ParameterError, match=r"frequency=.*expected a number in \[0, 1\]"):
            freq.accept(bad)
    assert freq.accept(1) == 1.0 and isinstance(freq.accept(1), float)
    for bad in ("-1", "1.5", "x", 2.0):
        with pytest.raises(ParameterError, match="seed"):
            seed.accept(bad)
    with pytest.raises(ParameterError, match="customers"):
        customers.accept(750.5)
    assert customers.accept(1000.0) == 1000
    with pytest.raises(ParameterError, match="word_of_mouth"):
        CONTROLS["word_of_mouth"].accept(1)
    with pytest.raises(ParameterError, match="budget"):
        CONTROLS["budget"].accept("$7")


@pytest.fixture
def page_state():
    """The page's per-tab state (outside a browser Solara uses one global context)."""
    pytest.importorskip("solara")
    from sim import app_page

    names = ("controls", "run_settings", "lesson", "playing", "tick", "rejected")
    saved = {name: getattr(app_page, name).value for name in names}
    yield app_page
    for name, value in saved.items():
        getattr(app_page, name).set(value)


def test_a_bad_value_from_the_browser_keeps_the_dashboard_running(page_state):
    p = page_state
    session = p.Session(300, "5", p.controls.value)
    session.step(2)
    controls_before, model_controls_before = dict(p.controls.value), dict(session.model.controls)
    for name, bad in (("targeting", 7.5), ("targeting", "abc"), ("channel", "fax"), ("rival_pull", None),
                      ("word_of_mouth", "yes"), ("preset", "../../etc/passwd")):
        assert p.set_control(session, CONTROLS[name], bad) is False  # the input shows the kept value again
        assert name in p.rejected.value and "\n" not in p.rejected.value
    assert p.controls.value == controls_before and session.model.controls == model_controls_before
    assert p.set_setting(SPEED_CONTROL, 500) is False
    assert "speed" in p.rejected.value and p.run_settings.value["speed"] == 15
    session.step(2)  # still running
    assert session.model.week == 4
    p.set_control(session, CONTROLS["targeting"], 0.9)  # a valid value applies live and clears the notice
    assert session.model.controls["targeting"] == 0.9 and p.rejected.value == ""
    assert p.controls.value["targeting"] == 0.9


def test_a_slider_reporting_its_rounded_value_keeps_the_lesson(page_state):
    p = page_state
    p.controls.set(lesson_controls("Give before you ask"))
    p.lesson.set("Give before you ask")
    session = p.Session(300, "5", p.controls.value)
    assert p.controls.value["value_share"] != 0.75  # 0.7499999999999999, from the preset's mix
    p.set_control(session, CONTROLS["value_share"], 0.75)  # what the slider sends when it appears
    assert p.lesson.value == "Give before you ask"
    p.set_control(session, CONTROLS["value_share"], 0.8)
    assert p.lesson.value == "" and session.model.controls["value_share"] == 0.8


def test_session_sends_only_the_weeks_the_browser_has_not_drawn(page_state):
    p = page_state
    session = p.Session(300, "5", p.controls.value)
    session.step(3)
    first = session.update()
    assert first["full"] and len(first["edges"]) > 0 and len(first["nodes"]) == 150
    assert [r["week"] for r in first["series"]["profit"]] == [1, 2, 3]
    assert {r["series"] for r in first["series"]["funnel"]} == set(p.STAGES)
    session.on_drawn({"epoch": first["epoch"], "week": 3})
    for garbage in ("x", None, {"epoch": "1", "week": 2}, {"week": 9}, [1, 2]):
        session.on_drawn(garbage)  # hand-edited messages are ignored
    assert session.drawn == (first["epoch"], 3)
    session.step(2)
    update = session.update()
    assert not update["full"] and update["edges"] == []
    assert [r["week"] for r in update["series"]["profit"]] == [4, 5]
    assert all(len(update["series"][name]) == 2 * k for name, k in (("relationship", 3), ("engagement", 4)))
    session.reset(300, "6", p.controls.value)
    fresh = session.update()
    assert fresh["full"] and fresh["epoch"] == first["epoch"] + 1 and fresh["week"] == 0
    assert fresh["series"]["profit"] == [] and fresh["edges"]


def test_every_chart_over_time_has_week_on_its_x_axis():
    pytest.importorskip("ipyvuetify")
    from sim.app_charts import chart_specs

    specs = chart_specs()
    assert [s["name"] for s in specs][:4] == ["profit", "relationship", "funnel", "engagement"]
    for spec in specs:
        if spec["name"] == "network":  # a graph, no axes
            continue
        xs = [layer["encoding"]["x"] for layer in spec["vl"]["layer"] if "x" in layer.get("encoding", {})]
        assert xs and all(x["field"] == "week" and x["title"] == "week" for x in xs), spec["name"]


# --- the server process ------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dashboard exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"dashboard did not answer at {url} within {timeout} s")


def _dashboard_command(port: int) -> list[str]:
    """``rapport dashboard`` as installed next to this Python (the real command)."""
    script = Path(sys.executable).parent / "rapport"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "sim"]
    return base + ["dashboard", "--port", str(port), "--customers", "3000"]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _servers_on(port: int) -> list[int]:
    """Processes whose command line names this port (the server or any child of it)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if str(port).encode() in args and any(b"app_server" in a or b"solara" in a or b"rapport" in a for a in args):
            found.append(int(cmdline.parent.name))
    return found


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def outbound_trap():
    """A local listener posing as the HTTP(S) proxy: any download attempt connects to it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.5)
    yield listener
    listener.close()


@pytest.mark.slow
def test_unknown_asset_paths_are_404_and_nothing_leaves_the_machine(outbound_trap):
    port = _free_port()
    proxy = f"http://127.0.0.1:{outbound_trap.getsockname()[1]}"
    env = os.environ | {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
                        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    proc = subprocess.Popen(_dashboard_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(base + "/", proc, timeout=180)
        for path in ("/_solara/cdn//etc/passwd", "/_solara/cdn/nonexistent@1.0/x.js", "/_solara/cdn/../../etc/passwd",
                     "/_solara/cdn/vega@5/build/vega.min.js", "/_solara/cdn/%2e%2e/%2e%2e/etc/passwd"):
            assert _status(base + path) == 404, path
        assert _status(base + "/_solara/cdn/vega@5.21.0/build/vega.min.js") == 200  # the local copy is served
        with pytest.raises(socket.timeout):
            outbound_trap.accept()  # nobody tried to download anything
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_the_dashboard_leaves_no_server_behind(sig):
    port = _free_port()
    proc = subprocess.Popen(_dashboard_command(port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/", proc, timeout=180)
        assert _servers_on(port), "the test cannot see the server process"
        proc.send_signal(sig)
        proc.wait(timeout=15)
        deadline = time.monotonic() + 5
        while (_servers_on(port) or not _port_free(port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _servers_on(port), "a server process survived the command"
        assert _port_free(port), f"port {port} still listening"
    finally:
        for pid in _servers_on(port):
            os.kill(pid, signal.SIGKILL)


# --- the real page in a browser ---------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium browser installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _charts_svg(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.rapport-chart')]
        .map(c => [c.dataset.chart, c.querySelector('svg') ? c.querySelector('svg').outerHTML : '']))""")


def _week(page) -> int:
    return int(page.get_attribute(".rapport-board", "data-week"))


def _within(box, width=1280, height=720) -> bool:
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5 \
        and box["y"] + box["height"] <= height + 0.5


class _Tamper:
    """Rewrites the next slider value the page sends to the server (a hand-edited websocket message)."""

    def __init__(self):
        self.replacement = None
        self.done = False

    def route(self, ws):
        server = ws.connect_to_server()

        def to_server(message):
            if self.replacement is not None and isinstance(message, str) and '"v_model"' in message:
                edited = re.sub(r'"v_model":\s*[-0-9.e]+', f'"v_model": {self.replacement}', message, count=1)
                if edited != message:
                    message, self.replacement, self.done = edited, None, True
            server.send(message)

        ws.on_message(to_server)


@pytest.mark.browser
def test_dashboard_in_browser(browser, tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(_dashboard_command(port), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        _wait_for_http(url, proc, timeout=180)  # the server loads the kernels first: a fresh clone compiles them
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        tamper = _Tamper()
        page.route_web_socket(re.compile(r".*/kernels/.*"), tamper.route)
        errors, foreign = [], []
        page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
        page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
        page.on("request", lambda req: foreign.append(req.url)
                if urlparse(req.url).hostname not in ("127.0.0.1", "localhost") and
                urlparse(req.url).scheme in ("http", "https", "ws", "wss") else None)
        page.goto(url)
        page.wait_for_selector(".rapport-board[data-week='0']", timeout=60_000)

        # layout at 1280 x 720: the lesson text and at least two charts without scrolling
        page.wait_for_timeout(500)  # the sliders report their values once shown: that must not end the lesson
        assert "What to watch:" in page.locator(".rapport-lesson").inner_text()
        assert _within(page.locator(".rapport-lesson").bounding_box()), "lesson text not on the first screen"
        boxes = [c.bounding_box() for c in page.locator(".rapport-chart").all()]
        assert len(boxes) == 6 and sum(_within(b) for b in boxes) >= 2, boxes
        # every slider shows its value and unit; every chart over time says "week" under its x axis
        labels = page.locator(".rapport-label").all_inner_texts()
        assert len(labels) == page.locator(".v-slider").count() == 9
        assert all(re.search(r": -?[0-9][0-9,.]*( \S.*)?$", text) for text in labels), labels
        for expected in ("Speed: 15 weeks/s", "Contact frequency: 0.5 contacts/week", "Customers: 3,000 customers"):
            assert expected in labels
        axis_texts = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.rapport-chart')]
            .map(c => [c.dataset.chart, [...c.querySelectorAll('svg text')].map(t => t.textContent)]))""")
        assert all("week" in texts for name, texts in axis_texts.items() if name != "network"), axis_texts
        before = _charts_svg(page)

        # a control applies live: contact frequency one notch up (0.5 -> 0.55)
        page.locator(".rapport-control", has_text="Contact frequency").get_by_role("slider").focus()
        page.keyboard.press("ArrowRight")
        page.get_by_text("Contact frequency: 0.55 contacts/week").wait_for(timeout=10_000)
        page.get_by_text("0.55 contacts/week ·").wait_for(timeout=10_000)

        # a hand-edited websocket message: the targeting slider's value becomes 7.5
        tamper.replacement = "7.5"
        page.locator(".rapport-control", has_text="Targeting strictness").get_by_role("slider").focus()
        page.keyboard.press("ArrowRight")
        page.get_by_text("Refused targeting=7.5").wait_for(timeout=10_000)
        assert tamper.done
        page.get_by_text("Targeting strictness: 0.6 share aimed").wait_for(timeout=10_000)
        targeting = page.locator(".rapport-control", has_text="Targeting strictness").get_by_role("slider")
        page.wait_for_function("el => el.getAttribute('aria-valuenow') === '0.6'", arg=targeting.element_handle(),
                               timeout=10_000)  # the slider itself is back at the kept value
        page.wait_for_timeout(500)
        assert page.get_by_text("targeting 0.60 ·").count() == 1 and "0.6 share aimed" in targeting.locator(
            "xpath=ancestor::*[contains(@class, 'rapport-control')]").inner_text()

        # Step: every chart over time gets the new week
        for week in (1, 2):
            page.get_by_role("button", name="Step", exact=True).click()
            # a liveness bound, not a speed test (benchmarks/dashboard_bench.py measures speed): generous for
            # a machine loaded by the rest of the suite
            page.wait_for_selector(f".rapport-board[data-week='{week}']", timeout=60_000)
        after = _charts_svg(page)
        unchanged = [name for name in before if before[name] == after[name]]
        assert unchanged in ([], ["network"]), f"{unchanged} did not change after two steps"

        # Play, Pause, then the controls fold away
        page.get_by_role("button", name="Play", exact=True).click()
        page.wait_for_function("Number(document.querySelector('.rapport-board').dataset.week) >= 60", timeout=60_000)
        page.get_by_role("button", name="Pause", exact=True).click()
        page.get_by_role("button", name="Play", exact=True).wait_for(timeout=10_000)
        paused_at = _week(page)
        page.wait_for_timeout(800)
        stopped = _week(page)
        assert stopped - paused_at <= 1, "Pause must stop within one week"  # the week in flight may land
        page.wait_for_timeout(600)
        assert _week(page) == stopped
        assert _charts_svg(page)["network"] != before["network"]  # customers moved on through the stages
        page.get_by_role("button", name="Hide controls").click()
        page.get_by_role("button", name="Show controls").wait_for(timeout=10_000)
        assert page.locator(".rapport-sidebar .v-slider").count() == 0
        page.get_by_role("button", name="Show controls").click()
        page.get_by_role("button", name="Hide controls").wait_for(timeout=10_000)

        # a second tab has its own simulation, on the default lesson; the screenshot shows it after 80 weeks
        second = browser.new_page(viewport={"width": 1280, "height": 720})
        second.goto(url)
        second.wait_for_selector(".rapport-board[data-week='0']", timeout=60_000)
        assert _week(page) == stopped
        second.get_by_text("What to watch:").wait_for(timeout=10_000)
        second.get_by_role("button", name="Play", exact=True).click()
        second.wait_for_function("Number(document.querySelector('.rapport-board').dataset.week) >= 80",
                                 timeout=60_000)
        second.get_by_role("button", name="Pause", exact=True).click()
        second.get_by_role("button", name="Play", exact=True).wait_for(timeout=10_000)
        second.wait_for_timeout(500)
        assert _week(page) == stopped
        second.screenshot(path=os.environ.get("RAPPORT_SCREENSHOT") or str(tmp_path / "dashboard.png"))
        second.close()

        assert not errors, "the page logged errors:\n" + "\n".join(errors)
        assert not foreign, "requests left localhost (must work offline):\n" + "\n".join(foreign)
        page.close()
    finally:
        proc.terminate()  # the command is the server: it stops on SIGTERM ...
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # ... and if it did not, its whole process group goes
            out, _ = proc.communicate()
    log = out.decode(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_every_starting_control_value_lies_on_its_sliders_steps():
    """A slider moves a value off its steps when shown, which ends the lesson: calibrated
    defaults (rival_pull 2.077...) start on the grid."""
    from sim.app_logic import MARKET_CONTROLS, STRATEGY_CONTROLS, default_controls

    values = default_controls()
    for c in (*MARKET_CONTROLS, *STRATEGY_CONTROLS):
        if c.kind == "float" and c.step:
            steps = values[c.name] / c.step
            assert abs(steps - round(steps)) < 1e-9, (c.name, values[c.name])
