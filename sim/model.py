"""RelationshipModel: a dealer's market, one step per week."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import mesa
import numpy as np
import pandas as pd

from .agents import CustomerView, Dealer, SampledCustomer
from .dealership import CustomerTable, load_customers, place_customers
from .events import EventLog
from .start import starting_market
from .metrics import METRICS
from .params import CHANNELS, ParameterError, validate
from .rules import E, Coefficients, Draws, channel_of, content_of, step, step_markets
from .state import FIELDS, STAGES, TIERS
from .strategies import compile_policy, load_strategy
from .switch import CurrentPractice, WarmedMarket, begin

NO_CONTACT = compile_policy({"name": "no_contact", "default": {"frequency": 0.0}})


@dataclass(frozen=True)
class HoldoutRun:
    """A recorded no-contact run: what the holdout of a market and seed did, week by week.

    Under common random numbers the holdout of seed r is the same for every arm that shares
    the market's parameters, so an experiment records it once (``record_holdout``) and
    every arm replays it (``RelationshipModel(holdout=run)``) instead of simulating it again.
    """

    customers: int
    weeks: tuple[dict, ...]  # the rules' weekly counts and money (``model.last``) of each week
    net_value: np.ndarray  # per customer, margin minus cost at the end of the recorded weeks
    events: pd.DataFrame | None = None  # the holdout's event log (``sim.events``), if recorded with events=True
    start: WarmedMarket | None = None  # the warm-up under current practice it started from (``sim.switch``)


def record_holdout(customers: int, weeks: int, *, rng, journeys: int = 0, events: bool = False,
                   start: CurrentPractice | WarmedMarket | None = None, **params) -> HoldoutRun:
    """Simulate the no-contact holdout of a market alone, for ``weeks`` weeks (after the
    warm-up under current practice ``start``, which the run keeps for the arms to share)."""
    m = RelationshipModel(customers, NO_CONTACT, rng=rng, holdout=False, journeys=journeys, events=events,
                          start=start, **params)
    recorded = []
    for _ in range(weeks):
        m.step()
        recorded.append(m.last)
    log = m.event_log.table().assign(holdout=True) if events else None
    return HoldoutRun(customers, tuple(recorded), m.pop.margin - m.pop.cost, log, m.start)


class RelationshipModel(mesa.Model):
    """Customers of a car dealership reacting to its contacts, beside a rival dealer.

    Args:
        customers: Number of customers in the market.
        strategy: Built-in strategy name, path to a strategy YAML file, or a mapping.
        rng: Seed or numpy Generator (Mesa's ``rng``); the same seed gives the same run.
        holdout: Also simulate the same market without contact, under the same random
            numbers, so that incremental profit and ROI are known every week; or a
            ``HoldoutRun`` recorded for this market and seed, replayed instead.
        journeys: How many randomly sampled customers have their journey recorded (and
            are Mesa agents, recorded by the DataCollector).
        horizon: If given, ``running`` becomes false after this many weeks (for
            ``mesa.batch_run`` and Mesa's visualisation).
        events: Keep the ground-truth event log of every customer (``sim.events``), read
            with ``event_log.table()``; it only observes, and costs nothing when off.
        customer_file: Our customers from a customer file (a path, a built-in name or a
            loaded ``CustomerTable``, see ``sim.dealership``): they replace the market's
            owners and known prospects; ``customers`` must exceed their number
            (``sim.dealership.customers_for`` gives the area's usual size).
        start: Current practice (``sim.switch.CurrentPractice``): the market first runs
            under it, counters then reset, so week 1 is the first week after the switch;
            or a ``WarmedMarket`` recorded for this market and seed, started from instead.
        **params: Any parameter of ``sim.params.PARAMS``.

    Attributes:
        datacollector: Mesa's DataCollector: the weekly metrics as model reporters, and
            the sampled customers' state as agent reporters.

    Example:
        >>> m = RelationshipModel(customers=5000, strategy="reciprocal_value", rng=42)
        >>> m.run(weeks=260).metrics().tail(1)
    """

    def __init__(self, customers: int = 5000, strategy="reciprocal_value", *, rng=None,
                 holdout: bool | HoldoutRun = True, journeys: int = 20, horizon: int | None = None,
                 events: bool = False, customer_file: str | CustomerTable | None = None,
                 start: CurrentPractice | WarmedMarket | None = None, **params):
        if not (rng is None or isinstance(rng, (Integral, np.random.Generator))) or isinstance(rng, bool):
            raise ParameterError(f"rng={rng!r}: expected a whole number seed, a numpy Generator or None")
        if isinstance(rng, Integral) and rng < 0:
            raise ParameterError(f"rng={rng!r}: a seed must be >= 0")
        if not isinstance(holdout, (bool, np.bool_, HoldoutRun)):
            raise ParameterError(f"holdout={holdout!r}: expected true or false (or a recorded HoldoutRun)")
        if isinstance(holdout, HoldoutRun) and holdout.customers != customers:
            raise ParameterError(f"holdout: recorded for {holdout.customers} customers, not {customers}")
        if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, Integral) or horizon < 0):
            raise ParameterError(f"horizon={horizon!r}: expected a whole number of weeks >= 0, or None")
        if isinstance(journeys, bool) or not isinstance(journeys, Integral) or journeys < 0:
            raise ParameterError(f"journeys={journeys!r}: expected a whole number >= 0")
        if not isinstance(events, (bool, np.bool_)):
            raise ParameterError(f"events={events!r}: expected true or false")
        self.params = validate({"customers": customers, **params})
        table = customer_file if isinstance(customer_file, CustomerTable) else (
            load_customers(customer_file) if customer_file else None)
        self.policy = load_strategy(strategy)
        super().__init__(rng=int(rng) if isinstance(rng, Integral) else rng)  # Mesa seeds `random` too: no numpy ints
        p = self.params
        self.week = 0
        self.coefficients = Coefficients(p)
        pop = starting_market(p, self.rng)
        # the customer file's row i is customer file_ids[i]
        self.file_ids = place_customers(pop, table, p, self.rng) if table is not None else None
        self.start = begin(pop, start, self.coefficients, self.rng)  # the warm-up's stream comes before the run's
        self.pop = self.start.population.copy() if self.start is not None else pop
        self.replay = holdout if isinstance(holdout, HoldoutRun) else None
        self.holdout = self.pop.copy() if holdout is True or holdout is np.True_ else None
        self.horizon = horizon
        self.journey_ids = np.sort(self.rng.choice(p["customers"], min(journeys, p["customers"]), replace=False))
        self.journeys: dict[int, list[tuple[int, str]]] = {int(i): [] for i in self.journey_ids}
        self.draws = Draws(p["customers"], self.rng)
        self.events = np.zeros(p["customers"], np.uint32)  # this week's events per customer (rules.EVENTS bits)
        self.holdout_events = np.zeros(p["customers"], np.uint32) if self.holdout is not None else None
        self.opted_in_at_start = int(np.count_nonzero(self.pop.opted_in))
        costs = {c: p[f"cost_{c}"] for c in CHANNELS}
        self.dealer = Dealer(self, "us", self.policy.name, costs, p["budget"])
        self.rival = Dealer(self, "rival", "rival offers", {c: p["rival_cost_per_contact"] for c in CHANNELS}, math.inf)
        self.totals = dict.fromkeys(("profit", "cost", "sales", "holdout_profit", "holdout_sales",
                                    "unsubscribes", "opt_ins"), 0.0)
        self.last: dict = {}
        self.last_holdout: dict = {}
        self._rows: list[list[float]] = []
        for i in self.journey_ids:
            SampledCustomer(self, i)
        self._collector = WeeklyCollector(self)  # collects even where a subclass shows another datacollector
        self.datacollector = self._collector
        self.running = horizon is None or horizon > 0
        self.event_log = EventLog(self) if events else None

    # --- running -------------------------------------------------------------------
    def step(self) -> None:
        """Advance one week: draw the week's random numbers, apply the rules, record."""
        self.week += 1
        self.draws.fill()
        old_stages = self.pop.stage[self.journey_ids]
        if self.holdout is not None:  # the market and its twin in one pass
            self.last, self.last_holdout = step_markets(
                [(self.pop, self.policy, self.events), (self.holdout, NO_CONTACT, self.holdout_events)],
                self.draws, self.coefficients)
        else:
            self.last = step(self.pop, self.policy, self.draws, self.coefficients, self.events)
        if self.replay is not None:
            if self.week > len(self.replay.weeks):
                raise ParameterError(f"holdout: the recorded holdout has {len(self.replay.weeks)} weeks; "
                                     f"week {self.week} cannot be compared")
            self.last_holdout = self.replay.weeks[self.week - 1]
        if self.holdout is not None or self.replay is not None:
            h = self.last_holdout
            self.totals["holdout_profit"] += h["revenue"] - h["cost"]
            self.totals["holdout_sales"] += h["our_sales"]
        w = self.last
        self.totals["profit"] += w["revenue"] - w["cost"]
        self.totals["cost"] += w["cost"]
        self.totals["sales"] += w["our_sales"]
        self.totals["unsubscribes"] += w["unsubscribes"]
        self.totals["opt_ins"] += w["opt_ins"]
        self.dealer.book(w["our_sales"], w["service_visits"], w["revenue"], w["cost"])
        self.rival.book(w["rival_sales"], w["rival_service_visits"], w["rival_revenue"],
                        w["rival_contacts"] * self.params["rival_cost_per_contact"])
        self._record_journeys(old_stages)
        if self.event_log is not None:
            self.event_log.after(self)
        self._rows.append([self.week] + [metric.compute(self, w) for metric in METRICS])
        self._collector.collect(self)
        if self.horizon is not None and self.week >= self.horizon:
            self.running = False

    def run(self, weeks: int) -> "RelationshipModel":
        """Run ``weeks`` more weeks; returns the model so calls can be chained."""
        if isinstance(weeks, bool) or not isinstance(weeks, Integral) or weeks < 0:
            raise ParameterError(f"weeks={weeks!r}: expected a whole number >= 0")
        for _ in range(weeks):
            self.step()
        return self

    # --- results -------------------------------------------------------------------
    def metrics(self) -> pd.DataFrame:
        """The weekly metrics table, one row per week (see ``sim.metrics.METRICS``)."""
        return pd.DataFrame(self._rows, columns=["week"] + [m.name for m in METRICS])

    def customers_table(self) -> pd.DataFrame:
        """One row per customer: state, cumulative margin, cost to serve and net value."""
        df = pd.DataFrame({f.name: getattr(self.pop, f.name) for f in FIELDS})
        df.insert(0, "customer", np.arange(self.pop.n))
        df["stage"] = pd.Categorical.from_codes(df["stage"], STAGES)
        df["tier"] = pd.Categorical.from_codes(df["tier"], TIERS)
        df["net_value"] = df["margin"] - df["cost"]
        return df

    def holdout_net_value(self) -> np.ndarray | None:
        """Per customer, the holdout's margin minus cost now (None without a holdout)."""
        if self.holdout is not None:
            return self.holdout.margin - self.holdout.cost
        if self.replay is not None and self.week == len(self.replay.weeks):
            return self.replay.net_value
        return None

    def customer(self, i: int) -> CustomerView:
        """One customer as an object: its state now and, if sampled, its journey."""
        if isinstance(i, bool) or not isinstance(i, Integral) or not 0 <= i < self.pop.n:
            raise ParameterError(f"customer={i!r}: expected an id in [0, {self.pop.n - 1}]")
        state = {f.name: getattr(self.pop, f.name)[i].item() for f in FIELDS}
        return CustomerView(int(i), state, self.journeys.get(int(i)))

    def _record_journeys(self, old_stages: np.ndarray) -> None:
        """Append this week's events of the sampled customers to their journeys."""
        for i, old in zip(self.journey_ids, old_stages):
            e, events, week = int(self.events[i]), self.journeys[int(i)], self.week
            if e & E.contacted:
                fit = "relevant" if e & E.relevant else "irrelevant"
                events.append((week, f"received {content_of(e)} by {channel_of(e)} ({fit})"))
            for bit, text in JOURNEY_TEXT:
                if e & bit:
                    events.append((week, text))
            if e & E.serviced and not e & E.serviced_us:
                events.append((week, "had the car serviced elsewhere"))
            new = self.pop.stage[i]
            if old != new:
                events.append((week, f"stage {STAGES[old]} -> {STAGES[new]}"))


JOURNEY_TEXT = ((E.moved, "moved away: a newcomer took the place"), (E.opened, "opened it"), (E.visited, "visited the website"), (E.attended, "attended an event"),
                (E.unsubscribed, "unsubscribed"), (E.bought_us, "bought a car from us"),
                (E.bought_rival, "bought a car from the rival"), (E.serviced_us, "had the car serviced with us"),
                (E.heard_praise, "heard a recommendation of us"), (E.heard_warning, "heard a warning about us"),
                (E.referred, "was referred to us"))


class WeeklyCollector(mesa.DataCollector):
    """Mesa's DataCollector for the model: the weekly metrics (``sim.metrics.METRICS``) as
    model reporters and the sampled customers' state as agent reporters.

    The metrics are not copied week by week: the model records them anyway, so
    ``model_vars`` reads them from the model's rows when asked (a run is not slowed down).
    """

    def __init__(self, model: RelationshipModel):
        self._model = model
        super().__init__(model_reporters={m.name: m.name for m in METRICS},
                         agenttype_reporters={SampledCustomer: {k: k for k in SampledCustomer.REPORTED}})
        self._validated = True  # the reporters name columns of the model's rows, not attributes

    @property
    def model_vars(self) -> dict[str, list]:
        columns = list(zip(*self._model._rows)) if self._model._rows else [()] * (len(METRICS) + 1)
        return {m.name: list(col) for m, col in zip(METRICS, columns[1:])}

    @model_vars.setter
    def model_vars(self, _value) -> None:
        """Mesa's constructor sets it; the rows are the model's."""

    def collect(self, model: RelationshipModel) -> None:
        self._collection_steps.append(model.time)
        if model.journey_ids.size:
            self._agenttype_records[model.time] = {
                SampledCustomer: [(model.time, a.unique_id, *(getattr(a, k) for k in SampledCustomer.REPORTED))
                                  for a in model.agents_by_type[SampledCustomer]]}
