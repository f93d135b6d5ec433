"""Invariants of the simulation core: ranges, conservation, money, determinism, holdout.

These hold whatever the parameter values, so they read ranges and costs from
``sim.state.FIELDS`` and ``model.params`` instead of hard-coding results.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import assert_same_arrays, build, population_arrays
from sim import builtin_strategies
from sim.metrics import METRICS
from sim.rules import E
from sim.params import CHANNELS, CONTENTS
from sim.state import FIELDS, STAGES, US, RIVAL, Stage

STRATEGIES = builtin_strategies()
# Metrics that only exist when the holdout twin runs (NaN without it).
HOLDOUT_COLUMNS = [m.name for m in METRICS if m.name.startswith(("holdout_", "incremental_")) or m.name == "roi"]
INCREMENTAL_COLUMNS = [name for name in HOLDOUT_COLUMNS if name.startswith("incremental_")]
ACTIVE = (Stage.PURCHASE, Stage.CONNECTION, Stage.LOYALTY)

# Parameter sets at the edges of their allowed ranges, to stress the clipping of states.
EXTREMES = {
    "harsh": dict(fatigue_irrelevant=1.0, unsubscribe_rate=1.0, reactance_trust_cost=1.0, reciprocity_strength=5.0,
                  heed_negative=1.0, word_of_mouth_effect=1.0, talk_rate=1.0, service_quality=0.0,
                  service_trust_gain=1.0),
    "generous": dict(value_trust_gain=1.0, value_affinity_gain=1.0, event_affinity_gain=1.0,
                     event_attendance=1.0, attention_email=1.0, attention_mail=1.0, attention_phone=1.0,
                     attention_event=1.0, fatigue_sensitivity=0.0, heed_positive=1.0, talk_rate=1.0,
                     word_of_mouth_effect=1.0, service_trust_gain=1.0, fatigue_recovery=0.0),
    "empty_crm": dict(our_share=0.0, prospects_known=0.0),
    "all_ours": dict(our_share=1.0, opt_in=1.0, trust_owners=1.0, affinity_owners=1.0),
    "no_network": dict(social_ties=0, word_of_mouth=False, rival_contact_rate=0.0),
    "busy": dict(purchase_hazard=1.0, replacement_weeks=26, service_interval_weeks=4, offer_lift=10.0,
                 defection_rate=1.0, rival_contact_rate=1.0, replacement_spread=1.0),
}


def check_week(m, row: pd.Series) -> None:
    """Every per-week invariant of the treated market, checked against ``m`` after a step."""
    pop = m.pop
    n = m.params["customers"]
    pop.check()
    assert pop.n == n
    for f in FIELDS:
        a = getattr(pop, f.name)
        assert a.shape == (n,), f.name
        assert a.dtype == np.dtype(f.dtype), f.name
    for name in ("trust", "affinity", "fatigue"):
        a = getattr(pop, name)
        assert np.isfinite(a).all(), name
        assert a.min() >= 0.0 and a.max() <= 1.0, (name, a.min(), a.max())
    assert set(np.unique(pop.stage)) <= set(range(len(STAGES)))
    # customers neither lost nor duplicated
    stage_counts = [row[f"stage_{s}"] for s in STAGES]
    assert sum(stage_counts) == n
    assert stage_counts == [np.count_nonzero(pop.stage == i) for i in range(len(STAGES))]
    assert np.count_nonzero(pop.owner == US) + np.count_nonzero(pop.owner == RIVAL) == n
    # the stage follows from ownership: active stages are our owners, lapsed were ours
    assert (pop.owner[np.isin(pop.stage, ACTIVE)] == US).all(), "active relationship with a rival owner"
    assert pop.ever_ours[np.isin(pop.stage, ACTIVE + (Stage.LAPSED,))].all()
    assert row["stage_purchase"] == row["our_sales"], "PURCHASE stage must be exactly this week's buyers"
    # who we may contact / who is in the CRM
    assert pop.known[pop.opted_in].all(), "opted in but unknown"
    assert pop.known[pop.ever_ours].all(), "our owner but not in the CRM"
    # per-customer totals are per slot: a newcomer (turnover) keeps the slot's contacts and purchases
    moved = m.__dict__.setdefault("_moved_slots", np.zeros(n, bool))
    moved |= (m.events & E.moved) != 0
    assert pop.known[(pop.contacts > 0) & ~moved].all(), "contacted but unknown"
    assert pop.ever_ours[(pop.purchases > 0) & ~moved].all()
    assert (pop.ties >= 0).all() and (pop.ties < n).all()
    # counts are non-negative whole numbers; shares are shares
    for name in ("contacts", "offers", "relevant_offers", "opens", "visits", "event_attendance", "our_sales",
                 "rival_sales", "service_visits", "unsubscribes", "defections", "referrals"):
        assert row[name] >= 0 and float(row[name]).is_integer(), name
    assert row["relevant_offers"] <= row["offers"] <= row["contacts"]
    assert row["opens"] <= row["contacts"]
    for name in ("retention", "repurchase", "service_retention", "opted_in", "unsubscribe_rate",
                 "promoter_share", "detractor_share"):
        assert np.isnan(row[name]) or 0.0 <= row[name] <= 1.0, (name, row[name])
    assert row["revenue"] >= 0 and row["cost"] >= 0
    # state metrics agree with the arrays they summarise (end-of-week state)
    known = pop.known
    for name in ("trust", "affinity", "fatigue"):
        expected = getattr(pop, name)[known].astype(np.float64).mean() if known.any() else np.nan
        np.testing.assert_allclose(row[name], expected, rtol=1e-5, err_msg=name)
    if known.any():
        np.testing.assert_allclose(row["opted_in"], pop.opted_in.sum() / known.sum(), rtol=1e-12)
    else:
        assert np.isnan(row["opted_in"]) and row["contacts"] == 0
    if pop.ever_ours.any():
        np.testing.assert_allclose(row["retention"], np.isin(pop.stage, ACTIVE).sum() / pop.ever_ours.sum(),
                                   rtol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_states_in_range_and_customers_conserved_every_week(strategy):
    m = build(strategy, seed=3, customers=500)
    m.pop.check()
    for _ in range(40):
        m.step()
        check_week(m, m.metrics().iloc[-1])
    table = m.customers_table()
    assert len(table) == 500
    assert table["customer"].is_unique
    assert (np.sort(table["customer"].to_numpy()) == np.arange(500)).all()


@pytest.mark.parametrize("case", sorted(EXTREMES))
@pytest.mark.parametrize("strategy", ["constant_sales", "lifecycle", "best_customers"])
def test_states_in_range_with_extreme_parameters(strategy, case):
    m = build(strategy, seed=5, customers=400, **EXTREMES[case])
    m.pop.check()
    for _ in range(30):
        m.step()
        check_week(m, m.metrics().iloc[-1])


def test_reciprocity_stays_in_declared_range_without_forgetting():
    """FIELDS declares reciprocity in [-50, 50]; with reciprocity_memory=0 (allowed) and
    asks read every week, nothing bounds the balance, so it must be clipped by the rules."""
    m = build("constant_sales", seed=1, customers=300, reciprocity_memory=0.0, fatigue_sensitivity=0.0,
              attention_email=1.0, unsubscribe_rate=0.0)
    lo, hi = next((f.lo, f.hi) for f in FIELDS if f.name == "reciprocity")
    for _ in range(70):
        m.step()
    assert lo <= m.pop.reciprocity.min() and m.pop.reciprocity.max() <= hi
    m.pop.check()


def test_buyer_who_switches_to_rival_the_week_after_buying_from_us_lapses():
    """A customer in the PURCHASE stage who then buys from the rival must not stay an
    active relationship (CONNECTION/LOYALTY) with the rival as owner. Needs many buyers."""
    worst = 0
    for seed in (1, 2):
        m = build("reciprocal_value", seed=seed, customers=20000, holdout=False, purchase_hazard=1.0,
                  replacement_weeks=26, offer_lift=10.0)
        for _ in range(30):
            m.step()
            worst = max(worst, int(np.count_nonzero(np.isin(m.pop.stage, ACTIVE) & (m.pop.owner != US))))
    assert worst == 0, f"{worst} customers in an active stage whose car was bought from the rival"


# --- money -------------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["reciprocal_value", "constant_sales", "lifecycle", "best_customers"])
def test_money_adds_up(strategy):
    m = build(strategy, seed=11, customers=600).run(52)
    df = m.metrics()
    table = m.customers_table()
    rtol = 1e-9
    np.testing.assert_allclose(df["profit"], df["revenue"] - df["cost"], rtol=rtol)
    np.testing.assert_allclose(df["cum_profit"], df["profit"].cumsum(), rtol=rtol)
    np.testing.assert_allclose(df["cum_cost"], df["cost"].cumsum(), rtol=rtol)
    np.testing.assert_allclose(table["margin"].sum(), df["revenue"].sum(), rtol=rtol)
    np.testing.assert_allclose(table["cost"].sum(), df["cost"].sum(), rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(table["net_value"].sum(), df["profit"].sum(), rtol=rtol, atol=1e-6)
    assert df["revenue"].sum() > 0, "a year of a market should sell something"
    # per-customer counters agree with the weekly counts
    assert table["purchases"].sum() == df["our_sales"].sum()
    assert table["service_visits"].sum() == df["service_visits"].sum()
    assert table["contacts"].sum() == df["contacts"].sum()
    # a customer with no contacts has cost us nothing; one who never dealt with us earned nothing
    assert (table.loc[table["contacts"] == 0, "cost"] == 0).all()
    idle = (table["purchases"] == 0) & (table["service_visits"] == 0)
    assert (table.loc[idle, "margin"] == 0).all()
    # incremental profit is the cumulative difference to the holdout
    np.testing.assert_allclose(df["incremental_profit"], df["cum_profit"] - df["holdout_profit"].cumsum(),
                               rtol=rtol, atol=1e-6)
    spent = df["cum_cost"] > 0
    np.testing.assert_allclose(df.loc[spent, "roi"], df.loc[spent, "incremental_profit"] / df.loc[spent, "cum_cost"],
                               rtol=rtol)


def test_dealer_ledgers_match_metrics():
    m = build("lifecycle", seed=4, customers=600).run(40)
    df = m.metrics()
    ours = pd.DataFrame(m.dealer.ledger)
    assert len(ours) == len(df) == 40
    assert (ours["week"].to_numpy() == df["week"].to_numpy()).all()
    assert (ours["sales"].to_numpy() == df["our_sales"].to_numpy()).all()
    assert (ours["service_visits"].to_numpy() == df["service_visits"].to_numpy()).all()
    np.testing.assert_allclose(ours["revenue"], df["revenue"], rtol=1e-12)
    np.testing.assert_allclose(ours["cost"], df["cost"], rtol=1e-12)
    np.testing.assert_allclose(ours["profit"], df["profit"], rtol=1e-12)
    rival = pd.DataFrame(m.rival.ledger)
    assert (rival["sales"].to_numpy() == df["rival_sales"].to_numpy()).all()
    np.testing.assert_allclose(rival["profit"], rival["revenue"] - rival["cost"], rtol=1e-12)
    assert (rival["revenue"] >= 0).all() and (rival["cost"] >= 0).all()


def content_cost(params: dict, content: str) -> float:
    """Extra cost of one piece of ``content`` on top of the channel cost (0 if there is none)."""
    return params.get(f"cost_{content}", 0.0)


@pytest.mark.parametrize("content", ["sales_offer", "value_content"])
@pytest.mark.parametrize("channel", ["email", "mail", "phone", "event"])
def test_contact_cost_is_contacts_times_unit_cost(channel, content):
    """One content that is not an event invitation, so no attendees: the week's cost is
    contacts x (channel cost + content cost)."""
    spec = {"name": "one_channel", "default": {"frequency": 0.7, "channel": channel, "mix": {content: 1.0}}}
    m = build(spec, seed=2, customers=400).run(20)
    df = m.metrics()
    assert df["contacts"].sum() > 0
    assert (df["event_attendance"] == 0).all()
    unit = m.params[f"cost_{channel}"] + content_cost(m.params, content)
    np.testing.assert_allclose(df["cost"], df["contacts"] * unit, rtol=1e-12)


def test_event_cost_includes_attendees():
    spec = {"name": "events", "default": {"frequency": 1.0, "channel": "event", "mix": {"event_invite": 1.0}}}
    m = build(spec, seed=2, customers=600).run(20)
    df = m.metrics()
    assert df["event_attendance"].sum() > 0
    unit = m.params["cost_event"] + content_cost(m.params, "event_invite")
    expected = df["contacts"] * unit + df["event_attendance"] * m.params["cost_attendee"]
    np.testing.assert_allclose(df["cost"], expected, rtol=1e-12)


def test_zero_budget_sends_nothing():
    m = build("constant_sales", seed=2, customers=400, budget=0.0).run(20)
    df = m.metrics()
    assert (df["contacts"] == 0).all() and (df["cost"] == 0).all()


@pytest.mark.parametrize("content", ["sales_offer", "value_content"])
def test_budget_caps_the_mean_weekly_cost(content):
    """With a budget well below what the policy wants, contacts are thinned so that the
    weekly cost averages the budget (no events, so every cost is a contact cost)."""
    spec = {"name": "capped", "default": {"frequency": 1.0, "channel": "mail", "mix": {content: 1.0}}}
    free = build(spec, seed=6, customers=600).run(12).metrics()
    budget = 0.25 * free["cost"].iloc[0]
    df = build(spec, seed=6, customers=600, budget=budget).run(12).metrics()
    assert df["contacts"].sum() > 0
    assert df["cost"].mean() <= 1.2 * budget, (df["cost"].mean(), budget)
    assert df["cost"].mean() >= 0.8 * budget, (df["cost"].mean(), budget)


# --- determinism ---------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["reciprocal_value", "constant_sales", "lifecycle"])
def test_same_seed_gives_identical_results(strategy):
    a = build(strategy, seed=21, customers=500, journeys=15).run(40)
    b = build(strategy, seed=21, customers=500, journeys=15).run(40)
    pd.testing.assert_frame_equal(a.metrics(), b.metrics(), check_exact=True)
    pd.testing.assert_frame_equal(a.customers_table(), b.customers_table(), check_exact=True)
    assert_same_arrays(population_arrays(a), population_arrays(b))
    assert_same_arrays(population_arrays(a, a.holdout), population_arrays(b, b.holdout))
    assert (a.journey_ids == b.journey_ids).all()
    assert a.journeys == b.journeys
    assert a.dealer.ledger == b.dealer.ledger


def test_same_seeded_generator_gives_identical_results():
    a = build("reciprocal_value", seed=np.random.default_rng(8), customers=400).run(20)
    b = build("reciprocal_value", seed=np.random.default_rng(8), customers=400).run(20)
    pd.testing.assert_frame_equal(a.metrics(), b.metrics(), check_exact=True)


def test_different_seeds_differ():
    frames = [build("reciprocal_value", seed=s, customers=500).run(30) for s in (1, 2, 3)]
    tables = [m.customers_table() for m in frames]
    metrics = [m.metrics() for m in frames]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not tables[i]["trust"].equals(tables[j]["trust"])
            assert not metrics[i]["revenue"].equals(metrics[j]["revenue"])


# --- holdout twin and common random numbers -------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_contact_has_zero_incremental_profit_every_week(seed):
    df = build("no_contact", seed=seed, customers=500).run(52).metrics()
    assert INCREMENTAL_COLUMNS, "no incremental metric declared"
    for name in INCREMENTAL_COLUMNS:
        assert (df[name] == 0.0).all(), name
    assert (df["profit"] == df["holdout_profit"]).all()


@pytest.mark.parametrize("strategy", ["reciprocal_value", "constant_sales", "service_followup"])
def test_holdout_does_not_change_the_treated_market(strategy):
    with_h = build(strategy, seed=9, customers=500, journeys=10).run(40)
    without = build(strategy, seed=9, customers=500, journeys=10, holdout=False).run(40)
    a, b = with_h.metrics(), without.metrics()
    pd.testing.assert_frame_equal(a.drop(columns=HOLDOUT_COLUMNS), b.drop(columns=HOLDOUT_COLUMNS),
                                  check_exact=True)
    assert b[HOLDOUT_COLUMNS].isna().all().all()
    assert a[[c for c in HOLDOUT_COLUMNS if c != "roi"]].notna().all().all()
    pd.testing.assert_frame_equal(with_h.customers_table(), without.customers_table(), check_exact=True)
    assert with_h.journeys == without.journeys


def test_every_strategy_starts_from_the_same_market():
    models = {s: build(s, seed=13, customers=500, journeys=12) for s in STRATEGIES}
    first = models[STRATEGIES[0]]
    for name, m in models.items():
        pd.testing.assert_frame_equal(m.customers_table(), first.customers_table(), check_exact=True, obj=name)
        assert_same_arrays(population_arrays(m), population_arrays(first))
        assert (m.journey_ids == first.journey_ids).all(), name
    # the holdout starts as a copy of the treated market, independent of it
    m = models["reciprocal_value"]
    assert_same_arrays(population_arrays(m, m.holdout), population_arrays(m))
    for f in FIELDS:
        assert not np.shares_memory(getattr(m.pop, f.name), getattr(m.holdout, f.name)), f.name


def test_random_draws_do_not_depend_on_the_strategy():
    models = [build(s, seed=17, customers=400) for s in STRATEGIES]
    for k in range(1, 13):
        for m in models:
            m.step()
        states = [m.rng.bit_generator.state for m in models]
        assert all(s == states[0] for s in states), f"rng states diverge after {k} steps"
        draws = [m.draws.table for m in models]
        for d in draws[1:]:
            np.testing.assert_array_equal(d, draws[0])
        for stream in range(len(getattr(models[0].draws, "streams", ()))):
            streams = [m.draws.streams[stream].bit_generator.state for m in models]
            assert all(s == streams[0] for s in streams), f"draw stream {stream} diverges after {k} steps"
    assert models[0].random.getstate() == models[-1].random.getstate()


def test_draws_change_from_week_to_week():
    m = build("reciprocal_value", seed=17, customers=300)
    m.step()
    first = m.draws.table.copy()
    m.step()
    assert not np.array_equal(first, m.draws.table)
    assert (m.draws.table >= 0).all() and (m.draws.table < 1).all()


def test_results_do_not_depend_on_threads_or_chunks(monkeypatch):
    """The kernel splits customers into chunks run in parallel; neither the thread count
    nor the chunking may change a customer's state (money totals may differ in rounding)."""
    numba = pytest.importorskip("numba")
    rules = pytest.importorskip("sim.rules")
    if not hasattr(rules, "CHUNKS"):
        pytest.skip("the kernel is not chunked")
    n, weeks = 5000, 15  # 4 chunks of customers by default

    def run(threads, chunks=None):
        if chunks is not None:
            monkeypatch.setattr(rules, "CHUNKS", chunks)
        threads = min(threads, numba.config.NUMBA_NUM_THREADS)
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            return build("lifecycle", seed=29, customers=n, journeys=10).run(weeks)
        finally:
            numba.set_num_threads(previous)
            monkeypatch.undo()

    reference = run(1)
    for other in (run(2), run(1, chunks=1), run(2, chunks=3)):
        assert_same_arrays(population_arrays(other), population_arrays(reference))
        assert_same_arrays(population_arrays(other, other.holdout), population_arrays(reference, reference.holdout))
        assert other.journeys == reference.journeys
        a, b = other.metrics(), reference.metrics()
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("strategy", ["constant_sales", "lifecycle"])
def test_invariants_hold_in_a_market_of_several_chunks(strategy):
    """Markets above a few thousand customers are split into chunks: check the
    conservation and money invariants there too."""
    m = build(strategy, seed=19, customers=4500)
    for _ in range(12):
        m.step()
        check_week(m, m.metrics().iloc[-1])
    df, table = m.metrics(), m.customers_table()
    np.testing.assert_allclose(table["margin"].sum(), df["revenue"].sum(), rtol=1e-9)
    np.testing.assert_allclose(table["cost"].sum(), df["cost"].sum(), rtol=1e-9)
    assert table["contacts"].sum() == df["contacts"].sum()
    assert table["purchases"].sum() == df["our_sales"].sum()


def test_holdout_evolves_like_a_no_contact_run():
    """Common random numbers: the holdout of any strategy is the no_contact market, bit for bit."""
    reference = build("no_contact", seed=23, customers=500).run(30)
    for strategy in ("constant_sales", "best_customers"):
        m = build(strategy, seed=23, customers=500).run(30)
        assert_same_arrays(population_arrays(m, m.holdout), population_arrays(reference))
        pd.testing.assert_series_equal(m.metrics()["holdout_profit"], reference.metrics()["profit"],
                                       check_names=False, check_exact=True)


# --- journeys --------------------------------------------------------------------------------

def _count(journey, text):
    return sum(1 for _, event in journey if event == text)


def _weeks(journey):
    """A journey grouped by week: {week: [events]} in order."""
    out: dict[int, list[str]] = {}
    for week, event in journey:
        out.setdefault(week, []).append(event)
    return out


def check_journey(i, journey, start_stage, view):
    """One sampled customer's journey is consistent in itself and with its counters."""
    s = view.state
    weeks = [w for w, _ in journey]
    assert weeks == sorted(weeks), i
    assert _count(journey, "bought a car from us") == s["purchases"]
    assert _count(journey, "had the car serviced with us") == s["service_visits"]
    assert sum(1 for _, e in journey if e.startswith("received ")) == s["contacts"]
    if not _count(journey, "moved away: a newcomer took the place"):  # one person's journey
        assert _count(journey, "unsubscribed") <= 1 and _count(journey, "was referred to us") <= 1
        if _count(journey, "unsubscribed"):
            assert not s["opted_in"], "an unsubscribed customer is never opted in again"
    stage = start_stage
    for week, events in _weeks(journey).items():
        received = [e for e in events if e.startswith("received ")]
        assert len(received) <= 1, (i, week, events)
        for e in received:
            content, channel = e[len("received "):].split(" (")[0].split(" by ")
            assert content in CONTENTS and channel in CHANNELS, e
        if "opened it" in events or "unsubscribed" in events:
            assert received, (i, week, events)
        if "visited the website" in events or "attended an event" in events:
            assert "opened it" in events, (i, week, events)
        if "attended an event" in events:
            assert received[0].startswith("received event_invite"), (i, week, events)
        if "was referred to us" in events:
            assert "heard a recommendation of us" in events, (i, week, events)
        assert not ("bought a car from us" in events and "bought a car from the rival" in events)
        assert not ("had the car serviced with us" in events and "had the car serviced elsewhere" in events)
        # stage changes chain from the starting stage; buying from us puts you in PURCHASE
        for e in events:
            if e.startswith("stage "):
                old, new = e[len("stage "):].split(" -> ")
                assert old == stage and old != new, (i, week, e)
                stage = new
        assert (stage == "purchase") == ("bought a car from us" in events), (i, week, events, stage)
        if "bought a car from the rival" in events and stage not in ("prospect", "consideration"):
            assert stage == "lapsed", (i, week, events, stage)
    assert stage == view.stage, i


@pytest.mark.parametrize("strategy", ["lifecycle", "constant_sales", "best_customers"])
def test_journeys_agree_with_customer_counters(strategy):
    n = 400
    m = build(strategy, seed=31, customers=n, journeys=n, purchase_hazard=0.2, talk_rate=0.3)
    start = {int(i): STAGES[m.pop.stage[i]] for i in range(n)}
    m.run(40)
    assert (m.journey_ids == np.arange(n)).all()
    seen = set()
    for i in range(n):
        view = m.customer(i)
        assert view.id == i and isinstance(view.journey, list)
        assert all(1 <= w <= m.week for w, _ in view.journey)
        check_journey(i, view.journey, start[i], view)
        seen.update(e for _, e in view.journey if not e.startswith(("received", "stage")))
    # the checks above were not vacuous
    for event in ("bought a car from us", "bought a car from the rival", "opened it", "had the car serviced with us"):
        assert event in seen, event


def test_sampled_and_unsampled_customers():
    n = 400
    m = build("reciprocal_value", seed=5, customers=n, journeys=25).run(20)
    ids = m.journey_ids
    assert len(ids) == 25 and len(np.unique(ids)) == 25
    assert (np.diff(ids) > 0).all() and ids.min() >= 0 and ids.max() < n
    sampled = set(ids.tolist())
    for i in range(n):
        view = m.customer(i)
        assert (view.journey is not None) == (i in sampled)
        assert view.stage in STAGES
    assert any(m.customer(int(i)).journey for i in ids), "sampled journeys are all empty after 20 weeks"


def test_no_journeys_when_none_requested():
    m = build("reciprocal_value", seed=5, customers=300, journeys=0).run(5)
    assert len(m.journey_ids) == 0
    assert all(m.customer(i).journey is None for i in range(0, 300, 7))


def test_more_journeys_than_customers_samples_everyone():
    m = build("reciprocal_value", seed=5, customers=20, journeys=50).run(3)
    assert (m.journey_ids == np.arange(20)).all()


def test_metrics_columns_are_declared_once():
    names = [metric.name for metric in METRICS]
    assert len(names) == len(set(names))
    df = build("reciprocal_value", seed=1, customers=300).run(3).metrics()
    assert list(df.columns) == ["week"] + names
    assert (df["week"].to_numpy() == np.arange(1, 4)).all()


def test_population_check_catches_a_state_out_of_range():
    """``Population.check`` is what the range tests rely on: it must fail on a bad value."""
    m = build(customers=300)
    m.pop.check()
    for name, bad in (("trust", 1.5), ("fatigue", -0.1), ("stage", 9)):
        pop = m.pop.copy()
        getattr(pop, name)[7] = bad
        with pytest.raises(AssertionError, match=name):
            pop.check()


def test_same_seed_gives_identical_results_in_another_process():
    """Reproducible across processes (as in parallel sweeps): another interpreter, another
    hash seed and the kernel's default thread count give this process's run, bit for bit."""
    code = ("import hashlib; import pandas as pd; from sim import RelationshipModel\n"
            "m = RelationshipModel(customers=3000, strategy='lifecycle', rng=77, journeys=5).run(10)\n"
            "h = lambda df: pd.util.hash_pandas_object(df).to_numpy().tobytes()\n"
            "digest = hashlib.sha256(h(m.metrics()) + h(m.customers_table()) + repr(m.journeys).encode()).hexdigest()\n")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    env.pop("NUMBA_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code + "print(digest)"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    here: dict = {}
    exec(code, here)
    assert out.stdout.strip() == here["digest"]
