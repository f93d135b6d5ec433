"""The behaviour rules: how customers react to contacts in one week, for all at once.

Every rule of the model lives in this file, in the order ``step`` applies them:

1. Time passes: cars age, service falls due, fatigue wears off, affinity fades,
   the reciprocity balance is slowly forgotten.
2. The rival sends offers (they pull towards the rival and add to fatigue: noise from
   every sender drowns the relevant messages).
3. We contact customers as the policy says (thinned to the budget). Each contact adds
   fatigue, much more when it is irrelevant; irrelevant contacts to fatigued customers
   lead to unsubscribes.
4. Attention: a contact is opened with a chance that rises with trust and falls with
   fatigue. Read value content builds trust, affinity and the reciprocity balance; an
   event invitation may lead to attendance (a strong affinity gain); a sales offer is an
   ask: on a negative balance it costs trust, and its effect grows or shrinks with the
   balance. Relevant offers and events lead to website visits.
5. Purchases: a car due for replacement is replaced with a weekly hazard, raised by
   relevant offers read. The dealer is chosen by a logit on trust, affinity, offers read
   that week and the rival's pull; our owners are more ready to buy from us.
6. Service: a due car is serviced; the dealer is chosen the same way, with the selling
   dealer's pull and our reminders. A satisfying visit builds trust, a poor one costs it.
7. Defection: owners with low equity drift to the rival (stronger rival, more drift).
8. Lifecycle stage follows from the above.
9. Word of mouth: promoters recommend us to a tie (new prospects, trust); detractors
   warn a tie (heeded more often than praise).

All random numbers of a week are drawn before the rules run, one array per decision,
so every strategy sees the same draws (common random numbers).
"""

from __future__ import annotations

import numpy as np

from .params import CHANNELS, CONTENTS
from .state import N_CATEGORIES, RIVAL, US, Population, Stage
from .strategies import Policy

# One uniform array per decision, drawn every week in this order whatever the strategy.
DRAWS = ("contact", "content", "aim", "open", "event", "visit", "unsubscribe", "rival",
         "buy", "choice", "service_choice", "quality", "defect", "talk", "tie", "opt_in")
SALES, VALUE, REMINDER, EVENT = (CONTENTS.index(c) for c in
                                 ("sales_offer", "value_content", "service_reminder", "event_invite"))
REMINDER_WINDOW = 4  # weeks before the due date in which a service reminder is relevant
NEED_WIDTH = 0.1  # width of the need curve around the replacement cycle, as a share of the cycle


class Draws:
    """The week's uniform draws, one row per name in DRAWS."""

    def __init__(self, n: int):
        self.table = np.empty((len(DRAWS), n), dtype=np.float32)
        for i, name in enumerate(DRAWS):
            setattr(self, name, self.table[i])

    def fill(self, rng: np.random.Generator) -> None:
        rng.random(out=self.table, dtype=np.float32)


class Coefficients:
    """Parameter values arranged for the rules (channel tables, log odds)."""

    def __init__(self, p: dict):
        self.p = p
        self.attention = np.array([p[f"attention_{c}"] for c in CHANNELS], np.float32)
        self.channel_cost = np.array([p[f"cost_{c}"] for c in CHANNELS], np.float64)
        self.existing = np.float32(np.log1p(p["existing_customer_bonus"]))


def need(pop: Population) -> np.ndarray:
    """Purchase need in [0, 1]: a logistic curve of vehicle age around the customer's cycle."""
    x = (pop.vehicle_age - pop.cycle.astype(np.float32)) / (NEED_WIDTH * pop.cycle)
    return 1.0 / (1.0 + np.exp(-x, dtype=np.float32))


def relevant(interests: np.ndarray, u: np.ndarray, targeting) -> np.ndarray:
    """Whether an offer is relevant: aimed at the customer's interests (chance = targeting)
    or, if not aimed, its random category happens to interest them.

    One uniform gives both the aim (its fractional part after scaling) and the category.
    """
    scaled = u * N_CATEGORIES
    category = scaled.astype(np.uint8)
    aimed = (scaled - category) < targeting
    return aimed | ((interests >> category) & 1).astype(bool)


def step(pop: Population, policy: Policy, u: Draws, c: Coefficients, journal: dict | None = None) -> dict:
    """Advance ``pop`` by one week under ``policy``; return the week's counts and money.

    If ``journal`` is a dict, the week's event masks are stored in it (for journeys).
    """
    p = c.p
    n = pop.n
    f32 = np.float32

    # 1. time passes
    pop.vehicle_age += 1
    pop.service_due -= 1
    pop.fatigue *= f32(1 - p["fatigue_recovery"])
    pop.affinity *= f32(1 - p["affinity_decay"])
    pop.reciprocity *= f32(1 - p["reciprocity_memory"])
    need_now = need(pop)

    # 2. the rival's offers
    rival_rate = p["rival_contact_rate"]
    rival_offer = u.rival < rival_rate
    rival_relevant = rival_offer & relevant(pop.interests, u.rival / max(rival_rate, 1e-9) % 1.0,
                                            p["rival_targeting"])

    # 3. our contacts
    seg = pop.stage.astype(np.intp) * 2 + pop.tier
    frequency = policy.frequency.ravel()[seg]
    channel = policy.channel.ravel()[seg]
    contactable = pop.known & pop.opted_in
    cost_each = c.channel_cost[channel]
    wanted = float(np.dot(frequency[contactable], cost_each[contactable]))
    thin = 1.0 if wanted <= p["budget"] else p["budget"] / wanted
    contacted = contactable & (u.contact < frequency * f32(thin))
    mix = policy.mix_cum.reshape(-1, len(CONTENTS))
    content = ((u.content >= mix[seg, 0]).astype(np.int8) + (u.content >= mix[seg, 1])
               + (u.content >= mix[seg, 2]))
    is_offer = content == SALES
    offer_relevant = relevant(pop.interests, u.aim, policy.targeting.ravel()[seg])
    due_soon = pop.service_due <= REMINDER_WINDOW
    fitting = np.where(is_offer, offer_relevant, np.where(content == REMINDER, due_soon, True))
    irrelevant = contacted & ~fitting
    noise = (irrelevant | (rival_offer & ~rival_relevant))
    pop.fatigue += np.where(noise, f32(p["fatigue_irrelevant"]),
                            np.where(contacted | rival_offer, f32(p["fatigue_relevant"]), f32(0)))
    np.minimum(pop.fatigue, 1, out=pop.fatigue)
    unsubscribed = irrelevant & (u.unsubscribe < p["unsubscribe_rate"] * pop.fatigue)
    pop.opted_in &= ~unsubscribed
    contact_cost = np.where(contacted, cost_each + np.where(content == VALUE, p["cost_value_content"], 0.0), 0.0)

    # 4. attention and what is read
    attention = c.attention[channel] * (f32(0.5) + pop.trust) * (1 - f32(p["fatigue_sensitivity"]) * pop.fatigue)
    opened = contacted & (u.open < attention)
    value_read = opened & (content == VALUE)
    invite_read = opened & (content == EVENT)
    attended = invite_read & (u.event < p["event_attendance"] * (f32(0.5) + pop.affinity))
    ask_read = opened & is_offer
    reminder_read = opened & (content == REMINDER) & due_soon
    balance = pop.reciprocity.copy()
    strength = f32(p["reciprocity_strength"])
    heed = np.clip(1 + strength * f32(p["reciprocity_heed"]) * balance, 0, 2)
    pop.trust -= np.where(ask_read & ~offer_relevant & (balance < 0), strength * f32(p["ask_trust_cost"]), f32(0))
    gained = value_read | attended
    pop.trust += np.where(gained, f32(p["value_trust_gain"]) * (1 - pop.trust), f32(0))
    pop.affinity += np.where(value_read, f32(p["value_affinity_gain"]) * (1 - pop.affinity), f32(0))
    pop.affinity += np.where(attended, f32(p["event_affinity_gain"]) * (1 - pop.affinity), f32(0))
    pop.reciprocity += gained.astype(np.float32) - ask_read
    offer_read = ask_read & offer_relevant
    visited = (offer_read | attended | value_read) & (
        u.visit < p["visit_rate"] * (f32(0.5) + need_now) * np.where(offer_read | attended, f32(1), f32(0.3)))
    contact_cost += np.where(attended, p["cost_attendee"], 0.0)

    # 5. purchases
    offer_push = np.where(offer_read, heed, f32(0))
    hazard = p["purchase_hazard"] * need_now * (1 + f32(p["offer_lift"]) * (offer_push + rival_relevant))
    buying = u.buy < hazard
    relationship = (pop.stage == Stage.CONNECTION) | (pop.stage == Stage.LOYALTY)
    u_us = (f32(p["trust_weight"]) * pop.trust + f32(p["affinity_weight"]) * pop.affinity
            + f32(p["offer_pull"]) * offer_push + c.existing * relationship)
    u_rival = f32(p["rival_pull"]) + f32(p["offer_pull"]) * rival_relevant + c.existing * (pop.owner == RIVAL)
    bought_us = buying & (u.choice < 1 / (1 + np.exp(u_rival - u_us)))
    bought_rival = buying & ~bought_us
    pop.replacements_by_our_owners += int((buying & relationship).sum())
    pop.repurchases_with_us += int((bought_us & relationship).sum())
    vehicle_margin = np.where(bought_us, p["vehicle_margin"] * pop.spend.astype(np.float64), 0.0)
    pop.vehicle_age[buying] = 0
    pop.service_due[buying] = p["service_interval_weeks"]
    pop.owner[bought_us] = US
    pop.owner[bought_rival] = RIVAL
    newly_known = bought_us & ~pop.known
    pop.known |= bought_us
    opt_ins = newly_known & (u.opt_in < p["opt_in"])
    pop.opted_in |= opt_ins
    pop.ever_ours |= bought_us
    pop.purchases += bought_us
    pop.affinity += np.where(bought_us, f32(p["purchase_affinity_gain"]) * (1 - pop.affinity), f32(0))

    # 6. service
    due = pop.service_due <= 0
    sold_by_us = pop.owner == US
    v_us = (f32(p["trust_weight"]) * pop.trust + f32(p["affinity_weight"]) * pop.affinity
            + f32(p["service_pull"]) * sold_by_us + f32(p["service_reminder_lift"]) * reminder_read)
    v_other = f32(p["rival_pull"]) + f32(p["service_pull"]) * ~sold_by_us
    serviced_us = due & (u.service_choice < 1 / (1 + np.exp(v_other - v_us)))
    ours_now = relationship | bought_us
    pop.service_by_our_owners += int((due & ours_now).sum())
    pop.service_with_us_by_our_owners += int((serviced_us & ours_now).sum())
    pop.serviced_with_us[due] = serviced_us[due]
    satisfied = u.quality < p["service_quality"]
    gain = f32(p["service_trust_gain"])
    pop.trust += np.where(serviced_us, np.where(satisfied, gain * (1 - pop.trust), -2 * gain * pop.trust), f32(0))
    pop.affinity += np.where(serviced_us & satisfied, f32(p["service_affinity_gain"]) * (1 - pop.affinity), f32(0))
    service_margin = np.where(serviced_us, p["service_margin"] * pop.spend.astype(np.float64), 0.0)
    pop.service_visits += serviced_us
    pop.service_due[due] = p["service_interval_weeks"]

    # 7. defection of owners with low equity
    np.clip(pop.trust, 0, 1, out=pop.trust)
    np.clip(pop.affinity, 0, 1, out=pop.affinity)
    equity = (pop.trust + pop.affinity) * f32(0.5)
    rival_preferred = 1 / (1 + np.exp(u_us - u_rival))
    drifted = relationship & ~buying & (u.defect < p["defection_rate"] * rival_preferred)

    # 8. lifecycle stage
    old_stage = pop.stage.copy()
    engaged = visited | attended
    threshold = f32(p["loyalty_threshold"])
    stage = np.where(pop.known & ((need_now > 0.5) | engaged), Stage.CONSIDERATION, Stage.PROSPECT)
    stage = np.where(old_stage == Stage.LAPSED, Stage.LAPSED, stage)
    stage = np.where(relationship | (old_stage == Stage.PURCHASE),
                     np.where(equity >= threshold, Stage.LOYALTY, Stage.CONNECTION), stage)
    defected = (relationship & bought_rival) | drifted
    stage = np.where(defected, Stage.LAPSED, stage)
    stage = np.where(bought_us, Stage.PURCHASE, stage)
    pop.stage[:] = stage

    # 9. word of mouth
    referrals = np.zeros(n, bool)
    promoters = detractors = np.zeros(n, bool)
    if p["word_of_mouth"] and pop.ties.shape[1] > 0:
        experienced = pop.known | pop.ever_ours
        sentiment = equity * (1 - f32(0.5) * pop.fatigue)
        promoters = experienced & (sentiment >= p["promoter_threshold"])
        detractors = experienced & (sentiment <= p["detractor_threshold"])
        talking = (promoters | detractors) & (u.talk < p["talk_rate"])
        k = pop.ties.shape[1]
        slot_f = u.tie * k
        slot = slot_f.astype(np.intp)
        heard = slot_f - slot
        speakers = np.flatnonzero(talking)
        listeners = pop.ties[speakers, slot[speakers]]
        positive = promoters[speakers]
        heeded = heard[speakers] < np.where(positive, p["heed_positive"], p["heed_negative"])
        effect = f32(p["word_of_mouth_effect"])
        up = np.bincount(listeners[heeded & positive], minlength=n) > 0
        down = np.bincount(listeners[heeded & ~positive], minlength=n) > 0
        pop.trust += np.where(up, effect * (1 - pop.trust), f32(0))
        pop.trust -= np.where(down, effect * pop.trust, f32(0))
        np.clip(pop.trust, 0, 1, out=pop.trust)
        referrals = up & ~pop.known
        pop.known |= referrals
        opt_ins = opt_ins | (referrals & ~pop.opted_in)
        pop.opted_in |= referrals

    # ledger
    pop.contacts += contacted
    pop.cost += contact_cost
    margin = vehicle_margin + service_margin
    pop.margin += margin
    if journal is not None:
        journal.update(contacted=contacted, channel=channel, content=content, opened=opened,
                       relevant=fitting, visited=visited, attended=attended, bought_us=bought_us,
                       bought_rival=bought_rival, serviced=due, serviced_us=serviced_us,
                       unsubscribed=unsubscribed, referred=referrals, old_stage=old_stage)
    return {
        "contacts": int(contacted.sum()),
        "offers": int((contacted & is_offer).sum()),
        "relevant_offers": int((contacted & is_offer & offer_relevant).sum()),
        "opens": int(opened.sum()),
        "visits": int(visited.sum()),
        "event_attendance": int(attended.sum()),
        "our_sales": int(bought_us.sum()),
        "rival_sales": int(bought_rival.sum()),
        "rival_contacts": int(rival_offer.sum()),
        "rival_revenue": float(p["vehicle_margin"] * pop.spend[bought_rival].sum(dtype=np.float64)
                               + p["service_margin"] * pop.spend[due & ~serviced_us].sum(dtype=np.float64)),
        "offer_sales": int((bought_us & offer_read).sum()),
        "service_visits": int(serviced_us.sum()),
        "rival_service_visits": int((due & ~serviced_us).sum()),
        "unsubscribes": int(unsubscribed.sum()),
        "opt_ins": int(opt_ins.sum()),
        "defections": int(defected.sum()),
        "referrals": int(referrals.sum()),
        "vehicle_margin": float(vehicle_margin.sum()),
        "service_margin": float(service_margin.sum()),
        "revenue": float(margin.sum()),
        "cost": float(contact_cost.sum()),
        "promoters": int(promoters.sum()),
        "detractors": int(detractors.sum()),
    }
