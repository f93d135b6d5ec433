"""The example of docs/research.md: the log as a CLV table, and the truth it is scored against."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import build
from sim.events import empty_table
from sim.research import clv_tables, fit_and_compare, rfm_summary, simulate_log, uplift_truth


def log_of(rows: list[tuple]) -> pd.DataFrame:
    """A log from (customer, week, event, dealer, amount) rows, treated market."""
    df = empty_table()
    df = pd.DataFrame({"holdout": False, "customer": [r[0] for r in rows], "week": [r[1] for r in rows],
                       "event": pd.Categorical([r[2] for r in rows], categories=df["event"].cat.categories),
                       "dealer": pd.Categorical([r[3] for r in rows], categories=df["dealer"].cat.categories),
                       "amount": [r[4] for r in rows]})
    return df


def test_rfm_summary_counts_repeat_weeks_as_lifetimes_does():
    log = log_of([(7, 3, "service", "us", 100.0), (7, 10, "purchase", "us", 2000.0), (7, 10, "service", "us", 50.0),
                  (7, 30, "service", "us", 150.0), (7, 60, "service", "us", 999.0),  # after the window
                  (8, 20, "service", "us", 80.0), (9, 5, "service", "rival", 80.0), (9, 6, "contact", "", 1.0)])
    rfm = rfm_summary(log, until_week=52).set_index("customer_id")
    assert list(rfm.index) == [7, 8]  # 9 never transacted with us
    assert rfm.loc[7].to_dict() == {"frequency": 2, "recency": 27, "T": 49, "monetary_value": (2050 + 150) / 2}
    assert rfm.loc[8].to_dict() == {"frequency": 0, "recency": 0, "T": 32, "monetary_value": 0}


def test_clv_tables_of_a_simulated_dealership_are_consistent():
    log = simulate_log(customers=500, weeks=104, seed=3)
    rfm, truth = clv_tables(log, calibration_weeks=52, weeks=104)
    assert len(rfm) > 100 and list(truth["customer_id"]) == list(rfm["customer_id"])
    assert (rfm["recency"] <= rfm["T"]).all() and (rfm["T"] < 52).all() and (rfm["frequency"] >= 0).all()
    assert ((rfm["monetary_value"] > 0) == (rfm["frequency"] > 0)).all()
    assert truth["value"].sum() > 0 and (truth["transactions"] >= 0).all()


def test_uplift_truth_adds_up_to_the_incremental_profit():
    """Summed over customers, the true individual effects are the model's incremental profit."""
    m = build("constant_sales", seed=6, customers=500, events=True).run(52)
    truth = uplift_truth(m.event_log.table(), 500)
    np.testing.assert_allclose(truth["treated"], m.pop.margin - m.pop.cost, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(truth["holdout"], m.holdout.margin - m.holdout.cost, rtol=1e-9, atol=1e-6)
    assert truth["uplift"].sum() == pytest.approx(m.metrics()["incremental_profit"].iloc[-1], rel=1e-9, abs=1e-6)


def test_fit_bg_nbd_and_gamma_gamma_against_the_truth():
    pytest.importorskip("pymc_marketing", reason="pymc-marketing is an optional extra (rapport[clv], own venv)")
    log = simulate_log(customers=2000, weeks=260, seed=0)
    rfm, truth = clv_tables(log, calibration_weeks=156, weeks=260)
    got = fit_and_compare(rfm, truth, future_weeks=104)
    assert got["predicted_transactions"] == pytest.approx(got["true_transactions"], rel=0.5)
    assert got["corr_transactions"] > 0.3
