"""How fast the classroom dashboard keeps pace, measured in headless Chromium.

Starts ``rapport dashboard`` (3,000 customers by default) on a free localhost port, opens
it at 1280 x 720 in Debian's ``chromium`` driven by Playwright, and times, inside the page
(``performance.now()``), what a class sees: the chart board's ``data-week`` attribute,
which the page sets once Vega has drawn a week.

- Step: click Step -> every chart drawn with the new week (and the next animation frame).
- Play: Reset, Play at the default speed, time until week 260 is drawn (a five-year
  lesson); weeks shown per second.
- Two tabs: both play at once; weeks shown per second in each, over a window.
- Reset: after some weeks, click Reset -> week 0 drawn.
- Pause: click Pause while playing; weeks drawn after the click.

Medians over several runs, with min-max, the machine and the load average (the machine
is shared: other processes slow every figure down). Writes
``benchmarks/results/dashboard.json`` and prints a table; always exits 0.

    .venv/bin/python benchmarks/dashboard_bench.py [--runs 5] [--customers 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import machine  # noqa: E402
from test_dashboard import CHROMIUM_ARGS, _dashboard_command, _free_port, _wait_for_http  # noqa: E402

TARGETS = {  # measure: (comparison, target, unit)
    "step_s": ("<=", 0.3, "s"), "play_weeks_per_s": (">=", 10.0, "weeks/s"), "lesson_260_s": ("<", 30.0, "s"),
    "two_tabs_weeks_per_s": (">=", 5.0, "weeks/s"), "reset_s": ("<=", 0.5, "s"), "pause_overshoot_weeks": ("<=", 1, "weeks"),
}

# In-page helpers: wait for the board to show a week, click a run button, log the weeks shown.
HELPERS = """
window.rapportBoard = () => document.querySelector('.rapport-board');
window.rapportWeek = () => Number(rapportBoard().dataset.week);
window.rapportEpoch = () => Number(rapportBoard().dataset.epoch);
window.rapportClick = async (label) => {  // the button, once the server has shown it
  for (let i = 0; i < 400; i++) {
    const b = [...document.querySelectorAll('.rapport-runbar button')]
      .find(b => b.textContent.trim().toLowerCase() === label.toLowerCase() && !b.disabled);
    if (b) { b.click(); return; }
    await new Promise(r => setTimeout(r, 25));
  }
  throw new Error(`no ${label} button`);
};
window.rapportUntil = (pred, timeout) => new Promise((resolve, reject) => {
  const el = rapportBoard();
  const done = () => { if (pred()) { obs.disconnect(); requestAnimationFrame(() => resolve(performance.now())); return true; } };
  const obs = new MutationObserver(done);
  obs.observe(el, {attributes: true});
  if (!done()) setTimeout(() => { obs.disconnect(); reject(new Error('timeout')); }, timeout);
});
window.rapportLog = [];
new MutationObserver(() => rapportLog.push([performance.now(), rapportWeek()]))
    .observe(rapportBoard(), {attributes: true, attributeFilter: ['data-week']});
"""


def open_page(browser_or_context, url: str):
    page = browser_or_context.new_page(viewport={"width": 1280, "height": 720})
    page.goto(url)
    page.wait_for_selector(".rapport-board[data-week='0']", timeout=60_000)
    page.evaluate(HELPERS)
    return page


def step_time(page) -> float:
    return page.evaluate("""async () => {
        const w = rapportWeek(), t0 = performance.now();
        await rapportClick('Step');
        return (await rapportUntil(() => rapportWeek() > w, 10000) - t0) / 1000;
    }""")


def reset_time(page) -> float:
    return page.evaluate("""async () => {
        const e = rapportEpoch(), t0 = performance.now();
        await rapportClick('Reset');
        return (await rapportUntil(() => rapportEpoch() !== e && rapportWeek() === 0, 10000) - t0) / 1000;
    }""")


def lesson_time(page, weeks: int = 260) -> float:
    """Reset, Play, seconds until week ``weeks`` is drawn; then Pause."""
    reset_time(page)
    seconds = page.evaluate(f"""async () => {{
        const t0 = performance.now();
        await rapportClick('Play');
        return (await rapportUntil(() => rapportWeek() >= {weeks}, 120000) - t0) / 1000;
    }}""")
    page.evaluate("rapportClick('Pause')")
    return seconds


def pause_overshoot(page) -> int:
    """Play 2 s, Pause, weeks drawn after the click."""
    page.evaluate("rapportClick('Play')")
    page.wait_for_timeout(2000)
    at = page.evaluate("async () => { const w = rapportWeek(); await rapportClick('Pause'); return w; }")
    page.wait_for_timeout(1500)
    return page.evaluate("rapportWeek()") - at


def shown_rate(pages, seconds: float) -> list[float]:
    """Play in every page at once; weeks shown per second in each over ``seconds`` after 2 s."""
    for page in pages:
        page.evaluate("rapportClick('Play')")
    time.sleep(2)
    marks = [page.evaluate("[performance.now(), rapportWeek()]") for page in pages]
    time.sleep(seconds)
    ends = [page.evaluate("[performance.now(), rapportWeek()]") for page in pages]
    for page in pages:
        page.evaluate("rapportClick('Pause')")
    return [(e[1] - m[1]) / ((e[0] - m[0]) / 1000) for m, e in zip(marks, ends)]


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def verdict(name: str, value: float) -> str:
    op, target, _ = TARGETS[name]
    ok = {"<=": value <= target, ">=": value >= target, "<": value < target}[op]
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repeats of each measure (default 5; 3 for the lessons)")
    parser.add_argument("--customers", type=int, default=3000)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = _dashboard_command(port)
    command[command.index("--customers") + 1] = str(args.customers)
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info = machine()
    load_before = os.getloadavg()
    results: dict[str, dict] = {}
    try:
        _wait_for_http(url, server, timeout=60)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = open_page(browser, url)
            page.wait_for_timeout(1000)
            results["step_s"] = summary([step_time(page) for _ in range(args.runs * 2)])
            results["reset_s"] = summary([reset_time(page) for _ in range(args.runs)])
            lessons = [lesson_time(page) for _ in range(max(3, args.runs // 2))]
            results["lesson_260_s"] = summary(lessons)
            results["play_weeks_per_s"] = summary([260 / s for s in lessons])
            results["pause_overshoot_weeks"] = summary([pause_overshoot(page) for _ in range(args.runs)])
            other = open_page(browser, url)
            rates = [r for _ in range(max(3, args.runs // 2)) for r in shown_rate([page, other], 10)]
            results["two_tabs_weeks_per_s"] = summary(rates)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    info["load_average_before"] = load_before
    info["load_average_after"] = os.getloadavg()
    info["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    info["customers"] = args.customers
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dashboard.json").write_text(json.dumps({"machine": info, "results": results}, indent=2))

    print(f"Machine: {info['cpu']}, {info['cores']} cores; load average (1, 5, 15 min) "
          f"{' '.join(f'{x:.1f}' for x in load_before)} before, "
          f"{' '.join(f'{x:.1f}' for x in info['load_average_after'])} after; {info['date']}")
    print(f"| Measure ({args.customers:,} customers, 1280 x 720) | Median | Min-max | Target | |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        op, target, unit = TARGETS[name]
        print(f"| {name} | {r['median']:.2f} {unit} | {r['min']:.2f}-{r['max']:.2f} | {op} {target:g} {unit} "
              f"| {verdict(name, r['median'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
