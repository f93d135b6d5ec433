"""Targets: published figures a quantity of the model is compared with (``configs/targets/``).

A targets file is YAML with a list ``targets``; each entry gives

    name        a unique identifier (default: the quantity's name)
    quantity    a name of ``sim.quantities.QUANTITIES``
    figure      the published figure, in the quantity's unit
    band        [lo, hi], the tolerance band; it must contain the figure
    source      who published it (non-empty text)
    year        the year of the figure (a whole number)
    conditions  optional, the keys the quantity allows (e.g. ``age_years: [0, 1]``)
    note        optional text (e.g. why the band is what it is)

``load_targets`` reads and checks a file; anything wrong raises ``ParameterError`` with one
line naming the file, the entry (index and name) and what is allowed. ``targets=published``
(the default of ``rapport validate``) is the file shipped in the package.

A dealer's own rates file is the other kind of targets file: a mapping of the rates the
dealer observes (``RATES``: ``open_rate: 0.21``...), each optionally with its own tolerance
(``open_rate: {rate: 0.21, tolerance: 0.1}``); ``load_targets`` turns it into targets whose
band is the rate times (1 -+ tolerance) (``rates_targets``). ``configs/targets/example_rates.yaml``
is an example.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .params import ParameterError
from .quantities import QUANTITY
from .resources import CONFIG_DIR
from .strategies import read_yaml

TARGET_DIR = CONFIG_DIR / "targets"
KEYS = ("name", "quantity", "figure", "band", "source", "year", "conditions", "note")
YEARS = (1900, 2100)
AGE_YEARS_MAX = 30


@dataclass(frozen=True)
class Target:
    """One checked target."""

    name: str
    quantity: str
    figure: float
    lo: float
    hi: float
    source: str
    year: int
    conditions: tuple[tuple[str, Any], ...] = ()  # sorted (key, value) pairs, hashable
    note: str = ""

    @property
    def condition(self) -> dict:
        return dict(self.conditions)

    def within(self, value: float) -> bool:
        """Whether ``value`` lies in the band (NaN: no)."""
        return bool(self.lo <= value <= self.hi)


def builtin_targets() -> list[str]:
    """Names of the targets files shipped in the package."""
    return sorted(p.stem for p in TARGET_DIR.glob("*.yaml"))


def resolve(spec: str | Path) -> Path:
    """A built-in name (``published``) or a path to a YAML file."""
    path = Path(spec)
    if path.suffix not in (".yaml", ".yml"):
        if str(spec) not in builtin_targets():
            raise ParameterError(f"targets={str(spec)!r}: unknown, allowed are {', '.join(builtin_targets())} "
                                 f"or a YAML file")
        path = TARGET_DIR / f"{spec}.yaml"
    return path


def load_targets(spec: str | Path) -> tuple[Target, ...]:
    """Read and check a targets file (see the module docstring)."""
    path = resolve(spec)
    if not path.is_file():
        raise ParameterError(f"targets={str(spec)!r}: file not found")
    data = read_yaml(path, str(path), "a targets file")  # a syntax error: <file>:<line>:<col>: <problem>
    if isinstance(data, Mapping) and data and "targets" not in data:
        return rates_targets(data, path)
    if not isinstance(data, Mapping) or set(data) != {"targets"}:
        raise ParameterError(f"{path}: expected a mapping with one key, targets (a list of targets), or a dealer's "
                             f"rates ({', '.join(RATES)})")
    entries = data["targets"]
    if not isinstance(entries, list) or not entries:
        raise ParameterError(f"{path}: targets: expected a non-empty list of targets")
    out: list[Target] = []
    for i, entry in enumerate(entries):
        target = check_target(entry, f"{path}: targets[{i}]")
        if any(t.name == target.name for t in out):
            raise ParameterError(f"{path}: targets[{i}] ({target.name}): name used twice, give each target its own "
                                 f"name")
        out.append(target)
    return tuple(out)


def check_target(entry: Any, where: str) -> Target:
    """One entry as a Target, or ParameterError naming ``where`` (file and index) and the name."""
    if not isinstance(entry, Mapping):
        raise ParameterError(f"{where}: expected a mapping with keys {', '.join(KEYS)}")
    label = entry.get("name", entry.get("quantity"))
    where = f"{where} ({label})" if isinstance(label, str) else where
    extra = sorted(set(map(str, entry)) - set(KEYS))
    if extra:
        raise ParameterError(f"{where}: unknown key {extra[0]!r}, allowed are {', '.join(KEYS)}")
    missing = [k for k in ("quantity", "figure", "band", "source", "year") if k not in entry]
    if missing:
        raise ParameterError(f"{where}: {missing[0]} is missing (each target needs quantity, figure, band, source, "
                             f"year)")
    quantity = entry["quantity"]
    if quantity not in QUANTITY:
        raise ParameterError(f"{where}: quantity {quantity!r} is unknown, allowed are {', '.join(QUANTITY)}")
    q = QUANTITY[quantity]
    name = entry.get("name", quantity)
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"{where}: name={name!r}: expected a non-empty text")
    figure = _number(entry["figure"], f"{where}: figure")
    band = entry["band"]
    if not isinstance(band, list) or len(band) != 2:
        raise ParameterError(f"{where}: band={band!r}: expected [lo, hi], two numbers")
    lo, hi = (_number(x, f"{where}: band") for x in band)
    if not lo < hi:
        raise ParameterError(f"{where}: band [{lo:g}, {hi:g}]: expected lo < hi")
    if not lo <= figure <= hi:
        raise ParameterError(f"{where}: band [{lo:g}, {hi:g}] excludes its own figure {figure:g}; "
                             f"allowed is lo <= figure <= hi")
    if q.unit == "share" and not (0 <= lo and hi <= 1):
        raise ParameterError(f"{where}: band [{lo:g}, {hi:g}]: {quantity} is a share, allowed is 0 <= lo < hi <= 1")
    source = entry["source"]
    if not isinstance(source, str) or not source.strip():
        raise ParameterError(f"{where}: source={source!r}: expected a non-empty text naming who published the "
                             f"figure")
    year = entry["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not YEARS[0] <= year <= YEARS[1]:
        raise ParameterError(f"{where}: year={year!r}: expected a whole number in [{YEARS[0]}, {YEARS[1]}]")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise ParameterError(f"{where}: note={note!r}: expected text")
    conditions = _conditions(entry.get("conditions") or {}, q, where)
    return Target(name.strip(), quantity, figure, lo, hi, source.strip(), year, conditions, note.strip())


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ParameterError(f"{where}={value!r}: expected a finite number")
    return float(value)


def _conditions(given: Any, q, where: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(given, Mapping):
        raise ParameterError(f"{where}: conditions={given!r}: expected a mapping")
    allowed = ", ".join(q.conditions) or "none"
    for key in given:
        if key not in q.conditions:
            raise ParameterError(f"{where}: condition {key!r} is unknown for {q.name}, allowed are {allowed}")
    for key in q.required:
        if key not in given:
            raise ParameterError(f"{where}: {q.name} needs the condition {key} (e.g. {key}: [0, 1])")
    out = []
    for key, value in sorted(given.items()):
        if key == "age_years":
            if not isinstance(value, list) or len(value) != 2:
                raise ParameterError(f"{where}: age_years={value!r}: expected [lo, hi] in years")
            lo, hi = (_number(x, f"{where}: age_years") for x in value)
            if not 0 <= lo < hi <= AGE_YEARS_MAX:
                raise ParameterError(f"{where}: age_years=[{lo:g}, {hi:g}]: expected 0 <= lo < hi <= "
                                     f"{AGE_YEARS_MAX}")
            value = (lo, hi)
        out.append((key, value))
    return tuple(out)


def describe_conditions(target: Target) -> str:
    """The conditions as short text, e.g. ``car aged 0-1 years``."""
    parts = []
    for key, value in target.conditions:
        if key == "age_years":
            parts.append(f"car aged {value[0]:g}-{value[1]:g} years")
    return ", ".join(parts)


# --- a dealer's own rates ---------------------------------------------------------------------
# Rate name in a dealer's rates file -> (quantity, what the dealer counts).
RATES: dict[str, tuple[str, str]] = {
    "open_rate": ("open_rate_email", "emails opened per email sent"),
    "clicks_per_email": ("visits_per_email", "clicks (website visits) per email sent"),
    "unsubscribes_per_email": ("unsubscribes_per_email", "unsubscribes per email sent"),
    "service_retention": ("service_retention", "service visits of the cars we sold that were made with us "
                                               "(cars aged service_retention_years)"),
    "repurchase": ("same_dealer_repurchase", "owners of a car we sold who bought their next car from us"),
}
RATE_SETTINGS = {  # the other keys of a rates file, with their defaults
    "tolerance": 0.15,  # assumption: a dealer's rate over a year is known to about +-15% of itself
    "service_retention_years": [0, 3],  # assumption: a dealer's retention usually counts cars up to 3 years
    "source": "",  # default: "the dealer's own rates (<file>)"
    "year": None,  # default: this year
}


def rates_targets(data: Mapping, path: Path) -> tuple[Target, ...]:
    """A dealer's rates file (``RATES``, ``RATE_SETTINGS``) as targets, one per rate given;
    ParameterError naming the file and the key if anything is wrong."""
    from datetime import date

    unknown = sorted(str(k) for k in data if k not in RATES and k not in RATE_SETTINGS)
    if unknown:
        raise ParameterError(f"{path}: {unknown[0]!r} is not a rate, allowed are {', '.join(RATES)} (and "
                             f"{', '.join(RATE_SETTINGS)}); a file of published targets is a mapping with one key, "
                             f"targets (a list of targets)")
    if not any(k in RATES for k in data):
        raise ParameterError(f"{path}: no rate given, expected one or more of {', '.join(RATES)}")
    settings = {**RATE_SETTINGS, **{k: data[k] for k in RATE_SETTINGS if k in data}}
    default_tolerance = _tolerance(settings["tolerance"], f"{path}: tolerance")
    source = settings["source"] or f"the dealer's own rates ({path.name})"
    year = settings["year"] if settings["year"] is not None else date.today().year
    out = []
    for name, (quantity, meaning) in RATES.items():
        if name not in data:
            continue
        given = data[name]
        entry = given if isinstance(given, Mapping) else {"rate": given}
        if set(entry) - {"rate", "tolerance"} or "rate" not in entry:
            raise ParameterError(f"{path}: {name}={given!r}: expected a rate (a number) or {{rate: 0.2, tolerance: "
                                 f"0.1}}")
        rate = _number(entry["rate"], f"{path}: {name}")
        tolerance = _tolerance(entry["tolerance"], f"{path}: {name}.tolerance") if "tolerance" in entry else (
            default_tolerance)
        if not 0 < rate <= 1:
            raise ParameterError(f"{path}: {name}={rate:g}: expected a share in (0, 1] ({meaning}), e.g. 0.21 for "
                                 f"21%")
        band = [max(0.0, rate * (1 - tolerance)), min(1.0, rate * (1 + tolerance))]
        raw = {"name": name, "quantity": quantity, "figure": rate, "band": band, "source": source, "year": year,
               "note": f"{meaning}; band: the rate -+{tolerance:.0%}"}
        if quantity == "service_retention":
            raw["conditions"] = {"age_years": settings["service_retention_years"]}
        out.append(check_target(raw, f"{path}: {name}"))
    return tuple(out)


def _tolerance(value: Any, where: str) -> float:
    tolerance = _number(value, where)
    if not 0 < tolerance < 1:
        raise ParameterError(f"{where}={tolerance:g}: expected a share of the rate in (0, 1), e.g. 0.15 for +-15%")
    return tolerance
