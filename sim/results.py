"""The results of an experiment: the ``Results`` tables, and reading a results folder.

A results folder holds ``weekly.parquet``, ``tiers.parquet``, ``customers.parquet``
(optional), ``summary.csv``, ``differences.csv``, ``switch.csv`` (per comparison: the dip,
break-even week and gains of switching, ``sim.switch``), ``meta.json`` (the experiment described,
the code and command that ran it), optionally ``config.yaml``, ``report.html`` and
``events/`` (the event log, ``sim.events``, with ``events=true``), and a
``COMPLETE`` marker written last (see ``sim.writing``). A folder without the marker, or
still named ``*.incomplete``, was interrupted or is still being written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import analysis, words
from .params import ParameterError
from .switch import switch_table

INCOMPLETE = ".incomplete"
MARKER = "COMPLETE"
TOKEN = str(os.getpid())  # staging folders are named NAME.TOKEN.incomplete: no two live processes share one
COMPARISON = "comparison"
# Parameters shown in the report's market description.
MARKET_KEYS = ("customers", "our_share", "heavy_share", "social_ties", "rival_pull", "rival_contact_rate",
               "vehicle_margin", "service_margin", "budget")


@dataclass
class Results:
    """Everything a report is made from: the experiment described, and its tables."""

    name: str
    question: str
    arms: list[dict]  # name, strategy, description, params (overrides of the market); swept values if gathered
    baseline: str
    horizon_weeks: int
    seeds: list[int]
    market: dict
    weekly: pd.DataFrame
    tiers: pd.DataFrame
    customers: pd.DataFrame | None = None
    summary: pd.DataFrame | None = None
    differences: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    comparisons: list[tuple[str, str]] = field(default_factory=list)  # (arm, versus): what the verdict compares
    current: dict | None = None  # the current practice the arms switched from (``sim.switch.describe_practice``)
    switch: pd.DataFrame | None = None  # per comparison: dip, break-even, gains (``sim.switch.switch_table``)

    @property
    def arm_names(self) -> list[str]:
        return [a["name"] for a in self.arms]

    @property
    def swept(self) -> list[str]:
        """The parameters a gathered sweep varied (``market.customers``...), in order."""
        return list(dict.fromkeys(k for a in self.arms for k in (a.get("swept") or {})))

    def analyse(self) -> "Results":
        """Fill ``summary`` and ``differences`` from the weekly table (with one column per
        swept parameter, after the arm names)."""
        if not self.comparisons:
            self.comparisons = [(a, self.baseline) for a in self.arm_names if a != self.baseline]
        self.summary = analysis.summary(self.weekly, self.arm_names)
        self.differences = analysis.differences(self.weekly, analysis.all_pairs(self.arm_names, self.comparisons))
        self.switch = switch_table(self.weekly, self.comparisons, self.horizon_weeks)
        values = {a["name"]: a.get("swept") or {} for a in self.arms}
        for position, key in enumerate(self.swept):
            self.summary.insert(1 + position, key, [values[arm].get(key) for arm in self.summary["arm"]])
            self.differences.insert(3 + position, key, [values[arm].get(key) for arm in self.differences["arm"]])
        return self

    @property
    def headline(self) -> list[str]:
        """The verdict's first sentences, one per comparison, in plain words (``sim.words``)."""
        return words.headline(self)

    def objective(self, metric: str = "profit") -> float:
        """The number a sweeper optimises: the first comparison's paired difference in
        ``metric`` (arm minus versus), or, with one arm, the arm's mean (``profit`` and
        ``roi`` are then against the no-contact holdout). Direction: ``metrics.OUTCOME[metric].better``."""
        if self.comparisons:
            arm, versus = self.comparisons[0]
            row = self.differences[(self.differences["arm"] == arm) & (self.differences["versus"] == versus)]
        else:
            row = self.summary[self.summary["arm"] == self.arm_names[0]]
        return float(row[metric].iloc[0]) if len(row) else float("nan")

    def description(self) -> dict:
        """The experiment as plain data (saved in meta.json, read back by ``load``)."""
        return {"name": self.name, "question": self.question, "arms": self.arms, "baseline": self.baseline,
                "horizon_weeks": self.horizon_weeks, "seeds": self.seeds, "market": self.market,
                "notes": self.notes, "comparisons": [list(c) for c in self.comparisons], "current": self.current}


def staging_path(final: Path) -> Path:
    """Where this process writes ``final`` before renaming it: ``NAME.TOKEN.incomplete``."""
    final = Path(final)
    return final.with_name(f"{final.name}.{TOKEN}{INCOMPLETE}")


def final_path(staging: Path) -> Path:
    """The folder a staging folder becomes: ``NAME.TOKEN.incomplete`` (or ``NAME.incomplete``) -> ``NAME``."""
    staging = Path(staging)
    name = staging.name.removesuffix(INCOMPLETE)
    stem, dot, token = name.rpartition(".")
    return staging.with_name(stem if dot and token.isdigit() else name)


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` is a results folder whose writing finished."""
    return (Path(folder) / MARKER).is_file() and not Path(folder).name.endswith(INCOMPLETE)


def load(folder: Path, switch: bool = True) -> Results:
    """Read a complete results folder back (with ``switch=False`` without its switch table,
    which the gathering of a sweep computes for the pooled runs only)."""
    folder = Path(folder)
    if not is_complete(folder):
        raise ParameterError(f"{folder}: incomplete results (no {MARKER} marker): the run was interrupted or "
                             f"is still running")
    reading = "meta.json"  # the file being read, named if it is damaged
    try:
        d = json.loads((folder / reading).read_text())["experiment"]
        tables = {}
        for reading in ("customers.parquet", "weekly.parquet", "tiers.parquet", "summary.csv", "differences.csv"):
            path = folder / reading
            if reading != "customers.parquet" or path.exists():
                tables[reading] = pd.read_parquet(path) if reading.endswith(".parquet") else pd.read_csv(path)
        reading = "meta.json"
        res = Results(d["name"], d["question"], d["arms"], d["baseline"], d["horizon_weeks"], d["seeds"], d["market"],
                      tables["weekly.parquet"], tables["tiers.parquet"], tables.get("customers.parquet"),
                      notes=d.get("notes", []), comparisons=[tuple(c) for c in d.get("comparisons", [])],
                      current=d.get("current"))
        res.summary, res.differences = tables["summary.csv"], tables["differences.csv"]
        res.switch = switch_table(res.weekly, res.comparisons, res.horizon_weeks) if switch else None
    except Exception as err:  # a file missing, truncated or edited: name the folder and file, not a traceback
        raise ParameterError(f"{folder}: damaged results ({reading}: {damage(err, folder)}); run it again") from None
    return res


def damage(err: Exception, folder: Path) -> str:
    """What is wrong with a file of ``folder``, in a few words (paths shown inside the folder)."""
    if isinstance(err, KeyError):
        return f"lacks {err}"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = text.replace(f"{folder}/", "").replace(str(folder.resolve()) + "/", "")
    return f"{type(err).__name__}: {text}"[:160]


def write_text_atomically(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it, renamed into place."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
