"""Measurable quantities, declared once: what a published figure can be compared with.

Each ``Quantity`` names a number computed from one simulated run (``Run``: the run's event
log of ``sim.events``, the customers' state at the start, the customers table at the end),
with its unit, the condition it is measured under and the conditions a target may set
(``age_years`` for service retention). Targets (``sim.targets``) name a quantity;
``rapport validate`` (``sim.validation``) measures them.

Every quantity is measured in the market run under the validation's strategy (default
``reciprocal_value``, which contacts by email): the contact rates are per email of that
strategy, the market quantities are those of a dealer that practises it.

The car's age and its selling dealer at an event are not in the log, so they are
reconstructed: a car's age grows by one each week from its age at the start and a purchase
resets it (the kernel's ``aging`` and ``sale``); the selling dealer is the one of the
customer's last purchase, or the starting owner. Nothing is added to the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .state import US

WEEKS_PER_YEAR = 52
MONTHS_PER_WEEK = 12 / 52


@dataclass(frozen=True)
class Run:
    """What the quantities of one run are computed from."""

    log: pd.DataFrame  # the event log of the market run under the strategy (``sim.events``, no holdout rows)
    start_owner: np.ndarray  # per customer, the dealer that sold the car owned at the start (0 us, 1 rival)
    start_age: np.ndarray  # per customer, the age in weeks of that car at the start (week 0)
    customers: pd.DataFrame  # ``RelationshipModel.customers_table()`` at the end
    weeks: int


@dataclass(frozen=True)
class Quantity:
    """A number measured on one run; ``conditions`` names the keys a target may (or must) give."""

    name: str
    unit: str  # "share" (0-1), "months" or "visits/car/year"
    doc: str
    measured: str  # the run condition, for the reader
    compute: Callable[[Run, dict], float]
    conditions: tuple[str, ...] = ()
    required: tuple[str, ...] = ()


# --- contacts -------------------------------------------------------------------------------
def _per_email(event: str) -> Callable[[Run, dict], float]:
    """Events of kind ``event`` in a week the customer got one of our emails, per email sent.

    A customer gets at most one contact a week, and opens, visits and unsubscribes only
    follow a contact of that week, so such an event is the email's."""
    def compute(run: Run, conditions: dict) -> float:
        log = run.log
        emails = log[(log["event"] == "contact") & (log["channel"] == "email")]
        if emails.empty:
            return float("nan")
        rows = log[log["event"] == event]
        hit = _week_keys(rows, run.weeks)
        return float(np.isin(hit, _week_keys(emails, run.weeks)).sum() / len(emails))
    return compute


def _week_keys(rows: pd.DataFrame, weeks: int) -> np.ndarray:
    return rows["customer"].to_numpy(np.int64) * (weeks + 1) + rows["week"].to_numpy(np.int64)


# --- cars -----------------------------------------------------------------------------------
def car_at_events(run: Run, event: str) -> pd.DataFrame:
    """Rows of ``event`` (purchase or service) with the car concerned: its ``age`` (weeks) and
    ``seller`` (0 us, 1 rival) at that week. For a purchase it is the car being replaced.

    A newcomer (``turnover``) keeps the slot's car but bought it elsewhere: from then on its
    seller is the rival's side until the next purchase."""
    log = run.log
    rows = log[log["event"].isin(["newcomer", "purchase", event])][["customer", "week", "event", "dealer"]]
    # In a week: the newcomer arrives first, a purchase resets the age before any service (the kernel's order).
    order = np.select([rows["event"] == "newcomer", rows["event"] == "purchase"], [0, 1], 2)
    rows = rows.assign(order=order).sort_values(["customer", "week", "order"], kind="stable")
    kind = rows["order"].to_numpy()
    week = rows["week"].to_numpy(np.int64)
    who = rows["customer"].to_numpy(np.int64)
    seller = np.where(kind == 0, 1 - US, np.where(rows["dealer"].to_numpy() == "us", US, 1 - US))
    group = pd.Series(who)
    # the last purchase (for the age) and the last change of seller (purchase or newcomer) strictly before each row
    prev_week = _previous(pd.Series(np.where(kind == 1, week, -1)), group)
    prev_seller = _previous(pd.Series(np.where(kind <= 1, seller, -1)), group)
    out = pd.DataFrame({
        "customer": who, "week": week, "dealer": rows["dealer"].to_numpy(),
        "age": np.where(np.isnan(prev_week), run.start_age[who] + week, week - np.nan_to_num(prev_week)),
        "seller": np.where(np.isnan(prev_seller), run.start_owner[who], np.nan_to_num(prev_seller))})
    out = out.astype({"age": np.int64, "seller": np.int64})
    return out[(rows["event"] == event).to_numpy()].reset_index(drop=True)


def _previous(values: pd.Series, group: pd.Series) -> np.ndarray:
    """Per row, the last value >= 0 strictly before it within its group (NaN if none)."""
    return values.replace(-1, np.nan).groupby(group).shift(1).groupby(group).ffill().to_numpy()


def same_dealer_repurchase(run: Run, conditions: dict) -> float:
    """Share of replacements of a car we sold that were bought from us again."""
    cars = car_at_events(run, "purchase")
    ours = cars[cars["seller"] == US]
    return float((ours["dealer"] == "us").mean()) if len(ours) else float("nan")


def ownership_months(run: Run, conditions: dict) -> float:
    """Mean age of the cars replaced during the run, in months (either dealer)."""
    cars = car_at_events(run, "purchase")
    return float(cars["age"].mean() * MONTHS_PER_WEEK) if len(cars) else float("nan")


def service_retention(run: Run, conditions: dict) -> float:
    """Share of the service visits of cars we sold, aged ``age_years`` = [lo, hi) years, made with us."""
    lo, hi = conditions["age_years"]
    cars = car_at_events(run, "service")
    sel = cars[(cars["seller"] == US) & (cars["age"] >= lo * WEEKS_PER_YEAR) & (cars["age"] < hi * WEEKS_PER_YEAR)]
    return float((sel["dealer"] == "us").mean()) if len(sel) else float("nan")


def service_visits_per_year(run: Run, conditions: dict) -> float:
    """Service visits (with us or elsewhere) per car and year; every customer owns one car."""
    visits = int((run.log["event"] == "service").sum())
    return visits / (len(run.start_owner) * run.weeks / WEEKS_PER_YEAR)


# --- customers ------------------------------------------------------------------------------
def top20_margin_share(run: Run, conditions: dict) -> float:
    """Share of the margin earned during the run that came from the top 20% of the customers who
    brought any (vehicles and service)."""
    margin = np.sort(run.customers["margin"].to_numpy(float))[::-1]
    margin = margin[margin > 0]
    if margin.size == 0:
        return float("nan")
    top = int(np.ceil(0.2 * margin.size))
    return float(margin[:top].sum() / margin.sum())


UNDER_STRATEGY = "the market run under the validation's strategy"
EMAILS = "emails of the validation's strategy (at most one contact per customer and week)"

QUANTITIES: tuple[Quantity, ...] = (
    Quantity("open_rate_email", "share", "Opens per email sent.", EMAILS, _per_email("open")),
    Quantity("visits_per_email", "share", "Website visits (clicks) per email sent.", EMAILS, _per_email("visit")),
    Quantity("unsubscribes_per_email", "share", "Unsubscribes per email sent.", EMAILS, _per_email("unsubscribe")),
    Quantity("same_dealer_repurchase", "share", "Replacements of cars we sold that were bought from us again "
             "(all owners of our cars, lapsed or not).", UNDER_STRATEGY, same_dealer_repurchase),
    Quantity("ownership_months", "months", "Mean age of the cars replaced during the run (realised replacement "
             "cycle).", UNDER_STRATEGY, ownership_months),
    Quantity("service_retention", "share", "Service visits of cars we sold made with us, for cars aged "
             "age_years = [lo, hi) years.", UNDER_STRATEGY, service_retention, ("age_years",), ("age_years",)),
    Quantity("service_visits_per_year", "visits/car/year", "Service visits (any dealer or shop) per car and year.",
             UNDER_STRATEGY, service_visits_per_year),
    Quantity("top20_margin_share", "share", "Share of the run's margin from the top 20% of the customers who "
             "brought any.", UNDER_STRATEGY, top20_margin_share),
)
QUANTITY = {q.name: q for q in QUANTITIES}
