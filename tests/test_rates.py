"""A dealer's own rates (sim/targets.py, ``rates_targets``): the file becomes targets with bands,
bad files stop with one line, and the documented command pair runs: calibrate to the rates,
then an experiment on the calibrated market."""

from __future__ import annotations

import pytest
import yaml

from sim.cli import main
from sim.params import ParameterError
from sim.targets import RATES, TARGET_DIR, load_targets

from conftest import assert_one_line_error


def test_each_rate_becomes_a_target_of_its_quantity_with_the_rate_and_its_tolerance_as_band():
    raw = yaml.safe_load((TARGET_DIR / "example_rates.yaml").read_text())
    targets = {t.name: t for t in load_targets("example_rates")}
    assert set(targets) == set(RATES) == {k for k in raw if k in RATES}
    for name, t in targets.items():
        given = raw[name] if isinstance(raw[name], dict) else {"rate": raw[name], "tolerance": raw["tolerance"]}
        assert t.quantity == RATES[name][0] and t.figure == given["rate"]
        assert t.lo == pytest.approx(given["rate"] * (1 - given["tolerance"]))
        assert t.hi == pytest.approx(given["rate"] * (1 + given["tolerance"]))
    assert targets["service_retention"].condition == {"age_years": tuple(raw["service_retention_years"])}


def test_a_rates_file_with_one_rate_and_no_settings_takes_the_defaults(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("open_rate: 0.3\n")
    [t] = load_targets(path)
    assert (t.name, t.lo, t.hi) == ("open_rate", pytest.approx(0.255), pytest.approx(0.345))
    assert "mine.yaml" in t.source


@pytest.mark.parametrize("text,fragment", [
    ("opn_rate: 0.2\n", "'opn_rate' is not a rate, allowed are open_rate"),
    ("open_rate: 21\n", "open_rate=21: expected a share in (0, 1]"),
    ("open_rate: 0.2\ntolerance: 2\n", "tolerance=2: expected a share of the rate in (0, 1)"),
    ("open_rate: {rate: 0.2, tol: 0.1}\n", "open_rate="),
    ("open_rate: high\n", "open_rate='high': expected a finite number"),
    ("tolerance: 0.1\n", "no rate given"),
    ("service_retention: 0.5\nservice_retention_years: [3, 1]\n", "age_years=[3, 1]"),
    ("open_rate: [0.2\n", "rates.yaml:2:1:"),
])
def test_a_bad_rates_file_stops_with_one_line_naming_file_and_key(tmp_path, capsys, text, fragment):
    path = tmp_path / "rates.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError) as excinfo:
        load_targets(path)
    assert_one_line_error(excinfo, "rates.yaml", fragment)
    out = tmp_path / "results"
    assert main(["calibrate", f"targets={path}", f"results_dir={out}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and not out.exists()


def test_calibrate_to_the_example_rates_then_run_an_experiment_on_the_calibrated_market(tmp_path, capsys):
    """The documented pair: `rapport calibrate targets=...` then `rapport --config-dir <folder>/configs
    behaviour=calibrated market=calibrated`; the run uses the calibrated values."""
    pytest.importorskip("optuna")
    out = tmp_path / "results"
    assert main(["calibrate", "targets=example_rates", "strategy=constant_sales",
                 "params=attention_email,rival_pull", "trials=2", "restarts=1", "customers=300",
                 "horizon_weeks=30", "replications=1", "workers=1", f"results_dir={out}"]) == 0
    [folder] = list((out / "calibration").iterdir())
    fit = (folder / "fit.csv").read_text()
    assert all(name in fit for name in RATES)
    use = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Use: rapport")]
    assert use == [f"Use: rapport --config-dir {folder / 'configs'} market=calibrated behaviour=calibrated"]
    calibrated = yaml.safe_load((folder / "calibrated.yaml").read_text())
    assert main(["--config-dir", str(folder / "configs"), "market=calibrated", "behaviour=calibrated",
                 "market.customers=300", "horizon_weeks=5", "replications=1", "workers=1", "report=false",
                 f"results_dir={out}"]) == 0
    [run] = list((out / "sales_vs_reciprocal").iterdir())
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["behaviour"]["attention_email"] == calibrated["attention_email"]
    assert config["market"]["rival_pull"] == calibrated["rival_pull"]
