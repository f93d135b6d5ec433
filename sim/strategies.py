"""Contact strategies as data: a policy says, per stage and tier, how often to contact,
through which channel, with which content mix and how strictly to target relevance.

A strategy is a mapping (usually a YAML file in ``configs/strategy/``)::

    name: my_strategy
    label: value first          # a few words for the report's sentences (default: the name)
    description: one sentence for reports
    default: {frequency: 0.5, channel: email, targeting: 0.3,
              mix: {sales_offer: 0.2, value_content: 0.8}}
    rules:                      # applied in order, later rules win
      - stages: [connection, loyalty]
        tiers: [heavy]
        channel: phone

``compile_policy`` turns it into small lookup tables indexed by (stage, tier).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from .params import CHANNELS, CONTENTS, ParameterError
from .resources import STRATEGY_DIR
from .state import STAGES, TIERS

SETTINGS = ("frequency", "channel", "mix", "targeting")
MAX_FILE_BYTES = 1_000_000  # a strategy is a few hundred bytes; the built-ins are under 2 kB
MAX_NODES = 100_000  # values in a file once its aliases are expanded (guards against "billion laughs")
MAX_DEPTH = 50  # nesting of mappings and lists (a strategy needs 4)


@dataclass(frozen=True)
class Policy:
    """A compiled strategy: lookup tables of shape (stages, tiers)."""

    name: str
    description: str
    frequency: np.ndarray  # float32, contacts per week (probability of a contact this week)
    channel: np.ndarray  # int8, index into CHANNELS
    mix_cum: np.ndarray  # float32 (stages, tiers, contents), cumulative content shares
    targeting: np.ndarray  # float32, share of offers aimed at the customer's interests
    spec: dict  # the validated mapping it was compiled from
    label: str = ""  # a few words for the verdict's sentences ("value first"); empty: the name


def builtin_strategies() -> list[str]:
    """Names of the strategies shipped in ``configs/strategy/``."""
    return sorted(p.stem for p in STRATEGY_DIR.glob("*.yaml"))


def load_strategy(spec: str | Path | Mapping[str, Any] | Policy) -> Policy:
    """Compile a strategy given by built-in name, YAML path or mapping.

    Raises:
        ParameterError: unknown name, missing, empty or invalid file, or invalid field (one
            line; a file's errors start with its path).
    """
    if isinstance(spec, Policy):
        return spec
    if isinstance(spec, Mapping):
        return compile_policy(spec)
    if not isinstance(spec, (str, Path)):
        raise ParameterError(f"strategy={_show(spec)}: expected a strategy name, a YAML path or a mapping")
    path = Path(spec)
    if not is_strategy_path(str(spec)):
        names = builtin_strategies()
        if str(spec) not in names:
            raise ParameterError(f"strategy={_show(spec)}: unknown, allowed are {', '.join(names)} or a YAML file")
        path = STRATEGY_DIR / f"{spec}.yaml"
    if not path.is_file():
        raise ParameterError(f"strategy={str(spec)!r}: file not found")
    return load_strategy_file(path)


def is_strategy_path(value: str) -> bool:
    """Whether a ``strategy=`` value names a file (``./my.yaml``, ``/abs/plan.yml``) rather
    than a strategy by name."""
    return value.endswith((".yaml", ".yml")) or "/" in value or "\\" in value


def load_strategy_file(path: Path) -> Policy:
    """Compile the strategy of a YAML file; its name defaults to the file's name.

    Raises:
        ParameterError: one line starting with the file's path (and its line for a YAML
            syntax error), naming the field and what is allowed.
    """
    data = read_yaml(path, str(path))
    if data is None:
        raise ParameterError(f"{path}: the strategy file is empty; give a default and/or rules "
                             f"(no_contact is the strategy that sends nothing)")
    if not isinstance(data, Mapping):
        raise ParameterError(f"{path}: expected a mapping at the top of the file (name, description, default, rules)")
    data = dict(data)
    data.setdefault("name", path.stem)
    try:
        return compile_policy(data)
    except ParameterError as err:
        raise ParameterError(f"{path}: {err}") from None


def yaml_error_line(err: yaml.YAMLError, path: Path | str | None = None) -> str:
    """A YAML syntax error as one line ``<file>:<line>:<col>: <problem>`` (1-based)."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err).splitlines()[0]
    name = str(path) if path is not None else (getattr(mark, "name", None) or "<yaml>")
    if mark is None:
        return f"{name}: not valid YAML ({problem})"
    return f"{name}:{mark.line + 1}:{mark.column + 1}: {problem}"


def read_yaml(path: Path, where: str, what: str = "a strategy") -> Any:
    """Read a small YAML file safely: size capped, UTF-8, bounded nesting and alias expansion.

    Aliases are kept as shared nodes while the file is composed; the file is refused before
    anything is built if expanding them would give more than ``MAX_NODES`` values, if an
    alias refers to itself, or if it nests deeper than ``MAX_DEPTH``.

    Raises:
        ParameterError: one line starting with ``where`` (which names the file); a syntax
            error as ``<file>:<line>:<col>: <problem>``.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ParameterError(f"{where}: file is {size:,} bytes, more than the {MAX_FILE_BYTES:,} allowed "
                                 f"for {what}")
        raw = path.read_bytes()
    except OSError as err:
        raise ParameterError(f"{where}: cannot read the file ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ParameterError(f"{where}: not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start}); "
                             f"save the file as UTF-8") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        raise ParameterError(yaml_error_line(err, path)) from None
    except RecursionError:
        raise ParameterError(f"{where}: nested too deeply (at most {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()


def _check_nodes(root: yaml.Node, where: str) -> None:
    """Refuse a composed YAML graph that is recursive, too deep, or too big once expanded."""
    sizes: dict[int, int] = {}  # id(node) -> values below it, aliases expanded
    open_: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ParameterError(f"{where}: an alias refers to itself (recursive YAML is not allowed)")
        if depth > MAX_DEPTH:
            raise ParameterError(f"{where}: nested too deeply (at most {MAX_DEPTH} levels)")
        total = 1
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            open_.add(key)
            children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
            for child in children:
                total += size(child, depth + 1)
                if total > MAX_NODES:
                    raise ParameterError(f"{where}: more than {MAX_NODES:,} values once its aliases are expanded; "
                                         f"write the values out instead of nesting aliases")
            open_.discard(key)
        sizes[key] = total
        return total

    size(root, 0)


def compile_policy(spec: Mapping[str, Any]) -> Policy:
    """Validate a strategy mapping and build its (stage, tier) lookup tables."""
    try:
        spec = _plain(spec)
    except RecursionError:
        raise ParameterError(f"strategy: nested too deeply or refers to itself (at most {MAX_DEPTH} levels)") from None
    name = str(spec.get("name", "custom"))
    extra = sorted(set(spec) - {"name", "label", "description", "default", "rules"})
    if extra:
        raise ParameterError(f"strategy.{extra[0]}: unknown key, allowed are name, label, description, default, rules")
    if not spec.get("default") and not spec.get("rules"):
        raise ParameterError("strategy: says nothing (no default, no rules); give a default and/or rules "
                             "(no_contact is the strategy that sends nothing)")
    default = _settings(spec.get("default") or {}, "strategy.default")
    for key, value in (("frequency", 0.0), ("channel", "email"), ("targeting", 0.0),
                       ("mix", {"sales_offer": 1.0})):
        default.setdefault(key, value)
    table = [[dict(default) for _ in TIERS] for _ in STAGES]
    rules = spec.get("rules") or []
    if not isinstance(rules, list):
        raise ParameterError(f"strategy.rules={_show(rules)}: expected a list of rules")
    for i, rule in enumerate(rules):
        where = f"strategy.rules[{i}]"
        if not isinstance(rule, Mapping):
            raise ParameterError(f"{where}={_show(rule)}: expected a mapping")
        rule = dict(rule)
        stages = _names(rule.pop("stages", list(STAGES)), STAGES, f"{where}.stages")
        tiers = _names(rule.pop("tiers", list(TIERS)), TIERS, f"{where}.tiers")
        settings = _settings(rule, where)
        for s in stages:
            for t in tiers:
                table[STAGES.index(s)][TIERS.index(t)].update(settings)
    shape = (len(STAGES), len(TIERS))
    frequency = np.zeros(shape, np.float32)
    channel = np.zeros(shape, np.int8)
    targeting = np.zeros(shape, np.float32)
    mix_cum = np.zeros(shape + (len(CONTENTS),), np.float32)
    for s in range(shape[0]):
        for t in range(shape[1]):
            cell = table[s][t]
            frequency[s, t] = cell["frequency"]
            channel[s, t] = CHANNELS.index(cell["channel"])
            targeting[s, t] = cell["targeting"]
            weights = np.array([cell["mix"].get(c, 0.0) for c in CONTENTS], np.float64)
            weights /= weights.max()  # first to [0, 1]: a sum of huge weights would overflow
            mix_cum[s, t] = np.cumsum(weights / weights.sum())
    mix_cum[..., -1] = 1.0
    return Policy(name, str(spec.get("description", "")), frequency, channel, mix_cum, targeting, spec,
                  str(spec.get("label") or ""))


def _plain(obj: Any) -> Any:
    """Mappings and lists as plain dicts and lists (OmegaConf objects included)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) or type(obj).__name__ == "ListConfig":
        return [_plain(v) for v in obj]
    return obj


def _number(value: Any) -> bool:
    """A real number (numpy scalars included), not a boolean, not NaN."""
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and not math.isnan(_float(value)))


def _show(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that an error stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _float(value: Any) -> float:
    """``float(value)``, or infinity for a whole number too big for a float."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _names(value: Any, allowed: tuple[str, ...], where: str) -> list[str]:
    """A rule's ``stages`` or ``tiers``: a non-empty list of known names (a lone name is
    refused: ``stages: lapsed`` is most likely a slip for ``stages: [lapsed]``)."""
    if isinstance(value, str):
        raise ParameterError(f"{where}={_show(value)}: expected a list, write [{value}]")
    if not isinstance(value, list) or not value:
        raise ParameterError(f"{where}={_show(value)}: expected a list from {', '.join(allowed)}")
    for v in value:
        if v not in allowed:
            raise ParameterError(f"{where}={_show(v)}: unknown, allowed are {', '.join(allowed)}")
    return value


def _settings(raw: Any, where: str) -> dict:
    """Check the contact settings of a default or a rule."""
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}={_show(raw)}: expected a mapping of {', '.join(SETTINGS)}")
    out = {}
    for key, value in raw.items():
        field = f"{where}.{key}"
        if key not in SETTINGS:
            raise ParameterError(f"{field}: unknown setting, allowed are {', '.join(SETTINGS)} (and stages, tiers in rules)")
        if key in ("frequency", "targeting"):
            if not _number(value) or not 0.0 <= value <= 1.0:
                unit = " contacts per week" if key == "frequency" else ""
                raise ParameterError(f"{field}={_show(value)}: expected a number in [0, 1]{unit}")
            out[key] = float(value)
        elif key == "channel":
            if value not in CHANNELS:
                raise ParameterError(f"{field}={_show(value)}: unknown channel, allowed are {', '.join(CHANNELS)}")
            out[key] = value
        else:
            if not isinstance(value, Mapping) or not value:
                raise ParameterError(f"{field}={_show(value)}: expected a mapping of {', '.join(CONTENTS)} to weights")
            mix = {}
            for content, weight in value.items():
                if content not in CONTENTS:
                    raise ParameterError(f"{field}.{content}: unknown content, allowed are {', '.join(CONTENTS)}")
                if not _number(weight) or not 0 <= weight < math.inf or not math.isfinite(_float(weight)):
                    raise ParameterError(f"{field}.{content}={_show(weight)}: expected a finite weight >= 0")
                mix[content] = float(weight)
            out[key] = _check_mix(mix, field)
    return out


MIX_TOLERANCE = 1e-6  # how far from 1 the shares of a content mix may sum (decimals such as 0.7 + 0.2 + 0.1)


def _check_mix(mix: dict, field: str) -> dict:
    """A content mix: shares that sum to 1 (a mix is never normalised silently: weights
    of 3 and 1 are refused, not read as 0.75 and 0.25)."""
    try:
        total = math.fsum(mix.values())
    except OverflowError:  # weights near the largest float
        total = math.inf
    if total <= 0:
        raise ParameterError(f"{field}: weights sum to 0, at least one must be positive")
    if not abs(total - 1.0) <= MIX_TOLERANCE:
        raise ParameterError(f"{field}: shares sum to {total:.6g}, expected 1 "
                             f"(e.g. {{value_content: 0.7, sales_offer: 0.3}})")
    return mix
