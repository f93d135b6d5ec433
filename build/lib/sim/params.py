"""Model parameters: defined once, with default, unit, valid range and source.

Every number the model uses comes from ``PARAMS``. ``validate`` turns a dict of
user values into a complete, checked parameter set, or raises ``ParameterError``
with one line naming the field, the value and what is allowed.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

CHANNELS = ("email", "mail", "phone", "event")
CONTENTS = ("sales_offer", "value_content", "service_reminder", "event_invite")


class ParameterError(ValueError):
    """An invalid parameter; the message is one line naming field, value and what is allowed."""


@dataclass(frozen=True)
class Param:
    """One model parameter.

    Attributes:
        name: Field name, as passed to ``RelationshipModel``.
        default: Default value.
        unit: Unit of the value (``"1/week"``, ``"$"``, ``"share"``...).
        lo: Smallest allowed value (inclusive), or None for booleans.
        hi: Largest allowed value (inclusive).
        group: Config group the parameter belongs to (market, behaviour, economics, rival).
        source: Where the default comes from: a figure of the domain notes, or "assumption".
        doc: What the parameter means, in one sentence.
    """

    name: str
    default: Any
    unit: str
    lo: float | None
    hi: float | None
    group: str
    source: str
    doc: str

    @property
    def kind(self) -> type:
        return type(self.default)

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ParameterError."""
        kind = self.kind
        if kind is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise ParameterError(f"{self.name}={value!r}: expected true or false")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ParameterError(f"{self.name}={value!r}: expected a {_kind_name(kind)} in {self.allowed}")
        if kind is int:
            if not math.isfinite(value) or float(value) != int(value):
                raise ParameterError(f"{self.name}={value!r}: expected a whole number in {self.allowed}")
            value = int(value)
        else:
            value = float(value)
            if math.isnan(value):
                raise ParameterError(f"{self.name}=nan: expected a number in {self.allowed}")
        if not (self.lo <= value <= self.hi):
            raise ParameterError(f"{self.name}={value!r}: out of range, allowed {self.allowed}")
        return value

    @property
    def allowed(self) -> str:
        return f"[{_fmt(self.lo)}, {_fmt(self.hi)}]"


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else f"{x:g}"


def _kind_name(kind: type) -> str:
    return {int: "whole number", float: "number"}.get(kind, kind.__name__)


A = "assumption"
INF = math.inf

PARAMS: dict[str, Param] = {p.name: p for p in [
    # --- market -------------------------------------------------------------------------
    Param("customers", 5000, "customers", 10, 10_000_000, "market", A,
          "Number of car owners in the dealer's market area (ours and the rival's)."),
    Param("our_share", 0.40, "share", 0.0, 1.0, "market", A,
          "Share of the market whose current car was bought from us at the start."),
    Param("prospects_known", 0.15, "share", 0.0, 1.0, "market", A,
          "Share of the rival's owners already in our CRM as prospects at the start."),
    Param("opt_in", 0.80, "share", 0.0, 1.0, "market", A,
          "Share of known customers who accept marketing contact at the start."),
    Param("heavy_share", 0.20, "share", 0.01, 0.99, "market",
          "domain notes: a small share of customers brings most of the profit (Pareto 80/20)",
          "Share of customers in the heavy tier (highest spend multiplier)."),
    Param("pareto_alpha", 1.5, "1", 1.05, 10.0, "market",
          "assumption (alpha 1.16 would be exact 80/20; 1.5 keeps means finite and stable)",
          "Shape of the Pareto distribution of spend per customer; lower is more concentrated."),
    Param("interest_share", 0.25, "share", 0.0, 1.0, "market", A,
          "Chance that any one of the 8 offer categories interests a customer."),
    Param("trust_owners", 0.50, "0-1", 0.0, 1.0, "market", A,
          "Mean starting trust of our owners (spread 0.1)."),
    Param("trust_others", 0.35, "0-1", 0.0, 1.0, "market", A,
          "Mean starting trust of the rival's owners (spread 0.1)."),
    Param("affinity_owners", 0.40, "0-1", 0.0, 1.0, "market", A,
          "Mean starting affinity of our owners (spread 0.1)."),
    Param("affinity_others", 0.15, "0-1", 0.0, 1.0, "market", A,
          "Mean starting affinity of the rival's owners (spread 0.1)."),
    Param("replacement_weeks", 300, "weeks", 26, 1040, "market", A,
          "Mean vehicle replacement cycle (about six years)."),
    Param("replacement_spread", 0.25, "1", 0.0, 1.0, "market", A,
          "Coefficient of variation of the replacement cycle between customers."),
    Param("service_interval_weeks", 26, "weeks", 4, 260, "market", A,
          "Weeks between routine service visits."),
    Param("social_ties", 6, "ties", 0, 50, "market", A,
          "Social ties per customer (small-world network); 0 turns word of mouth off."),
    Param("rewiring", 0.10, "probability", 0.0, 1.0, "market", A,
          "Share of ties rewired to random customers (Watts-Strogatz)."),
    Param("word_of_mouth", True, "", None, None, "market", A,
          "Whether promoters recommend and detractors post negative reviews."),
    # --- behaviour ----------------------------------------------------------------------
    Param("attention_email", 0.30, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a rested, neutral customer opens an email."),
    Param("attention_mail", 0.50, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a rested, neutral customer reads a mailing."),
    Param("attention_phone", 0.60, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a rested, neutral customer takes a call."),
    Param("attention_event", 0.45, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a rested, neutral customer reads an event invitation."),
    Param("fatigue_sensitivity", 1.0, "1", 0.0, 1.0, "behaviour", A,
          "How far fatigue suppresses attention: at 1 a fully fatigued customer opens nothing."),
    Param("fatigue_irrelevant", 0.10, "fatigue/contact", 0.0, 1.0, "behaviour",
          "domain notes: irrelevant offers are noise that dulls the senses", 
          "Fatigue added by an irrelevant offer."),
    Param("fatigue_relevant", 0.03, "fatigue/contact", 0.0, 1.0, "behaviour", A,
          "Fatigue added by a relevant offer or by value content."),
    Param("fatigue_recovery", 0.15, "1/week", 0.0, 1.0, "behaviour", A,
          "Share of fatigue that wears off each week."),
    Param("unsubscribe_rate", 0.01, "probability", 0.0, 1.0, "behaviour",
          "domain notes: irrelevant offers lead to unsubscribes",
          "Chance that a fully fatigued customer unsubscribes on an irrelevant contact."),
    Param("value_trust_gain", 0.010, "trust/contact", 0.0, 1.0, "behaviour",
          "domain notes: give something of value before asking", 
          "Share of the gap to full trust closed by one piece of value content read."),
    Param("value_affinity_gain", 0.020, "affinity/contact", 0.0, 1.0, "behaviour", A,
          "Share of the gap to full affinity closed by one piece of value content read."),
    Param("event_affinity_gain", 0.15, "affinity/event", 0.0, 1.0, "behaviour", A,
          "Share of the gap to full affinity closed by attending an event or clinic."),
    Param("event_attendance", 0.25, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a customer who read an event invitation attends."),
    Param("reciprocity_strength", 1.0, "1", 0.0, 5.0, "behaviour",
          "domain notes: reciprocity, a relationship is not one way",
          "Weight of the reciprocity balance: asks on a negative balance cost trust, on a positive one they are heeded more."),
    Param("reciprocity_heed", 0.10, "1/unit", 0.0, 1.0, "behaviour", A,
          "Change of an offer's effect per unit of reciprocity balance (times the strength), within 0 and 2 times."),
    Param("ask_trust_cost", 0.01, "trust/ask", 0.0, 1.0, "behaviour", A,
          "Trust lost per sales ask read while the reciprocity balance is negative (times the strength)."),
    Param("reciprocity_memory", 0.05, "1/week", 0.0, 1.0, "behaviour", A,
          "Share of the reciprocity balance forgotten each week."),
    Param("affinity_decay", 0.003, "1/week", 0.0, 1.0, "behaviour", A,
          "Share of affinity that fades each week without contact."),
    Param("visit_rate", 0.25, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that reading a relevant offer leads to a website visit (scaled by need)."),
    Param("purchase_hazard", 0.04, "1/week", 0.0, 1.0, "behaviour", A,
          "Weekly chance of buying a car for a customer whose car is due for replacement."),
    Param("offer_lift", 3.0, "1", 0.0, 10.0, "behaviour", A,
          "Relative increase of the purchase hazard after reading a relevant offer that week."),
    Param("offer_pull", 1.5, "utility", 0.0, 10.0, "behaviour", A,
          "Utility a relevant offer read that week adds to buying from its dealer."),
    Param("trust_weight", 2.5, "utility", 0.0, 20.0, "behaviour", A,
          "Utility of full trust when choosing a dealer (for a car or a service)."),
    Param("affinity_weight", 2.0, "utility", 0.0, 20.0, "behaviour", A,
          "Utility of full affinity when choosing a dealer."),
    Param("existing_customer_bonus", 0.20, "share", 0.0, 1.0, "behaviour",
          "domain notes: existing customers are 15 to 25% more ready to buy",
          "Extra readiness of our own owners to buy from us (odds multiplier minus one)."),
    Param("service_pull", 1.0, "utility", -10.0, 10.0, "behaviour", A,
          "Utility of having the car serviced at the selling dealer rather than elsewhere."),
    Param("service_reminder_lift", 0.8, "utility", 0.0, 10.0, "behaviour",
          "domain notes: introduce each buyer to service, set the first appointment, remind",
          "Utility a service reminder read in the weeks before the due date adds to servicing with us."),
    Param("service_quality", 0.90, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a service visit leaves the customer satisfied (else trust falls)."),
    Param("service_trust_gain", 0.04, "trust/visit", 0.0, 1.0, "behaviour",
          "domain notes: service visits between purchases keep the relationship alive",
          "Share of the gap to full trust closed by a satisfying service visit."),
    Param("service_affinity_gain", 0.03, "affinity/visit", 0.0, 1.0, "behaviour", A,
          "Share of the gap to full affinity closed by a satisfying service visit."),
    Param("purchase_affinity_gain", 0.20, "affinity/purchase", 0.0, 1.0, "behaviour", A,
          "Share of the gap to full affinity closed by buying a car from us."),
    Param("defection_rate", 0.004, "1/week", 0.0, 1.0, "behaviour", A,
          "Weekly chance that an owner with no equity, facing an even rival, drifts away."),
    Param("loyalty_threshold", 0.65, "equity", 0.0, 1.0, "behaviour", A,
          "Relationship equity (mean of trust and affinity) above which an owner is loyal."),
    Param("promoter_threshold", 0.50, "equity", 0.0, 1.0, "behaviour", A,
          "Equity above which a customer with experience of us recommends us."),
    Param("detractor_threshold", 0.25, "equity", 0.0, 1.0, "behaviour", A,
          "Equity below which a customer with experience of us speaks against us."),
    Param("talk_rate", 0.05, "1/week", 0.0, 1.0, "behaviour", A,
          "Weekly chance that a promoter or detractor tells one tie about us."),
    Param("word_of_mouth_effect", 0.05, "trust", 0.0, 1.0, "behaviour", A,
          "Change of a listener's trust when a recommendation or a bad review is heeded."),
    Param("heed_negative", 0.96, "probability", 0.0, 1.0, "behaviour",
          "domain notes: 96% heed negative reviews",
          "Chance that a negative review is heeded."),
    Param("heed_positive", 0.50, "probability", 0.0, 1.0, "behaviour", A,
          "Chance that a recommendation is heeded."),
    # --- economics ----------------------------------------------------------------------
    Param("vehicle_margin", 2000.0, "$/vehicle", 0.0, 1e6, "economics", A,
          "Gross margin on a vehicle sold, for a customer of spend multiplier 1."),
    Param("service_margin", 120.0, "$/visit", 0.0, 1e5, "economics", A,
          "Gross margin on a service visit, for a customer of spend multiplier 1."),
    Param("cost_email", 0.25, "$/contact", 0.0, 1e4, "economics", A,
          "Cost of an email, content production included."),
    Param("cost_mail", 1.50, "$/contact", 0.0, 1e4, "economics", A,
          "Cost of a mailing."),
    Param("cost_phone", 6.00, "$/contact", 0.0, 1e4, "economics", A,
          "Cost of a phone call."),
    Param("cost_event", 4.00, "$/contact", 0.0, 1e4, "economics", A,
          "Cost of an event invitation."),
    Param("cost_value_content", 1.00, "$/contact", 0.0, 1e4, "economics",
          "assumption: giving value costs money (useful content, small gifts, free checks)",
          "Extra cost of a piece of value content (on top of the channel cost)."),
    Param("cost_attendee", 25.0, "$/attendee", 0.0, 1e5, "economics", A,
          "Cost of hosting one attendee at an event or clinic (gift included)."),
    Param("budget", INF, "$/week", 0.0, INF, "economics", A,
          "Our weekly marketing budget; contacts are thinned at random when the policy would exceed it."),
    # --- rival --------------------------------------------------------------------------
    Param("rival_pull", 2.2, "utility", -10.0, 10.0, "rival",
          "assumption, calibrated so that about 58% of owners change dealer at the next purchase (domain notes)",
          "Base utility of buying from the rival instead of us."),
    Param("rival_contact_rate", 0.25, "1/week", 0.0, 1.0, "rival", A,
          "Weekly chance that a customer gets a sales offer from the rival."),
    Param("rival_targeting", 0.2, "share", 0.0, 1.0, "rival", A,
          "How strictly the rival targets its offers (0 random, 1 always relevant)."),
    Param("rival_cost_per_contact", 0.25, "$/contact", 0.0, 1e4, "rival", A,
          "Rival's cost per contact."),
]}


def defaults() -> dict[str, Any]:
    """Default value of every parameter."""
    return {name: p.default for name, p in PARAMS.items()}


def validate(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Complete ``values`` with defaults and check every field.

    Raises:
        ParameterError: for an unknown field or a value of wrong type or out of range.
    """
    values = dict(values or {})
    unknown = sorted(set(values) - set(PARAMS))
    if unknown:
        raise ParameterError(f"unknown parameter {unknown[0]!r}: allowed are {', '.join(PARAMS)}")
    out = defaults()
    for name, value in values.items():
        out[name] = PARAMS[name].check(value)
    for low, high in BELOW:
        if out[low] >= out[high]:
            raise ParameterError(f"{low}={out[low]}: must be below {high}={out[high]}")
    return out


# Cross-field rules: each (a, b) requires a < b. The CLI checks them on every combination of a sweep.
BELOW: tuple[tuple[str, str], ...] = (("detractor_threshold", "promoter_threshold"), ("social_ties", "customers"))


def markdown_table() -> str:
    """The parameter table of docs/model.md, generated from PARAMS so that it stays true."""
    rows = ["| group | name | default | unit | range | source | meaning |", "|---|---|---|---|---|---|---|"]
    for p in PARAMS.values():
        rng = "true/false" if p.kind is bool else p.allowed
        rows.append(f"| {p.group} | `{p.name}` | {p.default} | {p.unit} | {rng} | {p.source} | {p.doc} |")
    return "\n".join(rows)



def write_markdown_table(path: str) -> None:
    """Refresh the table between the params markers of a Markdown file (``make docs``)."""
    from pathlib import Path

    file = Path(path)
    head, rest = file.read_text().split("<!-- params:start -->\n", 1)
    tail = rest.split("\n<!-- params:end -->", 1)[1]
    file.write_text(f"{head}<!-- params:start -->\n{markdown_table()}\n<!-- params:end -->{tail}")
