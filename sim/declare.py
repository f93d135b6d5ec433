"""What a module of the model declares beside its mechanism: its parameters.

``Param`` (one parameter: default, unit, allowed range, group, source, meaning) and
``ParameterError`` live here, in a module that imports nothing of the model, so that every
mechanism module (``sim/mechanisms/``) and ``sim/market.py`` can declare its own parameters
and ``sim/params.py`` can assemble them into ``PARAMS`` without an import cycle.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

class ParameterError(ValueError):
    """An invalid parameter; the message is one line naming field, value and what is allowed."""


@dataclass(frozen=True)
class Param:
    """One model parameter.

    Attributes:
        name: Field name, as passed to ``RelationshipModel``.
        default: Default value.
        unit: Unit of the value (``"1/week"``, ``"$"``, ``"share"``...).
        lo: Smallest allowed value (inclusive), or None for booleans.
        hi: Largest allowed value (inclusive).
        group: Config group the parameter belongs to (market, behaviour, economics, rival).
        source: Where the default comes from: a figure of the domain notes, or "assumption".
        doc: What the parameter means, in one sentence.
        plausible: The range a real dealership's value plausibly lies in (inside ``lo..hi``,
            around the default): what sensitivity analysis varies (``sim.sensitivity``).
            None where no such range is meant (switches, an unlimited budget).
        plausible_source: Where the plausible range comes from; empty means "assumption".
    """

    name: str
    default: Any
    unit: str
    lo: float | None
    hi: float | None
    group: str
    source: str
    doc: str
    plausible: tuple[float, float] | None = None
    plausible_source: str = ""

    @property
    def kind(self) -> type:
        return type(self.default)

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ParameterError."""
        kind = self.kind
        if kind is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise ParameterError(f"{self.name}={value!r}: expected true or false")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ParameterError(f"{self.name}={value!r}: expected a {_kind_name(kind)} in {self.allowed}")
        if kind is int:
            if not math.isfinite(value) or float(value) != int(value):
                raise ParameterError(f"{self.name}={value!r}: expected a whole number in {self.allowed}")
            value = int(value)
        else:
            value = float(value)
            if math.isnan(value):
                raise ParameterError(f"{self.name}=nan: expected a number in {self.allowed}")
        if not (self.lo <= value <= self.hi):
            raise ParameterError(f"{self.name}={value!r}: out of range, allowed {self.allowed}")
        return value

    @property
    def allowed(self) -> str:
        return f"[{_fmt(self.lo)}, {_fmt(self.hi)}]"


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else f"{x:g}"


def _kind_name(kind: type) -> str:
    return {int: "whole number", float: "number"}.get(kind, kind.__name__)


A = "assumption"  # the source of a default chosen by the developers
INF = math.inf
