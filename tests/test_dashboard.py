"""Dashboard tests: the pure logic (fast) and the real page in headless Chromium (browser).

The browser test starts ``rapport dashboard`` on a free localhost port, moves a control,
steps the model and checks that the charts change, that the page logged no error and that
no request left localhost (the dashboard must work offline). It saves docs/dashboard.png.
"""

from __future__ import annotations

import math
import os
import shutil
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
    AS_PRESET, CONTROLS, LESSONS, MARKET_CONTROLS, build_strategy, default_controls, lesson_controls,
    network_sample, parse_budget, parse_seed, payback_week, preset_controls,
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
    for c in CONTROLS.values():
        assert c.hint and c.label
        if c.kind == "float":
            assert "[" in c.label and c.lo < c.hi and c.step > 0
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


def test_payback_week():
    weeks = np.arange(1, 8)
    assert payback_week(weeks, np.array([-5, -8, -3, 1, 4, 6, 9])) == 4
    assert payback_week(weeks, np.array([-5, 2, -1, 1, 4, 6, 9])) == 4  # from the last crossing
    assert payback_week(weeks, np.array([-5, -8, -3, -1, -1, -2, -1])) is None
    assert payback_week(weeks, np.array([0, 1, 2, 3, 4, 5, 6])) == 1
    assert payback_week(np.array([]), np.array([])) is None


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


def test_main_rejects_bad_arguments():
    from sim.app import main, server_command, build_parser

    with pytest.raises(SystemExit) as exit_:
        main(["--port", "70000"])
    assert exit_.value.code == 2
    cmd = server_command(build_parser().parse_args(["--port", "9000"]))
    assert "--production" in cmd and "--no-check-version" in cmd and "127.0.0.1" in cmd


# --- the real page in a browser ---------------------------------------------------------
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


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium browser installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="python package playwright not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _chart_images(page) -> list[str]:
    """The content of every chart image in the grid (Solara shows them as blob URLs), as text."""
    return page.evaluate("""async () => {
        const imgs = Array.from(document.querySelectorAll('.vue-grid-item img'));
        return Promise.all(imgs.map(async img => (await fetch(img.src)).text()));
    }""")


@pytest.mark.browser
def test_dashboard_in_browser(browser):
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen(_dashboard_command(port), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        _wait_for_http(url, proc, timeout=45)
        page = browser.new_page(viewport={"width": 1600, "height": 1650})
        errors, foreign = [], []
        page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
        page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
        page.on("request", lambda req: foreign.append(req.url)
                if urlparse(req.url).hostname not in ("127.0.0.1", "localhost") and
                urlparse(req.url).scheme in ("http", "https", "ws", "wss") else None)
        page.goto(url)
        page.get_by_text("Week 0 ·").wait_for(timeout=30_000)
        page.get_by_role("button", name="Step").wait_for()
        page.wait_for_function("document.querySelectorAll('.vue-grid-item img').length >= 6", timeout=30_000)
        before = _chart_images(page)
        assert len(before) == 6 and all(len(chart) > 1000 for chart in before)  # six charts + journey text

        # move a control: contact frequency one notch up (0.5 -> 0.55), applied live
        slider = page.locator(".rapport-control", has_text="Contact frequency").get_by_role("slider")
        slider.focus()
        page.keyboard.press("ArrowRight")
        page.get_by_text("0.55 contacts/week").wait_for(timeout=10_000)

        for week in (1, 2):
            page.get_by_role("button", name="Step").click()
            page.get_by_text(f"Week {week} ·").wait_for(timeout=15_000)
        page.wait_for_timeout(500)
        after = _chart_images(page)
        changed = sum(a != b for a, b in zip(before, after))
        assert changed == len(before), f"only {changed} of {len(before)} charts changed after two steps"

        # a longer run for the screenshot: Mesa's render interval makes one Step advance many weeks
        render = page.locator(".v-input", has_text="Render Interval").get_by_role("slider")
        render.focus()
        for _ in range(20):
            page.keyboard.press("ArrowRight")
        page.get_by_role("button", name="Step").click()
        page.get_by_text("Week 43 ·").wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(ROOT / "docs" / "dashboard.png"))

        assert not errors, "the page logged errors:\n" + "\n".join(errors)
        assert not foreign, "requests left localhost (must work offline):\n" + "\n".join(foreign)
        page.close()
    finally:
        proc.terminate()  # the command stops its server on SIGTERM ...
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # ... and if it did not, its whole process group goes
            out, _ = proc.communicate()
    log = out.decode(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert "Could not load URL" not in log, "the server tried to fetch an asset from a CDN:\n" + log[-3000:]
