"""The starting market: drawn, then burned in to the market's own steady state.

A market drawn from the starting parameters (``sim.market.build_market``) is not in
equilibrium: left alone it drifts for years (owners lapse, the CRM grows, shares move), and
every arm would be measured on a market that changes under it. So, unless
``burn_in_weeks`` is 0, a run starts from the steady state of the market under current
practice (no contact) beside the rival:

1. a sample market of ``SAMPLE`` customers is drawn with a fixed seed and run for
   ``burn_in_weeks`` weeks without contact (``burn_in``);
2. the run's customers are drawn from that burned-in sample with the run's generator
   (``starting_market``): each customer's state is a sampled customer's, the run's counters
   start at zero, and the social network is drawn afresh.

The burned-in sample depends only on the parameters that move a market without contact
(``DYNAMIC``: not the customer count, costs or margins), so it is computed once per
parameter set and kept in memory and in a cache folder (``cache_dir``: keyed by the
parameters and the source of the rules, written whole or not at all). Every arm and the
holdout of a seed start from the same market (common random numbers), whatever the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .market import build_market, small_world
from .state import FIELDS, US, Population, Stage

SAMPLE = 8000  # customers in the burned-in sample the run's customers are drawn from
SAMPLE_SEED = 2026  # the sample's seed: the steady state is a property of the parameters, not of the run's seed
ECONOMICS = ("budget", "vehicle_margin", "service_margin", "cost_attendee", "rival_cost_per_contact")
RUN_COUNTERS = ("margin", "cost", "contacts", "purchases", "service_visits")
CACHE_FORMAT = 1


def dynamic(p: dict) -> tuple:
    """The parameters a market without contact depends on, as a hashable tuple."""
    return tuple(sorted((k, v) for k, v in p.items()
                        if k != "customers" and k not in ECONOMICS and not k.startswith("cost_")))


def starting_market(p: dict, rng: np.random.Generator) -> Population:
    """The run's starting market of ``p["customers"]`` customers, drawn from ``rng``."""
    if p["burn_in_weeks"] == 0:
        return build_market(p, rng)
    sample = burned_in(dynamic(p))
    n = p["customers"]
    rows = rng.integers(0, sample.n, n)
    pop = Population(n)
    for f in FIELDS:
        getattr(pop, f.name)[:] = getattr(sample, f.name)[rows]
    for name in RUN_COUNTERS:
        getattr(pop, name)[:] = 0
    pop.ever_ours[:] = (pop.owner == US) | (pop.stage == Stage.LAPSED)
    pop.ties = small_world(n, p["social_ties"], p["rewiring"], rng)
    return pop


@functools.lru_cache(maxsize=32)
def burned_in(key: tuple) -> Population:
    """The burned-in sample for the parameters ``key`` (``dynamic``), from the cache if there."""
    p = dict(key)
    path = cache_dir() / f"{fingerprint(key)}.npz" if cache_dir() else None
    if path is not None and path.exists():
        try:
            return _load(path)
        except (OSError, ValueError, KeyError):
            pass  # unreadable or partial: computed again and rewritten
    sample = burn_in(p)
    if path is not None:
        _save(sample, path)
    return sample


def burn_in(p: dict) -> Population:
    """A sample market drawn with ``SAMPLE_SEED`` and run ``burn_in_weeks`` weeks without contact."""
    from .model import NO_CONTACT  # noqa: PLC0415 (the model imports this module)
    from .params import defaults  # noqa: PLC0415
    from .rules import Coefficients, Draws, step  # noqa: PLC0415

    q = {**defaults(), **p, "customers": SAMPLE}  # costs and margins do not move a market without contact
    rng = np.random.default_rng(SAMPLE_SEED)
    pop = build_market(q, rng)
    draws, coefficients = Draws(SAMPLE, rng), Coefficients(q)
    for _ in range(int(p["burn_in_weeks"])):
        draws.fill()
        step(pop, NO_CONTACT, draws, coefficients)
    return pop


def cache_dir() -> Path | None:
    """Where burned-in samples are kept: $RAPPORT_CACHE, else ~/.cache/rapport; None if "off"."""
    where = os.environ.get("RAPPORT_CACHE", str(Path.home() / ".cache" / "rapport"))
    return None if where == "off" else Path(where) / "start"


def fingerprint(key: tuple) -> str:
    """A name for the sample of ``key``: the parameters and the source of the rules it ran."""
    from . import market, rules  # noqa: PLC0415
    from .mechanisms import MECHANISMS  # noqa: PLC0415

    h = hashlib.sha256(json.dumps([CACHE_FORMAT, SAMPLE, SAMPLE_SEED, key], default=str).encode())
    for module in (market, rules, *MECHANISMS):
        h.update(Path(module.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:32]


def _save(pop: Population, path: Path) -> None:
    """Write the sample whole (a temporary file renamed) or not at all (an unwritable cache is skipped)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            np.savez(tmp, **{f.name: getattr(pop, f.name) for f in FIELDS})
        os.replace(tmp.name, path)
    except OSError:
        try:
            os.unlink(tmp.name)
        except (OSError, NameError):
            pass


def _load(path: Path) -> Population:
    with np.load(path) as data:
        pop = Population(SAMPLE)
        for f in FIELDS:
            column = data[f.name]
            if column.shape != (SAMPLE,) or column.dtype != f.dtype:
                raise ValueError(f"{path}: {f.name} has the wrong shape or type")
            getattr(pop, f.name)[:] = column
    return pop
