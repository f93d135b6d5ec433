"""Exact regression baseline: fixed-seed runs whose every output is kept in ``tests/baseline.json``.

``tests/test_regression.py`` reruns the cases below and fails on any change, bit for bit:
the week's counts, money and census totals of both markets (treated and holdout), the
weekly metrics table, the final state of every customer and the sampled journeys. Each
series is stored as a SHA-256 of its float64 bytes, with its sum and last value in full
precision so that a failure can say what moved and by how much.

A change that is meant to move the numbers refreshes the file in the same commit, and the
commit message says why:

    make baseline            # or: python -m sim.regression --refresh
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from .model import RelationshipModel
from .state import FIELDS

BASELINE = Path(__file__).resolve().parent.parent / "tests" / "baseline.json"
WEEKS = 130
CUSTOMERS = 3000

# Each case: a name and the keyword arguments of RelationshipModel (holdout on, journeys sampled).
CASES: dict[str, dict] = {
    "constant_sales": dict(strategy="constant_sales", rng=11),
    "reciprocal_value_budget": dict(strategy="reciprocal_value", rng=12, budget=150.0),
    "service_followup": dict(strategy="service_followup", rng=13),
    "lifecycle_busy": dict(strategy="lifecycle", rng=14, purchase_hazard=0.2, talk_rate=0.3,
                           rival_contact_rate=0.6, service_interval_weeks=8),
}


def _series(values) -> dict:
    """A series as its SHA-256 (of float64 bytes), sum and last value."""
    a = np.asarray(values, dtype=np.float64)
    return {"sha256": hashlib.sha256(a.tobytes()).hexdigest(), "sum": float(np.nansum(a)),
            "last": float(a[-1]) if a.size else None}


def _state(pop) -> dict:
    """Per field of ``FIELDS`` (and the repurchase counters), the final values of every customer."""
    out = {}
    for f in FIELDS:
        a = getattr(pop, f.name)
        out[f.name] = {"sha256": hashlib.sha256(a.tobytes()).hexdigest(), "sum": float(a.astype(np.float64).sum())}
    for name in ("replacements_by_our_owners", "repurchases_with_us", "service_by_our_owners",
                 "service_with_us_by_our_owners"):
        out[name] = {"value": int(getattr(pop, name))}
    return out


def run_case(kwargs: dict, weeks: int = WEEKS, customers: int = CUSTOMERS) -> dict:
    """Run one case and return everything the baseline keeps about it."""
    m = RelationshipModel(customers=customers, holdout=True, journeys=20, **kwargs)
    treated, holdout = [], []
    for _ in range(weeks):
        m.step()
        treated.append(m.last)
        holdout.append(m.last_holdout)
    table = m.metrics()
    journeys = json.dumps({str(k): v for k, v in m.journeys.items()}, sort_keys=True).encode()
    return {
        "week": {key: _series([w[key] for w in treated]) for key in treated[0]},
        "holdout_week": {key: _series([w[key] for w in holdout]) for key in holdout[0]},
        "metrics": {col: _series(table[col].to_numpy()) for col in table.columns},
        "state": _state(m.pop),
        "holdout_state": _state(m.holdout),
        "journeys": {"sha256": hashlib.sha256(journeys).hexdigest(),
                     "events": sum(len(v) for v in m.journeys.values())},
    }


def run_all() -> dict:
    return {"weeks": WEEKS, "customers": CUSTOMERS,
            "cases": {name: {"kwargs": kwargs, **run_case(kwargs)} for name, kwargs in CASES.items()}}


def differences(stored: dict, current: dict) -> list[str]:
    """One line per stored number that moved (or disappeared), naming case, part and key."""
    lines = []
    for case, old in stored["cases"].items():
        new = current["cases"].get(case)
        if new is None:
            lines.append(f"{case}: case missing")
            continue
        for part, entries in old.items():
            if part == "kwargs":
                continue
            if part == "journeys":
                entries, new_entries = {"journeys": entries}, {"journeys": new.get(part)}
            else:
                new_entries = new.get(part, {})
            for key, value in entries.items():
                now = new_entries.get(key)
                if now is None:
                    lines.append(f"{case}.{part}.{key}: missing")
                elif now != value:
                    shown = {k: (value[k], now.get(k)) for k in value if k != "sha256" and value[k] != now.get(k)}
                    detail = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in shown.items()) or "same totals, values moved"
                    lines.append(f"{case}.{part}.{key}: {detail}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Check or refresh the exact regression baseline (tests/baseline.json).")
    ap.add_argument("--refresh", action="store_true", help="rewrite tests/baseline.json from the current code")
    args = ap.parse_args(argv)
    current = run_all()
    if args.refresh:
        BASELINE.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"wrote {BASELINE} ({len(CASES)} cases, {CUSTOMERS} customers x {WEEKS} weeks)")
        return 0
    moved = differences(json.loads(BASELINE.read_text()), current)
    print("\n".join(moved) if moved else "baseline unchanged")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
