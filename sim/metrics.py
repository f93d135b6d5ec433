"""Weekly metrics, declared as a list of what to record.

Each ``Metric`` names a column of ``RelationshipModel.metrics()``, with its unit and a
function of ``(model, week)`` where ``week`` is the dict of counts the rules returned for
the treated market (``model.last``) and ``model.last_holdout`` for the holdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .state import STAGES, Stage


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    doc: str
    compute: Callable


def _known_mean(field: str) -> Callable:
    return lambda m, w: _ratio(w[f"{field}_sum"], w["known"])


def _count(key: str) -> Callable:
    return lambda m, w: w[key]


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def _stage_count(stage: Stage) -> Callable:
    return lambda m, w: int(w[f"stage_{STAGES[stage]}"])


METRICS: list[Metric] = [
    Metric("trust", "0-1", "Mean trust of the customers in our CRM.", _known_mean("trust")),
    Metric("affinity", "0-1", "Mean affinity of the customers in our CRM.", _known_mean("affinity")),
    Metric("fatigue", "0-1", "Mean fatigue of the customers in our CRM.", _known_mean("fatigue")),
    *[Metric(f"stage_{name}", "customers", f"Customers in the {name} stage.", _stage_count(Stage(i)))
      for i, name in enumerate(STAGES)],
    *[Metric(key, unit, doc, _count(key)) for key, unit, doc in [
        ("contacts", "contacts", "Contacts we sent."),
        ("offers", "contacts", "Sales offers we sent."),
        ("relevant_offers", "contacts", "Sales offers we sent that fit the customer's interests."),
        ("opens", "contacts", "Contacts opened or read (engagement)."),
        ("visits", "visits", "Website visits after a contact (engagement)."),
        ("event_attendance", "customers", "Customers who attended an event or clinic (engagement)."),
        ("our_sales", "vehicles", "Vehicles sold by us."),
        ("offer_sales", "vehicles", "Vehicles sold by us to a customer who read a relevant offer that week."),
        ("rival_sales", "vehicles", "Vehicles sold by the rival."),
        ("service_visits", "visits", "Service visits at our dealership."),
        ("unsubscribes", "customers", "Customers who unsubscribed."),
        ("defections", "customers", "Our owners who lapsed (bought from the rival or drifted away)."),
        ("referrals", "customers", "New prospects brought by a recommendation."),
        ("revenue", "$", "Gross margin earned on vehicles and service ('revenue' in the ledger)."),
        ("cost", "$", "Marketing cost (contacts and event attendees)."),
    ]],
    Metric("profit", "$", "Revenue minus cost this week.", lambda m, w: w["revenue"] - w["cost"]),
    Metric("cum_profit", "$", "Cumulative profit.", lambda m, w: m.totals["profit"]),
    Metric("cum_cost", "$", "Cumulative marketing cost.", lambda m, w: m.totals["cost"]),
    Metric("holdout_profit", "$", "Profit of the holdout market this week (no contact).",
           lambda m, w: m.last_holdout["revenue"] - m.last_holdout["cost"] if m.last_holdout else float("nan")),
    Metric("incremental_profit", "$",
           "Cumulative profit minus the holdout's: what the strategy added, net of its cost.",
           lambda m, w: m.totals["profit"] - m.totals["holdout_profit"] if m.last_holdout else float("nan")),
    Metric("incremental_sales", "vehicles", "Cumulative vehicles sold by us minus those sold in the holdout.",
           lambda m, w: m.totals["sales"] - m.totals["holdout_sales"] if m.last_holdout else float("nan")),
    Metric("roi", "$/$", "Cumulative incremental ROI: incremental profit per dollar of marketing.",
           lambda m, w: _ratio(m.totals["profit"] - m.totals["holdout_profit"], m.totals["cost"])
           if m.last_holdout else float("nan")),
    Metric("retention", "share", "Share of customers ever ours who are in an active relationship.",
           lambda m, w: _ratio(w["stage_purchase"] + w["stage_connection"] + w["stage_loyalty"], w["ever_ours"])),
    Metric("repurchase", "share", "Share of replacement purchases by our owners made with us (cumulative).",
           lambda m, w: _ratio(m.pop.repurchases_with_us, m.pop.replacements_by_our_owners)),
    Metric("service_retention", "share", "Share of our owners' service visits made with us (cumulative).",
           lambda m, w: _ratio(m.pop.service_with_us_by_our_owners, m.pop.service_by_our_owners)),
    Metric("opted_in", "share", "Share of CRM customers who accept contact.",
           lambda m, w: _ratio(w["opted_in"], w["known"])),
    Metric("unsubscribe_rate", "share", "Cumulative unsubscribes per customer who has been opted in.",
           lambda m, w: _ratio(m.totals["unsubscribes"], m.opted_in_at_start + m.totals["opt_ins"])),
    Metric("promoter_share", "share", "Share of experienced customers who are promoters.",
           lambda m, w: _ratio(w["promoters"], w["experienced"])),
    Metric("detractor_share", "share", "Share of experienced customers who are detractors.",
           lambda m, w: _ratio(w["detractors"], w["experienced"])),
]
