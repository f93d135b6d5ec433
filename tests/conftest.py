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
