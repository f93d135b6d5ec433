"""Metrics, declared once: what the model records each week, and what a run is judged by.

Each ``Metric`` names a column of ``RelationshipModel.metrics()``, with its unit, which
direction is better, and a function of ``(model, week)`` where ``week`` is the dict of
counts the rules returned for the treated market (``model.last``) and
``model.last_holdout`` for the holdout.

Each ``Outcome`` is a number per run taken from one metric (its value at the horizon or
its total) and inherits the metric's unit, direction and meaning; ``payback_week`` is the
one outcome derived from a curve. Summaries, differences, reports, terminal tables and the
dashboard read these declarations; ``show`` formats any value by its unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .state import STAGES, Stage


HIGHER, LOWER = "higher", "lower"  # which direction is better (None: neither, e.g. a count of contacts)


@dataclass(frozen=True)
class Metric:
    """A weekly column: its unit, meaning, how it is computed and which direction is better."""

    name: str
    unit: str
    doc: str
    compute: Callable
    better: str | None = None


def _known_mean(field: str) -> Callable:
    return lambda m, w: _ratio(w[f"{field}_sum"], w["known"])


def _count(key: str) -> Callable:
    return lambda m, w: w[key]


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def _stage_count(stage: Stage) -> Callable:
    return lambda m, w: int(w[f"stage_{STAGES[stage]}"])


METRICS: list[Metric] = [
    Metric("trust", "0-1", "Mean trust of the customers in our CRM.", _known_mean("trust"), HIGHER),
    Metric("affinity", "0-1", "Mean affinity of the customers in our CRM.", _known_mean("affinity"), HIGHER),
    Metric("fatigue", "0-1", "Mean fatigue of the customers in our CRM.", _known_mean("fatigue"), LOWER),
    *[Metric(f"stage_{name}", "customers", f"Customers in the {name} stage.", _stage_count(Stage(i)))
      for i, name in enumerate(STAGES)],
    *[Metric(key, unit, doc, _count(key), better) for key, unit, doc, better in [
        ("contacts", "contacts", "Contacts we sent.", None),
        ("offers", "contacts", "Sales offers we sent.", None),
        ("relevant_offers", "contacts", "Sales offers we sent that fit the customer's interests.", None),
        ("opens", "contacts", "Contacts opened or read (engagement).", HIGHER),
        ("visits", "visits", "Website visits after a contact (engagement).", HIGHER),
        ("event_attendance", "customers", "Customers who attended an event or clinic (engagement).", HIGHER),
        ("our_sales", "vehicles", "Vehicles sold by us.", HIGHER),
        ("offer_sales", "vehicles", "Vehicles sold by us to a customer who read a relevant offer that week.", None),
        ("rival_sales", "vehicles", "Vehicles sold by the rival.", LOWER),
        ("service_visits", "visits", "Service visits at our dealership.", HIGHER),
        ("unsubscribes", "customers", "Customers who unsubscribed.", LOWER),
        ("defections", "customers", "Our owners who lapsed (bought from the rival or drifted away).", LOWER),
        ("referrals", "customers", "New prospects brought by a recommendation.", HIGHER),
        ("revenue", "$", "Gross margin earned on vehicles and service ('revenue' in the ledger).", HIGHER),
        ("cost", "$", "Marketing cost (contacts and event attendees).", LOWER),
    ]],
    Metric("profit", "$", "Revenue minus cost this week.", lambda m, w: w["revenue"] - w["cost"], HIGHER),
    Metric("cum_profit", "$", "Cumulative profit (not incremental).", lambda m, w: m.totals["profit"], HIGHER),
    Metric("cum_cost", "$", "Cumulative marketing cost.", lambda m, w: m.totals["cost"], LOWER),
    Metric("holdout_profit", "$", "Profit of the holdout market this week (no contact).",
           lambda m, w: m.last_holdout["revenue"] - m.last_holdout["cost"] if m.last_holdout else float("nan")),
    Metric("incremental_profit", "$",
           "Cumulative profit minus the holdout's: what the strategy added, net of its cost.",
           lambda m, w: m.totals["profit"] - m.totals["holdout_profit"] if m.last_holdout else float("nan"), HIGHER),
    Metric("incremental_sales", "vehicles", "Cumulative vehicles sold by us minus those sold in the holdout.",
           lambda m, w: m.totals["sales"] - m.totals["holdout_sales"] if m.last_holdout else float("nan"), HIGHER),
    Metric("roi", "$/$", "Cumulative incremental ROI: incremental profit per dollar of marketing.",
           lambda m, w: _ratio(m.totals["profit"] - m.totals["holdout_profit"], m.totals["cost"])
           if m.last_holdout else float("nan"), HIGHER),
    Metric("retention", "share", "Share of customers ever ours who are in an active relationship.",
           lambda m, w: _ratio(w["stage_purchase"] + w["stage_connection"] + w["stage_loyalty"], w["ever_ours"]),
           HIGHER),
    Metric("repurchase", "share", "Share of replacement purchases by our owners made with us (cumulative).",
           lambda m, w: _ratio(m.pop.repurchases_with_us, m.pop.replacements_by_our_owners), HIGHER),
    Metric("service_retention", "share", "Share of our owners' service visits made with us (cumulative).",
           lambda m, w: _ratio(m.pop.service_with_us_by_our_owners, m.pop.service_by_our_owners), HIGHER),
    Metric("opted_in", "share", "Share of CRM customers who accept contact.",
           lambda m, w: _ratio(w["opted_in"], w["known"]), HIGHER),
    Metric("unsubscribe_rate", "share", "Cumulative unsubscribes per customer who has been opted in.",
           lambda m, w: _ratio(m.totals["unsubscribes"], m.opted_in_at_start + m.totals["opt_ins"]), LOWER),
    Metric("promoter_share", "share", "Share of experienced customers who are promoters.",
           lambda m, w: _ratio(w["promoters"], w["experienced"]), HIGHER),
    Metric("detractor_share", "share", "Share of experienced customers who are detractors.",
           lambda m, w: _ratio(w["detractors"], w["experienced"]), LOWER),
]
METRIC = {m.name: m for m in METRICS}


# --- outcomes: one number per run -----------------------------------------------------------
FINAL, SUM, PAYBACK = "final", "sum", "payback"  # how an outcome is taken from a run's weekly column
TERMINAL, MAIN, MORE = 1, 2, 3  # where it is shown: terminal and report, report's main table, report's second table


@dataclass(frozen=True)
class Outcome:
    """A number per run, taken from one weekly metric; unit, direction and meaning are the metric's."""

    name: str  # column in summary.csv and differences.csv
    column: str  # the weekly metric it is taken from
    how: str  # FINAL (value in the last week), SUM (total over the weeks) or PAYBACK
    label: str  # short title for tables
    shown: int = MORE
    doc: str = ""  # only where it says more than the metric's doc

    @property
    def unit(self) -> str:
        return "week" if self.how == PAYBACK else METRIC[self.column].unit

    @property
    def better(self) -> str | None:
        return LOWER if self.how == PAYBACK else METRIC[self.column].better

    @property
    def description(self) -> str:
        return self.doc or METRIC[self.column].doc

    @property
    def has_difference(self) -> bool:
        """Whether paired differences between arms are taken (not for the payback week, often undefined)."""
        return self.how != PAYBACK


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("roi", "roi", FINAL, "ROI", TERMINAL),
    Outcome("profit", "incremental_profit", FINAL, "incr. profit", TERMINAL),
    Outcome("payback_week", "incremental_profit", PAYBACK, "payback wk", TERMINAL,
            "First week from which cumulative incremental profit stays at or above zero."),
    Outcome("retention", "retention", FINAL, "retention", TERMINAL),
    Outcome("repurchase", "repurchase", FINAL, "repurchase", MAIN),
    Outcome("service_retention", "service_retention", FINAL, "service kept", MAIN),
    Outcome("trust", "trust", FINAL, "trust", TERMINAL),
    Outcome("affinity", "affinity", FINAL, "affinity", MAIN),
    Outcome("unsubscribe_rate", "unsubscribe_rate", FINAL, "unsubscribed", TERMINAL),
    Outcome("referrals", "referrals", SUM, "referrals", MAIN, "New prospects brought by recommendations (total)."),
    Outcome("fatigue", "fatigue", FINAL, "fatigue"),
    Outcome("promoter_share", "promoter_share", FINAL, "promoters"),
    Outcome("detractor_share", "detractor_share", FINAL, "detractors"),
    Outcome("sales", "our_sales", SUM, "sales", doc="Vehicles we sold (total)."),
    Outcome("cost", "cum_cost", FINAL, "cost"),
    Outcome("total_profit", "cum_profit", FINAL, "total profit"),
)
OUTCOME = {o.name: o for o in OUTCOMES}
BOUNDED_UNITS = ("share", "0-1")  # metrics that live in [0, 1]


# --- formatting by unit ---------------------------------------------------------------------
def money(x: float, sign: bool = False, compact: bool = False) -> str:
    """Dollars: ``-12345.6`` -> ``-$12,346``; ``compact`` -> ``-$12.3k`` (axis ticks)."""
    if x is None or x != x:
        return "n/a"
    s = "-" if x < 0 else ("+" if sign and x > 0 else "")
    if compact:
        for scale, suffix in ((1e6, "M"), (1e3, "k")):
            if abs(x) >= scale:
                return f"{s}${abs(x) / scale:.3g}{suffix}"
        return f"{s}${abs(x):.3g}"
    return f"{s}${abs(x):,.0f}"


def show(x: float, unit: str, difference: bool = False) -> str:
    """A value as text by its unit; ``difference`` signs it (and shows shares in points)."""
    if x is None or x != x:
        return "n/a"
    if unit == "$":
        return money(x, difference)
    if unit == "share":
        return f"{x * 100:+.1f} points" if difference else f"{x:.1%}"
    if unit == "0-1":
        return f"{x:+.3f}" if difference else f"{x:.3f}"
    if unit == "$/$":
        return f"{x:+.2f}" if difference else f"{x:.2f}"
    return f"{x:+,.0f}" if difference else f"{x:,.0f}"  # counts and weeks
