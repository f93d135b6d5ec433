"""The ground-truth event log: a pure observer whose per-customer totals are the model's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import assert_one_line_error, build
from sim import ParameterError
from sim.cli import main
from sim.events import EVENT_NAMES, read_events, totals
from sim.experiment import run_experiment
from sim.schema import experiment_spec

COUNTS = ("purchases", "service_visits", "contacts")


def assert_totals_match(log: pd.DataFrame, table: pd.DataFrame) -> None:
    """Per customer, the log's purchases, service visits and contacts equal the table's
    exactly; its margin and cost equal them to rounding (sums in another order)."""
    got = totals(log).reindex(table["customer"], fill_value=0)
    for col in COUNTS:
        np.testing.assert_array_equal(got[col].to_numpy(), table[col].to_numpy(), err_msg=col)
    for col in ("margin", "cost"):
        np.testing.assert_allclose(got[col].to_numpy(), table[col].to_numpy(), rtol=1e-9, atol=1e-6, err_msg=col)


@pytest.mark.parametrize("strategy", ["reciprocal_value", "constant_sales", "lifecycle"])
def test_per_customer_totals_of_the_log_equal_the_customers_table(strategy):
    m = build(strategy, seed=4, customers=600, events=True).run(60)
    log = m.event_log.table()
    assert set(log["event"].unique()) >= {"contact", "open", "purchase", "service", "stage_change"}
    assert log["amount"].sum() > 0 and log["amount"].notna().all()
    assert_totals_match(log, m.customers_table())


def test_holdout_rows_are_the_same_market_without_contact():
    m = build("constant_sales", seed=2, customers=600, events=True).run(52)
    held = m.event_log.table()
    held = held[held["holdout"]]
    assert len(held) and not (held["event"] == "contact").any()
    margin = held[(held["dealer"] == "us")].groupby("customer")["amount"].sum().reindex(range(600), fill_value=0)
    np.testing.assert_allclose(margin.to_numpy(), m.holdout.margin, rtol=1e-9, atol=1e-6)


def test_the_log_only_observes():
    """The same seed gives the same numbers with and without the log, bit for bit."""
    with_log, without = (build("reciprocal_value", seed=9, customers=500, events=e).run(40) for e in (True, False))
    pd.testing.assert_frame_equal(with_log.metrics(), without.metrics())
    pd.testing.assert_frame_equal(with_log.customers_table(), without.customers_table())
    assert without.event_log is None


def test_stage_changes_replay_to_the_final_stage():
    m = build("lifecycle", seed=5, customers=500, events=True).run(52)
    log = m.event_log.table()
    changes = log[~log["holdout"] & (log["event"] == "stage_change")]
    last = changes.groupby("customer")["stage"].last()
    final = m.customers_table().set_index("customer")["stage"]
    assert len(last) and (last.astype(str) == final[last.index].astype(str)).all()
    assert set(log["event"].cat.categories) == set(EVENT_NAMES)


def spec(**overrides):
    cfg = {"market": {"customers": 300}, "behaviour": {}, "economics": {}, "horizon_weeks": 20, "seed": 0,
           "replications": 2, "workers": 1, "results_dir": "r", "report": False, "optimized_metric": "profit",
           "strategy": None, "experiment": {"arms": [{"name": "a", "strategy": "constant_sales"},
                                                     {"name": "b", "strategy": "reciprocal_value"}]}}
    cfg.update(overrides)
    return experiment_spec(cfg, "test")


def test_an_experiment_writes_one_partition_per_arm_and_replication(tmp_path):
    """Both arms share one market, so the holdout is recorded once per seed and replayed:
    its rows are written in each arm's partition, identical."""
    res = run_experiment(spec(), progress=False, events_dir=tmp_path / "events")
    log = read_events(tmp_path / "events")
    assert sorted(log.groupby(["arm", "replication"]).groups) == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    for (arm, r), part in log.groupby(["arm", "replication"]):
        table = res.customers[(res.customers["arm"] == arm) & (res.customers["replication"] == r)]
        if len(table):  # customers.parquet keeps replication 0
            assert_totals_match(part, table)
    held = [part[part["holdout"]].drop(columns=["arm"]).reset_index(drop=True)
            for _, part in log[log["replication"] == 0].groupby("arm")]
    assert len(held[0]) and held[0].equals(held[1])


def test_an_unwritable_event_folder_stops_before_the_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ParameterError) as excinfo:
        run_experiment(spec(), progress=False, events_dir=blocker / "events")
    assert_one_line_error(excinfo, "events", str(blocker))


def test_cli_with_events_and_an_unwritable_results_folder_writes_nothing(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["market.customers=300", "horizon_weeks=5", "events=true", f"results_dir={blocker}/out"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "events" in err[0] and str(blocker) in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.slow
def test_cli_events_true_writes_the_log_in_the_run_folder(tmp_path):
    out = tmp_path / "results"
    assert main(["market.customers=300", "horizon_weeks=10", "replications=2", "workers=1", "report=false",
                 "events=true", f"results_dir={out}"]) == 0
    [run] = list((out / "sales_vs_reciprocal").iterdir())
    log = read_events(run / "events")
    assert set(log["arm"]) == {"constant_sales", "reciprocal_value"} and set(log["replication"]) == {0, 1}
    assert_totals_match(log[(log["arm"] == "constant_sales") & (log["replication"] == 0)],
                        pd.read_parquet(run / "customers.parquet").query("arm == 'constant_sales'"))
