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
                            reciprocity, rival, sale, service, shared, turnover, value, visits, word_of_mouth)
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


# Flags the weekly pass derives from a state field before it calls a mechanism: a module that
# takes one may declare that field among its READS.
DERIVED = {"relationship": "stage", "lapsed": "stage"}


@pytest.mark.parametrize("module", MECHANISMS, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_declarations_match_the_code(module):
    """Draws named in the code are declared; state fields taken as arguments are in READS (and
    READS has nothing else but the fields of derived flags), state fields returned by name are
    in WRITES; parameters read as ``k.<name>`` exist."""
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
    assert args & fields <= set(module.READS) <= args & fields | {DERIVED[a] for a in args & DERIVED.keys()}
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


def test_customers_move_away_at_the_turnover_rate_and_newcomers_are_strangers_to_us(draws, counts):
    """A newcomer, as documented in ``turnover``: unknown to us, not opted in, driving a car
    bought elsewhere, with the starting trust and affinity of the rival's owners, rested, no
    reciprocity balance and no history with us."""
    k = k_of(turnover_rate=0.01, trust_others=0.3, affinity_others=0.2)
    moves = pure(turnover.moves_away)
    draws["move"] = 0.01 - 1e-9
    assert moves(k, 0, 0, counts) and counts[C.newcomers] == 1
    draws["move"] = 0.01 + 1e-9
    assert not moves(k, 0, 0, counts) and counts[C.newcomers] == 1
    draws["move"] = 0.0
    assert not moves(k_of(turnover_rate=0.0), 0, 0, counts)
    state = dict(zip(turnover.WRITES, pure(turnover.newcomer)(k)))
    assert state == dict(stage=Stage.PROSPECT, known=False, opted_in=False, owner=RIVAL, trust=0.3, affinity=0.2,
                         fatigue=0.0, reciprocity=0.0, ever_ours=False, serviced_with_us=False, reminded=False)
    assert {"vehicle_age", "cycle", "service_due", "spend", "tier", "interests"}.isdisjoint(turnover.WRITES)  # the slot's car


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
    contacted, content, channel, fitting, due_soon, cost, events = out
    assert contacted and content == SALES and channel == EMAIL and fitting and not due_soon  # an aimed offer
    assert cost == 0.25 and events & E.contacted and events & E.relevant
    assert counts[C.contacts] == counts[C.offers] == counts[C.relevant_offers] == 1
    assert not call(k, 0, 0, _plan(frequency=0.5, thin=0.9), True, True, 1, 0, 0, 10, 0, counts)[0]  # budget
    assert not call(k, 0, 0, _plan(), True, False, 1, 0, 0, 10, 0, counts)[0]  # opted out
    assert not call(k, 0, 0, _plan(), False, True, 1, 0, 0, 10, 0, counts)[0]  # unknown
    value_mix = (0.0, 1.0, 1.0, 1.0)
    out = call(k, 0, 0, _plan(mix=value_mix), True, True, 1, 0, 0, 10, 0, counts)
    assert out[1] == VALUE and out[5] == 1.25  # value content costs extra
    assert counts[C.offers] == counts[C.relevant_offers] == 1  # only sales offers are counted as offers
    plan = _plan()._replace(frequency=[0.0] * 12)
    plan.frequency[3 * 2 + 1] = 1.0  # only connection-stage heavy customers are contacted
    assert call(k, 0, 0, plan, True, True, 3, 1, 0, 10, 0, counts)[0]
    assert not any(call(k, 0, 0, plan, True, True, stage, tier, 0, 10, 0, counts)[0]
                   for stage in range(6) for tier in range(2) if (stage, tier) != (3, 1))
    reminder_mix = (0.0, 0.0, 1.0, 1.0)
    for due, timely in ((np.int16(3), True), (np.int16(4), True), (np.int16(5), False)):  # window: 4 weeks
        out = call(k, 0, 0, _plan(mix=reminder_mix, targeting=0.0), True, True, 1, 0, 0xFF, due, 0, counts)
        assert out[1] == REMINDER and out[3] == out[4] == timely  # interests do not make a reminder timely
    draws["aim"] = 0.0  # aimed (timed to the customer's car): fits whenever it comes
    assert call(k, 0, 0, _plan(mix=reminder_mix, targeting=0.5), True, True, 1, 0, 0, np.int16(9), 0, counts)[3]
    assert not call(k, 0, 0, _plan(targeting=0.0), True, True, 1, 0, 0, 10, 0, counts)[3]  # untargeted offer


@pytest.mark.parametrize("content", [SALES, VALUE, EVENT], ids=["sales", "value", "event"])
def test_offers_value_content_and_invitations_fit_only_when_aimed_or_of_interest(draws, counts, content):
    """Even-handed relevance: whatever the label, a topic fits when aimed at the customer or
    when its category (the aim draw's, 0.5 x 8 = category 4) interests them."""
    k = k_of()
    call = pure(contact.contact)
    mix = tuple(0.0 if j < content else 1.0 for j in range(4))
    draws.update(contact=0.0, content=0.5, aim=0.5)  # category 4, fraction 0: aimed whenever targeting > 0

    def fits(interests, targeting=0.0, frequency=1.0):
        out = call(k, 0, 0, _plan(frequency=frequency, mix=mix, targeting=targeting), True, True, 1, 0,
                   np.uint8(interests), 10, 0, counts)
        assert out[1] == content
        return out[3], (out[6] & E.relevant) != 0

    assert fits(0) == (False, False)  # generic: noise, whatever it is called
    assert fits(1 << 4) == (True, True)  # of interest
    assert fits(0xFF ^ (1 << 4)) == (False, False)  # other interests only
    assert fits(0, targeting=0.01) == (True, True)  # aimed
    assert fits(0xFF, targeting=1.0, frequency=0.0)[0] is False  # nothing sent: nothing fits
    reminder = call(k, 0, 0, _plan(frequency=0.0, mix=(0.0, 0.0, 1.0, 1.0), targeting=1.0), True, True, 1, 0, 0xFF,
                    np.int16(0), 0, counts)
    assert not reminder[0] and reminder[3] is False  # not even a reminder due now


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


def test_fatigue_recovers_and_grows_with_noise_whatever_the_content(draws, counts):
    k = k_of(fatigue_recovery=0.5, fatigue_irrelevant=0.1, fatigue_relevant=0.03, unsubscribe_rate=0.5)
    noise = pure(fatigue.noise)
    draws["unsubscribe"] = 1.0 - 1e-9
    assert noise(k, 0, 0, 0.4, True, False, False, False, False, 0, counts)[0] == 0.2
    assert noise(k, 0, 0, 0.4, True, True, True, False, False, 0, counts)[0] == 0.2 + 0.03
    assert noise(k, 0, 0, 0.4, True, True, False, False, False, 0, counts)[0] == 0.2 + 0.1  # ours, irrelevant
    assert noise(k, 0, 0, 0.4, True, False, False, True, False, 0, counts)[0] == 0.2 + 0.1  # rival's noise
    assert noise(k, 0, 0, 0.4, True, False, False, True, True, 0, counts)[0] == 0.2 + 0.03
    assert noise(k, 0, 0, 0.4, True, True, False, True, False, 0, counts)[0] == 0.2 + 0.1  # one addition a week
    assert noise(k_of(fatigue_recovery=0.0), 0, 0, 0.95, True, True, False, True, False, 0, counts)[0] == 1.0


def test_any_contact_of_ours_can_lead_to_an_unsubscribe_in_proportion_to_fatigue(draws, counts):
    """Relevant or not, a contact of ours unsubscribes with chance unsubscribe_rate x fatigue
    (after this week's addition); the rival's contacts and a rested customer never do."""
    k = k_of(fatigue_recovery=0.5, fatigue_irrelevant=0.1, fatigue_relevant=0.03, unsubscribe_rate=0.5)
    noise = pure(fatigue.noise)
    for fitting, start in ((True, 0.4), (False, 0.4), (True, 0.9), (False, 0.0)):
        tired = 0.5 * start + (0.03 if fitting else 0.1)
        draws["unsubscribe"] = 0.5 * tired - 1e-9
        before = counts[C.unsubscribes]
        got, opted_in, events = noise(k, 0, 0, start, True, True, fitting, False, False, 0, counts)
        assert got == pytest.approx(tired) and not opted_in and events & E.unsubscribed, (fitting, start)
        assert counts[C.unsubscribes] == before + 1
        draws["unsubscribe"] = 0.5 * tired + 1e-9
        assert noise(k, 0, 0, start, True, True, fitting, False, False, 0, counts)[1:] == (True, 0), (fitting, start)
    draws["unsubscribe"] = 0.0
    assert noise(k, 0, 0, 1.0, True, False, False, True, False, 0, counts)[1]  # only the rival wrote
    rested = k_of(fatigue_recovery=0.5, fatigue_relevant=0.0, unsubscribe_rate=1.0)
    assert noise(rested, 0, 0, 0.0, True, True, True, False, False, 0, counts)[1]  # fatigue 0: chance 0


def test_reading_a_contact_while_fatigued_costs_trust_less_when_relevant():
    """Reactance: trust falls by reactance_trust_cost x fatigue on a read contact of any
    content, RELEVANT_REACTANCE of that when it fits; nothing is lost on what is not read."""
    k = k_of(reactance_trust_cost=0.04)
    react = pure(fatigue.reactance)
    share = fatigue.RELEVANT_REACTANCE
    assert 0.0 < share < 1.0
    assert react(k, True, False, 0.5, 0.6) == pytest.approx(0.6 - 0.04 * 0.5)
    assert react(k, True, True, 0.5, 0.6) == pytest.approx(0.6 - share * 0.04 * 0.5)
    assert react(k, True, False, 1.0, 0.6) == pytest.approx(0.6 - 0.04)  # in proportion to fatigue
    assert react(k, True, True, 1.0, 0.6) == pytest.approx(0.6 - share * 0.04)
    assert react(k, True, False, 0.0, 0.6) == 0.6  # rested: no cost
    assert react(k, False, False, 1.0, 0.6) == react(k, False, True, 1.0, 0.6) == 0.6  # unread: nothing
    assert react(k_of(reactance_trust_cost=0.0), True, False, 1.0, 0.6) == 0.6


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


def test_relevant_value_content_read_builds_trust_and_affinity(draws, counts):
    k = k_of(value_trust_gain=0.1, value_affinity_gain=0.2)
    give = pure(value.value)
    value_read, attended, trust, affinity, cost, events = give(k, 0, 0, True, np.int64(VALUE), True, 0.4, 0.5, 0,
                                                               counts)  # content as the pass has it
    assert value_read and not attended and cost == 0.0
    assert trust == 0.4 + 0.1 * (1 - 0.4)
    assert affinity == 0.5 + 0.2 * (1 - 0.5)
    assert give(k, 0, 0, False, VALUE, True, 0.4, 0.5, 0, counts)[:4] == (False, False, 0.4, 0.5)  # unread
    assert give(k, 0, 0, True, SALES, True, 0.4, 0.5, 0, counts)[:4] == (False, False, 0.4, 0.5)


def test_an_attended_event_builds_trust_and_affinity_and_costs_the_attendee(draws, counts):
    k = k_of(value_trust_gain=0.1, event_affinity_gain=0.3, event_attendance=0.4, cost_attendee=25.0)
    give = pure(value.value)
    draws["event"] = 0.4 * (0.5 + 0.5) - 1e-9
    value_read, attended, trust, affinity, cost, events = give(k, 0, 0, True, EVENT, True, 0.4, 0.5, 0, counts)
    assert attended and not value_read and cost == 25.0 and events & E.attended
    assert trust == 0.4 + 0.1 * 0.6 and affinity == 0.5 + 0.3 * 0.5
    assert counts[C.event_attendance] == 1
    draws["event"] = 0.4 * (0.5 + 0.5) + 1e-9
    assert not give(k, 0, 0, True, EVENT, True, 0.4, 0.5, 0, counts)[1]


def test_irrelevant_value_content_and_invitations_give_nothing_and_tire_as_irrelevant_offers_do(draws, counts):
    """A generic newsletter or invitation read gives no trust, affinity, attendance or
    reciprocity credit, and the contact that carried it adds fatigue_irrelevant."""
    k = k_of(value_trust_gain=0.1, value_affinity_gain=0.2, event_affinity_gain=0.3, event_attendance=1.0,
             fatigue_recovery=0.0, fatigue_irrelevant=0.1, fatigue_relevant=0.03)
    give, call, noise = pure(value.value), pure(contact.contact), pure(fatigue.noise)
    draws.update(contact=0.0, content=0.5, aim=0.5, event=0.0, unsubscribe=1.0 - 1e-9)
    for content, mix in ((VALUE, (0.0, 1.0, 1.0, 1.0)), (EVENT, (0.0, 0.0, 0.0, 1.0))):
        relevant = give(k, 0, 0, True, content, True, 0.4, 0.5, 0, counts)
        assert (relevant[0] or relevant[1]) and relevant[2] > 0.4 and relevant[3] > 0.5  # relevant: it gives
        attended_before = counts[C.event_attendance]
        value_read, attended, trust, affinity, cost, events = give(k, 0, 0, True, content, False, 0.4, 0.5, 0, counts)
        assert (value_read, attended, trust, affinity, cost, events) == (False, False, 0.4, 0.5, 0.0, 0), content
        assert counts[C.event_attendance] == attended_before
        assert pure(reciprocity.reciprocity)(k, True, content, False, value_read or attended, 0.0)[2] == 0.0
        contacted, got, _, fitting, _, _, _ = call(k, 0, 0, _plan(mix=mix, targeting=0.0), True, True, 1, 0, 0, 10,
                                                   0, counts)
        assert contacted and got == content and not fitting  # not of interest, not aimed
        assert noise(k, 0, 0, 0.2, True, contacted, fitting, False, False, 0, counts)[0] == 0.2 + 0.1


def test_reciprocity_balance_changes_how_offers_are_heeded_and_asks_cost_no_trust():
    k = k_of(reciprocity_strength=2.0, reciprocity_heed=0.1, reciprocity_memory=0.25)
    call = pure(reciprocity.reciprocity)
    offer_read, heed, balance = call(k, True, SALES, True, False, 4.0)  # 4 remembered as 3
    assert offer_read and heed == 1 + 2.0 * 0.1 * 3.0 and balance == 3.0 - 1
    offer_read, heed, balance = call(k, True, SALES, True, False, -4.0)
    assert offer_read and heed == pytest.approx(1 - 2.0 * 0.1 * 3.0) and balance == -4.0  # on a debt: heeded less
    offer_read, heed, balance = call(k, True, SALES, False, False, -4.0)
    assert not offer_read and balance == -4.0  # an irrelevant ask is no offer read, but an ask all the same
    # What contact costs in trust depends on relevance and volume (fatigue.reactance), not on the label.
    assert "trust" not in reciprocity.READS + reciprocity.WRITES and "ask_trust_cost" not in PARAMS
    assert call(k, True, VALUE, True, True, 4.0)[1:] == (1 + 0.6, 4.0)  # giving: +1
    assert call(k, False, SALES, True, False, 4.0) == (False, 1.0, 3.0)  # unread: even heed
    assert call(k, True, SALES, True, False, 100.0)[1] == 2.0  # heed at most twice
    assert call(k, True, VALUE, True, True, 200.0)[2] == 50.0  # the balance is clipped


def test_visits_follow_any_relevant_read_and_attended_events_more_often_in_the_market(draws, counts):
    """Clicks are even-handed: the visit rule has no content argument, so relevant value
    content read brings visits as often as a relevant offer (the pass passes opened and fitting)."""
    k = k_of(visit_rate=0.4)
    call = pure(visits.visit)
    assert "content" not in inspect.signature(call).parameters
    for need in (0.0, 0.5, 1.0):
        chance = 0.4 * (0.5 + need)
        draws["visit"] = chance - 1e-9
        visited, events = call(k, 0, 0, True, False, need, 0, counts)
        assert visited and events & E.visited
        assert call(k, 0, 0, False, True, need, 0, counts)[0]
        draws["visit"] = chance + 1e-9
        assert call(k, 0, 0, True, False, need, 0, counts) == (False, 0)
        assert not call(k, 0, 0, True, True, need, 0, counts)[0]
    assert counts[C.visits] == 6
    draws["visit"] = 0.0
    assert not call(k, 0, 0, False, False, 1.0, 0, counts)[0]  # nothing relevant read


# --- 5. purchases and sales --------------------------------------------------------------------------------

def test_purchase_hazard_rises_with_need_and_heeded_offers_and_the_dealer_is_a_logit(draws, counts):
    k = k_of(purchase_hazard=0.1, offer_lift=3.0, offer_pull=1.5, trust_weight=2.0, affinity_weight=1.0,
             rival_pull=1.0, existing_customer_bonus=0.2)
    call = pure(purchase.purchase)
    for heed in (0.5, 1.0, 2.0):
        hazard = 0.1 * 0.8 * (1 + 3.0 * heed)
        draws["buy"] = hazard - 1e-9
        assert call(k, 0, 0, 0.8, True, heed, False, True, False, 0.5, 0.5, US, counts)[0]
        draws["buy"] = hazard + 1e-9
        assert not call(k, 0, 0, 0.8, True, heed, False, True, False, 0.5, 0.5, US, counts)[0]
    draws["buy"] = 0.1 * 0.8 * (1 + 3.0) - 1e-9
    assert call(k, 0, 0, 0.8, False, 1.0, True, True, False, 0.5, 0.5, US, counts)[0]  # the rival's offer lifts it too
    u_us = 2.0 * 0.5 + 1.0 * 0.4 + 1.5 * 2.0 + math.log1p(0.2)
    u_rival = 1.0 + 0.0 + 0.0
    draws.update(buy=0.0, choice=logistic(u_us - u_rival) - 1e-9)
    counts[:] = [0] * len(COUNTS)
    buying, bought_us, got_us, got_rival = call(k, 0, 0, 0.8, True, 2.0, False, True, False, 0.5, 0.4, US, counts)
    assert buying and bought_us and got_us == pytest.approx(u_us) and got_rival == u_rival
    assert counts[C.replacements_by_our_owners] == counts[C.repurchases_with_us] == 1
    draws["choice"] = logistic(u_us - u_rival) + 1e-9
    assert not call(k, 0, 0, 0.8, True, 2.0, False, True, False, 0.5, 0.4, US, counts)[1]
    assert call(k, 0, 0, 0.8, False, 1.0, True, False, False, 0.5, 0.5, RIVAL, counts)[3] == 1.0 + 1.5 + math.log1p(0.2)


def test_a_lapsed_owners_existing_customer_bonus_goes_to_the_rival(draws, counts):
    """Defection has consequences: a lapsed owner still driving our car weighs the choice as
    the rival's customer (the bonus once, also when the car is the rival's)."""
    k = k_of(trust_weight=2.0, affinity_weight=1.0, rival_pull=1.0, existing_customer_bonus=0.2, purchase_hazard=0.5)
    call = pure(purchase.purchase)
    bonus, u_base = math.log1p(0.2), 2.0 * 0.5 + 1.0 * 0.5
    active = call(k, 0, 0, 0.5, False, 1.0, False, True, False, 0.5, 0.5, US, counts)
    lapsed = call(k, 0, 0, 0.5, False, 1.0, False, False, True, 0.5, 0.5, US, counts)
    assert active[2:] == pytest.approx((u_base + bonus, 1.0))
    assert lapsed[2:] == pytest.approx((u_base, 1.0 + bonus))
    assert call(k, 0, 0, 0.5, False, 1.0, False, False, True, 0.5, 0.5, RIVAL, counts)[2:] == pytest.approx(
        (u_base, 1.0 + bonus))  # lapsed to a rival's car: the bonus once
    assert call(k, 0, 0, 0.5, False, 1.0, False, False, False, 0.5, 0.5, US, counts)[2:] == pytest.approx(
        (u_base, 1.0))  # neither ours nor the rival's customer
    draws.update(buy=0.0, choice=logistic(u_base - 1.0 - bonus) + 1e-9)
    assert call(k, 0, 0, 0.5, False, 1.0, False, True, False, 0.5, 0.5, US, counts)[1]
    assert not call(k, 0, 0, 0.5, False, 1.0, False, False, True, 0.5, 0.5, US, counts)[1]
    draws["choice"] = logistic(u_base - 1.0 - bonus) - 1e-9
    assert call(k, 0, 0, 0.5, False, 1.0, False, False, True, 0.5, 0.5, US, counts)[1]


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

def _serve(k, counts, money, reminded=False, owner=US, trust=0.5, affinity=0.5, due=0, age=0, lapsed=False):
    """A due service of a customer in a relationship with us, or lapsed (not in one)."""
    return pure(service.service)(k, 0, 0, not lapsed, lapsed, False, due, np.int16(age), owner, trust, affinity,
                                 reminded, False, 0, 2.0, 0, counts, money)


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
    due, trust, affinity, reminded, with_us, visits_, margin, won_back, events = _serve(k, counts, money, trust=0.3,
                                                                                        affinity=0.4)
    assert with_us and not won_back and due == 26 and visits_ == 1 and margin == 240.0 and events & E.serviced_us
    assert trust == 0.3 + 0.1 * 0.7 and affinity == 0.4 + 0.05 * 0.6
    assert counts[C.service_by_our_owners] == counts[C.service_with_us_by_our_owners] == 1
    draws["quality"] = 0.9 + 1e-9
    assert _serve(k, counts, money)[1:3] == (0.5 - 2 * 0.1 * 0.5, 0.5)
    draws["service_choice"] = 1.0 - 1e-9
    out = _serve(k, counts, money)
    assert not out[4] and out[1:3] == (0.5, 0.5) and out[6] == 0.0 and counts[C.rival_service_visits] == 1
    assert _serve(k, counts, money, due=3)[0] == 3  # not due: nothing happens
    assert counts[C.service_visits] == 2 and money[M.service_margin] == 480.0


def test_service_moves_away_from_us_by_service_age_decline_a_year_whoever_sold_the_car(draws, counts):
    """V_us carries service_pull for our car (the other side has it for a car the rival sold)
    and loses service_age_decline per year of the car's age, whoever sold it: older cars go
    to independent shops."""
    k = k_of(trust_weight=2.0, affinity_weight=1.0, service_pull=1.0, service_age_decline=0.3, rival_pull=2.0)
    money = np.zeros(len(MONEY))
    base = 2.0 * 0.5 + 1.0 * 0.5 - 2.0
    for weeks in (0, 52, 156, 520):
        for owner, pull in ((US, 1.0), (RIVAL, -1.0)):
            edge = logistic(base + pull - 0.3 * weeks / 52)
            draws["service_choice"] = edge - 1e-9
            assert _serve(k, counts, money, age=weeks, owner=owner)[4], (weeks, owner)
            draws["service_choice"] = edge + 1e-9
            assert not _serve(k, counts, money, age=weeks, owner=owner)[4], (weeks, owner)
    flat = k._replace(service_age_decline=0.0)
    draws["service_choice"] = logistic(base + 1.0) - 1e-9
    assert _serve(flat, counts, money, age=520)[4]  # no decline: the pull of a new car


def test_a_lapsed_owners_car_goes_elsewhere_and_a_satisfying_visit_with_us_wins_them_back(draws, counts):
    k = k_of(trust_weight=2.0, affinity_weight=1.0, service_pull=1.0, service_age_decline=0.3, rival_pull=2.0,
             service_quality=0.9)
    money = np.zeros(len(MONEY))
    base = 2.0 * 0.5 + 1.0 * 0.5 - 2.0
    draws.update(service_choice=logistic(base - 1.0) + 1e-9, quality=0.0)
    assert _serve(k, counts, money)[4]  # our active owner: with us
    assert not _serve(k, counts, money, lapsed=True)[4]  # lapsed: the other side has the pull
    draws["service_choice"] = logistic(base - 1.0) - 1e-9
    out = _serve(k, counts, money, lapsed=True)
    assert out[4] and out[7]  # still came, satisfied: won back
    draws["quality"] = 0.9 + 1e-9
    out = _serve(k, counts, money, lapsed=True)
    assert out[4] and not out[7]  # a poor visit wins no one back
    draws.update(service_choice=0.0, quality=0.0)
    assert not _serve(k, counts, money, lapsed=True, owner=RIVAL)[7]  # lapsed to the rival's car
    assert not _serve(k, counts, money)[7]  # an active owner has nothing to be won back from
    draws["service_choice"] = 1.0 - 1e-9
    out = _serve(k, counts, money, lapsed=True)
    assert not out[4] and not out[7]  # serviced elsewhere
    assert _serve(k, counts, money, lapsed=True, due=3)[7] is False  # not due


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
    assert call(k, C_, True, True, False, False, False, True, 0.0, False, False, 0.5, 0.5, counts)[0] == P
    assert call(k, C_, True, False, True, False, False, True, 0.0, False, False, 0.5, 0.5, counts)[0] == Stage.LAPSED
    assert call(k, L, True, False, False, True, False, True, 0.0, False, False, 0.9, 0.9, counts)[0] == Stage.LAPSED
    assert counts[C.defections] == 2
    assert call(k, C_, True, False, False, False, False, True, 0.0, False, False, 0.7, 0.5, counts)[0] == L  # equity 0.6
    assert call(k, C_, True, False, False, False, False, True, 0.0, False, False, 0.9, 0.7, counts)[0] == L
    assert call(k, L, True, False, False, False, False, True, 0.0, False, False, 0.7, 0.49, counts)[0] == C_
    assert call(k, int(Stage.LAPSED), False, False, False, False, False, True, 1.0, True, True, 0.5, 0.5, counts)[0] == 5
    assert call(k, 0, False, False, False, False, False, True, 0.6, False, False, 0.5, 0.5, counts)[0] == 1
    assert call(k, 0, False, False, False, False, False, True, 0.1, True, False, 0.5, 0.5, counts)[0] == 1
    assert call(k, 1, False, False, False, False, False, False, 0.9, True, True, 0.5, 0.5, counts)[0] == 0
    stage, trust, affinity, equity = call(k, 0, False, False, False, False, False, False, 0.0, False, False, 1.2, -0.1, counts)
    assert (trust, affinity, equity) == (1.0, 0.0, 0.5)
    assert call(k, 0, False, False, False, False, False, False, 0.0, False, False, -0.2, 1.3, counts)[1:] == (0.0, 1.0, 0.5)
    assert call(k, 0, False, False, False, False, False, False, 0.0, False, False, 0.3, 0.6, counts)[1:] == (0.3, 0.6, 0.5 * (0.3 + 0.6))
    lapsed = np.int8(Stage.LAPSED)  # the weekly pass hands stages over as int8
    assert call(k, lapsed, False, False, False, False, False, True, 1.0, True, True, 0.5, 0.5, counts)[0] == Stage.LAPSED


def test_a_won_back_customer_returns_to_connection_or_loyalty(counts):
    k = k_of(loyalty_threshold=0.6)
    call = pure(lifecycle.lifecycle)
    lapsed = np.int8(Stage.LAPSED)
    assert call(k, lapsed, False, False, False, False, True, True, 0.0, False, False, 0.5, 0.5, counts)[0] == (
        Stage.CONNECTION)
    assert call(k, lapsed, False, False, False, False, True, True, 0.0, False, False, 0.8, 0.6, counts)[0] == (
        Stage.LOYALTY)  # equity 0.7
    assert call(k, lapsed, False, False, False, False, False, True, 1.0, True, True, 0.8, 0.6, counts)[0] == (
        Stage.LAPSED)  # not won back: stays lapsed, whatever else happened
    assert call(k, lapsed, False, True, False, False, True, True, 0.0, False, False, 0.5, 0.5, counts)[0] == (
        Stage.PURCHASE)  # a purchase with us comes first
    assert counts[C.defections] == 0


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


def test_only_customers_who_have_owned_a_car_from_us_speak_of_us():
    """A prospect merely in our CRM has nothing to tell. ``speak`` takes the flag it is given,
    so this runs the weekly pass itself (a few customers, no purchases, everyone a promoter):
    with nobody ever ours no one speaks, though all are known."""
    from sim import RelationshipModel

    said = []
    for share in (0.0, 0.5):
        m = RelationshipModel(60, "constant_sales", rng=1, holdout=False, journeys=0, burn_in_weeks=0,
                              our_share=share, prospects_known=1.0, purchase_hazard=0.0, turnover_rate=0.0,
                              promoter_threshold=0.01, detractor_threshold=0.0)
        m.step()
        assert m.pop.known.all()
        said.append((m.last["promoters"] + m.last["detractors"], int(m.pop.ever_ours.sum())))
    assert said[0] == (0, 0)
    assert said[1][0] == said[1][1] > 0  # every owner of our car speaks (equity >= 0.01)


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
             visit_rate=0.4, talk_rate=0.1, event_attendance=0.4, turnover_rate=0.01)
    money = np.zeros(len(MONEY))
    draws.update(rival=0.25, unsubscribe=0.5 * 0.5, opt_in=0.8, defect=0.1 * 0.5, visit=0.4, talk=0.1,
                 event=0.4 * 0.5, contact=0.5, open=0.3 * 0.5, buy=0.1 * 0.5, choice=0.5, service_choice=0.5,
                 quality=0.9, move=0.01)
    assert not pure(turnover.moves_away)(k, 0, 0, counts)
    assert not pure(rival.rival_offer)(k, 0, 0, 0xFF, counts)[0]
    assert pure(fatigue.noise)(k, 0, 0, 0.4, True, True, False, False, False, 0, counts)[1]
    relevant_tires = k._replace(fatigue_relevant=0.1)  # a relevant contact, at the same edge
    assert pure(fatigue.noise)(relevant_tires, 0, 0, 0.4, True, True, True, False, False, 0, counts)[1]
    assert not pure(sale.sale)(k, 0, 0, True, True, False, 1.0, 9, 9, RIVAL, False, False, False, 0, 0.5, 0,
                               counts, money)[4]
    assert not pure(defection.defection)(k, 0, 0, True, False, 1.0, 1.0)
    assert not pure(visits.visit)(k, 0, 0, True, False, 0.5, 0, counts)[0]
    assert not pure(value.value)(k, 0, 0, True, EVENT, True, 0.5, 0.0, 0, counts)[1]
    assert not pure(contact.contact)(k, 0, 0, _plan(frequency=0.5), True, True, 1, 0, 0, 9, 0, counts)[0]
    att = coefficients(attention_email=0.3).attention.tolist()
    assert not pure(attention.attention)(k_of(attention_email=0.3, fatigue_sensitivity=0.0), 0, 0, att, True, EMAIL,
                                         SALES, False, 0.0, 0.0, 0, counts)[0]
    k_buy = k_of(purchase_hazard=0.1, trust_weight=0.0, affinity_weight=0.0, rival_pull=0.0,
                 existing_customer_bonus=0.0)
    assert not pure(purchase.purchase)(k_buy, 0, 0, 0.5, False, 1.0, False, False, False, 0.5, 0.5, US, counts)[0]
    draws["buy"] = 0.0
    assert not pure(purchase.purchase)(k_buy, 0, 0, 0.5, False, 1.0, False, False, False, 0.5, 0.5, US, counts)[1]
    k_serve = k_of(trust_weight=0.0, affinity_weight=0.0, service_pull=0.0, rival_pull=0.0, service_quality=0.9)
    assert not _serve(k_serve, counts, money)[4]
    draws["service_choice"] = 0.0
    assert _serve(k_serve, counts, money)[1] < 0.5  # quality draw at 0.9: a poor visit
    ties = np.array([[1]], np.int32)
    assert speak(k, ties) == word_of_mouth.SILENT


def speak(k, ties):
    return pure(word_of_mouth.speak)(k, 0, 0, True, 1.0, 0.0, ties, [0] * len(COUNTS))
