"""Calibration: a planted parameter is recovered from a target made by the model itself, the
fitted file is accepted by `rapport` and the Python API, and bad input stops with one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.calibrate import loss
from sim.cli import main
from sim.results import MARKER
from sim.targets import Target, load_targets
from sim.validation import measure_seeds

TINY = ["customers=300", "horizon_weeks=40", "replications=2", "workers=1"]
PLANTED = 0.2  # attention_email; its plausible range is [0.12, 0.4]


def test_loss_is_zero_at_the_middles_and_any_point_in_every_band_beats_any_point_outside():
    t = (Target("a", "open_rate_email", 0.2, 0.1, 0.3, "s", 2019), Target("b", "visits_per_email", 0.02, 0.0, 0.04,
                                                                          "s", 2019))
    assert loss(t, np.array([0.2, 0.02])) == 0
    worst_inside = loss(t, np.array([0.1, 0.0]))
    assert worst_inside < loss(t, np.array([0.301, 0.02])) and worst_inside < loss(t, np.array([0.2, 0.0401]))
    assert loss(t, np.array([0.301, 0.02])) < loss(t, np.array([0.301, 0.0401]))  # two outside: worse
    assert loss(t, np.array([np.nan, 0.02])) >= 100  # a target the run cannot measure
    edge = (Target("c", "visits_per_email", 0.026, 0.026, 0.029, "s", 2019),)  # a figure at the edge of its band
    assert loss(edge, np.array([0.0275])) == 0 < loss(edge, np.array([0.026]))  # the middle wins, not the edge


@pytest.mark.parametrize("n", [1, 11, 200])
def test_every_target_at_an_edge_of_its_band_still_beats_one_target_just_outside(n):
    t = tuple(Target(f"t{i}", "open_rate_email", 0.2, 0.1, 0.3, "s", 2019) for i in range(n))
    at_edges = loss(t, np.full(n, 0.3))
    one_out = loss(t, np.array([0.3001] + [0.2] * (n - 1)))
    assert 0.5 < at_edges < 1.0 <= one_out
    assert loss(t, np.full(n, 0.25)) < at_edges  # and the pull towards the middles is felt: a quarter of it
    assert loss(t, np.full(n, 0.25)) == pytest.approx(at_edges / 4)


@pytest.mark.slow
def test_a_planted_parameter_is_recovered_and_the_file_runs(tmp_path, capsys):
    """The target is the model's own open rate at attention_email=0.2 (same seeds): the fit finds
    it again in both restarts, and `rapport --config-dir` runs with the fitted value."""
    [opens] = [t for t in load_targets("published") if t.name == "open_rate_email"]
    values = measure_seeds((opens,), {"customers": 300, "attention_email": PLANTED}, "reciprocal_value", 40, [0, 1],
                           workers=1)
    figure = float(values.mean())
    path = tmp_path / "planted.yaml"
    path.write_text(json.dumps({"targets": [{"quantity": "open_rate_email", "figure": figure,
                                             "band": [figure - 0.005, figure + 0.005], "source": "the model", "year": 2026}]}))
    out = tmp_path / "results"
    assert main(["calibrate", f"targets={path}", "params=attention_email", "trials=15", "restarts=2", *TINY,
                 "confirm=0", "rival_pull=2.2", f"results_dir={out}"]) == 0
    [run] = list((out / "calibration").iterdir())
    for name in ("parameters.csv", "fit.csv", "trials.csv", "calibrated.yaml", "meta.json", "calibration.html",
                 MARKER):
        assert (run / name).is_file(), name
    ident = pd.read_csv(run / "parameters.csv").iloc[0]
    assert abs(ident["best"] - PLANTED) < 0.02 and abs(ident["restart_0"] - ident["restart_1"]) < 0.03
    assert bool(ident["identified"]) and not bool(ident["at_edge"])
    assert pd.read_csv(run / "fit.csv")["status"].tolist() == ["within"]
    assert len(pd.read_csv(run / "trials.csv")) == 30
    flat = yaml.safe_load((run / "calibrated.yaml").read_text())
    assert flat == {"rival_pull": 2.2, "attention_email": ident["best"]}  # fixed ones kept, not the size
    from sim import RelationshipModel

    RelationshipModel(customers=100, rng=0, journeys=0, **flat).run(2)  # the Python API accepts it
    assert yaml.safe_load((run / "configs/behaviour/calibrated.yaml").read_text()) == {"attention_email": ident["best"]}
    assert yaml.safe_load((run / "configs/market/calibrated.yaml").read_text()) == {"rival_pull": 2.2}
    assert f"--config-dir {run / 'configs'} market=calibrated behaviour=calibrated" in capsys.readouterr().out
    assert main(["--config-dir", str(run / "configs"), "behaviour=calibrated", "strategy=reciprocal_value",
                 "market.customers=300", "horizon_weeks=4", "replications=1", "workers=1",
                 f"results_dir={tmp_path / 'runs'}"]) == 0
    [done] = list((tmp_path / "runs").glob("*/*"))
    assert f"attention_email: {ident['best']}" in (done / "config.yaml").read_text()


@pytest.mark.slow
def test_the_fit_is_the_best_candidate_on_new_seeds_and_the_profile_passes_through_it(tmp_path):
    """confirm: the best trials of the search run again on seeds 1000 + r; the fit is the lowest
    loss there (not the search's best), and fit.csv holds its values on those seeds. profile:
    each parameter on a grid and at its fit, the others at the fit, on the search's seeds."""
    out = tmp_path / "results"
    assert main(["calibrate", "params=attention_email,visit_rate", "trials=6", "restarts=2", *TINY, "confirm=4",
                 "confirm_replications=2", "polish=3", "profile=3", f"results_dir={out}"]) == 0
    [run] = list((out / "calibration").iterdir())
    confirmed = pd.read_csv(run / "confirmation.csv")
    polished = pd.read_csv(run / "polish.csv")
    assert set(polished["pass"]) == {1, 2} and set(polished["parameter"]) == {"attention_email", "visit_rate"}
    if (confirmed["from"] == "polish").any():  # the polish moved: its point comes first, below the search's best
        assert list(confirmed["from"]) == ["polish"] + ["search"] * 4
        assert confirmed["search_loss"].iloc[0] == pytest.approx(polished["loss"].min())
    assert len(confirmed[confirmed["from"] == "search"]) == 4 and confirmed["search_loss"].is_monotonic_increasing
    chosen = confirmed.loc[confirmed["chosen"]]
    assert len(chosen) == 1 and chosen.index[0] == confirmed["confirmation_loss"].idxmin()
    best = {k: float(chosen[k].iloc[0]) for k in ("attention_email", "visit_rate")}
    assert yaml.safe_load((run / "calibrated.yaml").read_text()) == best
    targets = tuple(load_targets("published"))
    again = measure_seeds(targets, {"customers": 300, **best}, "reciprocal_value", 40, [1000, 1001], workers=1)
    fit = pd.read_csv(run / "fit.csv")
    assert np.allclose(fit["model"], np.nanmean(again, axis=0), equal_nan=True)
    assert fit["loss"].iloc[0] == pytest.approx(chosen["confirmation_loss"].iloc[0])
    profiled = pd.read_csv(run / "profile.csv")
    ident = pd.read_csv(run / "parameters.csv").set_index("parameter")
    for name, value in best.items():
        mine = profiled[profiled["parameter"] == name]
        assert {0.12, 0.4} <= set(mine["value"].round(6)) or {0.05, 0.5} <= set(mine["value"].round(6))
        at_fit = mine[np.isclose(mine["value"], value)]
        assert len(at_fit) == 1  # the fit is on the profile: there no more targets are outside than at the fit
        assert ident.loc[name, "profile_lo"] <= value <= ident.loc[name, "profile_hi"]
        good = mine[mine["outside"] <= at_fit["outside"].iloc[0]]["value"]
        assert ident.loc[name, "profile_lo"] == pytest.approx(good.min())
        assert ident.loc[name, "profile_hi"] == pytest.approx(good.max())
    html = (run / "calibration.html").read_text()
    assert "Confirmed candidates" in html and "one-at-a-time profile" in html and html.count("<img") == 2


def test_a_warm_start_is_the_first_trial_of_restart_0_only(tmp_path):
    start = tmp_path / "start.yaml"
    start.write_text("parameters:\n  attention_email: 0.3131\n")
    out = tmp_path / "results"
    assert main(["calibrate", "params=attention_email", "trials=2", "restarts=2", *TINY, "confirm=0",
                 f"start={start}", f"results_dir={out}"]) == 0
    [run] = list((out / "calibration").iterdir())
    trials = pd.read_csv(run / "trials.csv")
    first = trials.groupby("restart")["params_attention_email"].first()
    assert first[0] == 0.3131 and first[1] != 0.3131


@pytest.mark.parametrize("text,fragment", [
    ("parameters: {visit_rate: 0.3}", "expected a value for each fitted parameter, exactly attention_email"),
    ("attention_email: 0.9", "attention_email=0.9, expected a number in [0.12, 0.4]"),
    ("attention_email: high", "attention_email='high'"),
    ("attention_email: [0.2", "not a YAML file"),
])
def test_a_bad_warm_start_stops_with_one_line_naming_the_file(tmp_path, capsys, text, fragment):
    start = tmp_path / "start.yaml"
    start.write_text(text)
    out = tmp_path / "results"
    assert main(["calibrate", "params=attention_email", *TINY, f"start={start}", f"results_dir={out}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"start={start}" in err[0] and fragment in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("args,fragment", [
    (["params=happiness"], "params: 'happiness' is not a parameter that can be fitted"),
    (["params=customers"], "params: 'customers' is not a parameter that can be fitted"),
    (["params=word_of_mouth"], "word_of_mouth has no plausible range"),
    (["params=attention_email", "attention_email=0.2"], "attention_email is also fixed"),
    (["params=attention_email,attention_email"], "different parameters"),
    (["fit=nope"], "fit: 'nope' is not a target of published"),
    (["targets=missing.yaml"], "file not found"),
    (["trials=0"], "trials='0'"),
    (["strategy=nope"], "strategy"),
    (["colour=blue"], "colour: unknown setting"),
    (["profile=2"], "profile=2: expected 0 (none) or at least 3"),
    (["polish=1"], "polish=1: expected 0 (none) or at least 3"),
    (["confirm=-1"], "confirm='-1'"),
])
def test_bad_input_stops_with_one_line_and_writes_nothing(tmp_path, capsys, args, fragment):
    out = tmp_path / "results"
    assert main(["calibrate", *TINY, *args, f"results_dir={out}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
    assert not out.exists()
