"""Agents: dealerships as Mesa agents, the sampled customers as Mesa agents, and a
read-only view of one customer.

Customers live as arrays in ``Population`` (see ``state.py``) for speed;
``CustomerView`` shows one of them as an object, with its journey when it was sampled;
``SampledCustomer`` makes each sampled customer a Mesa agent whose attributes read the
arrays, so that Mesa's DataCollector (and ``mesa.batch_run``) record them week by week.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mesa

from .state import STAGES, TIERS


class Dealer(mesa.Agent):
    """A dealership with a contact strategy, channel costs, a weekly budget and a ledger.

    Attributes:
        name: "us" or "rival".
        strategy: Name of the contact strategy.
        channel_costs: Cost per contact by channel ($).
        budget: Weekly marketing budget ($, inf for none).
        ledger: One dict per week: sales, service visits, revenue, cost, profit.
    """

    def __init__(self, model: mesa.Model, name: str, strategy: str, channel_costs: dict, budget: float):
        super().__init__(model)
        self.name = name
        self.strategy = strategy
        self.channel_costs = channel_costs
        self.budget = budget
        self.ledger: list[dict] = []

    def book(self, sales: int, service_visits: int, revenue: float, cost: float) -> None:
        """Record one week's business."""
        self.ledger.append({"week": self.model.week, "sales": sales, "service_visits": service_visits,
                            "revenue": revenue, "cost": cost, "profit": revenue - cost})


class SampledCustomer(mesa.Agent):
    """One of the customers whose journey is recorded, as a Mesa agent (read-only)."""

    REPORTED = ("customer", "stage", "tier", "trust", "affinity", "fatigue", "contacts", "purchases")

    def __init__(self, model: mesa.Model, customer: int):
        super().__init__(model)
        self.customer = int(customer)

    def _value(self, name: str):
        return getattr(self.model.pop, name)[self.customer].item()

    @property
    def stage(self) -> str:
        return STAGES[self._value("stage")]

    @property
    def tier(self) -> str:
        return TIERS[self._value("tier")]

    trust = property(lambda self: self._value("trust"))
    affinity = property(lambda self: self._value("affinity"))
    fatigue = property(lambda self: self._value("fatigue"))
    contacts = property(lambda self: self._value("contacts"))
    purchases = property(lambda self: self._value("purchases"))


@dataclass
class CustomerView:
    """One customer's state at the current week, and journey if the customer is sampled.

    ``journey`` lists ``(week, event)`` pairs: contacts received and what the customer did.
    """

    id: int
    state: dict
    journey: list[tuple[int, str]] | None = field(default=None)

    @property
    def stage(self) -> str:
        return STAGES[self.state["stage"]]

    @property
    def tier(self) -> str:
        return TIERS[self.state["tier"]]
