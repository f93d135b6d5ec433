"""Code shape: no function in ``sim/`` longer than about 60 lines.

A function that must be longer would be listed in ``KNOWN_LONGER`` with its length, and
could only shrink; none is.
"""

import ast
from pathlib import Path

SIM = Path(__file__).resolve().parents[1] / "sim"
LIMIT = 60  # lines, decorators and docstring included
KNOWN_LONGER: dict[str, int] = {}


def function_lengths() -> dict[str, int]:
    out = {}
    for path in sorted(SIM.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                out[f"{path.relative_to(SIM)}:{node.name}"] = node.end_lineno - start + 1
    return out


def test_no_function_in_sim_is_longer_than_the_limit():
    too_long = {name: n for name, n in function_lengths().items()
                if n > max(LIMIT, KNOWN_LONGER.get(name, 0))}
    assert not too_long, f"functions longer than {LIMIT} lines: {too_long}"


def test_no_module_of_sim_has_the_name_of_something_the_package_exports():
    """Importing ``sim.validate`` (a module) would replace the function ``sim.validate``."""
    import pkgutil

    import sim

    modules = {m.name for m in pkgutil.iter_modules(sim.__path__)}
    assert not modules & set(sim.__all__), modules & set(sim.__all__)
