"""Customer state: every per-customer array declared in one place, with unit and range.

Customers are stored as a structure of arrays so that one weekly step updates all of
them at once. ``Population`` holds the arrays; ``FIELDS`` documents them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

US, RIVAL = 0, 1  # dealer ids, also the values of ``owner``
N_CATEGORIES = 8  # offer categories that interests refer to (new car, used car, EV, ...)


class Stage(IntEnum):
    """Place in the relationship lifecycle, seen from our dealership."""

    PROSPECT = 0  # not our owner, not (yet) in the market for a car
    CONSIDERATION = 1  # known to us and in the market, or engaging with us
    PURCHASE = 2  # bought a car from us this week
    CONNECTION = 3  # our owner after the sale, equity below the loyalty threshold
    LOYALTY = 4  # our owner with high relationship equity
    LAPSED = 5  # was our owner, defected or bought from the rival


CHANNELS = ("email", "mail", "phone", "event")  # how we reach a customer (Policy.channel indexes it)
CONTENTS = ("sales_offer", "value_content", "service_reminder", "event_invite")  # what a contact carries

STAGES = tuple(s.name.lower() for s in Stage)
TIERS = ("light", "heavy")


@dataclass(frozen=True)
class Field:
    """One per-customer state array."""

    name: str
    dtype: type
    unit: str
    lo: float
    hi: float
    doc: str


FIELDS: tuple[Field, ...] = (
    Field("trust", np.float32, "0-1", 0, 1, "Belief that we act in the customer's interest."),
    Field("affinity", np.float32, "0-1", 0, 1, "Relationship equity: liking and attachment to us."),
    Field("fatigue", np.float32, "0-1", 0, 1, "Irritation from contacts; wears off week by week."),
    Field("reciprocity", np.float32, "contacts", -50, 50, "Value received minus asks made (decays)."),
    Field("stage", np.int8, "Stage", 0, 5, "Lifecycle stage, see Stage."),
    Field("tier", np.int8, "0 light, 1 heavy", 0, 1, "Value tier (heavy = top spenders)."),
    Field("spend", np.float32, "multiplier", 0, 1e3, "Pareto spend multiplier on vehicle and service margins."),
    Field("interests", np.uint8, "bitmask", 0, 255, "Offer categories relevant to the customer."),
    Field("vehicle_age", np.int16, "weeks", 0, 32767, "Age of the current car."),
    Field("cycle", np.int16, "weeks", 1, 32767, "Customer's own replacement cycle."),
    Field("service_due", np.int16, "weeks", -32768, 32767, "Weeks until the next service is due."),
    Field("owner", np.int8, "dealer id", 0, 1, "Dealer that sold the current car (0 us, 1 rival)."),
    Field("known", np.bool_, "", 0, 1, "In our CRM, so that we can contact them."),
    Field("opted_in", np.bool_, "", 0, 1, "Accepts marketing contact (false after unsubscribing)."),
    Field("ever_ours", np.bool_, "", 0, 1, "Has owned a car bought from us during the run or at its start."),
    Field("serviced_with_us", np.bool_, "", 0, 1, "Last service visit was at our dealership."),
    Field("reminded", np.bool_, "", 0, 1, "Read a timely service reminder from us since the last service."),
    Field("margin", np.float64, "$", 0, np.inf, "Cumulative gross margin earned from the customer."),
    Field("cost", np.float64, "$", 0, np.inf, "Cumulative marketing cost spent on the customer."),
    Field("contacts", np.int32, "contacts", 0, 2**31 - 1, "Contacts received from us."),
    Field("purchases", np.int16, "vehicles", 0, 32767, "Vehicles bought from us during the run."),
    Field("service_visits", np.int16, "visits", 0, 32767, "Service visits at our dealership during the run."),
)


class Population:
    """The customers of one market, as arrays of length ``n`` named after ``FIELDS``.

    Besides the arrays it holds the social network (``ties``, shape ``(n, k)``) and the
    cumulative repurchase counters that rates are computed from.
    """

    def __init__(self, n: int):
        self.n = n
        for f in FIELDS:
            setattr(self, f.name, np.zeros(n, dtype=f.dtype))
        self.ties = np.zeros((n, 0), dtype=np.int32)
        self.replacements_by_our_owners = 0  # purchases by customers whose active relationship was ours
        self.repurchases_with_us = 0  # ... of which bought from us again
        self.service_by_our_owners = 0
        self.service_with_us_by_our_owners = 0

    def copy(self) -> "Population":
        """An independent copy (the holdout starts as a copy of the treated market)."""
        other = Population.__new__(Population)
        for key, value in self.__dict__.items():
            setattr(other, key, value.copy() if isinstance(value, np.ndarray) else value)
        return other

    def nbytes(self) -> int:
        """Bytes held by the per-customer arrays (the network's edges excluded)."""
        return sum(getattr(self, f.name).nbytes for f in FIELDS)

    def check(self) -> None:
        """Raise AssertionError if any array left its declared range or length."""
        for f in FIELDS:
            a = getattr(self, f.name)
            assert a.shape == (self.n,), f"{f.name} has shape {a.shape}, expected ({self.n},)"
            if a.dtype.kind == "f":
                assert np.isfinite(a).all() or f.hi == np.inf, f"{f.name} has non-finite values"
            lo, hi = a.min(), a.max()
            assert f.lo <= lo and hi <= f.hi, f"{f.name} range [{lo}, {hi}] outside [{f.lo}, {f.hi}]"
