"""Baseline: the rules of ``sim/rules.py`` written the plain Mesa way, one object per customer.

This is what the vectorised ``RelationshipModel`` is measured against (``benchmarks/bench.py``)
and checked against (``tests/test_baseline.py``). Every customer is a ``Customer(mesa.Agent)``
with scalar attributes; ``BaselineModel.step`` lets each of them apply the weekly rules in
scalar Python (``self.agents_by_type[Customer].shuffle_do("step")``), then runs word of mouth
as a second phase, as any Mesa model must when agents affect each other.

Same as the core:
    * the starting market (``sim.market.build_market``, same seed gives the same customers,
      ties included), the parameters (``sim.params.validate``) and the policy
      (``sim.strategies.load_strategy``);
    * the rules, in the same order, with the same formulas (see ``Customer.live``);
    * one uniform per decision and customer-week, in the roles of ``sim.rules.DRAWS``; each
      customer draws its 16 at the start of its week, and the holdout twin (``holdout=True``)
      reuses its treated twin's, so the holdout runs under the same random numbers, as in
      the core (which computes each of them from a hash of the week's key, when needed).

Different, on purpose: the draws come from Python's ``random`` per agent (Mesa's
``model.random``), not from the core's numpy streams, and the state is kept in Python floats
(float64) instead of float32 arrays. Runs are therefore statistically the same as the
core's, not bit-identical.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import mesa
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.market import build_market  # noqa: E402
from sim.params import CHANNELS, CONTENTS, validate  # noqa: E402
from sim.mechanisms.aging import NEED_WIDTH  # noqa: E402
from sim.mechanisms.contact import REMINDER_WINDOW  # noqa: E402
from sim.state import FIELDS, N_CATEGORIES, RIVAL, US, Stage  # noqa: E402
from sim.strategies import compile_policy, load_strategy  # noqa: E402

SALES, VALUE, REMINDER, EVENT = (CONTENTS.index(c) for c in
                                 ("sales_offer", "value_content", "service_reminder", "event_invite"))
N_DRAWS = 16  # uniforms per customer per week, as sim.rules.DRAWS
PROSPECT, CONSIDERATION, PURCHASE, CONNECTION, LOYALTY, LAPSED = (int(s) for s in Stage)
NO_CONTACT = compile_policy({"name": "no_contact", "default": {"frequency": 0.0}})

# Weekly counts the baseline records, with the same names as the core's weekly dict.
COUNTS = ("contacts", "offers", "relevant_offers", "opens", "visits", "event_attendance", "our_sales",
          "rival_sales", "rival_contacts", "offer_sales", "service_visits", "rival_service_visits",
          "unsubscribes", "opt_ins", "defections", "referrals", "promoters", "detractors")
MONEY = ("vehicle_margin", "service_margin", "revenue", "cost")


def _logistic(x: float) -> float:
    """1 / (1 + exp(-x)) without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _aimed(u: float, targeting: float) -> bool:
    """Scalar twin of ``sim.rules._aimed``: the fractional part of u scaled is below targeting."""
    scaled = u * N_CATEGORIES
    return scaled - min(int(scaled), N_CATEGORIES - 1) < targeting


def _relevant(interests: int, u: float, targeting: float) -> bool:
    """Scalar twin of ``sim.rules._relevant``: aimed (chance = targeting) or of interest."""
    category = min(int(u * N_CATEGORIES), N_CATEGORIES - 1)
    return _aimed(u, targeting) or bool((interests >> category) & 1)


class Rules:
    """The parameters and the policy as plain Python scalars and nested lists."""

    def __init__(self, p: dict, policy):
        self.p = p
        self.frequency = policy.frequency.tolist()  # [stage][tier]
        self.channel = policy.channel.tolist()
        self.targeting = policy.targeting.tolist()
        self.mix = policy.mix_cum.tolist()  # [stage][tier][content]
        self.attention = [p[f"attention_{c}"] for c in CHANNELS]
        self.channel_cost = [p[f"cost_{c}"] for c in CHANNELS]
        # expected cost of one week's contacts per (stage, tier): what the budget is checked against
        self.wanted = [[f * (self.channel_cost[ch] + (m[VALUE] - (m[VALUE - 1] if VALUE else 0.0))
                             * p["cost_value_content"])
                        for f, ch, m in zip(fs, chs, ms)]
                       for fs, chs, ms in zip(self.frequency, self.channel, self.mix)]
        self.existing = math.log1p(p["existing_customer_bonus"])


class Customer(mesa.Agent):
    """One customer of the treated market, with its state as scalar attributes.

    Attributes are named after ``sim.state.FIELDS``; ``ties`` lists the ids (index into
    ``model.customers``) of the customers it talks to.
    """

    arm = "treated"

    def __init__(self, model: "BaselineModel", state: dict, ties: list[int]):
        super().__init__(model)
        self.__dict__.update(state)
        self.ties = ties
        self.u: list[float] = []
        self.equity = 0.0
        self.heard_up = self.heard_down = False

    def step(self) -> None:
        """Draw this week's uniforms, then apply the week's rules to itself."""
        rand = self.model.random.random
        self.u = [rand() for _ in range(N_DRAWS)]
        self.live(self.model.treated_rules, self.model.treated_week, self.model.treated_thin)

    def live(self, r: Rules, w: dict, thin: float) -> None:
        """Rules 1 to 8 of ``sim.rules.step`` for this customer; counts go into ``w``."""
        p = r.p
        (u_contact, u_content, u_aim, u_open, u_event, u_visit, u_unsubscribe, u_rival, u_buy, u_choice,
         u_service_choice, u_quality, u_defect, _talk, _tie, u_opt_in) = self.u

        # 1. time passes
        self.vehicle_age += 1
        self.service_due -= 1
        self.fatigue *= 1 - p["fatigue_recovery"]
        self.affinity *= 1 - p["affinity_decay"]
        self.reciprocity *= 1 - p["reciprocity_memory"]
        x = (self.vehicle_age - self.cycle) / (NEED_WIDTH * self.cycle)
        need = _logistic(x)

        # 2. the rival's offers
        rival_rate = p["rival_contact_rate"]
        rival_offer = u_rival < rival_rate
        rival_relevant = rival_offer and _relevant(self.interests, u_rival / max(rival_rate, 1e-9) % 1.0,
                                                   p["rival_targeting"])
        if rival_offer:
            w["rival_contacts"] += 1

        # 3. our contacts
        stage, tier = self.stage, self.tier
        contacted = (self.known and self.opted_in
                     and u_contact < r.frequency[stage][tier] * thin)
        channel = r.channel[stage][tier]
        mix = r.mix[stage][tier]
        content = (u_content >= mix[0]) + (u_content >= mix[1]) + (u_content >= mix[2])
        is_offer = content == SALES
        offer_relevant = _relevant(self.interests, u_aim, r.targeting[stage][tier])
        due_soon = self.service_due <= REMINDER_WINDOW
        if is_offer:
            fitting = offer_relevant
        elif content == REMINDER:
            fitting = due_soon or _aimed(u_aim, r.targeting[stage][tier])
        else:
            fitting = True
        irrelevant = contacted and not fitting
        if irrelevant or (rival_offer and not rival_relevant):
            self.fatigue += p["fatigue_irrelevant"]
        elif contacted or rival_offer:
            self.fatigue += p["fatigue_relevant"]
        self.fatigue = min(self.fatigue, 1.0)
        unsubscribed = irrelevant and u_unsubscribe < p["unsubscribe_rate"] * self.fatigue
        if unsubscribed:
            self.opted_in = False
            w["unsubscribes"] += 1
        contact_cost = 0.0
        if contacted:
            contact_cost = r.channel_cost[channel]
            if content == VALUE:
                contact_cost += p["cost_value_content"]
            w["contacts"] += 1
            if is_offer:
                w["offers"] += 1
                w["relevant_offers"] += offer_relevant

        # 4. attention and what is read
        opened = contacted and u_open < (r.attention[channel] * (0.5 + self.trust)
                                         * (1 - p["fatigue_sensitivity"] * self.fatigue))
        value_read = opened and content == VALUE
        attended = (opened and content == EVENT
                    and u_event < p["event_attendance"] * (0.5 + self.affinity))
        ask_read = opened and is_offer
        if opened and content == REMINDER and due_soon:
            self.reminded = True
        balance = self.reciprocity
        strength = p["reciprocity_strength"]
        heed = min(max(1 + strength * p["reciprocity_heed"] * balance, 0.0), 2.0)
        if ask_read and not offer_relevant and balance < 0:
            self.trust -= strength * p["ask_trust_cost"]
        gained = value_read or attended
        if gained:
            self.trust += p["value_trust_gain"] * (1 - self.trust)
        if value_read:
            self.affinity += p["value_affinity_gain"] * (1 - self.affinity)
        if attended:
            self.affinity += p["event_affinity_gain"] * (1 - self.affinity)
            contact_cost += p["cost_attendee"]
            w["event_attendance"] += 1
        self.reciprocity += gained - ask_read
        offer_read = ask_read and offer_relevant
        visited = ((offer_read or attended or value_read)
                   and u_visit < p["visit_rate"] * (0.5 + need) * (1.0 if offer_read or attended else 0.3))
        if opened:
            w["opens"] += 1
        if visited:
            w["visits"] += 1

        # 5. purchases
        offer_push = heed if offer_read else 0.0
        hazard = p["purchase_hazard"] * need * (1 + p["offer_lift"] * (offer_push + rival_relevant))
        buying = u_buy < hazard
        relationship = stage == PURCHASE or stage == CONNECTION or stage == LOYALTY
        u_us = (p["trust_weight"] * self.trust + p["affinity_weight"] * self.affinity
                + p["offer_pull"] * offer_push + r.existing * relationship)
        u_rival = p["rival_pull"] + p["offer_pull"] * rival_relevant + r.existing * (self.owner == RIVAL)
        bought_us = buying and u_choice < _logistic(u_us - u_rival)
        bought_rival = buying and not bought_us
        vehicle_margin = 0.0
        if buying:
            model = self.model
            if relationship:
                model.counters[self.arm][0] += 1
                model.counters[self.arm][1] += bought_us
            self.vehicle_age = 0
            self.service_due = p["service_interval_weeks"]
            if bought_us:
                vehicle_margin = p["vehicle_margin"] * self.spend
                self.owner = US
                if not self.known:
                    self.known = True
                    if u_opt_in < p["opt_in"] and not self.opted_in:
                        self.opted_in = True
                        w["opt_ins"] += 1
                self.ever_ours = True
                self.purchases += 1
                self.affinity += p["purchase_affinity_gain"] * (1 - self.affinity)
                w["our_sales"] += 1
                w["offer_sales"] += offer_read
            else:
                self.owner = RIVAL
                w["rival_sales"] += 1

        # 6. service
        service_margin = 0.0
        serviced_us = False
        if self.service_due <= 0:
            sold_by_us = self.owner == US
            v_us = (p["trust_weight"] * self.trust + p["affinity_weight"] * self.affinity
                    + p["service_pull"] * sold_by_us + p["service_reminder_lift"] * self.reminded)
            v_other = p["rival_pull"] + p["service_pull"] * (not sold_by_us)
            serviced_us = u_service_choice < _logistic(v_us - v_other)
            if relationship or bought_us:
                self.model.counters[self.arm][2] += 1
                self.model.counters[self.arm][3] += serviced_us
            self.serviced_with_us = serviced_us
            if serviced_us:
                gain = p["service_trust_gain"]
                if u_quality < p["service_quality"]:
                    self.trust += gain * (1 - self.trust)
                    self.affinity += p["service_affinity_gain"] * (1 - self.affinity)
                else:
                    self.trust -= 2 * gain * self.trust
                service_margin = p["service_margin"] * self.spend
                self.service_visits += 1
                w["service_visits"] += 1
            else:
                w["rival_service_visits"] += 1
                w["rival_revenue"] += p["service_margin"] * self.spend
            self.service_due = p["service_interval_weeks"]
            self.reminded = False

        # 7. defection of owners with low equity
        self.trust = min(max(self.trust, 0.0), 1.0)
        self.affinity = min(max(self.affinity, 0.0), 1.0)
        self.equity = equity = (self.trust + self.affinity) * 0.5
        drifted = (relationship and not buying
                   and u_defect < p["defection_rate"] * _logistic(u_rival - u_us))

        # 8. lifecycle stage
        if bought_us:
            new = PURCHASE
        elif (relationship and bought_rival) or drifted:
            new = LAPSED
            w["defections"] += 1
        elif relationship:
            new = LOYALTY if equity >= p["loyalty_threshold"] else CONNECTION
        elif stage == LAPSED:
            new = LAPSED
        elif self.known and (need > 0.5 or visited or attended):
            new = CONSIDERATION
        else:
            new = PROSPECT
        self.stage = new

        # ledger
        self.reciprocity = min(max(self.reciprocity, -50.0), 50.0)
        self.contacts += contacted
        self.cost += contact_cost
        self.margin += vehicle_margin + service_margin
        if bought_rival:
            w["rival_revenue"] += p["vehicle_margin"] * self.spend
        w["vehicle_margin"] += vehicle_margin
        w["service_margin"] += service_margin
        w["revenue"] += vehicle_margin + service_margin
        w["cost"] += contact_cost

    def talk(self, r: Rules, w: dict, twins: list) -> None:
        """Rule 9, speaking: a promoter recommends us to one tie, a detractor warns one."""
        p = r.p
        if not (self.known or self.ever_ours):
            return
        sentiment = self.equity * (1 - 0.5 * self.fatigue)
        positive = sentiment >= p["promoter_threshold"]
        if positive:
            w["promoters"] += 1
        elif sentiment <= p["detractor_threshold"]:
            w["detractors"] += 1
        else:
            return
        u_talk, u_tie = self.u[13], self.u[14]
        if not (p["word_of_mouth"] and self.ties) or u_talk >= p["talk_rate"]:
            return
        slot_f = u_tie * len(self.ties)
        slot = min(int(slot_f), len(self.ties) - 1)
        if slot_f - slot < (p["heed_positive"] if positive else p["heed_negative"]):
            listener = twins[self.ties[slot]]
            if positive:
                listener.heard_up = True
            else:
                listener.heard_down = True

    def listen(self, r: Rules, w: dict) -> None:
        """Rule 9, hearing: heeded praise raises trust (and refers us), a bad review lowers it."""
        effect = r.p["word_of_mouth_effect"]
        if self.heard_up:
            self.trust += effect * (1 - self.trust)
        if self.heard_down:
            self.trust -= effect * self.trust
        self.trust = min(max(self.trust, 0.0), 1.0)
        if self.heard_up and not self.known:
            self.known = True
            if not self.opted_in:
                w["opt_ins"] += 1
            self.opted_in = True
            w["referrals"] += 1
        self.heard_up = self.heard_down = False


class HoldoutCustomer(Customer):
    """The same customer in the no-contact holdout market; it reuses its twin's draws."""

    arm = "holdout"

    def __init__(self, model: "BaselineModel", state: dict, ties: list[int], twin: Customer):
        super().__init__(model, state, ties)
        self.twin = twin

    def step(self) -> None:
        self.u = self.twin.u
        self.live(self.model.holdout_rules, self.model.holdout_week, 1.0)


class BaselineModel(mesa.Model):
    """The dealer's market with one Mesa agent per customer (the benchmark baseline).

    Args:
        customers: Number of customers.
        strategy: Strategy name, YAML path or mapping, as for ``RelationshipModel``.
        rng: Seed; the market is built from it exactly as the core builds its own.
        holdout: Also run the no-contact holdout twin of every customer.
        **params: Any parameter of ``sim.params.PARAMS``.
    """

    def __init__(self, customers: int = 5000, strategy="reciprocal_value", *, rng=None,
                 holdout: bool = False, **params):
        self.params = p = validate({"customers": customers, **params})
        self.policy = load_strategy(strategy)
        super().__init__(rng=rng)
        pop = build_market(p, self.rng)  # same calls on the same generator as RelationshipModel
        self.treated_rules = Rules(p, self.policy)
        self.holdout_rules = Rules(p, NO_CONTACT)
        self.counters = {"treated": [0, 0, 0, 0], "holdout": [0, 0, 0, 0]}
        names = tuple(f.name for f in FIELDS)
        columns = {name: getattr(pop, name).tolist() for name in names}
        ties = pop.ties.tolist()
        self.customers = [Customer(self, {name: columns[name][i] for name in names}, ties[i])
                          for i in range(customers)]
        self.twins = [HoldoutCustomer(self, {name: columns[name][i] for name in names}, ties[i], c)
                      for i, c in enumerate(self.customers)] if holdout else []
        self.week = 0
        self.treated_thin = 1.0
        self.treated_week = self.holdout_week = {}
        self.rows: list[dict] = []
        self.holdout_rows: list[dict] = []

    def _thin(self) -> float:
        """Share of the wanted contacts the weekly budget pays for (1 without a budget cap)."""
        budget = self.params["budget"]
        if math.isinf(budget):
            return 1.0
        wanted = sum(self.treated_rules.wanted[c.stage][c.tier] for c in self.customers if c.known and c.opted_in)
        return 1.0 if wanted <= budget else budget / wanted

    def step(self) -> None:
        """One week: every customer applies the rules, then word of mouth, then the metrics."""
        self.week += 1
        self.treated_week = dict.fromkeys(COUNTS + MONEY + ("rival_revenue",), 0)
        self.holdout_week = dict.fromkeys(COUNTS + MONEY + ("rival_revenue",), 0)
        self.treated_thin = self._thin()
        self.agents_by_type[Customer].shuffle_do("step")
        if self.twins:
            self.agents_by_type[HoldoutCustomer].shuffle_do("step")
        for group, rules, w in ((self.customers, self.treated_rules, self.treated_week),
                                (self.twins, self.holdout_rules, self.holdout_week)):
            if group:
                for c in group:
                    c.talk(rules, w, group)
                for c in group:
                    if c.heard_up or c.heard_down:
                        c.listen(rules, w)
        self.rows.append(self._record(self.customers, self.treated_week))
        if self.twins:
            self.holdout_rows.append(self._record(self.twins, self.holdout_week))

    def _record(self, group: list[Customer], w: dict) -> dict:
        """The week's metrics with the core's column names (means over customers we know)."""
        row = {"week": self.week, **w}
        known = [c for c in group if c.known]
        for name in ("trust", "affinity", "fatigue"):
            row[name] = sum(getattr(c, name) for c in known) / len(known) if known else float("nan")
        stages = [0] * len(Stage)
        for c in group:
            stages[c.stage] += 1
        for s in Stage:
            row[f"stage_{s.name.lower()}"] = stages[s]
        row["profit"] = w["revenue"] - w["cost"]
        return row

    def run(self, weeks: int) -> "BaselineModel":
        """Run ``weeks`` more weeks; returns the model."""
        for _ in range(weeks):
            self.step()
        return self

    def metrics(self) -> pd.DataFrame:
        """The weekly metrics of the treated market, one row per week."""
        return pd.DataFrame(self.rows)

    def holdout_metrics(self) -> pd.DataFrame:
        """The weekly metrics of the no-contact holdout, one row per week (empty without holdout)."""
        return pd.DataFrame(self.holdout_rows)
