"""Shared helpers for the invariant, parameter, strategy and API tests.

Markets are small (a few hundred customers) and horizons short so that the whole
set runs in seconds; the properties tested do not depend on the size.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import ParameterError, RelationshipModel
from sim.state import FIELDS


def build(strategy="reciprocal_value", seed=1, customers=400, **kwargs) -> RelationshipModel:
    """A small model with journeys off unless asked (they cost time per customer)."""
    kwargs.setdefault("journeys", 0)
    return RelationshipModel(customers=customers, strategy=strategy, rng=seed, **kwargs)


def population_arrays(model: RelationshipModel, pop=None) -> dict[str, np.ndarray]:
    """Copies of every per-customer array (and the network) of ``pop`` (default: the treated market)."""
    pop = model.pop if pop is None else pop
    arrays = {f.name: getattr(pop, f.name).copy() for f in FIELDS}
    arrays["ties"] = pop.ties.copy()
    return arrays


def assert_same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    """Bit-for-bit equality of two ``population_arrays`` results."""
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def assert_one_line_error(excinfo: pytest.ExceptionInfo, *fragments: str) -> str:
    """Check that a ParameterError is one line, unchained, and mentions every fragment."""
    err = excinfo.value
    assert isinstance(err, ParameterError)
    message = str(err)
    assert message.strip(), "empty error message"
    assert "\n" not in message, f"error message is not one line: {message!r}"
    # No chained traceback ("During handling of the above exception...").
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@pytest.fixture(autouse=True, scope="session")
def one_kernel_thread():
    """Run the numba kernel on one thread in tests.

    ``pytest -n 2`` already keeps both cores busy; a parallel kernel in each worker
    oversubscribes them, and on a loaded machine that made runs about 50 times slower
    (1500 customers x 104 weeks: 0.12 s on one thread, 5.6 s on two). Results do not
    depend on the thread count (``test_results_do_not_depend_on_threads_or_chunks``).
    """
    try:
        import numba
    except ImportError:  # the core may not use numba
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture
def make():
    """Factory fixture: ``make(strategy, seed, customers, **params)`` builds a small model."""
    return build


@pytest.fixture(scope="module")
def hydra_ctx():
    """Hydra initialised on the built-in configs, as the ``rapport`` command composes them."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from sim.cli import CONFIG_DIR, _setup

    _setup()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3", job_name="test"):
        yield
    GlobalHydra.instance().clear()


def spec_for(overrides: list[str]):
    """The experiment spec of ``overrides``, as the ``rapport`` command makes it (needs ``hydra_ctx``)."""
    from hydra import compose

    from sim.cli import run_name
    from sim.schema import experiment_spec

    cfg = compose("config", overrides=overrides, return_hydra_config=True)
    choices = cfg.hydra.runtime.choices
    return experiment_spec(cfg, run_name(choices.get("experiment"), choices.get("strategy")), False, overrides)


def synthetic(curves: dict):
    """A weekly table with the given cumulative incremental profit per (arm, seed), zeros elsewhere."""
    import pandas as pd

    from sim import analysis

    rows = []
    for (arm, seed), curve in curves.items():
        for week, value in enumerate(curve, 1):
            row = {o.column: 0.0 for o in analysis.OUTCOMES}
            rows.append({**row, "arm": arm, "seed": seed, "week": week, "incremental_profit": value})
    return pd.DataFrame(rows)
