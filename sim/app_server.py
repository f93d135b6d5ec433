"""The dashboard's server process: Solara serving ``sim.app_page``, strictly offline.

``rapport dashboard`` (``sim/app.py``) replaces itself with this process (``exec``), so a
kill of the command is a kill of the server: no child is left listening. Solara's assets
proxy serves its JavaScript and fonts from the installed ``solara-assets`` cache and, for
a path it does not have, would download it from a CDN; here a missing asset is a 404 and
no request ever leaves the machine.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("rapport.dashboard")


def refuse_download(url: str) -> bytes:
    """Stand-in for Solara's CDN download: the dashboard never fetches from the network."""
    logger.info("not fetching %s: the dashboard is offline, the asset is a 404", url)
    raise FileNotFoundError(url)


def serve(argv: list[str]) -> None:
    """Run ``solara run sim.app_page`` with ``argv`` in this process, with downloads refused,
    once the kernels are loaded."""
    from solara.server import cdn_helper

    from .experiment import load_kernels

    load_kernels()

    cdn_helper.fetch_from_cdn = refuse_download  # get_path() calls it on a cache miss
    from solara.__main__ import main as solara_main

    sys.argv = ["solara", "run", "sim.app_page", *argv]
    solara_main()


if __name__ == "__main__":
    serve(sys.argv[1:])
