"""Where the built-in configs, strategies and experiments are: inside the installed package.

In a checkout, ``sim/configs`` links to the top-level ``configs/`` folder (whose
``experiment`` links to ``experiments/``); a built wheel holds real copies, so that an
installed Rapport runs from any folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(str(files("sim") / "configs"))
STRATEGY_DIR = CONFIG_DIR / "strategy"


def template(name: str) -> Any:
    """``sim/templates/<name>`` as a jinja2 template (autoescaped, strict about missing names)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("sim", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template(name)
