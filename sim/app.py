"""``rapport dashboard``: start the classroom dashboard (a Solara server) on this machine.

The page itself is ``sim/app_page.py``; this module only checks the arguments and the
environment, then replaces its own process with the server (``sim/app_server.py``, which
runs ``solara run sim.app_page``), so that killing the command kills the server and no
child process is left behind. The dashboard works offline: Solara serves its JavaScript
and fonts from the locally installed ``solara-assets`` package (the assets proxy), never
downloads a missing asset, and telemetry and the PyPI version check are off.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import site
import sys

from pathlib import Path

from .app_logic import DEFAULT_CUSTOMERS, VEGA, VEGA_LITE

# Packages the page needs; without ipyvue/ipyvuetify < 2 and solara-assets the page stays blank.
REQUIRED = ("solara", "solara_assets", "ipyvue", "ipyvuetify")


def offline_env(base: dict | None = None) -> dict:
    """Environment for the server: local assets, no telemetry, MESA logger at WARNING."""
    env = dict(os.environ if base is None else base)
    env["SOLARA_ASSETS_PROXY"] = "True"  # serve CDN files from the local solara-assets cache
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    env["SOLARA_THEME_SHOW_BANNER"] = "False"  # the "runs on Solara" badge covers a chart corner
    # no echo of a value the browser sent: a refused value is not sent back (a slider would clamp it
    # into range and send that), the page shows the value kept instead
    env["JUPYTER_WIDGETS_ECHO"] = "0"
    return env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rapport dashboard",
        description="Start the Rapport classroom dashboard in the browser (works offline).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765, 0 = any free)")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS,
                        help=f"customers in the simulated market (default {DEFAULT_CUSTOMERS}, 10 to 100000)")
    parser.add_argument("--open", action="store_true", help="open a browser window once the server is up")
    return parser


def server_command(args: argparse.Namespace) -> list[str]:
    """The server's command line (``sim.app_server``, options of ``solara run``) for the parsed arguments."""
    return [sys.executable, "-m", "sim.app_server", "--host", args.host, "--port", str(args.port),
            "--production", "--no-check-version", "--open" if args.open else "--no-open",
            "--log-level", "warning"]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (without the ``dashboard`` word) and become the server until Ctrl-C.

    Returns:
        2 for bad arguments or missing packages; otherwise the process is replaced by the
        server (``os.execve``) and does not return.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port={args.port}: expected a port number in [0, 65535]")
    if not 10 <= args.customers <= 100_000:
        parser.error(f"--customers={args.customers}: expected a whole number in [10, 100000]")
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        print(f"rapport dashboard: missing package(s) {', '.join(missing)}; "
              'install them with: pip install -e ".[dashboard]"', file=sys.stderr)
        return 2
    places = [Path(prefix, "share", "solara", "cdn") for prefix in (sys.prefix, site.getuserbase())]
    absent = [name for name in (VEGA, VEGA_LITE) if not any((place / name).is_file() for place in places)]
    if absent:  # solara-assets puts its files there; another version may ship other Vega versions
        print(f"rapport dashboard: {places[0] / absent[0]} is missing (the charts need it offline); "
              "install the solara-assets version that ships it (1.58 does)", file=sys.stderr)
        return 2
    env = offline_env()
    env["RAPPORT_DASHBOARD_CUSTOMERS"] = str(args.customers)
    shown = "localhost" if args.host in ("127.0.0.1", "localhost") else args.host
    print(f"Rapport dashboard on http://{shown}:{args.port}  (Ctrl-C to stop)", flush=True)
    sys.stderr.flush()
    command = server_command(args)
    os.execve(command[0], command, env)  # one process: a kill of the command is a kill of the server
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
