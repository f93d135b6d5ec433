"""Writing a results folder so that an interrupted run never looks complete.

Files go into a staging folder unique to the process (``<final>.<pid>.incomplete``);
``COMPLETE`` is written last, then the folder is renamed into place under a name no other
run holds. ``meta.json`` records the code and the command
that produced the results.
"""

from __future__ import annotations

import errno
import functools
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .resources import template
from .results import MARKER, TOKEN, Results, staging_path, write_text_atomically

REPO = Path(__file__).resolve().parent.parent
COMMAND_ENV = "RAPPORT_COMMAND"  # the user's command line, set by ``rapport``; launchers' workers inherit it


def command() -> list[str]:
    """The command the user typed (not a launcher worker's own command line)."""
    recorded = os.environ.get(COMMAND_ENV)
    if recorded:
        try:
            return list(json.loads(recorded))
        except (ValueError, TypeError):
            pass
    return list(sys.argv)


@functools.cache
def git_commit() -> dict:
    """The git commit of the code that ran, and whether the work tree had changes (asked
    once per process: every job of a sweep ran the same code)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "sim", "configs",
                                                                       "experiments"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def meta(results: Results, started: float, extra: dict | None = None) -> dict:
    """What meta.json holds: versions, commit, timing, the command and the experiment."""
    from . import __version__

    return {"rapport_version": __version__, **git_commit(), "python": platform.python_version(),
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 2), "argv": command(),
            "experiment": results.description(), **(extra or {})}


def write_results(results: Results, final_dir: Path, *, report: bool = True, config_yaml: str | None = None,
                  started: float | None = None, staging: Path | None = None, extra_meta: dict | None = None,
                  replace: bool = False) -> Path:
    """Write every file of a results folder, then rename it into place.

    Files go into ``staging`` (default ``NAME.TOKEN.incomplete``, unique to this process);
    ``COMPLETE`` is written last, then the folder is renamed, in one step, to ``final_dir``,
    or, if that name is taken, to the first free ``NAME_1``, ``NAME_2``... With
    ``replace=True`` an existing ``final_dir`` is replaced instead (removed after the swap).
    Returns the final folder.
    """
    final_dir = Path(final_dir)
    if staging is None:
        staging = staging_path(final_dir)
        shutil.rmtree(staging, ignore_errors=True)  # left by an earlier, interrupted call of this process
    staging.mkdir(parents=True, exist_ok=True)
    if config_yaml is not None:
        (staging / "config.yaml").write_text(config_yaml)
    results.weekly.to_parquet(staging / "weekly.parquet", index=False)
    results.tiers.to_parquet(staging / "tiers.parquet", index=False)
    if results.customers is not None:
        results.customers.to_parquet(staging / "customers.parquet", index=False)
    results.summary.to_csv(staging / "summary.csv", index=False)
    results.differences.to_csv(staging / "differences.csv", index=False)
    if results.switch is not None:
        results.switch.to_csv(staging / "switch.csv", index=False)
    info = meta(results, started or time.time(), extra_meta)
    (staging / "meta.json").write_text(json.dumps(info, indent=2, default=_json_default))
    if report:
        from .report import write_report  # matplotlib and jinja2 load only when a report is drawn (sweep jobs skip it)

        write_report(results, staging / "report.html", info)
    (staging / MARKER).write_text(f"{info['started']} rapport {info['rapport_version']} {info['commit']}\n")
    return _replace(staging, final_dir) if replace else publish(staging, final_dir)


def publish(staging: Path, final_dir: Path) -> Path:
    """Rename ``staging`` to ``final_dir`` or the first free ``final_dir_N``; never onto a
    folder another process published (the rename fails and the next name is tried)."""
    n = 0
    while True:
        target = final_dir if n == 0 else final_dir.with_name(f"{final_dir.name}_{n}")
        n += 1
        if target.exists():
            continue
        try:
            os.rename(staging, target)
            return target
        except OSError as err:
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise


def _replace(staging: Path, final_dir: Path) -> Path:
    """Swap ``staging`` in for ``final_dir`` (which may be missing); the old one is removed after."""
    old = final_dir.with_name(f"{final_dir.name}.{TOKEN}.old")
    while True:
        shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(final_dir, old)
        except FileNotFoundError:
            pass
        try:
            os.rename(staging, final_dir)
            break
        except OSError as err:  # another process put its own in place meanwhile: swap again
            if err.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    shutil.rmtree(old, ignore_errors=True)
    return final_dir


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, float) and math.isinf(x):
        return str(x)
    return str(x)


def render_html(name: str, path: Path, **context: Any) -> Path:
    """Render ``sim/templates/<name>`` to ``path`` atomically."""
    return write_text_atomically(path, template(name).render(**context))


def png_bytes(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (80 dpi), the figure closed."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()
