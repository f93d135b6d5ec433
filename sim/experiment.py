"""Run an experiment: every arm, replicated under common random numbers; write its results.

Replication r of every arm runs with seed ``seed + r``, so arms (and each arm's no-contact
holdout, run in lockstep by the model) see the same market and the same weekly draws;
differences between arms are then not noise from different draws.

A results folder is written under a ``.incomplete`` name and renamed when every file is
in place, with a ``COMPLETE`` marker written last: an interrupted run never leaves a
folder that looks complete. ``gather`` pools the complete runs found under a folder (the
jobs of a Hydra multirun) into one comparison, in ``<folder>/comparison/``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from . import analysis
from .params import ParameterError
from .schema import ExperimentSpec

INCOMPLETE = ".incomplete"
MARKER = "COMPLETE"
COMPARISON = "comparison"
REPO = Path(__file__).resolve().parent.parent
# Parameters shown in the report's market description.
MARKET_KEYS = ("customers", "our_share", "heavy_share", "social_ties", "rival_pull", "rival_contact_rate",
               "vehicle_margin", "service_margin", "budget")


def quiet_mesa() -> None:
    """Mesa logs every step at DEBUG under Hydra's logging, which slows runs tenfold."""
    logging.getLogger("MESA").setLevel(logging.WARNING)


# --- one run ------------------------------------------------------------------------------
def run_once(strategy: Any, params: dict, weeks: int, seed: int, keep_customers: bool,
             threads: int | None = None) -> dict:
    """One run of one arm with its holdout: weekly metrics, value per tier, customers (optional).

    ``threads`` caps the compiled kernel's threads: when runs already go in parallel
    processes, more threads per process only oversubscribe the cores.
    """
    quiet_mesa()
    if threads:
        _set_threads(threads)
    from .model import RelationshipModel

    params = dict(params)
    customers = params.pop("customers")
    m = RelationshipModel(customers=customers, strategy=strategy, rng=seed, holdout=True, journeys=0, **params)
    m.run(weeks)
    table = m.customers_table()
    if m.holdout is not None:  # same customers without contact: what each one adds
        table["incremental_value"] = table["net_value"] - (m.holdout.margin - m.holdout.cost)
    else:
        table["incremental_value"] = np.nan
    tiers = (table.groupby("tier", observed=False)
             .agg(customers=("customer", "size"), margin=("margin", "mean"), cost=("cost", "mean"),
                  net_value=("net_value", "mean"), incremental_value=("incremental_value", "mean"))
             .reset_index())
    tiers["tier"] = tiers["tier"].astype(str)
    return {"weekly": m.metrics(), "tiers": tiers, "customers": table if keep_customers else None}


def _set_threads(n: int) -> None:
    try:
        import numba
    except ImportError:  # the core may run without numba
        return
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


# --- an experiment --------------------------------------------------------------------------
@dataclass
class Results:
    """Everything a report is made from: the experiment described, and its tables."""

    name: str
    question: str
    arms: list[dict]  # name, strategy, description, params (overrides of the market)
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

    @property
    def arm_names(self) -> list[str]:
        return [a["name"] for a in self.arms]

    def analyse(self) -> "Results":
        """Fill ``summary`` and ``differences`` from the weekly table."""
        if not self.comparisons:
            self.comparisons = [(a, self.baseline) for a in self.arm_names if a != self.baseline]
        self.summary = analysis.summary(self.weekly, self.arm_names)
        self.differences = analysis.differences(self.weekly, analysis.all_pairs(self.arm_names, self.comparisons))
        return self

    def description(self) -> dict:
        """The experiment as plain data (saved in meta.json, read back by ``load``)."""
        return {"name": self.name, "question": self.question, "arms": self.arms, "baseline": self.baseline,
                "horizon_weeks": self.horizon_weeks, "seeds": self.seeds, "market": self.market,
                "notes": self.notes, "comparisons": [list(c) for c in self.comparisons]}


def _workers(requested: int, tasks: int) -> int:
    if requested:
        return max(1, min(requested, tasks))
    return max(1, min(os.cpu_count() or 1, tasks))


def run_experiment(spec: ExperimentSpec, progress: bool = True) -> Results:
    """Run every arm for every replication (in parallel processes when workers > 1)."""
    tasks = [(i, r) for r in range(spec.replications) for i in range(len(spec.arms))]
    workers = _workers(spec.workers, len(tasks))
    out: dict[tuple[int, int], dict] = {}
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc=f"{spec.name}: {len(spec.arms)} arms x {spec.replications} runs",
               unit="run", disable=not progress, mininterval=0.5, file=sys.stderr)

    def job(i: int, r: int) -> tuple:
        arm = spec.arms[i]
        return (arm.strategy, arm.params, spec.horizon_weeks, spec.seed + r, r == 0, 1 if workers > 1 else None)

    if workers > 1:
        # spawn: the parent may hold threads (tqdm, the kernel's thread pool); forking those is unsafe.
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(run_once, *job(i, r)): (i, r) for i, r in tasks}
                for fut in as_completed(futures):
                    out[futures[fut]] = fut.result()
                    bar.update()
        except BrokenProcessPool:
            # A worker could not start, e.g. a script without `if __name__ == "__main__":`
            # or code read from stdin: the runs left are done here, one after another.
            print(f"rapport: worker processes could not start; running the {len(tasks) - len(out)} runs left "
                  f"in this process (set workers=1 to skip trying)", file=sys.stderr)
    for i, r in tasks:
        if (i, r) not in out:
            out[i, r] = run_once(*job(i, r))
            bar.update()
    bar.close()

    weekly, tiers, customers = [], [], []
    for (i, r), res in sorted(out.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        tag = {"arm": spec.arms[i].name, "replication": r, "seed": spec.seed + r}
        weekly.append(res["weekly"].assign(**tag))
        tiers.append(res["tiers"].assign(**tag))
        if res["customers"] is not None:
            customers.append(res["customers"].assign(**tag))
    lead = ["arm", "replication", "seed"]
    weekly_df = _lead(pd.concat(weekly, ignore_index=True), lead)
    arms = [{"name": a.name, "strategy": a.strategy_name, "description": a.description,
             "params": {k: v for k, v in a.params.items() if spec.params.get(k) != v}} for a in spec.arms]
    return Results(spec.name, spec.question, arms, spec.baseline, spec.horizon_weeks, spec.seeds,
                   {k: spec.params[k] for k in MARKET_KEYS}, weekly_df,
                   _lead(pd.concat(tiers, ignore_index=True), lead),
                   _lead(pd.concat(customers, ignore_index=True), lead) if customers else None,
                   comparisons=list(spec.comparisons)).analyse()


def _lead(df: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return df[first + [c for c in df.columns if c not in first]]


# --- writing ------------------------------------------------------------------------------
def git_commit() -> dict:
    """The git commit of the code that ran, and whether the work tree had changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "sim", "configs",
                                                                       "experiments"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def meta(results: Results, started: float, extra: dict | None = None) -> dict:
    from . import __version__

    return {"rapport_version": __version__, **git_commit(), "python": platform.python_version(),
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.time() - started, 2), "argv": sys.argv,
            "experiment": results.description(), **(extra or {})}


def write_results(results: Results, final_dir: Path, *, report: bool = True, config_yaml: str | None = None,
                  started: float | None = None, staging: Path | None = None, extra_meta: dict | None = None,
                  replace: bool = False) -> Path:
    """Write every file of a results folder, then rename it into place.

    Files go into ``staging`` (default ``<final_dir>.incomplete``); ``COMPLETE`` is written
    last, then the folder is renamed to ``final_dir``. If ``final_dir`` exists it is
    replaced (``replace=True``, the old one is removed only after the swap) or the new
    folder gets a ``_1``, ``_2``... suffix. Returns the final folder.
    """
    final_dir = Path(final_dir)
    staging = Path(staging) if staging else final_dir.with_name(final_dir.name + INCOMPLETE)
    if replace and staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True, exist_ok=True)
    if config_yaml is not None:
        (staging / "config.yaml").write_text(config_yaml)
    results.weekly.to_parquet(staging / "weekly.parquet", index=False)
    results.tiers.to_parquet(staging / "tiers.parquet", index=False)
    if results.customers is not None:
        results.customers.to_parquet(staging / "customers.parquet", index=False)
    results.summary.to_csv(staging / "summary.csv", index=False)
    results.differences.to_csv(staging / "differences.csv", index=False)
    info = meta(results, started or time.time(), extra_meta)
    (staging / "meta.json").write_text(json.dumps(info, indent=2, default=_json_default))
    if report:
        from .report import write_report

        write_report(results, staging / "report.html", info)
    (staging / MARKER).write_text(f"{info['started']} rapport {info['rapport_version']} {info['commit']}\n")
    if replace and final_dir.exists():
        old = final_dir.with_name(final_dir.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final_dir, old)
        os.replace(staging, final_dir)
        shutil.rmtree(old)
        return final_dir
    target = final_dir
    n = 1
    while target.exists():
        target = final_dir.with_name(f"{final_dir.name}_{n}")
        n += 1
    os.replace(staging, target)
    return target


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.integer, np.floating)):
        return x.item()
    if isinstance(x, float) and math.isinf(x):
        return str(x)
    return str(x)


# --- reading and gathering ------------------------------------------------------------------
def is_complete(folder: Path) -> bool:
    return (Path(folder) / MARKER).is_file() and not Path(folder).name.endswith(INCOMPLETE)


def load(folder: Path) -> Results:
    """Read a complete results folder back."""
    folder = Path(folder)
    if not is_complete(folder):
        raise ParameterError(f"{folder}: incomplete results (no {MARKER} marker): the run was interrupted or "
                             f"is still running")
    info = json.loads((folder / "meta.json").read_text())
    d = info["experiment"]
    customers = pd.read_parquet(folder / "customers.parquet") if (folder / "customers.parquet").exists() else None
    res = Results(d["name"], d["question"], d["arms"], d["baseline"], d["horizon_weeks"], d["seeds"], d["market"],
                  pd.read_parquet(folder / "weekly.parquet"), pd.read_parquet(folder / "tiers.parquet"), customers,
                  notes=d.get("notes", []), comparisons=[tuple(c) for c in d.get("comparisons", [])])
    res.summary = pd.read_csv(folder / "summary.csv")
    res.differences = pd.read_csv(folder / "differences.csv")
    return res


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


# --- text ---------------------------------------------------------------------------------
def summary_text(res: Results) -> str:
    """A short table (one row per arm) and the verdict, for the terminal."""
    s = res.summary
    cols = [("profit", "incr. profit", lambda v: analysis.money(v, True)),
            ("roi", "ROI", lambda v: f"{v:.2f}"),
            ("payback_week", "payback wk", lambda v: "never" if math.isnan(v) else f"{v:.0f}"),
            ("retention", "retention", lambda v: f"{v:.1%}"),
            ("trust", "trust", lambda v: f"{v:.3f}"),
            ("unsubscribe_rate", "unsubscribed", lambda v: f"{v:.1%}")]
    table = pd.DataFrame({"arm": s["arm"]})
    for key, title, fmt in cols:
        if key == "payback_week":
            table[title] = [fmt(v) for v in s[key]]
            continue
        table[title] = [f"{fmt(v)} [{fmt(lo)}, {fmt(hi)}]" if not math.isnan(lo) else fmt(v)
                        for v, lo, hi in zip(s[key], s[f"{key}_lo"], s[f"{key}_hi"])]
    head = (f"{res.name}: {len(res.arms)} arm(s), {len(res.seeds)} replication(s), "
            f"{analysis.horizon_words(res.horizon_weeks)}; mean [95% CI], against the no-contact holdout")
    lines = [head, table.to_string(index=False), ""]
    lines += ["- " + v for v in analysis.verdict(res.summary, res.differences, res.comparisons, res.horizon_weeks)]
    return "\n".join(lines)
