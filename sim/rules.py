"""The weekly pass: every mechanism of ``sim/mechanisms/`` applied to every customer, in order.

The rules themselves live one per module in ``sim/mechanisms/`` (see its ``MECHANISMS``);
this module runs them: ``step`` advances a population by one week in one compiled pass
(numba) over the structure of arrays, split into fixed chunks that run in parallel, where
``_customers`` loads each customer's state, calls the mechanisms in order (inlined) and
stores the state back, and adds the customer to the end-of-week totals from the values it
just stored (``_count``); a second, serial pass delivers word of mouth (``_listen``) and
corrects the totals for the few listeners whose state it changed.

Random numbers are common to all strategies: the uniform for customer i and decision j
(``DRAWS``) in a given week is a fixed hash of the week's key and (i, j), the key coming
from a stream spawned from the model's generator (``Draws``). So every strategy, and the
holdout, sees the same draws whatever it did, and only the draws a customer needs are
computed.
"""

from __future__ import annotations

import hashlib
import os
from collections import namedtuple
from pathlib import Path

import numba as nb
import numpy as np

from .mechanisms import draws as _draws
from .mechanisms.aging import time_passes
from .mechanisms.attention import attention
from .mechanisms.budget import planned_costs, share_paid
from .mechanisms.contact import Plan, contact
from .mechanisms.defection import defection
from .mechanisms.fatigue import noise, reactance
from .mechanisms.lifecycle import LAPSED, lifecycle
from .mechanisms.purchase import purchase
from .mechanisms.reciprocity import reciprocity
from .mechanisms.records import COUNTS, EVENTS, HEARD, MONEY, C, E, M, channel_of, content_of  # noqa: F401
from .mechanisms.rival import rival_offer
from .mechanisms.sale import sale
from .mechanisms.service import service
from .mechanisms.shared import in_relationship
from .mechanisms.turnover import moves_away, newcomer
from .mechanisms.value import value
from .mechanisms.visits import visit
from .mechanisms.word_of_mouth import SILENT, hear, speak
from .params import CHANNELS, CONTENTS, PARAMS
from .state import FIELDS, STAGES, Population
from .strategies import Policy

DRAWS = _draws.DRAWS


def drop_stale_kernels(folder: Path | None = None) -> bool:
    """Delete numba's cached kernels of this module if a mechanism's source changed since they
    were compiled; returns whether it did.

    numba keys the cache of a function on its own file only, but the mechanisms of
    ``sim/mechanisms/`` are inlined into this module's kernels: without this, an edited
    mechanism would keep running its old compiled form. The sources' fingerprint is kept beside
    the cache (``rules.mechanisms.sha256``).
    """
    from .mechanisms import MECHANISMS  # noqa: PLC0415

    here = Path(__file__)
    folder = folder or (Path(os.environ["NUMBA_CACHE_DIR"]) if os.environ.get("NUMBA_CACHE_DIR")
                        else here.parent / "__pycache__")
    sources = sorted({Path(m.__file__) for m in MECHANISMS} | set((here.parent / "mechanisms").glob("*.py")))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    stamp = folder / "rules.mechanisms.sha256"
    try:
        if stamp.exists() and stamp.read_text() == digest:
            return False
        stale = [p for p in folder.rglob("rules.*") if p.suffix in (".nbi", ".nbc")]
        for path in stale:
            path.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
        return bool(stale)
    except OSError:  # a read-only install: its cache was built with its own sources
        return False


drop_stale_kernels()

# Parameters the kernel reads, as one tuple of floats: every parameter, and derived ones.
DERIVED = ("existing",)  # ln(1 + existing_customer_bonus): the existing-customer bonus as utility
KERNEL_PARAMS = tuple(PARAMS) + DERIVED
K = namedtuple("K", KERNEL_PARAMS)
Arrays = namedtuple("Arrays", [f.name for f in FIELDS])

# End-of-week state totals (``_tally``); columns by name (``CS.<name>``).
CENSUS = ("known", "opted_in", "trust_sum", "affinity_sum", "fatigue_sum", "ever_ours",
          *(f"stage_{name}" for name in STAGES), "experienced")
CS = namedtuple("CS", CENSUS)(*range(len(CENSUS)))
FIRST_STAGE = CS.stage_prospect  # stage columns follow STAGES, so column = FIRST_STAGE + stage
PARALLEL_FROM = 100_000  # smaller markets run on one thread: starting threads costs more than it saves
NO_TWIN = (-1, -1.0, 0.0)  # a customer stepped without a twin: no car is -1 weeks old
CHUNKS = 64  # customers are processed in this many fixed chunks (in parallel); results do not depend on threads


class Draws:
    """The week's random numbers: one 64-bit key per week, from which the kernel derives the
    uniform of customer i for decision j (row j of DRAWS) with a counter-based hash, and only
    when the decision is actually taken.

    The keys come from a stream spawned from the model's generator, so the draws depend only
    on the seed; every arm and the holdout see the same draws (common random numbers),
    whatever the strategy, the thread count or which decisions were needed.
    """

    def __init__(self, n: int, rng: np.random.Generator):
        self.n = n
        self.stream = rng.spawn(1)[0]
        self.key = np.uint64(0)

    def fill(self) -> None:
        self.key = np.uint64(self.stream.integers(0, 2**63))

    @property
    def table(self) -> np.ndarray:
        """This week's draws as a (len(DRAWS), n) float32 table, for inspection and tests."""
        out = np.empty((len(DRAWS), self.n), np.float32)
        _draws.table(self.key, out)
        return out


class Coefficients:
    """Parameter values arranged for the kernel (channel tables, derived values, flags as floats)."""

    def __init__(self, p: dict):
        self.p = p
        values = dict(p, existing=float(np.log1p(p["existing_customer_bonus"])))
        self.k = K(*(float(values[name]) for name in KERNEL_PARAMS))
        self.attention = np.array([p[f"attention_{c}"] for c in CHANNELS], np.float64)
        self.channel_cost = np.array([p[f"cost_{c}"] for c in CHANNELS], np.float64)


def weekly_plan(pop: Population, policy: Policy, c: Coefficients) -> Plan:
    """The policy of the week as the kernel reads it, contacts thinned to the budget."""
    segment_cost = planned_costs(policy.frequency, policy.channel, policy.mix_cum, c.channel_cost,
                                 c.p["cost_value_content"])
    thin = share_paid(pop.known, pop.opted_in, pop.stage, pop.tier, segment_cost, c.k.budget)
    return Plan(policy.frequency.ravel(), policy.channel.ravel(), policy.mix_cum.reshape(-1, len(CONTENTS)),
                policy.targeting.ravel(), c.channel_cost, thin)


def step(pop: Population, policy: Policy, draws: Draws, c: Coefficients, events: np.ndarray | None = None) -> dict:
    """Advance ``pop`` by one week under ``policy``; return the week's counts and money.

    If ``events`` (uint32, one per customer) is given, each customer's week is written
    into it as bits (see ``EVENTS``; the lowest bits hold the content and the channel).
    """
    return step_markets([(pop, policy, events)], draws, c)[0]


def step_markets(markets: list, draws: Draws, c: Coefficients) -> list[dict]:
    """Advance one or two markets of the same size by one week, under the same draws;
    ``markets`` holds (population, policy, events or None) per market. Returns each market's
    counts and money, as ``step`` does.

    A market and its no-contact twin (the holdout) run in one pass: each customer's week in
    the first market, then in the second, in the same loop iteration (about 6 % faster than
    two passes). Every market's numbers are the same as when stepped alone.
    """
    assert len(markets) in (1, 2), "one market, or a market and its twin"
    n = markets[0][0].n
    chunks = max(1, min(CHUNKS, n // 1024))
    args = []
    for pop, policy, events in markets:
        assert pop.n == n, "markets stepped together have the same size"
        plan = weekly_plan(pop, policy, c)
        args.append((Arrays(*(getattr(pop, f.name) for f in FIELDS)), pop.ties, plan,
                     np.empty(n, np.uint32) if events is None else events, np.empty(n, np.int32),
                     np.zeros((chunks, len(COUNTS)), np.int64), np.zeros((chunks, len(MONEY)), np.float64),
                     np.zeros((chunks, len(CENSUS)), np.float64), contacts_anyone(plan)))
    threads = nb.get_num_threads()
    if n < PARALLEL_FROM:
        nb.set_num_threads(1)
    try:
        if len(args) == 2 and not args[1][8]:  # a market and its no-contact twin: one pass
            _week_twins(*args[0][:8], *args[1][:8], c.attention, c.k, draws.key)
        else:
            for a in args:
                _week(*a[:3], c.attention, c.k, draws.key, *a[3:])
    finally:
        nb.set_num_threads(threads)
    return [_totals(pop, a[5], a[6], a[7]) for (pop, _, _), a in zip(markets, args)]


def contacts_anyone(plan: Plan) -> bool:
    """Whether the week's plan may contact anyone: some segment's contact chance
    (frequency x thin, see ``contact``) is above zero. A plan that contacts nobody runs the
    pass compiled without our contact (``_customer``'s ``contacting``)."""
    return bool(plan.thin > 0.0 and (plan.frequency > 0.0).any())


def _totals(pop: Population, counts: np.ndarray, money: np.ndarray, census: np.ndarray) -> dict:
    """The week's counts, money and census of one market, summed over chunks; the running
    totals kept on the population are added to it."""
    counts, money, census = counts.sum(axis=0), money.sum(axis=0), census.sum(axis=0)
    out = {name: int(counts[i]) for i, name in enumerate(COUNTS)}
    out.update({name: float(money[i]) for i, name in enumerate(MONEY)})
    out.update({name: census[i] for i, name in enumerate(CENSUS)})
    out["revenue"] = out["vehicle_margin"] + out["service_margin"]
    for name in ("replacements_by_our_owners", "repurchases_with_us", "service_by_our_owners",
                 "service_with_us_by_our_owners"):
        setattr(pop, name, getattr(pop, name) + out.pop(name))
    return out


@nb.njit(cache=True, parallel=True)
def _week(s, ties, plan, attention_by_channel, k, key, ev, said, counts, money, census, contacting):
    """The week of every customer: the fused pass in parallel chunks, then word of mouth."""
    n = s.trust.shape[0]
    chunks = counts.shape[0]
    for c in nb.prange(chunks):
        _customers(s, ties, plan, attention_by_channel, k, key, ev, said, counts[c], money[c], census[c],
                   c * n // chunks, (c + 1) * n // chunks, contacting)
    _listen(s, k, ev, said, counts[0], census[0])


@nb.njit(cache=True, parallel=True)
def _week_twins(s, ties, plan, ev, said, counts, money, census, h, h_ties, h_plan, h_ev, h_said, h_counts, h_money,
                h_census, attention_by_channel, k, key):
    """The week of two markets of the same size, a market and its no-contact twin (the
    holdout), under the same draws: both fused passes in one loop, then each market's word of mouth."""
    n = s.trust.shape[0]
    chunks = counts.shape[0]
    for c in nb.prange(chunks):
        _twins(s, ties, plan, ev, said, counts[c], money[c], census[c], h, h_ties, h_plan, h_ev, h_said, h_counts[c],
               h_money[c], h_census[c], attention_by_channel, k, key, c * n // chunks, (c + 1) * n // chunks)
    _listen(s, k, ev, said, counts[0], census[0])
    _listen(h, k, h_ev, h_said, h_counts[0], h_census[0])


# The pass and the listeners are compiled without reference counting (``_nrt=False``: they
# allocate nothing): numba otherwise counts references to the arrays handed to each inlined
# mechanism, once per customer and call, which made the week about twice as slow. The
# customer index is unsigned in the pass: numba then indexes the arrays without the fix-up
# for negative indices (a sign test and an add, with the array's length, per access). The
# pass divides only by nonzero numbers (the cycle, 1 + e^-x, a positive rate), so it is
# compiled with numpy's error model: no test for division by zero, the same numbers; and a
# number left unused, as ``_aged``'s unused need, is not computed at all.
@nb.njit(cache=True, _nrt=False, error_model="numpy")
def _customers(s, ties, plan, attention_by_channel, k, key, ev, said, counts, money, census, lo, hi, contacting):
    """The week of customers lo..hi-1 (word of mouth is only said here), each then counted in
    the chunk's end-of-week totals ``census`` (a second pass over the state would cost more).
    Two copies of the loop: with our contact, and compiled without it for a plan that
    contacts nobody (``contacting`` false)."""
    if contacting:
        for i in range(np.uint64(lo), np.uint64(hi)):
            _customer(s, ties, plan, attention_by_channel, k, key, ev, said, counts, money, census, i, True, NO_TWIN)
    else:
        for i in range(np.uint64(lo), np.uint64(hi)):
            _customer(s, ties, plan, attention_by_channel, k, key, ev, said, counts, money, census, i, False, NO_TWIN)


@nb.njit(cache=True, _nrt=False, error_model="numpy")
def _twins(s, ties, plan, ev, said, counts, money, census, h, h_ties, h_plan, h_ev, h_said, h_counts, h_money,
           h_census, attention_by_channel, k, key, lo, hi):
    """The week of customers lo..hi-1 in a market (``s``) and its no-contact twin (``h``),
    customer by customer; the twin takes the customer's need when its car is as old."""
    for i in range(np.uint64(lo), np.uint64(hi)):
        twin = _customer(s, ties, plan, attention_by_channel, k, key, ev, said, counts, money, census, i, True, NO_TWIN)
        _customer(h, h_ties, h_plan, attention_by_channel, k, key, h_ev, h_said, h_counts, h_money, h_census, i, False,
                  twin)


@nb.njit(cache=True, inline="always")
def _customer(s, ties, plan, attention_by_channel, k, key, ev, said, counts, money, census, i, contacting, twin):
    """The mechanisms, in order, for customer i; returns (car's age, cycle, need) for its twin.

    State that rarely changes is loaded and stored only when it may change (a sale, a due
    service, a change of flag). ``contacting`` is a constant at each call site; false (a plan
    that contacts nobody), the compiler drops our contact and what follows from it. ``twin``: see ``_aged``.
    """
    moved = _moved(s, k, key, i, counts)
    stage, known, opted_in, owner, trust = s.stage[i], s.known[i], s.opted_in[i], s.owner[i], float(s.trust[i])
    relationship = in_relationship(stage)
    lapsed = stage == LAPSED
    age, cycle, vehicle_age, service_due, affinity, need = _aged(s, k, i, twin)
    rival_offered, rival_relevant = rival_offer(k, key, i, s.interests[i], counts)
    contacted, content, channel, fitting, due_soon, cost, e = False, 0, 0, False, False, 0.0, E.moved if moved else 0
    if contacting:
        contacted, content, channel, fitting, due_soon, cost, e = contact(
            k, key, i, plan, known, opted_in, stage, s.tier[i], s.interests[i], service_due, e, counts)
    fatigue, opted_in, e = noise(k, key, i, float(s.fatigue[i]), opted_in, contacted, fitting, rival_offered,
                                 rival_relevant, e, counts)
    opened, reminder_read, e = attention(k, key, i, attention_by_channel, contacted, channel, content, due_soon,
                                         trust, fatigue, e, counts)
    if reminder_read:
        s.reminded[i] = True
    trust = reactance(k, opened, fitting, fatigue, trust)
    value_read, attended, trust, affinity, attendee_cost, e = value(k, key, i, opened, content, fitting, trust,
                                                                    affinity, e, counts)
    offer_read, heed, balance = reciprocity(k, opened, content, fitting, value_read or attended,
                                            float(s.reciprocity[i]))
    visited, e = visit(k, key, i, opened and fitting, attended, need, e, counts)
    buying, bought_us, u_us, u_rival = purchase(k, key, i, need, offer_read, heed, rival_relevant, relationship,
                                                lapsed, trust, affinity, owner, counts)
    vehicle, serviced, won_back = 0.0, 0.0, False
    if buying:
        vehicle_age, service_due, owner, known, opted_in, ever_ours, purchases, affinity, vehicle, e = sale(
            k, key, i, buying, bought_us, offer_read, float(s.spend[i]), vehicle_age, service_due, owner, known,
            opted_in, s.ever_ours[i], s.purchases[i], affinity, e, counts, money)
        s.owner[i], s.known[i], s.ever_ours[i], s.purchases[i] = owner, known, ever_ours, purchases
    if service_due <= 0:
        service_due, trust, affinity, reminded, serviced_with_us, service_visits, serviced, won_back, e = service(
            k, key, i, relationship, lapsed, bought_us, service_due, vehicle_age, owner, trust, affinity,
            s.reminded[i], s.serviced_with_us[i], s.service_visits[i], float(s.spend[i]), e, counts, money)
        s.reminded[i], s.serviced_with_us[i], s.service_visits[i] = reminded, serviced_with_us, service_visits
    drifted = defection(k, key, i, relationship, buying, u_us, u_rival)
    stage, trust, affinity, equity = lifecycle(k, stage, relationship, bought_us, buying and not bought_us,
                                               drifted, won_back, known, need, visited, attended, trust, affinity,
                                               counts)
    said[i] = speak(k, key, i, s.ever_ours[i], equity, fatigue, ties, counts)
    if opted_in != s.opted_in[i]:
        s.opted_in[i] = opted_in
    s.trust[i], s.affinity[i], s.fatigue[i], s.reciprocity[i] = trust, affinity, fatigue, balance
    s.stage[i], s.vehicle_age[i], s.service_due[i] = stage, vehicle_age, service_due
    if contacting:  # nobody contacted: no contact, no cost (their sums stay as they are)
        s.contacts[i] += contacted
        s.cost[i] += cost + attendee_cost
        money[M.cost] += cost + attendee_cost
    s.margin[i] += vehicle + serviced
    ev[i] = e
    _count(census, 1.0, stage, known, opted_in, trust, affinity, fatigue, s.ever_ours[i])
    return age, cycle, need


@nb.njit(cache=True, inline="always")
def _moved(s, k, key, i, counts):
    """Whether customer i moved away this week; if so, a newcomer's state takes the place."""
    moved = moves_away(k, key, i, counts)
    if moved:
        (s.stage[i], s.known[i], s.opted_in[i], s.owner[i], s.trust[i], s.affinity[i], s.fatigue[i], s.reciprocity[i],
         s.ever_ours[i], s.serviced_with_us[i], s.reminded[i]) = newcomer(k)
    return moved


@nb.njit(cache=True, inline="always")
def _aged(s, k, i, twin):
    """Time passes for customer i (``time_passes``). Returns the car's age and cycle before the
    week, and time_passes' vehicle_age, service_due, affinity and need.

    ``twin``: the same customer's (age, cycle, need) in the market stepped just before (the
    treated market of a holdout twin), or NO_TWIN. Need depends on the car's age and cycle
    only: when both agree it is taken from the twin, and the exponential of the unused
    copy is not computed (the compiler drops it); the same number either way.
    """
    age, cycle = s.vehicle_age[i], float(s.cycle[i])
    if age == twin[0] and cycle == twin[1]:
        vehicle_age, service_due, affinity, _ = time_passes(k, age, s.service_due[i], float(s.affinity[i]), cycle)
        need = twin[2]
    else:
        vehicle_age, service_due, affinity, need = time_passes(k, age, s.service_due[i], float(s.affinity[i]), cycle)
    return age, cycle, vehicle_age, service_due, affinity, need


@nb.njit(cache=True, _nrt=False)
def _listen(s, k, ev, said, counts, census):
    """Word of mouth, second half: listeners heed what was said to them (serial, in customer
    order); each listener's part of the end-of-week totals is taken again (in ``census``, the
    first chunk's row), since hearing changes trust, known and opted in."""
    n = s.trust.shape[0]
    for i in range(n):
        if said[i] != SILENT:
            ev[said[i] >> 1] |= E.heard_warning if said[i] & 1 else E.heard_praise
    for i in range(n):
        e = ev[i]
        if e & HEARD:
            _tally(census, s, i, -1.0)
            trust, known, opted_in, e = hear(k, (e & E.heard_praise) != 0, (e & E.heard_warning) != 0,
                                             float(s.trust[i]), s.known[i], s.opted_in[i], e, counts)
            s.trust[i], s.known[i], s.opted_in[i], ev[i] = trust, known, opted_in, e
            _tally(census, s, i, 1.0)


@nb.njit(cache=True, inline="always")
def _tally(row, s, i, sign):
    """Add (sign 1) or take back (sign -1) customer i's end-of-week state in the totals
    ``row``, in CENSUS order."""
    _count(row, sign, s.stage[i], s.known[i], s.opted_in[i], s.trust[i], s.affinity[i], s.fatigue[i], s.ever_ours[i])


@nb.njit(cache=True, inline="always")
def _count(row, sign, stage, known, opted_in, trust, affinity, fatigue, ever_ours):
    """Add (sign 1) or take back (sign -1) a customer's end-of-week state, as stored (trust,
    affinity and fatigue rounded to float32), in the totals ``row``: the pass counts each
    customer from the values it has just stored, without reading them back."""
    row[FIRST_STAGE + stage] += sign
    if known:
        row[CS.known] += sign
        row[CS.opted_in] += sign * opted_in
        row[CS.trust_sum] += sign * np.float32(trust)
        row[CS.affinity_sum] += sign * np.float32(affinity)
        row[CS.fatigue_sum] += sign * np.float32(fatigue)
    row[CS.ever_ours] += sign * ever_ours
    row[CS.experienced] += sign * ever_ours
