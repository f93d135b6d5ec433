"""The ground-truth event log: every customer's week as tidy rows, for other tools to be scored on.

An ``EventLog`` watches a ``RelationshipModel`` (``RelationshipModel(events=True)``): after
each week it keeps the event bits the kernel wrote for every customer (``E`` of
``sim.mechanisms.records``) and their stages, and turns them into rows

    holdout, customer, week, event, dealer, channel, content, relevant, stage, amount

one per event: ``contact`` (our contact: channel, content, whether it fitted the customer;
amount = its cost), ``open``, ``visit``, ``event_attendance`` (amount = the attendee's cost),
``unsubscribe``, ``purchase`` and ``service`` (with ``dealer`` us or rival; amount = the
dealer's margin), ``referral`` (brought into our CRM by a recommendation),
``heard_praise`` / ``heard_warning`` (word of mouth reached the customer) and
``stage_change`` (``stage`` = the new stage). Holdout rows (``holdout`` true) are the same
customers under no contact, with the same random numbers: the difference between the two
is the true incremental effect of the strategy, customer by customer.

Amounts are those the kernel adds to the customer's ``margin`` and ``cost``, so per-customer
totals of the log equal ``customers_table()`` (a test checks it). The log only reads: a run
with it gives the same numbers as without, and a run without it does no work for it.

``write_events`` writes a run's rows as one partition of a Parquet dataset,
``<folder>/arm=<arm>/replication=<r>/part-0.parquet`` (``partition``); ``read_events`` reads the dataset
back (with ``arm`` and ``replication`` as columns).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .mechanisms.records import CHANNEL_BITS, CHANNEL_SHIFT, CONTENT_BITS, E
from .mechanisms.shared import VALUE
from .params import ParameterError
from .state import CHANNELS, CONTENTS, STAGES

if TYPE_CHECKING:
    from .model import RelationshipModel

US, RIVAL, NONE = "us", "rival", ""
# Each logged event: (name, bit set in the event word, bit that must be clear, dealer).
FLAGS = (
    ("open", E.opened, 0, NONE),
    ("visit", E.visited, 0, NONE),
    ("event_attendance", E.attended, 0, NONE),
    ("unsubscribe", E.unsubscribed, 0, NONE),
    ("purchase", E.bought_us, 0, US),
    ("purchase", E.bought_rival, 0, RIVAL),
    ("service", E.serviced_us, 0, US),
    ("service", E.serviced, E.serviced_us, RIVAL),
    ("referral", E.referred, 0, NONE),
    ("heard_praise", E.heard_praise, 0, NONE),
    ("heard_warning", E.heard_warning, 0, NONE),
    ("newcomer", E.moved, 0, NONE),  # the customer moved away and a newcomer took the place (``turnover``)
)
EVENT_NAMES = ("contact", *dict.fromkeys(name for name, *_ in FLAGS), "stage_change")
COLUMNS = ("holdout", "customer", "week", "event", "dealer", "channel", "content", "relevant", "stage", "amount")
PARTITIONS = ("arm", "replication")


class EventLog:
    """Collects the rows of one model's run (see the module docstring).

    Each week only copies the event words and stages (``after``); they are turned into rows
    for many weeks at once (``FLUSH`` customer-weeks), with array operations over them.
    """

    FLUSH = 1 << 21  # customer-weeks kept before they are turned into rows

    def __init__(self, model: "RelationshipModel"):
        p = model.params
        spend = model.pop.spend.astype(np.float64)
        self.vehicle = p["vehicle_margin"] * spend  # what the kernel adds to margin for a car, per customer
        self.service = p["service_margin"] * spend
        self.channel_cost = np.array([p[f"cost_{c}"] for c in CHANNELS], np.float64)
        self.value_cost = p["cost_value_content"]
        self.attendee_cost = p["cost_attendee"]
        self.chunks: list[dict[str, np.ndarray]] = []
        markets = {False: model.pop, True: model.holdout}
        # per market (holdout flag): weeks, event words and stages kept, and the stages before them
        self.kept = {h: ([], [], [], pop.stage.copy()) for h, pop in markets.items() if pop is not None}

    def after(self, model: "RelationshipModel") -> None:
        """Keep the week's event words and stages (for the holdout too when it runs in lockstep)."""
        self._keep(False, model.week, model.events, model.pop.stage)
        if model.holdout is not None:
            self._keep(True, model.week, model.holdout_events, model.holdout.stage)

    def _keep(self, holdout: bool, week: int, words: np.ndarray, stage: np.ndarray) -> None:
        weeks, kept_words, stages, _ = self.kept[holdout]
        weeks.append(week)
        kept_words.append(words.copy())
        stages.append(stage.copy())
        if len(weeks) * words.size >= self.FLUSH:
            self._flush(holdout)

    def _flush(self, holdout: bool) -> None:
        """Turn the kept weeks of one market into rows."""
        weeks, kept_words, stages, before = self.kept[holdout]
        if not weeks:
            return
        week = np.asarray(weeks, np.int16)
        words, stage = np.stack(kept_words), np.stack(stages)  # (weeks, customers)
        previous = np.vstack([before[None, :], stage[:-1]])
        self.kept[holdout] = ([], [], [], stage[-1].copy())
        rows: list[tuple] = []  # (event, dealer, (week index, customer), channel, content, relevant, stage, amount)
        at = np.nonzero(words & E.contacted)
        if at[0].size:
            w = words[at]
            content = (w & ((1 << CONTENT_BITS) - 1)).astype(np.int8)
            channel = ((w >> CHANNEL_SHIFT) & ((1 << CHANNEL_BITS) - 1)).astype(np.int8)
            cost = self.channel_cost[channel] + np.where(content == VALUE, self.value_cost, 0.0)
            rows.append(("contact", NONE, at, channel, content, (w & E.relevant) != 0, None, cost))
        for name, bit, clear, dealer in FLAGS:
            at = np.nonzero((words & bit) != 0 if not clear else (words & (bit | clear)) == bit)
            if at[0].size:
                rows.append((name, dealer, at, None, None, None, None, self._amount(name, at[1])))
        at = np.nonzero(previous != stage)
        if at[0].size:
            rows.append(("stage_change", NONE, at, None, None, None, stage[at], None))
        for event, dealer, (wi, who), channel, content, relevant, new_stage, amount in rows:
            n = who.size
            self.chunks.append({
                "holdout": np.full(n, holdout), "customer": who.astype(np.int32), "week": week[wi],
                "event": np.full(n, EVENT_NAMES.index(event), np.int8),
                "dealer": np.full(n, (NONE, US, RIVAL).index(dealer), np.int8),
                "channel": channel if channel is not None else np.full(n, -1, np.int8),
                "content": content if content is not None else np.full(n, -1, np.int8),
                "relevant": relevant if relevant is not None else np.zeros(n, bool),
                "stage": new_stage.astype(np.int8) if new_stage is not None else np.full(n, -1, np.int8),
                "amount": amount if amount is not None else np.zeros(n)})

    def _amount(self, name: str, who: np.ndarray) -> np.ndarray | None:
        if name == "purchase":
            return self.vehicle[who]
        if name == "service":
            return self.service[who]
        if name == "event_attendance":
            return np.full(who.size, self.attendee_cost)
        return None

    def table(self) -> pd.DataFrame:
        """Every row so far, sorted by holdout, customer and week; codes as categories."""
        for holdout in self.kept:
            self._flush(holdout)
        if not self.chunks:
            return empty_table()
        cols = {c: np.concatenate([ch[c] for ch in self.chunks]) for c in COLUMNS}
        order = np.lexsort((cols["week"], cols["customer"], cols["holdout"]))
        df = pd.DataFrame({c: v[order] for c, v in cols.items()})
        return _categories(df)


def _categories(df: pd.DataFrame) -> pd.DataFrame:
    df["event"] = pd.Categorical.from_codes(df["event"], EVENT_NAMES)
    df["dealer"] = pd.Categorical.from_codes(df["dealer"], (NONE, US, RIVAL))
    df["channel"] = pd.Categorical.from_codes(df["channel"], CHANNELS)
    df["content"] = pd.Categorical.from_codes(df["content"], CONTENTS)
    df["stage"] = pd.Categorical.from_codes(df["stage"], STAGES)
    return df


def empty_table() -> pd.DataFrame:
    """A log with no rows, with the columns and types of a full one."""
    df = pd.DataFrame({"holdout": np.zeros(0, bool), "customer": np.zeros(0, np.int32),
                       "week": np.zeros(0, np.int16), "event": np.zeros(0, np.int8),
                       "dealer": np.zeros(0, np.int8), "channel": np.zeros(0, np.int8),
                       "content": np.zeros(0, np.int8), "relevant": np.zeros(0, bool),
                       "stage": np.zeros(0, np.int8), "amount": np.zeros(0)})
    return _categories(df)


# --- files ----------------------------------------------------------------------------------
def check_writable(folder: Path, create: bool = True) -> Path:
    """Make ``folder`` (and its parents) and prove a file can be written there, or raise
    ParameterError with one line naming it: called before a run that logs events starts.
    ``create=False`` only checks that the nearest existing folder on the path is writable."""
    folder = Path(folder)
    if not create:
        existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise ParameterError(f"events: cannot write the event log under {folder}: {existing} is not a writable "
                                 f"folder")
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ParameterError(f"events: cannot write the event log to {folder}: {err.strerror or err}") from None
    return folder


def partition(folder: Path, arm: str, replication: int) -> Path:
    """The folder of one run's rows in the dataset (hive partitioning: ``arm=X/replication=r``)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(arm))
    return Path(folder) / f"arm={safe}" / f"replication={int(replication)}"


def write_events(table: pd.DataFrame, folder: Path) -> Path:
    """Write one run's rows as ``<folder>/part-0.parquet`` (``folder`` from ``partition``)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = Path(folder) / "part-0.parquet"
    table.to_parquet(path, index=False)
    return path


def read_events(folder: Path) -> pd.DataFrame:
    """The whole dataset of a folder, with ``arm`` and ``replication`` as columns."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(folder), format="parquet", partitioning="hive")
    df = dataset.to_table().to_pandas()
    df["replication"] = df["replication"].astype(int)
    lead = [c for c in PARTITIONS if c in df.columns]
    return df[lead + [c for c in df.columns if c not in lead]]


def totals(log: pd.DataFrame) -> pd.DataFrame:
    """Per customer (of the treated market): purchases and service visits with us, contacts,
    margin and cost, summed from the log, as ``customers_table()`` counts them."""
    ours = log[~log["holdout"]]
    us = ours["dealer"] == US
    out = pd.DataFrame({
        "purchases": (us & (ours["event"] == "purchase")),
        "service_visits": (us & (ours["event"] == "service")),
        "contacts": ours["event"] == "contact",
        "margin": ours["amount"].where(us, 0.0),
        "cost": ours["amount"].where(ours["event"].isin(["contact", "event_attendance"]), 0.0),
        "customer": ours["customer"]})
    return out.groupby("customer").sum()
