"""What the ``key=value`` subcommands share (``rapport sensitivity``, ``rapport validate``):
reading a setting's value, a model parameter given on the command line, and the results
folder, written under a ``.incomplete`` name and renamed when complete."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from .params import PARAMS, ParameterError
from .results import INCOMPLETE, MARKER, write_text_atomically

GROUPS = ("market", "behaviour", "economics")  # a parameter may be given as GROUP.NAME=value


def number(key: str, text: str, kind: type = float) -> Any:
    """``text`` as a number (or a switch, for ``kind`` bool), or one line naming ``key``."""
    if kind is bool:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ParameterError(f"{key}={text!r}: expected true or false")
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"{key}={text!r}: expected a number") from None
    return int(value) if kind is int and value == int(value) else value


def whole(key: str, text: str, lo: int, hi: int) -> int:
    """``text`` as a whole number in [lo, hi], or one line naming ``key``."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise ParameterError(f"{key}={text!r}: expected a whole number in [{lo}, {hi}]")
    return value


def parameter(key: str, text: str) -> tuple[str, Any] | None:
    """``NAME=value`` or ``GROUP.NAME=value`` of a model parameter as (name, value); None if
    ``key`` names no parameter. The value is checked by ``sim.params.validate`` later."""
    name = key.rpartition(".")[2]
    if name in PARAMS and (key == name or key.partition(".")[0] in GROUPS):
        return name, number(key, text, PARAMS[name].kind)
    return None


def fresh_folder(root: Path, kind: str) -> Path:
    """A new results folder name ``<root>/<kind>/<time>`` (``_1``, ``_2``... if taken)."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    target = Path(root) / kind / stamp
    n = 1
    while target.exists() or target.with_name(target.name + INCOMPLETE).exists():
        target = target.with_name(f"{stamp}_{n}")
        n += 1
    return target


def staging_folder(final_dir: Path) -> Path:
    """Make and return the folder a results folder is written in: ``<final_dir>.incomplete``."""
    staging = Path(final_dir).with_name(Path(final_dir).name + INCOMPLETE)
    staging.mkdir(parents=True)
    return staging


def publish(staging: Path, final_dir: Path, marker: str) -> Path:
    """Write the ``COMPLETE`` marker last, then rename the staging folder into place."""
    (staging / MARKER).write_text(marker + "\n")
    os.replace(staging, final_dir)
    return Path(final_dir)


def read_settings(argv: list[str], command: str, settings: tuple[str, ...], integers: dict, fixed: dict,
                  lists: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """``key=value`` words as (settings, fixed parameters): whole numbers checked against
    ``integers`` (name: (lo, hi)), ``lists`` split at commas, any parameter added to ``fixed``."""
    values: dict[str, Any] = {}
    fixed = dict(fixed)
    for word in argv:
        key, eq, text = word.partition("=")
        if not eq or not key:
            raise ParameterError(f"{word!r}: expected key=value (see `rapport {command} --help`)")
        given = parameter(key, text)
        if key in lists:
            values[key] = tuple(p for p in text.split(",") if p)
        elif key in settings:
            values[key] = whole(key, text, *integers[key]) if key in integers else text
        elif given is not None:
            fixed[given[0]] = given[1]
        else:
            raise ParameterError(f"{key}: unknown setting, allowed are {', '.join(settings)} or a parameter "
                                 f"(NAME=value)")
    return values, fixed


def run_info(started: float, seed_policy: str, spec: Any) -> dict:
    """What ``meta.json`` records of every subcommand's run: code, command, time, seeds, spec."""
    import sys
    import time
    from dataclasses import asdict
    from datetime import timezone

    from .writing import git_commit

    return {**git_commit(), "argv": sys.argv,
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 2), "seed_policy": seed_policy, "spec": asdict(spec)}


def write_section(path: Path, markers: tuple[str, str], section: str) -> None:
    """Replace the text between ``markers`` (start, end) of a Markdown file with ``section``:
    the file is written whole under a temporary name, then renamed (``make validation``,
    ``make studies``)."""
    text = Path(path).read_text()
    head, rest = text.split(markers[0], 1)
    tail = rest.split(markers[1], 1)[1]
    write_text_atomically(Path(path), f"{head}{markers[0]}\n{section}\n{markers[1]}{tail}")
