"""One test per mechanism of ``sim/mechanisms/``: its effect in the documented direction and size.

Each mechanism's function is called in its pure Python form on one customer's scalars,
with the week's draws set by hand (the ``draws`` fixture replaces the hash by a table of
chosen uniforms, 0.5 unless set), so every expected number is computed from the formula
of ``docs/model.md``. These run in well under a second, also with ``NUMBA_DISABLE_JIT=1``
(the mutation run, ``make mutation``), and the declarations of every module (parameters,
draws, state read and written) are checked against its code.
"""

from __future__ import annotations

import ast
import inspect
import math

import numpy as np
import pytest

from sim.mechanisms import (MECHANISMS, aging, attention, budget, contact, defection, fatigue, lifecycle, purchase,
                            reciprocity, rival, sale, service, shared, value, visits, word_of_mouth)
from sim.mechanisms.draws import DRAWS
from sim.mechanisms.records import COUNTS, MONEY, C, E, M
from sim.params import CHANNELS, PARAMS, validate
from sim.rules import Coefficients
from sim.state import FIELDS, RIVAL, US, Stage

SALES, VALUE, REMINDER, EVENT = range(4)
EMAIL = CHANNELS.index("email")


def pure(function):
    return getattr(function, "py_func", function)


def coefficients(**params):
    return Coefficients(validate(params))


def k_of(**params):
    return coefficients(**params).k


def logistic(x):
    return 1.0 / (1.0 + math.exp(-x))


@pytest.fixture
def draws(monkeypatch):
    """The week's uniforms by draw name (0.5 unless set), in place of the hash."""
    values: dict[str, float] = {}
    for module in MECHANISMS:
        if hasattr(module, "uniform"):
            monkeypatch.setattr(module, "uniform", lambda key, i, j: values.get(DRAWS[j], 0.5))
    return values


@pytest.fixture
def counts():
    return [0] * len(COUNTS)


# --- declarations -------------------------------------------------------------------------------------------

def _entry_points(module):
    return [f for name, f in vars(module).items() if hasattr(f, "py_func") or (
        inspect.isfunction(f) and f.__module__ == module.__name__ and not name.startswith("_")
        and name not in ("planned_costs",))]


def test_every_parameter_draw_and_module_is_declared_once():
    names = [p.name for m in MECHANISMS for p in m.PARAMS]
    assert len(names) == len(set(names))
    assert set(names) <= set(PARAMS)
    drawn = [d for m in MECHANISMS for d in m.DRAWS]
    assert sorted(drawn) == sorted(DRAWS), "each draw belongs to exactly one mechanism"


@pytest.mark.parametrize("module", MECHANISMS, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_declarations_match_the_code(module):
    """Draws named in the code are declared; state fields taken as arguments are in READS, and
    state fields returned by name are in WRITES; parameters read as ``k.<name>`` exist."""
    source = inspect.getsource(module)
    tree = ast.parse(source)
    used_draws = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                  and isinstance(node.value, ast.Name) and node.value.id == "D"}
    assert used_draws == set(module.DRAWS)
    fields = {f.name for f in FIELDS}
    assert set(module.READS) <= fields and set(module.WRITES) <= fields
    args, returned = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name[0] != "_":
            args |= {a.arg for a in node.args.args}
            for ret in (n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None):
                elements = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
                returned |= {e.id for e in elements if isinstance(e, ast.Name)}
    assert args & fields == set(module.READS)
    assert returned & fields <= set(module.WRITES)
    read_params = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                   and isinstance(node.value, ast.Name) and node.value.id == "k"}
    assert read_params <= set(PARAMS) | {"existing"}


# --- 1. time passes -----------------------------------------------------------------------------------------

def test_aging_cars_age_service_falls_due_affinity_fades_need_follows_the_cycle():
    k = k_of(affinity_decay=0.1)
    age, due, affinity, need = pure(aging.time_passes)(k, 299, 5, 0.5, 300.0)
    assert (age, due) == (300, 4)
    assert affinity == 0.5 * 0.9
    assert need == 0.5  # at the cycle
    assert pure(aging.time_passes)(k, 329, 5, 0.5, 300.0)[3] == pytest.approx(logistic(1.0))


# --- 2. the rival ------------------------------------------------------------------------------------------

def test_rival_offers_arrive_at_its_rate_and_are_relevant_as_targeted(draws, counts):
    k = k_of(rival_contact_rate=0.25, rival_targeting=1.0)
    draws["rival"] = 0.2
    assert pure(rival.rival_offer)(k, 0, 0, 0, counts) == (True, True)
    assert counts[C.rival_contacts] == 1
    draws["rival"] = 0.3
    assert pure(rival.rival_offer)(k, 0, 0, 0, counts) == (False, False)
    k = k_of(rival_contact_rate=0.25, rival_targeting=0.0)
    draws["rival"] = 0.2  # category int(0.8 * 8) = 6: relevant only to customers interested in it
    assert pure(rival.rival_offer)(k, 0, 0, 1 << 6, counts)[1] and not pure(rival.rival_offer)(k, 0, 0, 1, counts)[1]


# --- 3. contacts, budget, fatigue --------------------------------------------------------------------------

def _plan(frequency=1.0, mix=(1.0, 1.0, 1.0, 1.0), targeting=1.0, thin=1.0, channel=EMAIL):
    c = coefficients()
    return contact.Plan([frequency] * 12, [channel] * 12, np.array([mix] * 12), [targeting] * 12,
                        c.channel_cost.tolist(), thin)


def test_contact_chance_content_relevance_and_cost(draws, counts):
    k = k_of(cost_email=0.25, cost_value_content=1.0)
    call = pure(contact.contact)
    draws.update(contact=0.49, content=0.5)
    out = call(k, 0, 0, _plan(frequency=0.5), True, True, 1, 0, 0, 10, 0, counts)
    assert out[0] and out[1] == SALES and out[3] and out[4]  # contacted, a relevant (aimed) offer, fitting
    assert out[6] == 0.25 and out[7] & E.contacted and out[7] & E.relevant
    assert counts[C.contacts] == counts[C.offers] == counts[C.relevant_offers] == 1
    assert not call(k, 0, 0, _plan(frequency=0.5, thin=0.9), True, True, 1, 0, 0, 10, 0, counts)[0]  # budget
    assert not call(k, 0, 0, _plan(), True, False, 1, 0, 0, 10, 0, counts)[0]  # opted out
    assert not call(k, 0, 0, _plan(), False, True, 1, 0, 0, 10, 0, counts)[0]  # unknown
    value_mix = (0.0, 1.0, 1.0, 1.0)
    out = call(k, 0, 0, _plan(mix=value_mix, targeting=0.0), True, True, 1, 0, 0, 10, 0, counts)
    assert out[1] == VALUE and out[4] and out[6] == 1.25  # value content always fits and costs extra
    out = call(k, 0, 0, _plan(mix=(0.0, 0.0, 0.0, 1.0), targeting=0.0), True, True, 1, 0, 0, 10, 0, counts)
    assert out[1] == EVENT and out[4]  # invitations always fit
    plan = _plan()._replace(frequency=[0.0] * 12)
    plan.frequency[3 * 2 + 1] = 1.0  # only connection-stage heavy customers are contacted
    assert call(k, 0, 0, plan, True, True, 3, 1, 0, 10, 0, counts)[0]
    assert not any(call(k, 0, 0, plan, True, True, stage, tier, 0, 10, 0, counts)[0]
                   for stage in range(6) for tier in range(2) if (stage, tier) != (3, 1))
    reminder_mix = (0.0, 0.0, 1.0, 1.0)
    for due, timely in ((np.int16(3), True), (np.int16(4), True), (np.int16(5), False)):  # window: 4 weeks
        assert call(k, 0, 0, _plan(mix=reminder_mix, targeting=0.0), True, True, 1, 0, 0, due, 0, counts)[4] == timely
    draws["aim"] = 0.0  # aimed (timed to the customer's car): fits whenever it comes
    assert call(k, 0, 0, _plan(mix=reminder_mix, targeting=0.5), True, True, 1, 0, 0, np.int16(9), 0, counts)[4]
    assert not call(k, 0, 0, _plan(targeting=0.0), True, True, 1, 0, 0, 10, 0, counts)[4]  # untargeted offer


def test_planned_cost_of_a_segment_is_its_frequency_times_channel_and_content_costs():
    mix = np.array([[[0.2, 0.7, 0.9, 1.0]]], np.float32)  # value content: 0.5 of the mix
    costs = budget.planned_costs(np.array([[0.5]], np.float32), np.array([[1]], np.int8), mix,
                                 np.array([0.25, 1.5, 6.0, 4.0]), 2.0)
    assert costs.tolist() == [pytest.approx(0.5 * (1.5 + 0.5 * 2.0))]
    first = budget.planned_costs(np.array([[1.0]], np.float32), np.array([[0]], np.int8),
                                 np.array([[[0.0, 0.3, 1.0, 1.0]]], np.float32), np.array([1.0, 0, 0, 0]), 1.0)
    assert first.tolist() == [pytest.approx(1.0 + 0.3)]


def test_budget_thins_contacts_to_the_share_it_pays_for():
    costs = np.array([1.0, 2.0] + [7.0] * 10)
    known = np.array([True, True, True, False])
    opted = np.array([True, True, False, True])
    stage, tier = np.array([0, 0, 0, 0]), np.array([0, 1, 1, 1])
    share = pure(budget.share_paid)
    assert share(known, opted, stage, tier, costs, 1.5) == 0.5  # wanted 1 + 2 = 3
    assert share(known, opted, stage, tier, costs, 3.0) == 1.0
    assert share(known, opted, stage, tier, costs, 10.0) == 1.0  # never more than the policy wants
    assert share(known, opted, stage, tier, costs, math.inf) == 1.0


def test_fatigue_recovers_grows_with_noise_and_leads_irrelevant_contacts_to_unsubscribes(draws, counts):
    k = k_of(fatigue_recovery=0.5, fatigue_irrelevant=0.1, fatigue_relevant=0.03, unsubscribe_rate=0.5)
    noise = pure(fatigue.noise)
    assert noise(k, 0, 0, 0.4, True, False, False, False, False, 0, counts)[0] == 0.2
    assert noise(k, 0, 0, 0.4, True, True, True, False, False, 0, counts)[0] == 0.2 + 0.03
    assert noise(k, 0, 0, 0.4, True, False, False, True, False, 0, counts)[0] == 0.2 + 0.1  # rival's noise
    draws["unsubscribe"] = 0.5 * 0.3 - 1e-9
    tired, opted_in, events = noise(k, 0, 0, 0.4, True, True, False, False, False, 0, counts)
    assert tired == 0.2 + 0.1 and not opted_in and events & E.unsubscribed and counts[C.unsubscribes] == 1
    draws["unsubscribe"] = 0.5 * 0.3 + 1e-9
    assert noise(k, 0, 0, 0.4, True, True, False, False, False, 0, counts)[1]
    draws["unsubscribe"] = 0.0
    assert noise(k, 0, 0, 0.4, True, True, True, False, False, 0, counts)[1]  # relevant: never
    assert noise(k_of(fatigue_recovery=0.0), 0, 0, 0.95, True, True, False, True, False, 0, counts)[0] == 1.0


# --- 4. attention, value, reciprocity, visits --------------------------------------------------------------

def test_attention_rises_with_trust_falls_with_fatigue_and_remembers_timely_reminders(draws, counts):
    k = k_of(attention_email=0.3, fatigue_sensitivity=0.5)
    p_open = 0.3 * (0.5 + 0.6) * (1 - 0.5 * 0.4)
    call = pure(attention.attention)
    att = coefficients(attention_email=0.3).attention.tolist()
    draws["open"] = p_open - 1e-9
    assert call(k, 0, 0, att, True, EMAIL, SALES, False, 0.6, 0.4, 0, counts)[0]
    assert counts[C.opens] == 1
    draws["open"] = p_open + 1e-9
    assert not call(k, 0, 0, att, True, EMAIL, SALES, False, 0.6, 0.4, 0, counts)[0]
    assert call(k, 0, 0, att, True, EMAIL, SALES, False, 0.7, 0.4, 0, counts)[0]  # more trust opens it
    assert not call(k, 0, 0, att, False, EMAIL, SALES, False, 0.9, 0.0, 0, counts)[0]  # nothing sent
    draws["open"] = 0.0
    assert call(k, 0, 0, att, True, EMAIL, REMINDER, True, 0.6, 0.4, 0, counts)[1]
    assert not call(k, 0, 0, att, True, EMAIL, REMINDER, False, 0.6, 0.4, 0, counts)[1]
    assert not call(k, 0, 0, att, True, EMAIL, SALES, True, 0.6, 0.4, 0, counts)[1]
    assert not call(k, 0, 0, att, True, EMAIL, EVENT, True, 0.6, 0.4, 0, counts)[1]  # an invitation is no reminder


def test_value_content_read_builds_trust_and_affinity(draws, counts):
    k = k_of(value_trust_gain=0.1, value_affinity_gain=0.2)
    value_read, attended, trust, affinity, cost, events = pure(value.value)(k, 0, 0, True, np.int64(VALUE), 0.4, 0.5, 0,
                                                                            counts)  # content as the pass has it
    assert value_read and not attended and cost == 0.0
    assert trust == 0.4 + 0.1 * (1 - 0.4)
    assert affinity == 0.5 + 0.2 * (1 - 0.5)
    assert pure(value.value)(k, 0, 0, False, VALUE, 0.4, 0.5, 0, counts)[2:4] == (0.4, 0.5)  # unread: nothing
    assert pure(value.value)(k, 0, 0, True, SALES, 0.4, 0.5, 0, counts)[2:4] == (0.4, 0.5)


def test_an_attended_event_builds_trust_and_affinity_and_costs_the_attendee(draws, counts):
    k = k_of(value_trust_gain=0.1, event_affinity_gain=0.3, event_attendance=0.4, cost_attendee=25.0)
    draws["event"] = 0.4 * (0.5 + 0.5) - 1e-9
    value_read, attended, trust, affinity, cost, events = pure(value.value)(k, 0, 0, True, EVENT, 0.4, 0.5, 0, counts)
    assert attended and not value_read and cost == 25.0 and events & E.attended
    assert trust == 0.4 + 0.1 * 0.6 and affinity == 0.5 + 0.3 * 0.5
    assert counts[C.event_attendance] == 1
    draws["event"] = 0.4 * (0.5 + 0.5) + 1e-9
    assert not pure(value.value)(k, 0, 0, True, EVENT, 0.4, 0.5, 0, counts)[1]


def test_reciprocity_balance_changes_how_offers_are_heeded_and_what_asks_cost():
    k = k_of(reciprocity_strength=2.0, reciprocity_heed=0.1, ask_trust_cost=0.05, reciprocity_memory=0.25)
    call = pure(reciprocity.reciprocity)
    offer_read, heed, balance, trust = call(k, True, SALES, True, False, 4.0, 0.5)  # 4 remembered as 3
    assert offer_read and heed == 1 + 2.0 * 0.1 * 3.0 and balance == 3.0 - 1 and trust == 0.5
    offer_read, heed, balance, trust = call(k, True, SALES, True, False, -4.0, 0.5)
    assert heed == pytest.approx(1 - 2.0 * 0.1 * 3.0) and trust == 0.5  # relevant ask: heeded less, no cost
    offer_read, heed, balance, trust = call(k, True, SALES, False, False, -4.0, 0.5)
    assert not offer_read and trust == 0.5 - 2.0 * 0.05 and balance == -4.0  # irrelevant ask on a debt
    assert call(k, True, SALES, False, False, 4.0, 0.5)[3] == 0.5  # ... but not on a credit
    assert call(k, True, VALUE, False, True, 4.0, 0.5)[1:3] == (1 + 0.6, 4.0)  # giving: +1
    assert call(k, False, SALES, True, False, 4.0, 0.5)[:3] == (False, 1.0, 3.0)  # unread: even heed
    assert call(k, True, SALES, True, False, 100.0, 0.5)[1] == 2.0  # heed at most twice
    assert call(k, True, VALUE, False, True, 200.0, 0.5)[2] == 50.0  # the balance is clipped


def test_visits_follow_offers_and_events_and_less_often_value_content(draws, counts):
    k = k_of(visit_rate=0.4)
    call = pure(visits.visit)
    chance = 0.4 * (0.5 + 0.5)
    draws["visit"] = chance - 1e-9
    assert call(k, 0, 0, True, False, False, 0.5, 0, counts)[0] and counts[C.visits] == 1
    assert call(k, 0, 0, False, True, False, 0.5, 0, counts)[0]
    assert not call(k, 0, 0, False, False, True, 0.5, 0, counts)[0]
    draws["visit"] = 0.3 * chance - 1e-9
    assert call(k, 0, 0, False, False, True, 0.5, 0, counts)[0]
    draws["visit"] = 0.0
    assert not call(k, 0, 0, False, False, False, 1.0, 0, counts)[0]


# --- 5. purchases and sales --------------------------------------------------------------------------------

def test_purchase_hazard_rises_with_need_and_heeded_offers_and_the_dealer_is_a_logit(draws, counts):
    k = k_of(purchase_hazard=0.1, offer_lift=3.0, offer_pull=1.5, trust_weight=2.0, affinity_weight=1.0,
             rival_pull=1.0, existing_customer_bonus=0.2)
    call = pure(purchase.purchase)
    for heed in (0.5, 1.0, 2.0):
        hazard = 0.1 * 0.8 * (1 + 3.0 * heed)
        draws["buy"] = hazard - 1e-9
        assert call(k, 0, 0, 0.8, True, heed, False, True, 0.5, 0.5, US, counts)[0]
        draws["buy"] = hazard + 1e-9
        assert not call(k, 0, 0, 0.8, True, heed, False, True, 0.5, 0.5, US, counts)[0]
    draws["buy"] = 0.1 * 0.8 * (1 + 3.0) - 1e-9
    assert call(k, 0, 0, 0.8, False, 1.0, True, True, 0.5, 0.5, US, counts)[0]  # the rival's offer lifts it too
    u_us = 2.0 * 0.5 + 1.0 * 0.4 + 1.5 * 2.0 + math.log1p(0.2)
    u_rival = 1.0 + 0.0 + 0.0
    draws.update(buy=0.0, choice=logistic(u_us - u_rival) - 1e-9)
    counts[:] = [0] * len(COUNTS)
    buying, bought_us, got_us, got_rival = call(k, 0, 0, 0.8, True, 2.0, False, True, 0.5, 0.4, US, counts)
    assert buying and bought_us and got_us == pytest.approx(u_us) and got_rival == u_rival
    assert counts[C.replacements_by_our_owners] == counts[C.repurchases_with_us] == 1
    draws["choice"] = logistic(u_us - u_rival) + 1e-9
    assert not call(k, 0, 0, 0.8, True, 2.0, False, True, 0.5, 0.4, US, counts)[1]
    assert call(k, 0, 0, 0.8, False, 1.0, True, False, 0.5, 0.5, RIVAL, counts)[3] == 1.0 + 1.5 + math.log1p(0.2)


def test_a_sale_gives_a_new_car_owner_margin_affinity_and_a_crm_entry(draws, counts):
    k = k_of(purchase_affinity_gain=0.2, vehicle_margin=2000.0, opt_in=0.8, service_interval_weeks=26)
    money = np.zeros(len(MONEY))
    draws["opt_in"] = 0.8 - 1e-9
    out = pure(sale.sale)(k, 0, 0, True, True, True, 1.5, 300, 3, RIVAL, False, False, False, 0, 0.4, 0, counts, money)
    age, due, owner, known, opted_in, ever_ours, purchases, affinity, vehicle, events = out
    assert (age, due, owner, known, opted_in, ever_ours, purchases) == (0, 26, US, True, True, True, 1)
    assert affinity == 0.4 + 0.2 * 0.6 and vehicle == 3000.0 and money[M.vehicle_margin] == 3000.0
    assert events & E.bought_us and counts[C.our_sales] == counts[C.offer_sales] == counts[C.opt_ins] == 1
    draws["opt_in"] = 0.8 + 1e-9
    assert not pure(sale.sale)(k, 0, 0, True, True, False, 1.5, 300, 3, RIVAL, False, False, False, 0, 0.5, 0,
                               counts, money)[4]
    out = pure(sale.sale)(k, 0, 0, True, False, False, 1.5, 300, 3, US, True, True, True, 2, 0.5, 0, counts, money)
    assert out[:3] == (0, 26, RIVAL) and out[6:9] == (2, 0.5, 0.0) and out[9] & E.bought_rival
    assert money[M.rival_revenue] == 3000.0 and counts[C.rival_sales] == 1


# --- 6. service --------------------------------------------------------------------------------------------

def _serve(k, counts, money, reminded=False, owner=US, trust=0.5, affinity=0.5, due=0):
    return pure(service.service)(k, 0, 0, True, False, due, owner, trust, affinity, reminded, False, 0, 2.0, 0, counts,
                                 money)


def test_reminders_raise_the_chance_of_servicing_with_us(draws, counts):
    k = k_of(trust_weight=2.0, affinity_weight=1.0, service_pull=1.0, service_reminder_lift=0.8, rival_pull=2.0)
    money = np.zeros(len(MONEY))
    v_us, v_other = 2.0 * 0.5 + 1.0 * 0.5 + 1.0, 2.0
    draws["service_choice"] = logistic(v_us - v_other) + 1e-9
    assert not _serve(k, counts, money)[4]
    assert _serve(k, counts, money, reminded=True)[4]
    draws["service_choice"] = logistic(v_us + 0.8 - v_other) + 1e-9
    assert not _serve(k, counts, money, reminded=True)[4]
    draws["service_choice"] = logistic(v_us + 0.8 - v_other) - 1e-9
    assert _serve(k, counts, money, reminded=True)[4]
    draws["service_choice"] = logistic(0.5 * 2.0 + 0.5 - (2.0 + 1.0)) - 1e-9  # the rival sold the car
    assert _serve(k, counts, money, owner=RIVAL)[4]
    assert _serve(k, counts, money, reminded=True)[3] is False  # the reminder is used up


def test_good_service_builds_trust_and_poor_service_costs_it(draws, counts):
    k = k_of(service_trust_gain=0.1, service_affinity_gain=0.05, service_quality=0.9, service_margin=120.0,
             service_interval_weeks=26)
    money = np.zeros(len(MONEY))
    draws.update(service_choice=0.0, quality=0.9 - 1e-9)
    due, trust, affinity, reminded, with_us, visits_, margin, events = _serve(k, counts, money, trust=0.3,
                                                                              affinity=0.4)
    assert with_us and due == 26 and visits_ == 1 and margin == 240.0 and events & E.serviced_us
    assert trust == 0.3 + 0.1 * 0.7 and affinity == 0.4 + 0.05 * 0.6
    assert counts[C.service_by_our_owners] == counts[C.service_with_us_by_our_owners] == 1
    draws["quality"] = 0.9 + 1e-9
    assert _serve(k, counts, money)[1:3] == (0.5 - 2 * 0.1 * 0.5, 0.5)
    draws["service_choice"] = 1.0 - 1e-9
    out = _serve(k, counts, money)
    assert not out[4] and out[1:3] == (0.5, 0.5) and out[6] == 0.0 and counts[C.rival_service_visits] == 1
    assert _serve(k, counts, money, due=3)[0] == 3  # not due: nothing happens
    assert counts[C.service_visits] == 2 and money[M.service_margin] == 480.0


# --- 7. defection, 8. lifecycle -----------------------------------------------------------------------------

def test_defection_grows_with_the_rivals_lead(draws):
    k = k_of(defection_rate=0.1)
    call = pure(defection.defection)
    draws["defect"] = 0.1 * logistic(1.0) - 1e-9
    assert call(k, 0, 0, True, False, 1.0, 2.0)
    assert not call(k, 0, 0, True, False, 2.0, 1.0)
    assert not call(k, 0, 0, False, False, 1.0, 2.0) and not call(k, 0, 0, True, True, 1.0, 2.0)


def test_a_relationship_is_the_purchase_connection_and_loyalty_stages():
    active = {Stage.PURCHASE, Stage.CONNECTION, Stage.LOYALTY}
    for stage in Stage:
        assert pure(shared.in_relationship)(np.int8(stage)) == (stage in active), stage


def test_lifecycle_stage_follows_the_week(counts):
    k = k_of(loyalty_threshold=0.6)
    call = pure(lifecycle.lifecycle)
    P, C_, L = int(Stage.PURCHASE), int(Stage.CONNECTION), int(Stage.LOYALTY)
    assert call(k, C_, True, True, False, False, True, 0.0, False, False, 0.5, 0.5, counts)[0] == P
    assert call(k, C_, True, False, True, False, True, 0.0, False, False, 0.5, 0.5, counts)[0] == Stage.LAPSED
    assert call(k, L, True, False, False, True, True, 0.0, False, False, 0.9, 0.9, counts)[0] == Stage.LAPSED
    assert counts[C.defections] == 2
    assert call(k, C_, True, False, False, False, True, 0.0, False, False, 0.7, 0.5, counts)[0] == L  # equity 0.6
    assert call(k, C_, True, False, False, False, True, 0.0, False, False, 0.9, 0.7, counts)[0] == L
    assert call(k, L, True, False, False, False, True, 0.0, False, False, 0.7, 0.49, counts)[0] == C_
    assert call(k, int(Stage.LAPSED), False, False, False, False, True, 1.0, True, True, 0.5, 0.5, counts)[0] == 5
    assert call(k, 0, False, False, False, False, True, 0.6, False, False, 0.5, 0.5, counts)[0] == 1
    assert call(k, 0, False, False, False, False, True, 0.1, True, False, 0.5, 0.5, counts)[0] == 1
    assert call(k, 1, False, False, False, False, False, 0.9, True, True, 0.5, 0.5, counts)[0] == 0
    stage, trust, affinity, equity = call(k, 0, False, False, False, False, False, 0.0, False, False, 1.2, -0.1, counts)
    assert (trust, affinity, equity) == (1.0, 0.0, 0.5)
    assert call(k, 0, False, False, False, False, False, 0.0, False, False, -0.2, 1.3, counts)[1:] == (0.0, 1.0, 0.5)
    assert call(k, 0, False, False, False, False, False, 0.0, False, False, 0.3, 0.6, counts)[1:] == (0.3, 0.6, 0.5 * (0.3 + 0.6))
    lapsed = np.int8(Stage.LAPSED)  # the weekly pass hands stages over as int8
    assert call(k, lapsed, False, False, False, False, True, 1.0, True, True, 0.5, 0.5, counts)[0] == Stage.LAPSED


# --- 9. word of mouth ---------------------------------------------------------------------------------------

def test_promoters_praise_and_detractors_warn_one_tie(draws, counts):
    k = k_of(promoter_threshold=0.5, detractor_threshold=0.25, talk_rate=0.1, heed_positive=0.5, heed_negative=0.9)
    ties = np.array([[1, 2, 3, 4], [0, 2, 4, 3]], np.int32)
    speak = pure(word_of_mouth.speak)
    promoter, detractor, neutral = 0.8, 0.2, 0.4  # equity; sentiment = equity x (1 - 0.5 x fatigue 0.5)
    draws.update(talk=0.1 - 1e-9, tie=(2 + 0.5 - 1e-6) / 4)  # the third tie, heeded below 0.5 of its slot
    assert speak(k, 0, 0, True, promoter, 0.5, ties, counts) == 2 * 3 + 0
    assert speak(k, 0, 1, True, detractor, 0.5, ties, counts) == 2 * 4 + 1
    assert speak(k, 0, 0, True, neutral, 0.5, ties, counts) == word_of_mouth.SILENT
    assert (counts[C.promoters], counts[C.detractors]) == (1, 1)
    draws["tie"] = (2 + 0.5) / 4  # at heed_positive exactly: not heeded
    assert speak(k, 0, 0, True, promoter, 0.5, ties, counts) == word_of_mouth.SILENT
    counts[C.promoters] -= 1
    draws["tie"] = (2 + 0.7) / 4  # between heed_positive and heed_negative: only warnings are heeded
    assert speak(k, 0, 0, True, promoter, 0.5, ties, counts) == word_of_mouth.SILENT
    assert speak(k, 0, 1, True, detractor, 0.5, ties, counts) == 2 * 4 + 1
    draws["tie"] = (2 + 0.5 - 1e-6) / 4
    assert speak(k, 0, 0, True, 0.6, 0.0, ties, counts) == 2 * 3  # rested: sentiment 0.6
    assert speak(k, 0, 0, True, 0.6, 1.0, ties, counts) == word_of_mouth.SILENT  # fatigue sours it to 0.3
    assert speak(k._replace(word_of_mouth=0.0), 0, 0, True, 0.6, 0.0, ties, counts) == word_of_mouth.SILENT
    assert speak(k, 0, 0, False, 0.6, 0.0, ties, counts) == word_of_mouth.SILENT  # no experience of us
    assert speak(k, 0, 0, True, 0.6, 0.0, np.zeros((2, 0), np.int32), counts) == word_of_mouth.SILENT  # no ties
    always = k_of(promoter_threshold=0.5, talk_rate=0.1, heed_positive=1.0)
    assert speak(always, 0, 0, True, 0.6, 0.0, np.zeros((2, 0), np.int32), counts) == word_of_mouth.SILENT
    assert speak(always, 0, 1, True, 0.6, 0.0, np.array([[1], [0]], np.int32), counts) == 2 * 0  # one tie: told
    draws["talk"] = 0.1 + 1e-9
    assert speak(k, 0, 1, True, detractor, 0.5, ties, counts) == word_of_mouth.SILENT  # did not talk this week


def test_heard_praise_raises_trust_and_refers_warnings_lower_it(counts):
    k = k_of(word_of_mouth_effect=0.1)
    hear = pure(word_of_mouth.hear)
    trust, known, opted_in, events = hear(k, True, False, 0.4, False, False, 0, counts)
    assert trust == 0.4 + 0.1 * 0.6 and known and opted_in and events & E.referred
    assert counts[C.referrals] == counts[C.opt_ins] == 1
    trust, known, opted_in, events = hear(k, False, True, 0.4, True, False, 0, counts)
    assert trust == 0.4 - 0.1 * 0.4 and known and not opted_in and events == 0
    assert hear(k, True, False, 0.4, True, False, 0, counts)[1:] == (True, False, 0)  # already known: no referral


# --- shared helpers and the edges of every chance ------------------------------------------------------------

def test_relevance_is_aimed_or_of_interest_and_the_category_follows_the_draw():
    relevant, aimed = pure(shared.relevant), pure(shared.aimed)
    for category in range(8):
        u = (category + 0.5) / 8  # fractional part 0.5 after scaling
        assert relevant(1 << category, u, 0.0) and not relevant(0xFF ^ (1 << category), u, 0.0)
        assert relevant(0, u, 0.51) and not relevant(0, u, 0.5)  # aimed when the fraction is below targeting
    assert aimed(0.999, 1.0) and not aimed(0.124, 0.99) and aimed(0.124, 1.0)
    assert pure(shared.logistic)(0.0) == 0.5 and pure(shared.logistic)(2.0) == 1 / (1 + math.exp(-2.0))


def test_a_draw_equal_to_its_chance_does_not_fire(draws, counts):
    """Uniforms are in [0, 1): an event of chance p fires for draws below p, never at p."""
    k = k_of(rival_contact_rate=0.25, unsubscribe_rate=0.5, fatigue_recovery=0.0, opt_in=0.8, defection_rate=0.1,
             visit_rate=0.4, talk_rate=0.1, event_attendance=0.4)
    money = np.zeros(len(MONEY))
    draws.update(rival=0.25, unsubscribe=0.5 * 0.5, opt_in=0.8, defect=0.1 * 0.5, visit=0.4, talk=0.1,
                 event=0.4 * 0.5, contact=0.5, open=0.3 * 0.5, buy=0.1 * 0.5, choice=0.5, service_choice=0.5,
                 quality=0.9)
    assert not pure(rival.rival_offer)(k, 0, 0, 0xFF, counts)[0]
    assert pure(fatigue.noise)(k, 0, 0, 0.4, True, True, False, False, False, 0, counts)[1]
    assert not pure(sale.sale)(k, 0, 0, True, True, False, 1.0, 9, 9, RIVAL, False, False, False, 0, 0.5, 0,
                               counts, money)[4]
    assert not pure(defection.defection)(k, 0, 0, True, False, 1.0, 1.0)
    assert not pure(visits.visit)(k, 0, 0, True, False, False, 0.5, 0, counts)[0]
    assert not pure(value.value)(k, 0, 0, True, EVENT, 0.5, 0.0, 0, counts)[1]
    assert not pure(contact.contact)(k, 0, 0, _plan(frequency=0.5), True, True, 1, 0, 0, 9, 0, counts)[0]
    att = coefficients(attention_email=0.3).attention.tolist()
    assert not pure(attention.attention)(k_of(attention_email=0.3, fatigue_sensitivity=0.0), 0, 0, att, True, EMAIL,
                                         SALES, False, 0.0, 0.0, 0, counts)[0]
    k_buy = k_of(purchase_hazard=0.1, trust_weight=0.0, affinity_weight=0.0, rival_pull=0.0,
                 existing_customer_bonus=0.0)
    assert not pure(purchase.purchase)(k_buy, 0, 0, 0.5, False, 1.0, False, False, 0.5, 0.5, US, counts)[0]
    draws["buy"] = 0.0
    assert not pure(purchase.purchase)(k_buy, 0, 0, 0.5, False, 1.0, False, False, 0.5, 0.5, US, counts)[1]
    k_serve = k_of(trust_weight=0.0, affinity_weight=0.0, service_pull=0.0, rival_pull=0.0, service_quality=0.9)
    assert not _serve(k_serve, counts, money)[4]
    draws["service_choice"] = 0.0
    assert _serve(k_serve, counts, money)[1] < 0.5  # quality draw at 0.9: a poor visit
    ties = np.array([[1]], np.int32)
    assert speak(k, ties) == word_of_mouth.SILENT


def speak(k, ties):
    return pure(word_of_mouth.speak)(k, 0, 0, True, 1.0, 0.0, ties, [0] * len(COUNTS))
