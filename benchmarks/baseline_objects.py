"""Baseline: the model written the plain Mesa way, one ``Customer(mesa.Agent)`` object per customer.

This is what the vectorised ``RelationshipModel`` is measured against (``benchmarks/bench.py``)
and checked against (``tests/test_baseline.py``). Every customer is an agent with its state
as scalar attributes (named after ``sim.state.FIELDS``); ``BaselineModel.step`` lets each
agent live its week (``Customer.step``), then delivers word of mouth as a second phase, as
any Mesa model must when agents affect each other.

The rules are not written again here: ``Customer.step`` calls the same mechanism functions
as the core's fused pass (``sim/mechanisms/``, the order of ``sim.rules._customers``), in
their pure Python form (numba's ``.py_func``; the tiny helpers they call, such as the hash
of the draws, run compiled). With the same starting market (``sim.start.starting_market``),
the same weekly keys and the same counter-based hash of the draws, and the state rounded
to float32 where the core stores float32, a run is identical to the core's, bit for bit:
``tests/test_baseline.py`` checks it.

Agents step in id order (``AgentSet.do``): customers do not affect each other within the
week, and money is summed in the core's fixed chunks, so the order is only the core's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mesa
from mesa.agent import AgentSet
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.start import starting_market  # noqa: E402
from sim.mechanisms import (aging, attention, budget, contact, defection, fatigue, lifecycle, purchase,  # noqa: E402
                            reciprocity, rival, sale, service, turnover, value, visits, word_of_mouth)
from sim.mechanisms.records import COUNTS, HEARD, MONEY, E, M  # noqa: E402
from sim.mechanisms.lifecycle import LAPSED  # noqa: E402
from sim.mechanisms.shared import in_relationship  # noqa: E402
from sim.params import CONTENTS, validate  # noqa: E402
from sim.rules import CHUNKS, Coefficients, Draws  # noqa: E402
from sim.state import FIELDS  # noqa: E402
from sim.strategies import compile_policy, load_strategy  # noqa: E402

NO_CONTACT = compile_policy({"name": "no_contact", "default": {"frequency": 0.0}})
FLOAT32_FIELDS = tuple(f.name for f in FIELDS if f.dtype == np.float32)


def pure(function):
    """The pure Python form of a compiled mechanism (itself when numba's JIT is disabled)."""
    return getattr(function, "py_func", function)


time_passes, rival_offer, choose_contact = pure(aging.time_passes), pure(rival.rival_offer), pure(contact.contact)
noise, react, open_contact = pure(fatigue.noise), pure(fatigue.reactance), pure(attention.attention)
give = pure(value.value)
balance_of, visit, choose_dealer = pure(reciprocity.reciprocity), pure(visits.visit), pure(purchase.purchase)
sell, serve, drift = pure(sale.sale), pure(service.service), pure(defection.defection)
stage_of, speak, hear = pure(lifecycle.lifecycle), pure(word_of_mouth.speak), pure(word_of_mouth.hear)
share_paid = pure(budget.share_paid)
moves, arrive = pure(turnover.moves_away), pure(turnover.newcomer)


def f32(x: float) -> float:
    """``x`` as the core stores it in a float32 array, read back as a Python float."""
    return float(np.float32(x))


class Market:
    """One market's week as the agents see it: coefficients, policy plan, draws key, totals."""

    def __init__(self, p: dict, policy, n: int):
        self.coefficients = c = Coefficients(p)
        self.k = c.k
        self.policy = policy
        self.attention = c.attention.tolist()
        self.costs = budget.planned_costs(policy.frequency, policy.channel, policy.mix_cum, c.channel_cost,
                                          p["cost_value_content"])
        self.chunks = max(1, min(CHUNKS, n // 1024))
        self.plan, self.key, self.counts, self.money = None, np.uint64(0), [], np.zeros(0)
        self.counters = dict.fromkeys(("replacements_by_our_owners", "repurchases_with_us", "service_by_our_owners",
                                       "service_with_us_by_our_owners"), 0)

    def start_week(self, key, customers: list) -> None:
        """This week's key, the plan thinned to the budget (as the core's ``weekly_plan``), zero totals."""
        columns = {name: np.array([getattr(c, name) for c in customers]) for name in ("known", "opted_in", "stage",
                                                                                      "tier")}
        thin = share_paid(columns["known"], columns["opted_in"], columns["stage"], columns["tier"], self.costs,
                          self.k.budget)
        pol = self.policy
        self.plan = contact.Plan(pol.frequency.ravel().astype(float).tolist(), pol.channel.ravel().tolist(),
                                 pol.mix_cum.reshape(-1, len(CONTENTS)).astype(np.float64),
                                 pol.targeting.ravel().astype(float).tolist(), self.coefficients.channel_cost.tolist(),
                                 thin)
        self.key = key
        self.counts = [0] * len(COUNTS)
        self.money = np.zeros((self.chunks, len(MONEY)))

    def week(self) -> dict:
        """The week's counts and money, with the names and sums of the core's ``step``."""
        out = dict(zip(COUNTS, self.counts))
        out.update(zip(MONEY, self.money.sum(axis=0).tolist()))
        out["revenue"] = out["vehicle_margin"] + out["service_margin"]
        for name in self.counters:
            self.counters[name] += out.pop(name)
        return out


class Customer(mesa.Agent):
    """One customer of one market, its state as scalar attributes named after ``sim.state.FIELDS``."""

    def __init__(self, model: "BaselineModel", market: Market, index: int, state: dict):
        super().__init__(model)
        self.market = market
        self.index = index
        self.chunk = next(c for c in range(market.chunks) if index < (c + 1) * model.n // market.chunks)
        self.__dict__.update(state)
        self.said = word_of_mouth.SILENT
        self.events = 0

    def step(self) -> None:
        """This customer's week: the mechanisms in the order of the core's pass (``sim.rules._customers``)."""
        mk, i = self.market, self.index
        k, key, plan, counts, money = mk.k, mk.key, mk.plan, mk.counts, mk.money[self.chunk]
        moved = moves(k, key, i, counts)
        if moved:
            (self.stage, self.known, self.opted_in, self.owner, self.trust, self.affinity, self.fatigue,
             self.reciprocity, self.ever_ours, self.serviced_with_us, self.reminded) = arrive(k)
            for name in FLOAT32_FIELDS:
                setattr(self, name, f32(getattr(self, name)))
        relationship = in_relationship(self.stage)
        lapsed = self.stage == LAPSED
        vehicle_age, service_due, affinity, need = time_passes(k, self.vehicle_age, self.service_due, self.affinity,
                                                               float(self.cycle))
        rival_offered, rival_relevant = rival_offer(k, key, i, self.interests, counts)
        contacted, content, channel, fitting, due_soon, cost, e = choose_contact(
            k, key, i, plan, self.known, self.opted_in, self.stage, self.tier, self.interests, service_due, E.moved if moved else 0, counts)
        self.fatigue, self.opted_in, e = noise(k, key, i, self.fatigue, self.opted_in, contacted, fitting,
                                               rival_offered, rival_relevant, e, counts)
        opened, reminder_read, e = open_contact(k, key, i, mk.attention, contacted, channel, content, due_soon,
                                                self.trust, self.fatigue, e, counts)
        self.reminded = self.reminded or reminder_read
        trust = react(k, opened, fitting, self.fatigue, self.trust)
        value_read, attended, trust, affinity, attendee_cost, e = give(k, key, i, opened, content, fitting, trust,
                                                                       affinity, e, counts)
        offer_read, heed, self.reciprocity = balance_of(k, opened, content, fitting, value_read or attended,
                                                        self.reciprocity)
        visited, e = visit(k, key, i, opened and fitting, attended, need, e, counts)
        buying, bought_us, u_us, u_rival = choose_dealer(k, key, i, need, offer_read, heed, rival_relevant,
                                                         relationship, lapsed, trust, affinity, self.owner, counts)
        vehicle = serviced = 0.0
        if buying:
            (vehicle_age, service_due, self.owner, self.known, self.opted_in, self.ever_ours, self.purchases, affinity,
             vehicle, e) = sell(k, key, i, buying, bought_us, offer_read, self.spend, vehicle_age, service_due,
                                self.owner, self.known, self.opted_in, self.ever_ours, self.purchases, affinity, e,
                                counts, money)
        won_back = False
        if service_due <= 0:
            (service_due, trust, affinity, self.reminded, self.serviced_with_us, self.service_visits, serviced,
             won_back, e) = serve(k, key, i, relationship, lapsed, bought_us, service_due, vehicle_age, self.owner,
                                  trust, affinity, self.reminded, self.serviced_with_us, self.service_visits,
                                  self.spend, e, counts, money)
        drifted = drift(k, key, i, relationship, buying, u_us, u_rival)
        self.stage, trust, affinity, equity = stage_of(k, self.stage, relationship, bought_us, buying and not bought_us,
                                                       drifted, won_back, self.known, need, visited, attended, trust,
                                                       affinity, counts)
        self.said = speak(k, key, i, self.ever_ours, equity, self.fatigue, self.model.ties, counts)
        self.vehicle_age, self.service_due, self.trust, self.affinity = vehicle_age, service_due, trust, affinity
        for name in FLOAT32_FIELDS:
            setattr(self, name, f32(getattr(self, name)))
        self.contacts += contacted
        self.cost += cost + attendee_cost
        self.margin += vehicle + serviced
        money[M.cost] += cost + attendee_cost
        self.events = e

    def listen(self) -> None:
        """Word of mouth, second phase: heed the praise or warning heard this week."""
        e = self.events
        trust, self.known, self.opted_in, self.events = hear(
            self.market.k, (e & E.heard_praise) != 0, (e & E.heard_warning) != 0, self.trust, self.known,
            self.opted_in, e, self.market.counts)
        self.trust = f32(trust)


class BaselineModel(mesa.Model):
    """The dealer's market with one Mesa agent per customer (the benchmark baseline).

    Args:
        customers: Number of customers.
        strategy: Strategy name, YAML path or mapping, as for ``RelationshipModel``.
        rng: Seed; market and draws come from it exactly as in ``RelationshipModel``.
        holdout: Also run the no-contact holdout twin of every customer, under the same draws.
        **params: Any parameter of ``sim.params.PARAMS``.
    """

    def __init__(self, customers: int = 5000, strategy="reciprocal_value", *, rng=None,
                 holdout: bool = False, **params):
        self.params = p = validate({"customers": customers, **params})
        self.policy = load_strategy(strategy)
        super().__init__(rng=rng)
        self.n = customers
        pop = starting_market(p, self.rng)  # same calls on the same generator as RelationshipModel
        self.draws = Draws(customers, self.rng)
        self.ties = pop.ties
        columns = {f.name: getattr(pop, f.name).tolist() for f in FIELDS}
        self.markets = [Market(p, self.policy, customers)] + ([Market(p, NO_CONTACT, customers)] if holdout else [])
        self.groups = [AgentSet([Customer(self, market, i, {name: col[i] for name, col in columns.items()})
                                      for i in range(customers)], random=self.random) for market in self.markets]
        self.week = 0
        self.rows: list[list[dict]] = [[] for _ in self.markets]

    @property
    def customers(self) -> list[Customer]:
        """The treated market's customers, in id order."""
        return list(self.groups[0])

    def step(self) -> None:
        """One week: every customer lives its week, then word of mouth, in each market."""
        self.week += 1
        self.draws.fill()
        for market, group, rows in zip(self.markets, self.groups, self.rows):
            customers = list(group)
            market.start_week(self.draws.key, customers)
            group.do("step")
            for speaker in customers:
                if speaker.said != word_of_mouth.SILENT:
                    listener = customers[speaker.said >> 1]
                    listener.events |= E.heard_warning if speaker.said & 1 else E.heard_praise
            for customer in customers:
                if customer.events & HEARD:
                    customer.listen()
            rows.append({"week": self.week, **market.week()})

    def run(self, weeks: int) -> "BaselineModel":
        """Run ``weeks`` more weeks; returns the model."""
        for _ in range(weeks):
            self.step()
        return self

    def state(self, market: int = 0) -> dict[str, np.ndarray]:
        """The customers' state of one market (0 treated, 1 holdout) as arrays with the core's dtypes."""
        customers = list(self.groups[market])
        return {f.name: np.array([getattr(c, f.name) for c in customers], dtype=f.dtype) for f in FIELDS}

    def metrics(self) -> pd.DataFrame:
        """The weekly counts and money of the treated market, one row per week."""
        return pd.DataFrame(self.rows[0])

    def holdout_metrics(self) -> pd.DataFrame:
        """The weekly counts and money of the no-contact holdout (empty without holdout)."""
        return pd.DataFrame(self.rows[1] if len(self.rows) > 1 else [])
