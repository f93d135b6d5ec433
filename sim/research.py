"""The event log as other tools read it, and the truth they are scored against.

- ``rfm_summary``: the log's transactions with us (purchases and service visits, amount =
  our margin) up to a week, as the table BG/NBD and Gamma-Gamma models expect
  (PyMC-Marketing's ``clv``, lifetimes): ``customer_id, frequency, recency, T,
  monetary_value``, in weeks.
- ``future_value``: what each customer actually brought in a later window: the truth a CLV
  prediction is compared with.
- ``uplift_truth``: each customer's net value in the treated market and in the no-contact
  holdout (same customers, same random numbers): their difference is the true individual
  effect of the strategy, which uplift and mix tools estimate.

See docs/research.md for the worked example.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRANSACTIONS = ("purchase", "service")


def transactions(log: pd.DataFrame, holdout: bool = False) -> pd.DataFrame:
    """Our transactions (purchases and service visits with us): customer, week, amount."""
    rows = log[(log["holdout"] == holdout) & (log["dealer"] == "us") & log["event"].isin(TRANSACTIONS)]
    return rows[["customer", "week", "amount"]].reset_index(drop=True)


def rfm_summary(log: pd.DataFrame, until_week: int, holdout: bool = False) -> pd.DataFrame:
    """The calibration table of a BG/NBD + Gamma-Gamma fit, from weeks 1..``until_week``.

    One row per customer with at least one transaction with us in the window, counted in
    whole weeks as lifetimes' ``summary_data_from_transaction_data`` does: ``frequency`` =
    weeks with a transaction after the first; ``recency`` = last such week minus the first;
    ``T`` = ``until_week`` minus the first; ``monetary_value`` = mean amount of the repeat
    weeks (0 without repeats). Several transactions in one week count as one, their amounts
    summed.
    """
    tx = transactions(log, holdout)
    tx = tx[tx["week"] <= until_week]
    weekly = tx.groupby(["customer", "week"], as_index=False)["amount"].sum().sort_values(["customer", "week"])
    g = weekly.groupby("customer")
    first, last, count = g["week"].min(), g["week"].max(), g["week"].size()
    first_amount = g["amount"].first()
    total = g["amount"].sum()
    frequency = count - 1
    out = pd.DataFrame({
        "customer_id": first.index.to_numpy(),
        "frequency": frequency.to_numpy(dtype=float),
        "recency": (last - first).to_numpy(dtype=float),
        "T": (until_week - first).to_numpy(dtype=float),
        "monetary_value": np.where(frequency > 0, (total - first_amount) / frequency.clip(lower=1), 0.0)})
    return out.reset_index(drop=True)


def future_value(log: pd.DataFrame, after_week: int, until_week: int, holdout: bool = False) -> pd.DataFrame:
    """What each customer actually brought us in weeks ``after_week``+1..``until_week``:
    ``customer_id``, ``transactions`` (weeks with one) and ``value`` (margin, $)."""
    tx = transactions(log, holdout)
    tx = tx[(tx["week"] > after_week) & (tx["week"] <= until_week)]
    g = tx.groupby("customer")
    return pd.DataFrame({"customer_id": g.size().index.to_numpy(), "transactions": g["week"].nunique().to_numpy(),
                         "value": g["amount"].sum().to_numpy()})


def uplift_truth(log: pd.DataFrame, customers: int) -> pd.DataFrame:
    """Per customer: net value (margin - cost) treated, in the holdout, and their difference
    (the true incremental effect of the strategy on that customer)."""
    def net(holdout: bool) -> np.ndarray:
        rows = log[log["holdout"] == holdout]
        sign = np.where(rows["event"].isin(["contact", "event_attendance"]), -1.0,
                        np.where(rows["dealer"] == "us", 1.0, 0.0))
        return np.bincount(rows["customer"], weights=sign * rows["amount"], minlength=customers)

    treated, held = net(False), net(True)
    return pd.DataFrame({"customer_id": np.arange(customers), "treated": treated, "holdout": held,
                         "uplift": treated - held})


# --- the worked example of docs/research.md --------------------------------------------------
def simulate_log(customers: int = 3000, weeks: int = 260, strategy: str = "reciprocal_value", seed: int = 0,
                 **params) -> pd.DataFrame:
    """The event log of one simulated dealership (treated and holdout rows)."""
    from .model import RelationshipModel

    m = RelationshipModel(customers=customers, strategy=strategy, rng=seed, journeys=0, events=True, **params)
    return m.run(weeks).event_log.table()


def clv_tables(log: pd.DataFrame, calibration_weeks: int, weeks: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The calibration table (``rfm_summary`` of weeks 1..calibration_weeks) and the truth of
    the weeks after (``future_value``), aligned on the calibration's customers (0 if none)."""
    rfm = rfm_summary(log, calibration_weeks)
    truth = future_value(log, calibration_weeks, weeks).set_index("customer_id")
    truth = truth.reindex(rfm["customer_id"], fill_value=0).reset_index()
    return rfm, truth


def fit_and_compare(rfm: pd.DataFrame, truth: pd.DataFrame, future_weeks: int, seed: int = 0) -> dict:
    """Fit BG/NBD (``BetaGeoModel``) and Gamma-Gamma with PyMC-Marketing (MAP), predict each
    customer's transactions and value over ``future_weeks`` and compare with the truth.

    Needs the optional ``pymc-marketing`` >= 1.0 (``pip install rapport[clv]``, in a venv of
    its own): imported here only. Returns the totals and the per-customer correlations.
    """
    from pymc_marketing import clv

    frequency = rfm[["customer_id", "frequency", "recency", "T"]]
    bg = clv.BetaGeoModel()
    bg.fit(frequency, method="map", random_seed=seed, progressbar=False)
    expected = np.asarray(bg.expected_purchases(data=frequency, future_t=future_weeks).mean(("chain", "draw")))
    money = rfm[["customer_id", "frequency", "monetary_value"]]
    gg = clv.GammaGammaModel()
    gg.fit(money[money["frequency"] > 0], method="map", random_seed=seed, progressbar=False)
    spend = np.asarray(gg.expected_customer_spend(data=money).mean(("chain", "draw")))
    value = expected * spend
    return {"customers": len(rfm), "predicted_transactions": float(expected.sum()),
            "true_transactions": float(truth["transactions"].sum()),
            "predicted_value": float(value.sum()), "true_value": float(truth["value"].sum()),
            "corr_transactions": float(np.corrcoef(expected, truth["transactions"])[0, 1]),
            "corr_value": float(np.corrcoef(value, truth["value"])[0, 1]),
            "bg_nbd": {k: float(np.asarray(v).mean()) for k, v in bg.fit_result.data_vars.items()},
            "gamma_gamma": {k: float(np.asarray(v).mean()) for k, v in gg.fit_result.data_vars.items()}}
