"""Mutation run filter: keep only mutants inside the mechanisms' functions.

``make mutation`` runs cosmic-ray over ``sim/mechanisms/``; this filter (a cosmic-ray work-db
filter, like its own ``cr-filter-pragma``) marks as skipped every mutant outside the body of
a function: the declarations beside each mechanism (``PARAMS`` defaults and ranges, ``DRAWS``,
``READS``, ``WRITES``, named constants) and docstrings. Declarations are checked elsewhere
(``tests/test_params.py``, ``tests/test_docs.py``, the declaration tests of
``tests/test_mechanisms.py``) and the constants by the exact regression baseline.

Usage: ``python tests/mutation_filter.py SESSION.sqlite``.
"""

from __future__ import annotations

import ast
import sys
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


def main(session: str) -> int:
    skipped = kept = 0
    with use_db(session) as db:
        for item in list(db.pending_work_items):
            inside = all(m.start_pos[0] in body_lines(str(m.module_path)) for m in item.mutations)
            if inside:
                kept += 1
            else:
                skipped += 1
                db.set_result(item.job_id, WorkResult(output="outside a mechanism function",
                                                      worker_outcome=WorkerOutcome.SKIPPED))
    print(f"mutation filter: {kept} mutants inside mechanism functions, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
