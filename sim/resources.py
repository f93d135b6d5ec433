"""Where the built-in configs, strategies and experiments are: inside the installed package.

In a checkout, ``sim/configs`` links to the top-level ``configs/`` folder (whose
``experiment`` links to ``experiments/``); a built wheel holds real copies, so that an
installed Rapport runs from any folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CONFIG_DIR = Path(str(files("sim") / "configs"))
STRATEGY_DIR = CONFIG_DIR / "strategy"
