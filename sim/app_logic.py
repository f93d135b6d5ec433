"""Pure logic of the dashboard (no Solara here, so it can be tested fast).

The dashboard (``sim/app_page.py``) shows controls whose values end up in three places:
the contact strategy (a preset YAML adjusted by the strategy sliders), the weekly budget
and a few market parameters. This module turns control values into those, defines the
classroom lessons, samples the social network view and finds the payback week.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from numbers import Integral
from typing import Any

import numpy as np

from .params import CHANNELS, PARAMS, ParameterError
from .state import STAGES
from .strategies import builtin_strategies, load_strategy

DEFAULT_CUSTOMERS = 3000
DEFAULT_PRESET = "reciprocal_value"
DEFAULT_SEED = "42"
AS_PRESET = "as preset"  # channel choice that keeps each rule's own channel
NO_LIMIT = "no limit"
BUDGETS = (NO_LIMIT, "$25", "$50", "$100", "$200", "$400", "$800", "$1600", "$3200")
# Vega and Vega-Lite as shipped by solara-assets (exact versions, so Solara serves its local copies)
VEGA = "vega@5.21.0/build/vega.min.js"
VEGA_LITE = "vega-lite@5.2.0/build/vega-lite.min.js"
JOURNEYS = 12  # customers whose journey is recorded for the journey view
NETWORK_SAMPLE = 150

# Colour of each stage, colour-blind safe (Okabe-Ito), in STAGES order.
STAGE_COLOURS = {
    "prospect": "#999999",
    "consideration": "#E69F00",
    "purchase": "#CC79A7",
    "connection": "#56B4E9",
    "loyalty": "#009E73",
    "lapsed": "#D55E00",
}


@dataclass(frozen=True)
class Control:
    """One dashboard control: label, unit, and a hint shown under it.

    Attributes:
        name: Keyword of ``DashboardModel`` the control sets.
        label: Short label.
        unit: Unit shown after the value (may be empty).
        hint: One sentence saying what the control does.
        kind: ``"float"``, ``"int"``, ``"choice"``, ``"bool"`` or ``"text"``.
        lo, hi, step: Slider range (numbers only).
        choices: Allowed values (choices only).
    """

    name: str
    label: str
    unit: str
    hint: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    choices: tuple = field(default=())

    def shown(self, value: Any) -> str:
        """The label with the value and its unit, e.g. ``Contact frequency: 0.55 contacts/week``."""
        if self.kind == "float":
            text = f"{float(value):g}"
        elif self.kind == "int":
            text = f"{int(value):,}"
        elif self.kind == "bool":
            text = "on" if value else "off"
        else:
            text = str(value)
        return f"{self.label}: {text} {self.unit}".rstrip()

    def accept(self, value: Any) -> Any:
        """``value`` if this control allows it (as the control's type), else ParameterError (one line)."""
        if self.kind in ("float", "int"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                and self.lo - 1e-9 <= value <= self.hi + 1e-9 and (self.kind == "float" or float(value).is_integer())
            if not ok:
                kind = "a number" if self.kind == "float" else "a whole number"
                raise ParameterError(f"{self.name}={value!r}: expected {kind} in [{self.lo:g}, {self.hi:g}]")
            return float(min(max(value, self.lo), self.hi)) if self.kind == "float" else int(value)
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ParameterError(f"{self.name}={value!r}: allowed are {', '.join(map(str, self.choices))}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"{self.name}={value!r}: expected true or false")
            return value
        parse_seed(value)  # the only text control
        return str(value).strip()


def _market(name: str, label: str, hint: str, lo: float | None = None, hi: float | None = None,
            step: float | None = None) -> Control:
    p = PARAMS[name]
    if p.kind is bool:
        return Control(name, label, "", hint, "bool")
    lo = p.lo if lo is None else lo
    hi = p.hi if hi is None else hi
    unit = f"({lo:g} to {hi:g})" if p.unit == "1" else p.unit  # a plain factor: show its scale
    return Control(name, label, unit, hint, "float", lo, hi, step)


STRATEGY_CONTROLS: tuple[Control, ...] = (
    Control("frequency", "Contact frequency", "contacts/week",
            "How often a customer hears from us; the preset's stage rules keep their pace relative to it.",
            "float", 0.0, 1.0, 0.05),
    Control("value_share", "Value content share", "(0 sales offers only, 1 value only)",
            "Tips and information versus sales offers, among those two kinds of content.",
            "float", 0.0, 1.0, 0.05),
    Control("targeting", "Targeting strictness", "share aimed",
            "Share of offers aimed at the customer's interests; the rest are random.",
            "float", 0.0, 1.0, 0.05),
    Control("channel", "Channel", "", "Email is cheap; mail and events cost more; phone costs most but gets through.",
            "choice", choices=(AS_PRESET,) + CHANNELS),
    Control("budget", "Budget", "$/week", "Marketing spend cap; contacts beyond it are dropped at random.",
            "choice", choices=BUDGETS),
)

MARKET_CONTROLS: tuple[Control, ...] = (
    _market("fatigue_sensitivity", "Fatigue sensitivity",
            "How far fatigue stops opens: at 1, fully fatigued customers open nothing.", step=0.05),
    _market("fatigue_irrelevant", "Fatigue per irrelevant offer",
            "Irritation added by one offer that does not fit; wears off weekly.", hi=0.5, step=0.01),
    _market("reciprocity_strength", "Reciprocity strength",
            "How much customers weigh what we gave against what we asked.", step=0.1),
    _market("rival_pull", "Rival's pull",
            "Appeal of the rival dealer when a car is bought; higher loses more buyers.",
            lo=-3.0, hi=6.0, step=0.1),
    _market("word_of_mouth", "Word of mouth", "Promoters recommend us, detractors warn their friends."),
)

PRESET_CONTROL = Control("preset", "Strategy preset", "", "Who gets what, when: a policy from configs/strategy, "
                         "adjusted by the sliders.", "choice", choices=tuple(builtin_strategies()))

# Settings of the run itself (not of the strategy or market): applied at Reset, or the play speed.
SEED_CONTROL = Control("seed", "Random seed", "(whole number)",
                       "Same seed and settings give the same run; Reset applies it.", "text")
CUSTOMERS_CONTROL = Control("customers", "Customers", "customers", "Size of the market; Reset applies it.",
                            "int", 500, 10_000, 500)
SPEED_CONTROL = Control("speed", "Speed", "weeks/s", "How fast Play runs; a five-year lesson takes 260 weeks.",
                        "int", 1, 30, 1)
DEFAULT_SPEED = 15

CONTROLS: dict[str, Control] = {c.name: c for c in (*STRATEGY_CONTROLS, *MARKET_CONTROLS, PRESET_CONTROL,
                                                   SEED_CONTROL)}


def customers_control(customers: int) -> Control:
    """The customers slider, widened to include a market size given on the command line."""
    return replace(CUSTOMERS_CONTROL, lo=min(CUSTOMERS_CONTROL.lo, customers), hi=max(CUSTOMERS_CONTROL.hi, customers))


def update_controls(values: Mapping[str, Any], control: Control, value: Any) -> dict[str, Any]:
    """``values`` with one control changed; the value is checked first.

    A preset also moves the strategy sliders to its own values.

    Raises:
        ParameterError: the value is not allowed for this control (one line); nothing changes.
    """
    value = control.accept(value)
    update = {**values, control.name: value}
    if control.name == "preset":
        update |= preset_controls(value)
    return update


def preset_spec(preset: str) -> dict:
    """The strategy mapping of a built-in preset (a deep copy, safe to change)."""
    if preset not in builtin_strategies():
        raise ParameterError(f"preset={preset!r}: unknown, allowed are {', '.join(builtin_strategies())}")
    return copy.deepcopy(load_strategy(preset).spec)


def _value_share(mix: dict) -> float | None:
    """Value content / (value content + sales offers), or None if the mix has neither."""
    value, sales = mix.get("value_content", 0.0), mix.get("sales_offer", 0.0)
    return value / (value + sales) if value + sales > 0 else None


def preset_controls(preset: str) -> dict[str, Any]:
    """Slider values that reproduce a preset exactly (its ``default`` settings)."""
    default = preset_spec(preset).get("default") or {}
    share = _value_share(default.get("mix", {"sales_offer": 1.0}))
    return {
        "preset": preset,
        "frequency": float(default.get("frequency", 0.0)),
        "value_share": 0.5 if share is None else share,
        "targeting": float(default.get("targeting", 0.0)),
        "channel": AS_PRESET,
    }


def _adjust_mix(mix: dict, shift: float) -> dict:
    """Move the value-vs-sales share of ``mix`` by ``shift``, keeping other content and the total."""
    share = _value_share(mix)
    if share is None:
        return dict(mix)
    mass = mix.get("value_content", 0.0) + mix.get("sales_offer", 0.0)
    new = min(1.0, max(0.0, share + shift))
    out = dict(mix)
    out["value_content"], out["sales_offer"] = mass * new, mass * (1.0 - new)
    return out


def build_strategy(preset: str, frequency: float, value_share: float, targeting: float,
                   channel: str = AS_PRESET) -> dict:
    """The strategy mapping for a preset adjusted by the strategy sliders.

    The sliders move the preset's ``default`` settings to the chosen values and move its
    stage/tier rules along, so that a preset's structure survives (e.g. the lifecycle
    preset still calls buyers): rule frequencies are scaled by the same ratio (capped at
    1 contact/week), rule targeting and value shares are shifted by the same difference
    (clipped to [0, 1]). At the preset's own values the mapping is the preset unchanged.

    Args:
        preset: Built-in strategy name.
        frequency: Contacts per week in [0, 1] for the default setting.
        value_share: Value content / (value content + sales offers) in [0, 1].
        targeting: Share of offers aimed at the customer's interests in [0, 1].
        channel: A channel for every contact, or ``AS_PRESET`` to keep the preset's.

    Raises:
        ParameterError: a value outside its range (one line).
    """
    for name, value in (("frequency", frequency), ("value_share", value_share), ("targeting", targeting)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ParameterError(f"{name}={value!r}: expected a number in [0, 1]")
    if channel != AS_PRESET and channel not in CHANNELS:
        raise ParameterError(f"channel={channel!r}: allowed are {AS_PRESET}, {', '.join(CHANNELS)}")
    spec = preset_spec(preset)
    base = preset_controls(preset)
    default = dict(spec.get("default") or {})
    base_freq = base["frequency"]
    ratio = frequency / base_freq if base_freq > 0 else None
    share_shift = value_share - base["value_share"]
    target_shift = targeting - base["targeting"]
    rules = []
    for rule in spec.get("rules") or []:
        rule = dict(rule)
        if "frequency" in rule:
            rule["frequency"] = frequency if ratio is None else min(1.0, rule["frequency"] * ratio)
        if "targeting" in rule:
            rule["targeting"] = min(1.0, max(0.0, rule["targeting"] + target_shift))
        if "mix" in rule:
            rule["mix"] = _adjust_mix(rule["mix"], share_shift)
        if channel != AS_PRESET and "channel" in rule:
            rule["channel"] = channel
        rules.append(rule)
    default["frequency"] = float(frequency)
    default["targeting"] = float(targeting)
    mix = default.get("mix", {"sales_offer": 1.0})
    default["mix"] = _adjust_mix(mix, share_shift) if _value_share(mix) is not None else mix
    if channel != AS_PRESET:
        default["channel"] = channel
    changed = channel != AS_PRESET or any(abs(new - base[key]) > 1e-9 for key, new in (
        ("frequency", frequency), ("value_share", value_share), ("targeting", targeting)))
    name = f"{preset} (adjusted)" if changed else preset
    return {"name": name, "description": spec.get("description", ""), "default": default, "rules": rules}


def parse_budget(choice: str) -> float:
    """Budget choice (``"no limit"`` or ``"$200"``) as $/week, ``inf`` for no limit."""
    if choice == NO_LIMIT:
        return math.inf
    if isinstance(choice, str) and choice in BUDGETS:
        return float(choice.lstrip("$"))
    raise ParameterError(f"budget={choice!r}: allowed are {', '.join(BUDGETS)}")


def parse_seed(text: Any) -> int:
    """A seed typed in the dashboard as a whole number >= 0.

    Raises:
        ParameterError: not a whole number >= 0 (one line).
    """
    if isinstance(text, Integral) and not isinstance(text, bool):
        value = int(text)
    else:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise ParameterError(f"seed={text!r}: expected a whole number >= 0") from None
    if value < 0:
        raise ParameterError(f"seed={text!r}: expected a whole number >= 0")
    return value


def on_grid(control: Control, value: Any) -> Any:
    """``value`` on the slider's steps: a calibrated default (e.g. rival_pull 2.077) would
    otherwise be moved by the slider when shown, which counts as a change and ends the lesson."""
    if control.kind != "float" or not control.step:
        return value
    return round(round(value / control.step) * control.step, 10)


def default_controls() -> dict[str, Any]:
    """Every control at its starting value: the default preset and the model defaults."""
    out = preset_controls(DEFAULT_PRESET)
    out["budget"] = NO_LIMIT
    for c in MARKET_CONTROLS:
        out[c.name] = on_grid(c, PARAMS[c.name].default)
    out["seed"] = DEFAULT_SEED
    return out


@dataclass(frozen=True)
class Lesson:
    """A classroom story: control values and the explanation shown beside the charts."""

    title: str
    text: str
    watch: str
    settings: dict


def _lesson(title: str, text: str, watch: str, preset: str, **overrides) -> Lesson:
    settings = default_controls() | preset_controls(preset) | overrides
    return Lesson(title, text, watch, settings)


LESSONS: dict[str, Lesson] = {lesson.title: lesson for lesson in (
    _lesson("Offers that drown each other",
            "Every customer gets a sales offer every week, aimed at nothing in particular. Each irrelevant "
            "offer is noise that adds fatigue, so the next offer is opened less, including the one that "
            "would have fitted.",
            "Watch fatigue climb, opens fall and unsubscribes pile up; compare the incremental profit "
            "with the holdout that got no mail at all.",
            "constant_sales", fatigue_irrelevant=0.25, budget=NO_LIMIT),
    _lesson("Give before you ask",
            "Most contacts give something of value (tips, information, invitations) and only a few ask "
            "for a sale. Customers who received first feel they owe something and heed the asks more; "
            "trust and affinity grow slowly.",
            "Watch the J-curve: incremental profit first dips (the cost comes first), then climbs; the "
            "payback week is where it crosses zero.",
            "reciprocal_value", reciprocity_strength=2.0),
    _lesson("Your best customers",
            "A few heavy customers bring most of the profit (Pareto). This strategy gives them rich, "
            "personal, well-targeted contact and keeps a light touch for everyone else.",
            "Watch the cost stay low while profit holds up; in the journey view pick customers and see "
            "who gets the mail.",
            "best_customers"),
    _lesson("After the sale",
            "Each buyer is called, introduced to the service department and reminded when service is "
            "due. Service visits between purchases keep the relationship, and the next sale, with us.",
            "Watch the connection and loyalty stages in the funnel and the trust curve after each "
            "purchase; compare with the rival's pull set higher.",
            "service_followup"),
)}


DEFAULT_LESSON = "Give before you ask"  # the dashboard opens on a story, ready to play


def lesson_controls(title: str) -> dict[str, Any]:
    """Control values of a lesson (a copy), or ParameterError for an unknown title."""
    if title not in LESSONS:
        raise ParameterError(f"lesson={title!r}: allowed are {', '.join(LESSONS)}")
    return dict(LESSONS[title].settings)


@dataclass(frozen=True)
class NetworkSample:
    """A connected sample of customers and the ties among them, with a fixed layout.

    Attributes:
        nodes: Customer ids, shape (m,).
        edges: Pairs of positions into ``nodes``, shape (e, 2), each tie once.
        pos: Layout coordinates in [0, 1], shape (m, 2).
    """

    nodes: np.ndarray
    edges: np.ndarray
    pos: np.ndarray


def network_sample(ties: np.ndarray, size: int = NETWORK_SAMPLE, seed: int = 0) -> NetworkSample:
    """Snowball-sample ``size`` customers from the social network and lay them out.

    Starts from a random customer and adds neighbours breadth first (restarting from a new
    random customer if a component runs out), so the sample shows real ties between its
    members rather than isolated dots. The layout is a force-directed one, computed once.

    Args:
        ties: The (n, k) neighbour array of the population (``m.pop.ties``).
        size: Customers to sample (at most n).
        seed: Seed of the sampling and the layout (fixed per model reset).
    """
    ties = np.asarray(ties)
    n = ties.shape[0]
    size = min(size, n)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    seen = np.zeros(n, dtype=bool)
    queue: list[int] = []
    while len(chosen) < size:
        if not queue:
            free = np.flatnonzero(~seen)
            start = int(rng.choice(free))
            seen[start] = True
            queue.append(start)
        i = queue.pop(0)
        chosen.append(i)
        for j in rng.permutation(ties[i]) if ties.shape[1] else ():
            if not seen[j]:
                seen[j] = True
                queue.append(int(j))
    nodes = np.array(chosen, dtype=np.int64)
    index = {int(c): k for k, c in enumerate(nodes)}
    pairs = set()
    for k, c in enumerate(nodes):
        for j in ties[c] if ties.shape[1] else ():
            other = index.get(int(j))
            if other is not None and other != k:
                pairs.add((min(k, other), max(k, other)))
    edges = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return NetworkSample(nodes, edges, _spring_layout(len(nodes), edges, rng))


def _spring_layout(m: int, edges: np.ndarray, rng: np.random.Generator, iterations: int = 50) -> np.ndarray:
    """Fruchterman-Reingold layout of ``m`` nodes in the unit square (numpy, O(m^2) per step)."""
    pos = rng.random((m, 2))
    if m < 2:
        return pos
    k = 1.0 / math.sqrt(m)
    temperature = 0.1
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (delta / dist[..., None] * (k * k / dist)[..., None]).sum(axis=1)
        if edges.size:
            d = pos[edges[:, 0]] - pos[edges[:, 1]]
            dd = np.maximum(np.linalg.norm(d, axis=1), 1e-3)
            pull = d * (dd / k)[:, None]
            np.add.at(force, edges[:, 0], -pull)
            np.add.at(force, edges[:, 1], pull)
        length = np.maximum(np.linalg.norm(force, axis=1), 1e-9)
        pos += force / length[:, None] * np.minimum(length, temperature)[:, None]
        temperature *= 0.93
    pos -= pos.min(axis=0)
    span = pos.max(axis=0)
    return pos / np.where(span > 0, span, 1.0)


def stage_counts(stage: np.ndarray) -> dict[str, int]:
    """Customers per stage, in lifecycle order."""
    counts = np.bincount(np.asarray(stage, dtype=np.int64), minlength=len(STAGES))
    return {name: int(counts[i]) for i, name in enumerate(STAGES)}
