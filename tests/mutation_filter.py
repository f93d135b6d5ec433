"""Mutation run filter: keep only mutants inside the mechanisms' functions.

``make mutation`` runs cosmic-ray over ``sim/mechanisms/``; this filter (a cosmic-ray work-db
filter, like its own ``cr-filter-pragma``) marks as skipped every mutant outside the body of
a function: the declarations beside each mechanism (``PARAMS`` defaults and ranges, ``DRAWS``,
``READS``, ``WRITES``, named constants) and docstrings. Declarations are checked elsewhere
(``tests/test_params.py``, ``tests/test_docs.py``, the declaration tests of
``tests/test_mechanisms.py``) and the constants by the exact regression baseline.

With ``--sample N`` it also keeps only a random sample of N of those mutants, stratified by
module (the same sample for the same ``--seed``): on a shared 2-core machine each mutant
costs a few seconds (a fresh Python process), so the full run takes about an hour.

Usage: ``python tests/mutation_filter.py SESSION.sqlite [--sample N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import ast
import random
import sys
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult


@lru_cache(maxsize=None)
def body_lines(path: str) -> frozenset[int]:
    """Line numbers of the statements of the module's functions, docstrings excluded."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.FunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            for statement in body:
                lines.update(range(statement.lineno, statement.end_lineno + 1))
    return frozenset(lines)


def skip(db, item, why: str) -> None:
    db.set_result(item.job_id, WorkResult(output=why, worker_outcome=WorkerOutcome.SKIPPED))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("session")
    ap.add_argument("--sample", type=int, help="keep a random sample of this many mutants, stratified by module")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    by_module = defaultdict(list)
    with use_db(args.session) as db:
        for item in list(db.pending_work_items):
            if all(m.start_pos[0] in body_lines(str(m.module_path)) for m in item.mutations):
                by_module[str(item.mutations[0].module_path)].append(item)
            else:
                skip(db, item, "outside a mechanism function")
        inside = sum(len(items) for items in by_module.values())
        kept = inside
        if args.sample and args.sample < inside:
            rng = random.Random(args.seed)
            kept = 0
            for module in sorted(by_module):
                items = sorted(by_module[module], key=lambda item: item.job_id)
                chosen = {item.job_id for item in rng.sample(items, round(args.sample * len(items) / inside))}
                kept += len(chosen)
                for item in items:
                    if item.job_id not in chosen:
                        skip(db, item, "not in the sample")
    print(f"mutation filter: {inside} mutants inside mechanism functions, {kept} kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
