"""The public API of the core: what ``RelationshipModel`` returns and promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from conftest import build
from sim import RelationshipModel
from sim.agents import CustomerView
from sim.metrics import METRICS
from sim.state import FIELDS, STAGES, TIERS


def test_package_exports():
    for name in ("RelationshipModel", "PARAMS", "ParameterError", "validate", "builtin_strategies",
                 "load_strategy"):
        assert hasattr(sim, name), name
    assert isinstance(sim.__version__, str)


def test_run_returns_the_model_and_adds_one_row_per_week():
    m = build(customers=300)
    assert len(m.metrics()) == 0 and list(m.metrics().columns) == ["week"] + [x.name for x in METRICS]
    assert m.run(0) is m and m.week == 0
    assert m.run(4) is m
    assert m.week == 4 and len(m.metrics()) == 4 and len(m.dealer.ledger) == 4
    m.step()
    df = m.metrics()
    assert df["week"].tolist() == [1, 2, 3, 4, 5]
    assert m.metrics() is not df, "metrics() should build a fresh table"


def test_runs_in_pieces_equal_one_run():
    whole = build(seed=2, customers=400).run(12)
    pieces = build(seed=2, customers=400).run(5).run(0).run(7)
    stepped = build(seed=2, customers=400)
    for _ in range(12):
        stepped.step()
    for other in (pieces, stepped):
        pd.testing.assert_frame_equal(whole.metrics(), other.metrics(), check_exact=True)
        pd.testing.assert_frame_equal(whole.customers_table(), other.customers_table(), check_exact=True)


def test_customers_table_shape_and_types():
    m = build("lifecycle", seed=3, customers=350).run(10)
    t = m.customers_table()
    assert len(t) == 350
    assert t.columns[0] == "customer"
    assert {f.name for f in FIELDS} <= set(t.columns) and "net_value" in t.columns
    assert list(t["stage"].cat.categories) == list(STAGES)
    assert list(t["tier"].cat.categories) == list(TIERS)
    assert t["stage"].notna().all() and t["tier"].notna().all()
    np.testing.assert_array_equal(t["stage"].cat.codes.to_numpy(), m.pop.stage)
    np.testing.assert_array_equal(t["tier"].cat.codes.to_numpy(), m.pop.tier)
    np.testing.assert_allclose(t["net_value"], t["margin"] - t["cost"])
    # a copy, not a view: editing the table leaves the model alone
    before = m.pop.trust.copy()
    t["trust"] = 0.0
    np.testing.assert_array_equal(m.pop.trust, before)


def test_customer_view_matches_the_table():
    m = build("reciprocal_value", seed=3, customers=300, journeys=5).run(8)
    t = m.customers_table()
    for i in [0, 17, 299, *m.journey_ids.tolist()]:
        view = m.customer(i)
        assert isinstance(view, CustomerView) and view.id == i
        assert set(view.state) == {f.name for f in FIELDS}
        row = t.iloc[i]
        assert view.stage == row["stage"] and view.tier == row["tier"]
        for name in ("trust", "affinity", "fatigue", "margin", "cost", "purchases", "contacts"):
            assert view.state[name] == pytest.approx(row[name]), name
    assert m.customer(np.int64(5)).id == 5, "numpy integers are valid ids"


def test_tiers_follow_spend():
    """The heavy tier is the top spenders, about heavy_share of the market."""
    m = build(customers=2000, seed=4)
    heavy = m.pop.tier == 1
    assert m.pop.spend[heavy].min() >= m.pop.spend[~heavy].max()
    assert abs(heavy.mean() - m.params["heavy_share"]) < 0.02


def test_word_of_mouth_off_means_no_referrals():
    df = build("lifecycle", seed=5, customers=500, word_of_mouth=False).run(30).metrics()
    assert (df["referrals"] == 0).all()


def test_no_social_ties_builds_an_empty_network():
    m = build(customers=300, social_ties=0).run(5)
    assert m.pop.ties.shape == (300, 0)
    assert (m.metrics()["referrals"] == 0).all()


def test_network_shape_follows_parameters():
    m = build(customers=300, social_ties=4, rewiring=0.0)
    assert m.pop.ties.shape == (300, 4)
    # without rewiring it is a ring lattice: nobody is tied to themselves
    assert (m.pop.ties != np.arange(300)[:, None]).all()


def test_no_contact_holdout_without_holdout_gives_nan_roi():
    m = build("constant_sales", seed=1, customers=300, holdout=False).run(3)
    assert m.holdout is None
    assert m.metrics()["roi"].isna().all()


def test_dealers_are_mesa_agents():
    m = build(customers=300)
    assert m.dealer in m.agents and m.rival in m.agents
    assert m.dealer.name == "us" and m.rival.name == "rival"
    assert m.dealer.strategy == m.policy.name


def test_model_is_reproducible_from_its_docstring_example_shape():
    m = RelationshipModel(customers=300, strategy="reciprocal_value", rng=42, journeys=3)
    tail = m.run(weeks=4).metrics().tail(1)
    assert tail["week"].item() == 4
