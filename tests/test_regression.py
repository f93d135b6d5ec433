"""Exact regression: fixed-seed runs must reproduce ``tests/baseline.json`` bit for bit.

Any change to the rules, the starting market, the draws or the metrics that moves a number
fails here, naming what moved. If the change is meant, refresh the baseline in the same
commit and say why in its message: ``make baseline`` (``python -m sim.regression --refresh``).
"""

import json

import pytest

from sim import regression


@pytest.fixture(scope="module")
def current():
    return regression.run_all()


def test_outputs_match_the_baseline_bit_for_bit(current):
    stored = json.loads(regression.BASELINE.read_text())
    moved = regression.differences(stored, current)
    assert not moved, (f"{len(moved)} outputs moved from tests/baseline.json:\n" + "\n".join(moved[:40])
                       + "\nIf this change is meant, run `make baseline` and say why in the commit message.")


def test_a_moved_number_is_reported(current):
    """The comparison has power: one changed value in one week is named."""
    stored = json.loads(regression.BASELINE.read_text())
    stored["cases"]["constant_sales"]["week"]["opens"]["sum"] += 1
    stored["cases"]["service_followup"]["state"]["trust"]["sha256"] = "0" * 64
    moved = regression.differences(stored, current)
    assert len(moved) == 2
    assert moved[0].startswith("constant_sales.week.opens: sum")
    assert moved[1] == "service_followup.state.trust: same totals, values moved"
