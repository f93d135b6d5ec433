"""Rule 3, our contacts: whom the policy contacts this week, with what content, by which
channel, whether it fits the customer, and what it costs.

The policy gives, per segment (stage x tier), a weekly contact chance, a channel, a
cumulative content mix and a targeting strictness; the budget's share (``budget``) thins
every chance. Every content has a relevance to the customer, whatever its label: a sales
offer, a piece of value content or an event invitation fits when it is on a topic of the
customer's interests, by aim or by chance (``shared.relevant``); a service reminder fits
within ``REMINDER_WINDOW`` weeks of the due date or when aimed. A generic newsletter is as
much noise as a generic offer.
"""

from __future__ import annotations

from collections import namedtuple

import numba as nb

from ..declare import A, Param
from ..state import CONTENTS, TIERS
from .draws import D, uniform
from .records import CHANNEL_SHIFT, C, E
from .shared import REMINDER, SALES, VALUE, aimed, relevant

PARAMS = (
    Param("cost_email", 0.25, "$/contact", 0.0, 1e4, "economics", A,
          "Cost of an email, content production included.",
          plausible=(0.05, 1.0)),
    Param("cost_mail", 1.50, "$/contact", 0.0, 1e4, "economics", A,
          "Cost of a mailing.",
          plausible=(0.5, 3.0)),
    Param("cost_phone", 6.00, "$/contact", 0.0, 1e4, "economics", A,
          "Cost of a phone call.",
          plausible=(3.0, 12.0)),
    Param("cost_event", 4.00, "$/contact", 0.0, 1e4, "economics", A,
          "Cost of an event invitation.",
          plausible=(1.0, 8.0)),
    Param("cost_value_content", 1.00, "$/contact", 0.0, 1e4, "economics",
          "assumption: giving value costs money (useful content, small gifts, free checks)",
          "Extra cost of a piece of value content (on top of the channel cost).",
          plausible=(0.25, 3.0)),
)
DRAWS = ("contact", "content", "aim")
READS = ("known", "opted_in", "stage", "tier", "interests", "service_due")
WRITES = ()

REMINDER_WINDOW = 4  # weeks before the due date in which a service reminder is relevant
N_TIERS = len(TIERS)

# This week's policy, per segment (stage * N_TIERS + tier): contact chance, channel, cumulative
# content mix and targeting; the cost of each channel; the budget's share of the chances.
Plan = namedtuple("Plan", "frequency channel mix targeting channel_cost thin")


@nb.njit(cache=True, inline="always")
def contact(k, key, i, plan, known, opted_in, stage, tier, interests, service_due, events, counts):
    """Our contact of the week, if any.

    Returns contacted, content, channel, fitting (the contact is relevant to the customer),
    due_soon (service due within the window), its cost and the events with the contact's bits.
    """
    segment = stage * N_TIERS + tier
    chance = plan.frequency[segment] * plan.thin  # no draw where it cannot be met (a uniform is never < 0)
    contacted = known and opted_in and chance > 0.0 and uniform(key, i, D.contact) < chance
    u = uniform(key, i, D.content) if contacted else 0.0  # content and aim only matter when contacted
    content = 0
    for j in range(len(CONTENTS) - 1):
        content += u >= plan.mix[segment, j]
    channel = plan.channel[segment]
    targeting = plan.targeting[segment]
    due_soon = service_due <= REMINDER_WINDOW
    if not contacted:
        fitting = False
    elif content == REMINDER:  # relevant near the due date, or when aimed (timed to the customer's car)
        fitting = due_soon or aimed(uniform(key, i, D.aim), targeting)
    else:  # a topic: of interest by aim or by chance
        fitting = relevant(interests, uniform(key, i, D.aim), targeting)
    contact_cost = 0.0
    if contacted:
        events |= E.contacted | content | (channel << CHANNEL_SHIFT)
        if fitting:
            events |= E.relevant
        counts[C.contacts] += 1
        if content == SALES:
            counts[C.offers] += 1
            counts[C.relevant_offers] += fitting
        contact_cost = plan.channel_cost[channel] + (k.cost_value_content if content == VALUE else 0.0)
    return contacted, content, channel, fitting, due_soon, contact_cost, events
