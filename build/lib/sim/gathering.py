"""Gathering: pool the complete runs under a folder (the jobs of a Hydra multirun) into
one comparison, written to ``<folder>/comparison/``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .analysis import summary_text
from .params import ParameterError
from .results import COMPARISON, INCOMPLETE, MARKER, Results, is_complete, load
from .writing import write_results


def _overrides(folder: Path) -> dict:
    """The command-line overrides Hydra recorded for a job (key -> value), if any."""
    path = folder / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    out = {}
    for item in yaml.safe_load(path.read_text()) or []:
        key, _, value = str(item).partition("=")
        out[key.lstrip("+~")] = value
    return out


# Overrides that do not make a different arm: they only change where or how fast it runs.
NOT_ARM_KEYS = ("seed", "replications", "workers", "results_dir", "report")


def _fingerprint(folder: Path) -> dict:
    """The resolved settings of a run that change its results (run settings and seed excepted)."""
    path = folder / "config.yaml"
    cfg = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return {k: v for k, v in (cfg or {}).items() if k not in NOT_ARM_KEYS}


def gather(folder: Path) -> Path:
    """Pool the complete runs under ``folder`` into one comparison in ``folder/comparison/``.

    Each job's arms are labelled by the overrides that vary between jobs (seed and run
    settings excepted), e.g. ``constant_sales | market.customers=2000``. Runs with the same
    label and seed are the same run and counted once; replications of a label pooled over
    a ``seed`` sweep are paired with other arms by seed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(f"{folder}: not a folder")
    if folder.name.endswith(INCOMPLETE) or ((folder / "meta.json").exists() or (folder / "summary.csv").exists()) \
            and not is_complete(folder):
        raise ParameterError(f"{folder}: incomplete results (no {MARKER} marker): the run was interrupted or "
                             f"is still running")
    if is_complete(folder) and not any(is_complete(p) for p in folder.iterdir() if p.is_dir()):
        runs = [folder]  # a single run: rebuild its comparison from its own tables
    else:
        runs = sorted((p for p in folder.iterdir() if p.is_dir() and p.name != COMPARISON and is_complete(p)),
                      key=lambda p: (len(p.name), p.name))
    skipped = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.endswith(INCOMPLETE))
    if not runs:
        raise ParameterError(f"{folder}: no complete results to gather (incomplete: {', '.join(skipped) or 'none'})")
    jobs = [(p, load(p), _overrides(p)) for p in runs]
    keys = sorted({k for _, _, o in jobs for k in o})
    varying = [k for k in keys if not k.startswith("hydra") and k not in NOT_ARM_KEYS
               and len({o.get(k) for _, _, o in jobs}) > 1]
    weekly, tiers, customers, arms = [], [], [], {}
    seen: dict[str, set] = {}  # label -> seeds already taken
    fingerprints: dict[str, str] = {}  # label -> the settings that made it
    job_labels: dict[str, dict[str, str]] = {}  # folder -> arm name -> label
    for path, res, over in jobs:
        # The context: what differs from other jobs besides the strategy (e.g. market size).
        context = " ".join(f"{k}={over[k]}" for k in varying if k in over and k != "strategy")
        tag = " ".join(f"{k}={over[k]}" for k in varying if k in over and not (k == "strategy" and len(res.arms) == 1))
        settings = _fingerprint(path)
        for arm in res.arms:
            label = f"{arm['name']} | {tag}" if tag else arm["name"]
            mark = json.dumps([settings, arm], sort_keys=True, default=str)
            if fingerprints.setdefault(label, mark) != mark:  # same name, other settings: keep apart
                label = f"{label} [{path.name}]"
                fingerprints.setdefault(label, mark)
            job_labels.setdefault(path.name, {})[arm["name"]] = label
            arms.setdefault(label, {**arm, "name": label, "folder": path.name, "base": arm["name"],
                                    "context": context})
            w = res.weekly[(res.weekly["arm"] == arm["name"]) & ~res.weekly["seed"].isin(seen.get(label, set()))]
            if w.empty:
                continue
            new = set(w["seed"])
            seen.setdefault(label, set()).update(new)
            weekly.append(w.assign(arm=label))
            tiers.append(res.tiers[(res.tiers["arm"] == arm["name"]) & res.tiers["seed"].isin(new)].assign(arm=label))
            if res.customers is not None:
                c = res.customers[(res.customers["arm"] == arm["name"]) & res.customers["seed"].isin(new)]
                customers.append(c.assign(arm=label))
    first = jobs[0][1]
    names = list(arms)
    # Compare arms within each context (same market, different strategy) with that context's baseline.
    comparisons, baseline = [], None
    for path, res, _ in jobs:  # each run's own comparisons, between its arms
        label = job_labels[path.name]
        comparisons += [(label[a], label[b]) for a, b in res.comparisons if a in label and b in label]
    for context in dict.fromkeys(a["context"] for a in arms.values()):  # and across runs, in the same setting
        members = [n for n in names if arms[n]["context"] == context]
        base = next((n for n in members if arms[n]["base"] == first.baseline), members[0])
        baseline = baseline or base
        comparisons += [(n, base) for n in members if n != base]
    unique: list[tuple[str, str]] = []
    for c in comparisons:
        if c not in unique and (c[1], c[0]) not in unique:
            unique.append(c)
    comparisons = unique
    weeks = max(r.horizon_weeks for _, r, _ in jobs)
    seeds = sorted({int(s) for w in weekly for s in w["seed"].unique()})
    notes = [f"Gathered from {len(jobs)} complete run folder(s) in {folder}"
             + (f"; skipped incomplete: {', '.join(skipped)}" if skipped else "") + "."]
    if varying:
        notes.append("Arms differ by: " + ", ".join(varying) + ".")
    title = first.name if len(jobs) == 1 else f"comparison of {len(jobs)} runs"
    question = first.question if len({r.question for _, r, _ in jobs}) == 1 else "How do these configurations compare?"
    market = first.market if len({json.dumps(r.market, default=str) for _, r, _ in jobs}) == 1 else {}
    res = Results(title, question, list(arms.values()), baseline, weeks, seeds, market,
                  pd.concat(weekly, ignore_index=True), pd.concat(tiers, ignore_index=True),
                  pd.concat(customers, ignore_index=True) if customers else None, notes=notes,
                  comparisons=comparisons).analyse()
    return write_results(res, folder / COMPARISON, started=time.time(), replace=True,
                         extra_meta={"gathered_from": [p.name for p, _, _ in jobs]})


class GatherCallback:
    """Hydra callback: at the end of a multirun, gather its jobs into one comparison."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir))
        try:
            target = gather(folder)
        except ParameterError as err:
            print(f"rapport: could not gather {folder}: {err}", file=sys.stderr)
            return
        res = load(target)
        print(summary_text(res))
        print(f"Comparison of the sweep: {target / 'report.html'}")

    # Hydra calls these too; nothing to do.
    def on_run_start(self, config: Any, **kwargs: Any) -> None: ...
    def on_run_end(self, config: Any, **kwargs: Any) -> None: ...
    def on_multirun_start(self, config: Any, **kwargs: Any) -> None: ...
    def on_job_start(self, config: Any, **kwargs: Any) -> None: ...
    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None: ...
