"""The behaviour rules: how customers react to contacts in one week, for all at once.

Every rule of the model lives in this file, in the order ``_week`` applies them to each
customer:

1. Time passes: cars age, service falls due, fatigue wears off, affinity fades,
   the reciprocity balance is slowly forgotten.
2. The rival sends offers (they pull towards the rival and add to fatigue: noise from
   every sender drowns the relevant messages).
3. We contact customers as the policy says (thinned to the budget). Each contact adds
   fatigue, much more when it is irrelevant; irrelevant contacts to fatigued customers
   lead to unsubscribes. Value content costs extra (giving has a price).
4. Attention: a contact is opened with a chance that rises with trust and falls with
   fatigue. Read value content builds trust, affinity and the reciprocity balance; an
   event invitation may lead to attendance (a strong affinity gain); a sales offer is an
   ask: an irrelevant one on a negative balance costs trust, and an offer's effect grows
   or shrinks with the balance. Relevant offers, events and content lead to website visits.
5. Purchases: a car due for replacement is replaced with a weekly hazard, raised by
   relevant offers read (ours and the rival's). The dealer is chosen by a logit on trust,
   affinity, offers read that week and the rival's pull; owners in a relationship with a
   dealer are more ready to buy there. Buying from us builds affinity.
6. Service: a due car is serviced; the dealer is chosen the same way, with the selling
   dealer's pull and our reminders. A satisfying visit builds trust and affinity, a poor
   one costs trust.
7. Defection: owners in a relationship drift away with a weekly chance proportional to
   the rival's logit share (low equity and a strong rival mean more drift).
8. Lifecycle stage follows from the above.
9. Word of mouth: customers with experience of us are promoters (high sentiment) or
   detractors (low); some tell one tie each week. Recommendations raise the listener's
   trust and bring new prospects; warnings lower it and are heeded more often.

Random numbers are common to all strategies: the uniform for customer i and decision j
(a row of ``DRAWS``) in a given week is a fixed hash of the week's key and (i, j), the
key coming from a stream spawned from the model's generator. So every strategy, and the
holdout, sees the same draws whatever it did (common random numbers), and only the
draws a customer needs are computed. The rules are one compiled kernel (numba) over
the structure of arrays: one pass over all customers.
"""

from __future__ import annotations

from collections import namedtuple

import numba as nb
import numpy as np

from .params import CHANNELS, CONTENTS
from .state import FIELDS, N_CATEGORIES, RIVAL, STAGES, US, Population, Stage
from .strategies import Policy

# The decisions that take a uniform draw; the index is the decision's place in the hash.
DRAWS = ("contact", "content", "aim", "open", "event", "visit", "unsubscribe", "rival",
         "buy", "choice", "service_choice", "quality", "defect", "talk", "tie", "opt_in")
SALES, VALUE, REMINDER, EVENT = (CONTENTS.index(c) for c in
                                 ("sales_offer", "value_content", "service_reminder", "event_invite"))
REMINDER_WINDOW = 4  # weeks before the due date in which a service reminder is relevant
NEED_WIDTH = 0.1  # width of the need curve around the replacement cycle, as a share of the cycle
FATIGUE_IN_SENTIMENT = 0.5  # how much fatigue sours sentiment for word of mouth

# Weekly counters returned by ``step`` (integers) and money totals ($).
COUNTS = ("contacts", "offers", "relevant_offers", "opens", "visits", "event_attendance", "our_sales",
          "rival_sales", "offer_sales", "rival_contacts", "service_visits", "rival_service_visits",
          "unsubscribes", "opt_ins", "defections", "referrals", "promoters", "detractors",
          "replacements_by_our_owners", "repurchases_with_us", "service_by_our_owners",
          "service_with_us_by_our_owners")
MONEY = ("vehicle_margin", "service_margin", "cost", "rival_revenue")
C = namedtuple("C", COUNTS)(*range(len(COUNTS)))
M = namedtuple("M", MONEY)(*range(len(MONEY)))

# Event bits of one customer's week (for journeys); bits 0-1 content, 2-3 channel.
EVENTS = ("contacted", "relevant", "opened", "visited", "attended", "unsubscribed", "bought_us",
          "bought_rival", "serviced", "serviced_us", "referred", "heard_praise", "heard_warning")
E = namedtuple("E", EVENTS)(*(1 << (4 + i) for i in range(len(EVENTS))))
HEARD = E.heard_praise | E.heard_warning

# Parameters the kernel reads, as one tuple of floats.
KERNEL_PARAMS = (
    "fatigue_recovery", "affinity_decay", "reciprocity_memory", "rival_contact_rate", "rival_targeting",
    "fatigue_irrelevant", "fatigue_relevant", "unsubscribe_rate", "cost_value_content", "fatigue_sensitivity",
    "event_attendance", "reciprocity_strength", "reciprocity_heed", "ask_trust_cost", "value_trust_gain",
    "value_affinity_gain", "event_affinity_gain", "visit_rate", "cost_attendee", "purchase_hazard",
    "offer_lift", "offer_pull", "trust_weight", "affinity_weight", "rival_pull", "vehicle_margin",
    "service_interval_weeks", "opt_in", "purchase_affinity_gain", "service_pull", "service_reminder_lift",
    "service_quality", "service_trust_gain", "service_affinity_gain", "service_margin", "defection_rate",
    "loyalty_threshold", "promoter_threshold", "detractor_threshold", "talk_rate", "heed_positive",
    "heed_negative", "word_of_mouth_effect", "budget", "existing", "word_of_mouth")
K = namedtuple("K", KERNEL_PARAMS)
Arrays = namedtuple("Arrays", [f.name for f in FIELDS])


# End-of-week state totals computed by ``_census``.
CENSUS = ("known", "opted_in", "trust_sum", "affinity_sum", "fatigue_sum", "ever_ours",
          *(f"stage_{name}" for name in STAGES), "experienced")
PARALLEL_FROM = 100_000  # smaller markets run on one thread: starting threads costs more than it saves
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
        _table(self.key, out)
        return out


class Coefficients:
    """Parameter values arranged for the kernel (channel tables, log odds, flags as floats)."""

    def __init__(self, p: dict):
        self.p = p
        values = dict(p, existing=float(np.log1p(p["existing_customer_bonus"])),
                      word_of_mouth=float(p["word_of_mouth"]))
        self.k = K(*(float(values[name]) for name in KERNEL_PARAMS))
        self.attention = np.array([p[f"attention_{c}"] for c in CHANNELS], np.float64)
        self.channel_cost = np.array([p[f"cost_{c}"] for c in CHANNELS], np.float64)


def step(pop: Population, policy: Policy, draws: Draws, c: Coefficients, events: np.ndarray | None = None) -> dict:
    """Advance ``pop`` by one week under ``policy``; return the week's counts and money.

    If ``events`` (uint32, one per customer) is given, each customer's week is written
    into it as bits (see ``EVENTS``; bits 0-1 the content, 2-3 the channel).
    """
    if events is None:
        events = np.empty(pop.n, np.uint32)
    chunks = max(1, min(CHUNKS, pop.n // 1024))
    counts = np.zeros((chunks, len(COUNTS)), np.int64)
    money = np.zeros((chunks, len(MONEY)), np.float64)
    census = np.zeros((chunks, len(CENSUS)), np.float64)
    arrays = Arrays(*(getattr(pop, f.name) for f in FIELDS))
    value_share = np.diff(policy.mix_cum, axis=-1, prepend=0.0)[..., VALUE]
    seg_cost = (policy.frequency * (c.channel_cost[policy.channel] + value_share * c.p["cost_value_content"])).ravel()
    threads = nb.get_num_threads()
    if pop.n < PARALLEL_FROM:
        nb.set_num_threads(1)
    try:
        _week(arrays, pop.ties, policy.frequency.ravel(), policy.channel.ravel(),
              policy.mix_cum.reshape(-1, len(CONTENTS)), policy.targeting.ravel(), seg_cost,
              c.attention, c.channel_cost, c.k, draws.key, events, np.empty(pop.n, np.int32), counts, money)
        _census(arrays, census)
    finally:
        nb.set_num_threads(threads)
    counts, money, census = counts.sum(axis=0), money.sum(axis=0), census.sum(axis=0)
    out = {name: int(counts[i]) for i, name in enumerate(COUNTS)}
    out.update({name: float(money[i]) for i, name in enumerate(MONEY)})
    out.update({name: census[i] for i, name in enumerate(CENSUS)})
    out["revenue"] = out["vehicle_margin"] + out["service_margin"]
    for name in ("replacements_by_our_owners", "repurchases_with_us", "service_by_our_owners",
                 "service_with_us_by_our_owners"):
        setattr(pop, name, getattr(pop, name) + out.pop(name))
    return out


@nb.njit(cache=True, inline="always")
def _u(key, i, j):
    """Uniform in [0, 1) for customer i and decision j: SplitMix64 of the week's key and 16 i + j."""
    z = key + np.uint64(16 * i + j) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float32(z >> np.uint64(40)) * np.float32(1.0 / 16777216.0)


@nb.njit(cache=True, parallel=True)
def _table(key, out):
    for i in nb.prange(out.shape[1]):
        for j in range(out.shape[0]):
            out[j, i] = _u(key, i, j)


@nb.njit(cache=True, inline="always")
def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


@nb.njit(cache=True, inline="always")
def _aimed(u, targeting):
    """Whether content is aimed at this customer (chance = targeting): the fractional part
    of ``u`` after scaling by the number of categories, independent of the category."""
    scaled = u * N_CATEGORIES
    return scaled - min(int(scaled), N_CATEGORIES - 1) < targeting


@nb.njit(cache=True, inline="always")
def _relevant(interests, u, targeting):
    """An offer is relevant if aimed at the customer's interests or, if not aimed, its
    random category (the integer part of ``u`` scaled) happens to interest them."""
    category = min(int(u * N_CATEGORIES), N_CATEGORIES - 1)
    return _aimed(u, targeting) or ((interests >> category) & 1) == 1


@nb.njit(cache=True, parallel=True)
def _week(s, ties, freq, chan, mix, target, seg_cost, attention, ccost, k, U, ev, said, counts, money):
    n = s.trust.shape[0]
    # budget: thin all contacts by one factor when the policy would cost more than the budget
    wanted = 0.0
    for i in range(n if k.budget < np.inf else 0):  # no pass when there is no budget
        if s.known[i] and s.opted_in[i]:
            wanted += seg_cost[s.stage[i] * 2 + s.tier[i]]
    thin = 1.0 if wanted <= k.budget else k.budget / wanted
    chunks = counts.shape[0]
    for c in nb.prange(chunks):
        _customers(s, ties, freq, chan, mix, target, attention, ccost, k, U, ev, said, counts[c], money[c],
                   thin, c * n // chunks, (c + 1) * n // chunks)
    _listen(s, k, ev, said, counts[0])


@nb.njit(cache=True)
def _customers(s, ties, freq, chan, mix, target, attention, ccost, k, U, ev, said, counts, money, thin, lo, hi):
    """Rules 1 to 9 for customers lo..hi-1; word of mouth is only said here (``said``)."""
    for i in range(lo, hi):
        e = 0
        # 1. time passes
        s.vehicle_age[i] += 1
        s.service_due[i] -= 1
        fatigue = s.fatigue[i] * (1.0 - k.fatigue_recovery)
        affinity = s.affinity[i] * (1.0 - k.affinity_decay)
        balance = s.reciprocity[i] * (1.0 - k.reciprocity_memory)
        trust = float(s.trust[i])
        cycle = float(s.cycle[i])
        need = _logistic((s.vehicle_age[i] - cycle) / (NEED_WIDTH * cycle))
        stage = s.stage[i]
        relationship = stage == Stage.PURCHASE or stage == Stage.CONNECTION or stage == Stage.LOYALTY
        interests = s.interests[i]

        # 2. the rival's offers
        u_offer = _u(U, i, 7)
        rival_offer = u_offer < k.rival_contact_rate
        rival_relevant = False
        if rival_offer:
            counts[C.rival_contacts] += 1
            rival_relevant = _relevant(interests, u_offer / k.rival_contact_rate, k.rival_targeting)

        # 3. our contacts
        g = stage * 2 + s.tier[i]
        contacted = s.known[i] and s.opted_in[i] and _u(U, i, 0) < freq[g] * thin
        u = _u(U, i, 1) if contacted else np.float32(0)  # content and aim only matter when contacted
        content = (u >= mix[g, 0]) + (u >= mix[g, 1]) + (u >= mix[g, 2])
        channel = chan[g]
        offer_relevant = contacted and _relevant(interests, _u(U, i, 2), target[g])
        due_soon = s.service_due[i] <= REMINDER_WINDOW
        if content == SALES:
            fitting = offer_relevant
        elif content == REMINDER:  # relevant near the due date, or when aimed (timed to the customer's car)
            fitting = due_soon or _aimed(_u(U, i, 2), target[g])
        else:
            fitting = True
        irrelevant = contacted and not fitting
        if irrelevant or (rival_offer and not rival_relevant):
            fatigue += k.fatigue_irrelevant
        elif contacted or rival_offer:
            fatigue += k.fatigue_relevant
        fatigue = min(fatigue, 1.0)
        cost = 0.0
        vehicle = service = 0.0  # margins earned from this customer this week
        opened = value_read = attended = ask_read = offer_read = visited = False
        heed = 1.0
        if contacted:
            e |= E.contacted | content | (channel << 2)
            counts[C.contacts] += 1
            if fitting:
                e |= E.relevant
            if content == SALES:
                counts[C.offers] += 1
                if offer_relevant:
                    counts[C.relevant_offers] += 1
            cost = ccost[channel] + (k.cost_value_content if content == VALUE else 0.0)
            if irrelevant and _u(U, i, 6) < k.unsubscribe_rate * fatigue:
                s.opted_in[i] = False
                e |= E.unsubscribed
                counts[C.unsubscribes] += 1

            # 4. attention and what is read
            p_open = attention[channel] * (0.5 + trust) * (1.0 - k.fatigue_sensitivity * fatigue)
            opened = _u(U, i, 3) < p_open
            if opened:
                e |= E.opened
                counts[C.opens] += 1
                value_read = content == VALUE
                attended = content == EVENT and _u(U, i, 4) < k.event_attendance * (0.5 + affinity)
                ask_read = content == SALES
                if content == REMINDER and due_soon:
                    s.reminded[i] = True
                heed = min(max(1.0 + k.reciprocity_strength * k.reciprocity_heed * balance, 0.0), 2.0)
                if ask_read and not offer_relevant and balance < 0:
                    trust -= k.reciprocity_strength * k.ask_trust_cost
                if value_read or attended:
                    trust += k.value_trust_gain * (1.0 - trust)
                    balance += 1.0
                if value_read:
                    affinity += k.value_affinity_gain * (1.0 - affinity)
                if attended:
                    affinity += k.event_affinity_gain * (1.0 - affinity)
                    cost += k.cost_attendee
                    e |= E.attended
                    counts[C.event_attendance] += 1
                if ask_read:
                    balance -= 1.0
                offer_read = ask_read and offer_relevant
                if offer_read or attended or value_read:
                    strength = 1.0 if (offer_read or attended) else 0.3
                    visited = _u(U, i, 5) < k.visit_rate * (0.5 + need) * strength
                    if visited:
                        e |= E.visited
                        counts[C.visits] += 1

        # 5. purchases
        offer_push = heed if offer_read else 0.0
        hazard = k.purchase_hazard * need * (1.0 + k.offer_lift * (offer_push + rival_relevant))
        buying = _u(U, i, 8) < hazard
        u_us = (k.trust_weight * trust + k.affinity_weight * affinity + k.offer_pull * offer_push
                + k.existing * relationship)
        u_rival = k.rival_pull + k.offer_pull * rival_relevant + k.existing * (s.owner[i] == RIVAL)
        bought_us = buying and _u(U, i, 9) < _logistic(u_us - u_rival)
        bought_rival = buying and not bought_us
        if buying:
            if relationship:
                counts[C.replacements_by_our_owners] += 1
                if bought_us:
                    counts[C.repurchases_with_us] += 1
            s.vehicle_age[i] = 0
            s.service_due[i] = int(k.service_interval_weeks)
        if bought_us:
            e |= E.bought_us
            counts[C.our_sales] += 1
            if offer_read:
                counts[C.offer_sales] += 1
            vehicle = k.vehicle_margin * s.spend[i]
            money[M.vehicle_margin] += vehicle
            s.owner[i] = US
            if not s.known[i]:
                s.known[i] = True
                if _u(U, i, 15) < k.opt_in:
                    s.opted_in[i] = True
                    counts[C.opt_ins] += 1
            s.ever_ours[i] = True
            s.purchases[i] += 1
            affinity += k.purchase_affinity_gain * (1.0 - affinity)
        elif bought_rival:
            e |= E.bought_rival
            counts[C.rival_sales] += 1
            money[M.rival_revenue] += k.vehicle_margin * s.spend[i]
            s.owner[i] = RIVAL

        # 6. service
        if s.service_due[i] <= 0:
            e |= E.serviced
            sold_by_us = s.owner[i] == US
            v_us = (k.trust_weight * trust + k.affinity_weight * affinity + k.service_pull * sold_by_us
                    + k.service_reminder_lift * s.reminded[i])
            v_other = k.rival_pull + k.service_pull * (not sold_by_us)
            serviced_us = _u(U, i, 10) < _logistic(v_us - v_other)
            if relationship or bought_us:
                counts[C.service_by_our_owners] += 1
                counts[C.service_with_us_by_our_owners] += serviced_us
            s.serviced_with_us[i] = serviced_us
            if serviced_us:
                e |= E.serviced_us
                counts[C.service_visits] += 1
                service = k.service_margin * s.spend[i]
                money[M.service_margin] += service
                s.service_visits[i] += 1
                if _u(U, i, 11) < k.service_quality:
                    trust += k.service_trust_gain * (1.0 - trust)
                    affinity += k.service_affinity_gain * (1.0 - affinity)
                else:
                    trust -= 2.0 * k.service_trust_gain * trust
            else:
                counts[C.rival_service_visits] += 1
                money[M.rival_revenue] += k.service_margin * s.spend[i]
            s.service_due[i] = int(k.service_interval_weeks)
            s.reminded[i] = False

        # 7. defection
        trust = min(max(trust, 0.0), 1.0)
        affinity = min(max(affinity, 0.0), 1.0)
        equity = 0.5 * (trust + affinity)
        drifted = relationship and not buying and _u(U, i, 12) < k.defection_rate * _logistic(u_rival - u_us)

        # 8. lifecycle stage
        if bought_us:
            new_stage = Stage.PURCHASE
        elif (relationship and bought_rival) or drifted:
            new_stage = Stage.LAPSED
            counts[C.defections] += 1
        elif relationship:
            new_stage = Stage.LOYALTY if equity >= k.loyalty_threshold else Stage.CONNECTION
        elif stage == Stage.LAPSED:
            new_stage = Stage.LAPSED
        elif s.known[i] and (need > 0.5 or visited or attended):
            new_stage = Stage.CONSIDERATION
        else:
            new_stage = Stage.PROSPECT
        s.stage[i] = new_stage

        # 9. word of mouth: who speaks (listeners are updated in the second pass)
        if s.known[i] or s.ever_ours[i]:
            sentiment = equity * (1.0 - FATIGUE_IN_SENTIMENT * fatigue)
            promoter = sentiment >= k.promoter_threshold
            detractor = sentiment <= k.detractor_threshold
            counts[C.promoters] += promoter
            counts[C.detractors] += detractor
            said[i] = -1
            if (promoter or detractor) and k.word_of_mouth > 0 and ties.shape[1] > 0 and _u(U, i, 13) < k.talk_rate:
                slot_f = _u(U, i, 14) * ties.shape[1]
                slot = min(int(slot_f), ties.shape[1] - 1)
                if slot_f - slot < (k.heed_positive if promoter else k.heed_negative):
                    said[i] = 2 * ties[i, slot] + (0 if promoter else 1)
        else:
            said[i] = -1

        s.trust[i] = trust
        s.affinity[i] = affinity
        s.fatigue[i] = fatigue
        s.reciprocity[i] = min(max(balance, -50.0), 50.0)
        s.contacts[i] += contacted
        s.cost[i] += cost
        s.margin[i] += vehicle + service
        money[M.cost] += cost
        ev[i] = e



@nb.njit(cache=True)
def _listen(s, k, ev, said, counts):
    """Rule 9, second half: listeners heed what was said to them (serial, in customer order)."""
    n = s.trust.shape[0]
    for i in range(n):
        if said[i] >= 0:
            ev[said[i] >> 1] |= E.heard_warning if said[i] & 1 else E.heard_praise
    for i in range(n):
        e = ev[i]
        if e & HEARD:
            trust = float(s.trust[i])
            if e & E.heard_praise:
                trust += k.word_of_mouth_effect * (1.0 - trust)
                if not s.known[i]:
                    s.known[i] = True
                    ev[i] = e | E.referred
                    counts[C.referrals] += 1
                    if not s.opted_in[i]:
                        counts[C.opt_ins] += 1
                    s.opted_in[i] = True
            if e & E.heard_warning:
                trust -= k.word_of_mouth_effect * trust
            s.trust[i] = min(max(trust, 0.0), 1.0)


@nb.njit(cache=True, parallel=True)
def _census(s, out):
    """End-of-week state totals per chunk (rows of ``out``), in CENSUS order."""
    n = s.trust.shape[0]
    chunks = out.shape[0]
    for c in nb.prange(chunks):
        row = out[c]
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            row[6 + s.stage[i]] += 1.0
            if s.known[i]:
                row[0] += 1.0
                row[1] += s.opted_in[i]
                row[2] += s.trust[i]
                row[3] += s.affinity[i]
                row[4] += s.fatigue[i]
            row[5] += s.ever_ours[i]
            row[12] += s.known[i] or s.ever_ours[i]
