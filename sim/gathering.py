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
from .limits import fault_line
from .writing import write_results


def read_yaml(text: str) -> Any:
    """``yaml.safe_load`` with libyaml's parser where PyYAML has it (the same values, several
    times faster: a sweep's gathering reads two files of each job)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


_RECORDED: dict[Path, tuple[tuple, list[str] | None]] = {}  # file -> (its stat, its overrides)


def recorded_overrides(folder: Path) -> list[str] | None:
    """The command-line overrides Hydra recorded for a job, or None (no record, or unreadable).

    Each file is parsed once per process while it stays the same file (inode, size, time):
    every job of a sweep looks through the jobs before it (``find_complete_job``)."""
    path = Path(folder) / ".hydra" / "overrides.yaml"
    try:
        st = path.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if path not in _RECORDED or _RECORDED[path][0] != stamp:
            data = read_yaml(path.read_text())
            _RECORDED[path] = (stamp, [str(x) for x in data] if isinstance(data, list) else None)
    except (OSError, ValueError, yaml.YAMLError):
        return None
    found = _RECORDED[path][1]
    return None if found is None else list(found)


def _overrides(folder: Path) -> dict:
    """The command-line overrides Hydra recorded for a job (key -> value), if any."""
    out = {}
    for item in recorded_overrides(folder) or []:
        key, _, value = item.partition("=")
        out[key.lstrip("+~")] = value
    return out


def find_complete_job(sweep: Path, overrides: list[str], config_yaml: str) -> Path | None:
    """A complete job folder of ``sweep`` made by the same overrides and the same resolved
    config (so the same results), that reads back: a rerun of the sweep need not run it again."""
    for p in sorted(sweep.iterdir()) if sweep.is_dir() else []:
        if p.is_dir() and is_complete(p) and sorted(recorded_overrides(p) or [None]) == sorted(overrides):
            try:
                if (p / "config.yaml").read_text() == config_yaml:
                    load(p)
                    return p
            except (OSError, ParameterError):
                continue
    return None


def expected_jobs(folder: Path) -> list[list[str]] | None:
    """The override lists of every job of the sweep recorded in ``folder/multirun.yaml``
    (Rapport's or Hydra's basic sweeper: the product of the swept values), or None if unknown."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from .sweeper import jobs

    try:
        cfg = read_yaml((folder / "multirun.yaml").read_text()) or {}
        hydra_cfg = cfg.get("hydra") or {}
        sweeper = hydra_cfg.get("sweeper") or {}
        if not str(sweeper.get("_target_", "")).endswith(("BasicSweeper", "RapportSweeper")):
            return None
        given = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
        given += [str(o) for o in (hydra_cfg.get("overrides") or {}).get("task") or []]
        return jobs(OverridesParser.create().parse_overrides(given))
    except Exception:  # no record, or one this check cannot read: only the folders found are listed
        return None


def sweep_state(folder: Path, runs: list[Path]) -> list[str]:
    """What is wrong with a sweep folder besides damaged runs: each job of multirun.yaml with
    no complete folder among ``runs``, as one line (missing, or incomplete: failed, interrupted
    or running)."""
    done = {tuple(sorted(recorded_overrides(p) or [])) for p in runs}
    started = {}
    for p in folder.iterdir():
        if p.is_dir() and p.name.endswith(INCOMPLETE):
            started.setdefault(tuple(sorted(recorded_overrides(p) or [p.name])), p.name)
    problems = []
    expected = expected_jobs(folder)
    if expected is None:  # unknown sweep: name the folders that did not finish
        return [f"{name}: incomplete (failed, interrupted or still running)"
                for key, name in sorted(started.items(), key=lambda kv: kv[1]) if key not in done]
    for num, combo in enumerate(expected):
        key = tuple(sorted(combo))
        if key in done:
            continue
        what = f"incomplete in {started[key]} (failed, interrupted or still running)" if key in started \
            else "missing (never ran)"
        problems.append(f"job {num} ({' '.join(combo)}): {what}")
    return problems


# Overrides that do not make a different arm: they only change where or how fast it runs.
NOT_ARM_KEYS = ("seed", "replications", "workers", "results_dir", "report")


def _value(text: str):
    """An override's value as YAML reads it: ``2000`` -> 2000, ``1.5`` -> 1.5, ``city`` -> "city"."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _fingerprint(folder: Path) -> dict:
    """The resolved settings of a run that change its results (run settings and seed excepted)."""
    path = folder / "config.yaml"
    cfg = read_yaml(path.read_text()) if path.is_file() else {}
    return {k: v for k, v in (cfg or {}).items() if k not in NOT_ARM_KEYS}


def gather(folder: Path) -> Path:
    """Pool the complete runs under ``folder`` into one comparison in ``folder/comparison/``;
    returns that folder (see ``pooled``)."""
    return pooled(folder)[0]


def pooled(folder: Path) -> tuple[Path, Results]:
    """``gather``: the comparison's folder and its results.

    Each job's arms are labelled by the overrides that vary between jobs (seed and run
    settings excepted), e.g. ``constant_sales | market.customers=2000``. Runs with the same
    label and seed are the same run and counted once; replications of a label pooled over
    a ``seed`` sweep are paired with other arms by seed.
    """
    folder = Path(folder)
    _check_gatherable(folder)
    jobs, problems = _runs(folder)
    if not jobs:
        raise ParameterError(f"{folder}: no complete results to gather"
                             + (f" ({'; '.join(problems)})" if problems else ""))
    keys = sorted({k for _, _, o in jobs for k in o})
    varying = [k for k in keys if not k.startswith("hydra") and k not in NOT_ARM_KEYS
               and len({o.get(k) for _, _, o in jobs}) > 1]
    weekly, tiers, customers, arms, job_labels = _pool(jobs, varying)
    first = jobs[0][1]
    comparisons, baseline = _comparisons(jobs, arms, job_labels, first.baseline)
    weeks = max(r.horizon_weeks for _, r, _ in jobs)
    seeds = sorted({int(s) for w in weekly for s in w["seed"].unique()})
    notes = _notes(folder, len(jobs), problems)
    if varying:
        notes.append("Arms differ by: " + ", ".join(varying) + ".")
    title = (first.name if len(jobs) == 1 else f"comparison of {len(jobs)} runs") + (" (partial)" if problems else "")
    question = first.question if len({r.question for _, r, _ in jobs}) == 1 else "How do these configurations compare?"
    market = first.market if len({json.dumps(r.market, default=str) for _, r, _ in jobs}) == 1 else {}
    res = Results(title, question, list(arms.values()), baseline, weeks, seeds, market,
                  _lead(pd.concat(weekly, ignore_index=True), ["arm", "replication", "seed", *varying]),
                  pd.concat(tiers, ignore_index=True),
                  pd.concat(customers, ignore_index=True) if customers else None, notes=notes,
                  comparisons=comparisons, current=_shared_current(jobs)).analyse()
    return write_results(res, folder / COMPARISON, started=time.time(), replace=True,
                         extra_meta={"gathered_from": [p.name for p, _, _ in jobs], "partial": bool(problems),
                                     "problems": problems}), res


def _check_gatherable(folder: Path) -> None:
    """Raise ParameterError unless ``folder`` is a folder that is not an interrupted run."""
    if not folder.is_dir():
        raise ParameterError(f"{folder}: not a folder")
    if folder.name.endswith(INCOMPLETE) or ((folder / "meta.json").exists() or (folder / "summary.csv").exists()) \
            and not is_complete(folder):
        raise ParameterError(f"{folder}: incomplete results (no {MARKER} marker): the run was interrupted or "
                             f"is still running")


def _pool(jobs: list[tuple[Path, Results, dict]], varying: list[str]) -> tuple:
    """Every job's arms under their labels, each (label, seed) once: weekly, tiers and
    customers tables, the arms by label, and each job's arm name -> label."""
    weekly, tiers, customers, arms = [], [], [], {}
    seen: dict[str, set] = {}  # label -> seeds already taken
    fingerprints: dict[str, str] = {}  # label -> the settings that made it
    job_labels: dict[str, dict[str, str]] = {}  # folder -> arm name -> label
    for path, res, over in jobs:
        # The context: what differs from other jobs besides the strategy (e.g. market size).
        context = " ".join(f"{k}={over[k]}" for k in varying if k in over and k != "strategy")
        tag = " ".join(f"{k}={over[k]}" for k in varying if k in over and not (k == "strategy" and len(res.arms) == 1))
        settings = _fingerprint(path)
        swept = {k: _value(over[k]) for k in varying if k in over}  # one column per swept parameter
        for arm in res.arms:
            label = f"{arm['name']} | {tag}" if tag else arm["name"]
            mark = json.dumps([settings, arm], sort_keys=True, default=str)
            if fingerprints.setdefault(label, mark) != mark:  # same name, other settings: keep apart
                label = f"{label} [{path.name}]"
                fingerprints.setdefault(label, mark)
            job_labels.setdefault(path.name, {})[arm["name"]] = label
            arms.setdefault(label, {**arm, "name": label, "folder": path.name, "base": arm["name"],
                                    "context": context, "swept": swept})
            w = res.weekly[(res.weekly["arm"] == arm["name"]) & ~res.weekly["seed"].isin(seen.get(label, set()))]
            if w.empty:
                continue
            new = set(w["seed"])
            seen.setdefault(label, set()).update(new)
            weekly.append(w.assign(arm=label, **swept))
            tiers.append(res.tiers[(res.tiers["arm"] == arm["name"]) & res.tiers["seed"].isin(new)].assign(arm=label))
            if res.customers is not None:
                c = res.customers[(res.customers["arm"] == arm["name"]) & res.customers["seed"].isin(new)]
                customers.append(c.assign(arm=label))
    return weekly, tiers, customers, arms, job_labels


def _shared_current(jobs: list) -> dict | None:
    """The current practice every job started from (``sim.switch``), if they share one."""
    practices = {json.dumps(r.current, sort_keys=True) for _, r, _ in jobs}
    return jobs[0][1].current if len(practices) == 1 else None


def _comparisons(jobs: list[tuple[Path, Results, dict]], arms: dict, job_labels: dict,
                 first_baseline: str) -> tuple[list[tuple[str, str]], str | None]:
    """Each run's own comparisons between its arms, and, in each context (same market,
    different strategy), every arm against that context's baseline; each pair once.
    Returns the comparisons and the first context's baseline."""
    comparisons, baseline = [], None
    for path, res, _ in jobs:
        label = job_labels[path.name]
        comparisons += [(label[a], label[b]) for a, b in res.comparisons if a in label and b in label]
    names = list(arms)
    for context in dict.fromkeys(a["context"] for a in arms.values()):
        members = [n for n in names if arms[n]["context"] == context]
        base = next((n for n in members if arms[n]["base"] == first_baseline), members[0])
        baseline = baseline or base
        comparisons += [(n, base) for n in members if n != base]
    unique: list[tuple[str, str]] = []
    for c in comparisons:
        if c not in unique and (c[1], c[0]) not in unique:
            unique.append(c)
    return unique, baseline


def _runs(folder: Path) -> tuple[list[tuple[Path, Results, dict]], list[str]]:
    """The complete runs under ``folder`` that read back (folder, results, overrides), and
    one line per job that is damaged, missing or incomplete."""
    single = is_complete(folder) and not any(is_complete(p) for p in folder.iterdir() if p.is_dir())
    if single:
        runs = [folder]  # a single run: rebuild its comparison from its own tables
    else:
        runs = sorted((p for p in folder.iterdir() if p.is_dir() and p.name != COMPARISON and is_complete(p)),
                      key=lambda p: (len(p.name), p.name))
    jobs, problems = [], []
    for p in runs:
        try:
            jobs.append((p, load(p, switch=False), _overrides(p)))
        except ParameterError as err:
            problems.append(f"{p.name}: {str(err).removeprefix(f'{p}: ')}, skipped")
    problems += [] if single else sweep_state(folder, runs)  # damaged runs are named above, not again
    return jobs, problems


def _notes(folder: Path, gathered: int, problems: list[str]) -> list[str]:
    """The comparison's notes on where it comes from, and what it lacks (then it is partial)."""
    skipped = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.endswith(INCOMPLETE))
    notes = [f"Gathered from {gathered} complete run folder(s) in {folder}"
             + (f"; skipped incomplete: {', '.join(skipped)}" if skipped else "") + "."]
    if problems:
        notes.insert(0, f"PARTIAL comparison: {len(problems)} job(s) of the sweep are not in it: "
                        + "; ".join(problems) + f". Run the same sweep with hydra.sweep.dir={folder} "
                        "to complete it (finished jobs are not run again).")
    return notes


def problems_of(comparison: Path) -> list[str]:
    """The jobs a written comparison lacks (missing, failed, damaged), from its meta.json."""
    try:
        return list(json.loads((comparison / "meta.json").read_text()).get("problems", []))
    except (OSError, ValueError):
        return []


class GatherCallback:
    """Hydra callback: at the end of a multirun, gather its jobs into one comparison."""

    problems: list[str] | None = None  # after a sweep: what its comparison lacks (the command then exits 1)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.sweep.dir))
        try:
            target, res = pooled(folder)
        except ParameterError as err:
            print(f"rapport: could not gather {folder}: {err}", file=sys.stderr)
            GatherCallback.problems = [str(err)]
            return
        except OSError as err:
            print(f"rapport: error: {fault_line(err, f'could not write the comparison in {folder}')}", file=sys.stderr)
            GatherCallback.problems = [str(err)]
            return
        print(summary_text(res))
        print(f"Comparison of the sweep: {target / 'report.html'}")
        GatherCallback.problems = report_problems(target)

    # Hydra calls these too; nothing to do.
    def on_run_start(self, config: Any, **kwargs: Any) -> None: ...
    def on_run_end(self, config: Any, **kwargs: Any) -> None: ...
    def on_multirun_start(self, config: Any, **kwargs: Any) -> None: ...
    def on_job_start(self, config: Any, **kwargs: Any) -> None: ...
    def on_job_end(self, config: Any, job_return: Any, **kwargs: Any) -> None: ...


def report_problems(comparison: Path) -> list[str]:
    """Print, one line each, the jobs a comparison lacks; returns them."""
    problems = problems_of(comparison)
    for line in problems:
        print(f"rapport: partial comparison: {line}", file=sys.stderr)
    return problems


def _lead(df: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    first = [c for c in first if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]
