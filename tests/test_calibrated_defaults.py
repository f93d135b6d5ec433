"""The shipped defaults of the calibrated parameters are the output of `make calibration`
(issue 9): configs/calibrated.yaml holds what the command wrote, sim.params reads it, and the
command recorded there is the one the Makefile runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sim import params as params_module
from sim.params import PARAMS

ROOT = Path(__file__).resolve().parent.parent
CALIBRATED = yaml.safe_load((ROOT / "configs" / "calibrated.yaml").read_text())


def makefile_command() -> str:
    text = (ROOT / "Makefile").read_text()
    settings = re.search(r"^CALIBRATION \?= (.+)$", text, re.M).group(1)
    recipe = re.search(r"^calibration:.*\n\t(.+)$", text, re.M).group(1)
    return recipe.replace("$(BIN)/", "").replace("$(CALIBRATION)", settings)


def test_the_file_records_the_command_the_makefile_runs():
    """The same command (where its results folder went, and on how many workers, aside)."""
    recorded = [w for w in CALIBRATED["command"].split() if not w.startswith(("results_dir=", "workers="))]
    assert recorded == makefile_command().split()
    assert CALIBRATED["targets"] == "published"


@pytest.mark.parametrize("name", sorted(CALIBRATED["parameters"]))
def test_each_fitted_value_is_the_shipped_default_and_says_so(name):
    value = CALIBRATED["parameters"][name]
    p = PARAMS[name]
    assert p.default == value and type(p.default) is type(value)
    assert p.source.startswith("calibrated to configs/targets/published.yaml")
    lo, hi = p.plausible
    assert lo <= value <= hi


def test_a_calibrated_file_naming_no_parameter_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "calibrated.yaml"
    bad.write_text(yaml.safe_dump({**CALIBRATED, "parameters": {"no_such_parameter": 1.0}}))
    monkeypatch.setattr(params_module, "CALIBRATED", bad)
    with pytest.raises(ValueError, match="no_such_parameter"):
        params_module._calibrated(params_module._gather())
