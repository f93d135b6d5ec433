"""Model parameters: every one declared once, beside the mechanism that uses it.

Each mechanism module (``sim/mechanisms/*.py``) and the starting market (``sim/market.py``)
declare their parameters (``Param``: default, unit, valid range, group, source, meaning);
``PARAMS`` gathers them in the order of ``ORDER`` (the order of the docs' table and of the
Hydra schema). ``validate`` turns a dict of user values into a complete, checked parameter
set, or raises ``ParameterError`` with one line naming the field, the value and what is
allowed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import yaml

from . import market
from .declare import INF, A, Param, ParameterError
from .mechanisms import MECHANISMS
from .resources import CONFIG_DIR
from .state import CHANNELS, CONTENTS

__all__ = ["PARAMS", "ORDER", "Param", "ParameterError", "CHANNELS", "CONTENTS", "INF", "defaults", "validate",
           "markdown_table", "write_markdown_table"]

# The order of the parameter table: market, behaviour, economics, rival (each in reading order).
ORDER = (
    "customers", "our_share", "prospects_known", "opt_in", "heavy_share", "pareto_alpha", "interest_share",
    "trust_owners", "trust_others", "affinity_owners", "affinity_others", "replacement_weeks",
    "replacement_spread", "burn_in_weeks", "turnover_rate", "service_interval_weeks", "social_ties", "rewiring", "word_of_mouth",
    "attention_email", "attention_mail", "attention_phone", "attention_event", "fatigue_sensitivity",
    "fatigue_irrelevant", "fatigue_relevant", "fatigue_recovery", "unsubscribe_rate", "reactance_trust_cost", "value_trust_gain",
    "value_affinity_gain", "event_affinity_gain", "event_attendance", "reciprocity_strength",
    "reciprocity_heed", "reciprocity_memory", "affinity_decay", "visit_rate",
    "purchase_hazard", "offer_lift", "offer_pull", "trust_weight", "affinity_weight",
    "existing_customer_bonus", "service_pull", "service_age_decline", "service_reminder_lift", "service_quality",
    "service_trust_gain", "service_affinity_gain", "purchase_affinity_gain", "defection_rate",
    "loyalty_threshold", "promoter_threshold", "detractor_threshold", "talk_rate", "word_of_mouth_effect",
    "heed_negative", "heed_positive", "vehicle_margin", "service_margin", "cost_email", "cost_mail",
    "cost_phone", "cost_event", "cost_value_content", "cost_attendee", "budget", "rival_pull",
    "rival_contact_rate", "rival_targeting", "rival_cost_per_contact",
)


def _gather() -> dict[str, Param]:
    """PARAMS in ``ORDER``, from the declarations of the market and of every mechanism."""
    declared: dict[str, Param] = {}
    for module in (market, *MECHANISMS):
        for p in module.PARAMS:
            if p.name in declared:
                raise ValueError(f"parameter {p.name!r} declared twice ({module.__name__})")
            declared[p.name] = p
    missing, unordered = set(ORDER) - set(declared), set(declared) - set(ORDER)
    if missing or unordered:
        raise ValueError(f"ORDER and the declarations differ: undeclared {sorted(missing)}, "
                         f"not in ORDER {sorted(unordered)}")
    return {name: declared[name] for name in ORDER}


def _calibrated(params: dict[str, Param]) -> dict[str, Param]:
    """``params`` with the defaults of ``CALIBRATED`` (written by ``make calibration``) in place."""
    if not CALIBRATED.exists():
        return params
    data = yaml.safe_load(CALIBRATED.read_text())
    source = f"calibrated to configs/targets/{data['targets']}.yaml (`make calibration`, {data['date']})"
    for name, value in data["parameters"].items():
        if name not in params:
            raise ValueError(f"{CALIBRATED}: {name!r} is not a parameter")
        params[name] = replace(params[name], default=params[name].check(value), source=source)
    return params


CALIBRATED = CONFIG_DIR / "calibrated.yaml"  # the shipped defaults of the calibrated parameters
PARAMS: dict[str, Param] = _calibrated(_gather())


def defaults() -> dict[str, Any]:
    """Default value of every parameter."""
    return {name: p.default for name, p in PARAMS.items()}


def validate(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Complete ``values`` with defaults and check every field.

    Raises:
        ParameterError: for an unknown field or a value of wrong type or out of range.
    """
    values = dict(values or {})
    unknown = sorted(set(values) - set(PARAMS))
    if unknown:
        raise ParameterError(f"unknown parameter {unknown[0]!r}: allowed are {', '.join(PARAMS)}")
    out = defaults()
    for name, value in values.items():
        out[name] = PARAMS[name].check(value)
    for low, high in BELOW:
        if out[low] >= out[high]:
            raise ParameterError(f"{low}={out[low]}: must be below {high}={out[high]}")
    return out


# Cross-field rules: each (a, b) requires a < b. The CLI checks them on every combination of a sweep.
BELOW: tuple[tuple[str, str], ...] = (("detractor_threshold", "promoter_threshold"), ("social_ties", "customers"))


def markdown_table() -> str:
    """The parameter table of docs/model.md, generated from PARAMS so that it stays true."""
    rows = ["| group | name | default | unit | range | plausible | source | plausible from | meaning |",
            "|---|---|---|---|---|---|---|---|---|"]
    for p in PARAMS.values():
        rng = "true/false" if p.kind is bool else p.allowed
        plausible = f"[{p.plausible[0]:g}, {p.plausible[1]:g}]" if p.plausible else "-"
        origin = (p.plausible_source or A) if p.plausible else "-"
        default = f"{p.default:.4g}" if p.kind is float else p.default
        rows.append(f"| {p.group} | `{p.name}` | {default} | {p.unit} | {rng} | {plausible} | {p.source} "
                    f"| {origin} | {p.doc} |")
    return "\n".join(rows)



def write_markdown_table(path: str) -> None:
    """Refresh the table between the params markers of a Markdown file (``make docs``)."""
    from pathlib import Path

    file = Path(path)
    head, rest = file.read_text().split("<!-- params:start -->\n", 1)
    tail = rest.split("\n<!-- params:end -->", 1)[1]
    file.write_text(f"{head}<!-- params:start -->\n{markdown_table()}\n<!-- params:end -->{tail}")
