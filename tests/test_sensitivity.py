"""Sensitivity analysis: a planted strong parameter comes out on top; bad input stops with one line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.cli import main
from sim.results import MARKER
from sim.sensitivity import parse, run_sensitivity

# Total profit scales with the vehicle margin (every car sold earns it), hardly with the cost of an
# email, not at all with how a tie's recommendation is heeded: vehicle_margin is planted on top,
# listed last so that the ranking, not the order given, has to put it there.
PLANTED = ["params=heed_positive,cost_email,vehicle_margin", "outcome=total_profit", "customers=300",
           "horizon_weeks=20", "trajectories=4", "replications=2"]


def test_a_planted_strong_parameter_comes_out_on_top():
    res = run_sensitivity(parse([*PLANTED, "workers=1"]), progress=False)
    morris = res.indices["morris"]
    assert list(morris["parameter"])[0] == "vehicle_margin" and res.top == "vehicle_margin"
    assert list(morris["rank"]) == [1, 2, 3]
    top, rest = morris.iloc[0], morris.iloc[1:]
    assert top["mu_star_lo"] > rest["mu_star_hi"].max()  # ahead beyond the intervals
    design = res.designs["morris"]
    assert len(design) == 4 * (3 + 1) and {"seed_0", "seed_1", "total_profit"} <= set(design)
    assert res.noise_sd > 0  # two seeds per point: the noise is measured


def test_common_random_numbers_same_seeds_at_every_point():
    """Points with the same parameters give the same values: only parameters move the outcome."""
    spec = parse([*PLANTED, "workers=1", "replications=1"])
    from sim.sensitivity import evaluate, point_params

    x = [0.5, 0.25, 2000.0]
    assert evaluate(spec, point_params(spec, x)) == evaluate(spec, point_params(spec, x))


@pytest.mark.slow
def test_command_runs_in_parallel_and_writes_a_complete_folder(tmp_path, capsys):
    """Two worker processes give the same indices as one process (same seeds everywhere)."""
    out = tmp_path / "results"
    args = [*PLANTED, "method=both", "samples=4"]
    assert main(["sensitivity", *args, "workers=2", f"results_dir={out}"]) == 0
    [run] = list((out / "sensitivity").iterdir())
    for name in ("morris.csv", "sobol.csv", "design_morris.csv", "design_sobol.csv", "report.html",
                 "sensitivity.png", "meta.json", MARKER):
        assert (run / name).is_file(), name
    morris = pd.read_csv(run / "morris.csv")
    assert morris.loc[0, "parameter"] == "vehicle_margin"
    assert {"mu_star", "mu_star_lo", "mu_star_hi", "sigma"} <= set(morris)
    assert {"ST", "ST_lo", "ST_hi", "S1", "S1_lo", "S1_hi"} <= set(pd.read_csv(run / "sobol.csv"))
    serial = run_sensitivity(parse([*args, "workers=1"]), progress=False)
    pd.testing.assert_frame_equal(morris, serial.indices["morris"], check_dtype=False)
    meta = json.loads((run / "meta.json").read_text())
    assert meta["noise_sd"] > 0 and "common random numbers" in meta["seed_policy"]
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "vehicle_margin" in html and "Seed policy" in html
    assert "vehicle_margin" in capsys.readouterr().out


@pytest.mark.parametrize("args,fragment", [
    (["params=word_of_mouth,trust_weight"], "word_of_mouth has no plausible range"),
    (["params=budget,trust_weight"], "budget has no plausible range"),
    (["params=trust_weight,rival_pull", "range.trust_weight=0:30"], "range.trust_weight=0:30: outside the validity"),
    (["params=trust_weight,rival_pull", "range.trust_weight=0.5"], "range.trust_weight"),
    (["outcome=happiness"], "outcome='happiness': unknown"),
    (["params=trust_weight,nope"], "unknown parameter 'nope'"),
    (["params=trust_weight"], "at least two"),
    (["method=sobol", "samples=30"], "samples=30"),
    (["method=magic"], "method='magic'"),
    (["strategy=nope"], "strategy"),
    (["trajectories=many"], "trajectories='many'"),
    (["colour=blue"], "colour: unknown setting"),
    (["customers=5"], "customers"),
])
def test_bad_input_stops_with_one_line_and_writes_nothing(tmp_path, capsys, args, fragment):
    out = tmp_path / "results"
    assert main(["sensitivity", *args, f"results_dir={out}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
    assert not out.exists()


def test_unwritable_results_folder_stops_before_the_run(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["sensitivity", *PLANTED, f"results_dir={blocker}/out"]) == 2
    assert str(blocker) in capsys.readouterr().err
