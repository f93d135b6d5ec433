"""Structured configs for Hydra, generated from ``sim.params.PARAMS``, and their checks.

Parameters are defined once, in ``PARAMS``; the dataclasses here are made from it so
that Hydra type-checks every override (a word where a number is expected, an unknown
key) and ``sim.params.validate`` then checks the ranges. ``experiment_spec`` turns a
composed config into a plain, fully checked ``ExperimentSpec`` before any run starts.

Groups: ``market`` holds the parameters of groups market and rival, ``behaviour`` the
behaviour parameters, ``economics`` costs and margins. Keys are the parameter names,
so ``market.customers=20000`` sets ``customers``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from .dealership import MARKET_SETTINGS, resolve_settings, split_settings
from .metrics import OUTCOMES
from .params import PARAMS, ParameterError, validate
from .limits import SMALL_WORK, check_output_dir, plan_workers
from .strategies import is_strategy_path, load_strategy
from .switch import CurrentPractice

# Config group -> parameter groups of PARAMS that live in it.
GROUPS: dict[str, tuple[str, ...]] = {
    "market": ("market", "rival"),
    "behaviour": ("behaviour",),
    "economics": ("economics",),
}
SCHEMA_NAME = "rapport_schema"
HOLDOUT = "no_contact"
LIMITS = {  # run settings: (lo, hi) for whole numbers
    "horizon_weeks": (1, 5200),
    "replications": (1, 100_000),
    "seed": (0, 2**32 - 1),
    "workers": (0, 1024),
}


def _group_dataclass(cls_name: str, groups: tuple[str, ...], settings: dict | None = None) -> type:
    """A dataclass with one typed field per parameter of ``groups``, defaults from PARAMS, and
    one per setting of ``settings`` (name: default)."""
    fields = [(p.name, p.kind, field(default=p.default)) for p in PARAMS.values() if p.group in groups]
    fields += [(name, type(default), field(default=default)) for name, default in (settings or {}).items()]
    return dataclasses.make_dataclass(cls_name, fields, module=__name__)


# The market also holds the dealer's view of it (sim.dealership): our_customers, customer_file.
MarketConfig = _group_dataclass("MarketConfig", GROUPS["market"], MARKET_SETTINGS)
BehaviourConfig = _group_dataclass("BehaviourConfig", GROUPS["behaviour"])
EconomicsConfig = _group_dataclass("EconomicsConfig", GROUPS["economics"])


@dataclass
class ArmConfig:
    """One arm of an experiment: a strategy and, optionally, parameter overrides."""

    name: str = MISSING
    strategy: Any = MISSING  # built-in name, YAML path or mapping
    params: Dict[str, Any] = field(default_factory=dict)  # flat parameter names, e.g. social_ties: 0
    description: str = ""  # defaults to the strategy's description
    label: str = ""  # a few words for the verdict's sentences; defaults to the strategy's label


@dataclass
class ExperimentConfig:
    """What an experiment compares; market, horizon and replications sit at the top level."""

    question: str = ""
    arms: List[ArmConfig] = field(default_factory=list)
    baseline: Optional[str] = None  # arm the others are compared with; default: the first arm
    comparisons: List[List[str]] = field(default_factory=list)  # [arm, versus] pairs; default: each vs baseline
    holdout: str = HOLDOUT  # the model always runs the no-contact holdout in lockstep
    # Current practice, {strategy: NAME, weeks: 104}: the market runs under it first, then the arms
    # diverge (sim.switch); None: a fresh market. Untyped, so that the command line can set it whole
    # (OmegaConf cannot merge into a structured node that is None); checked by ``_current``.
    current: Any = None


@dataclass
class RapportConfig:
    """The whole configuration of a ``rapport`` run."""

    market: MarketConfig = field(default_factory=MarketConfig)
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)
    economics: EconomicsConfig = field(default_factory=EconomicsConfig)
    strategy: Any = None  # set by ``strategy=NAME``: run that one strategy instead of the arms
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    horizon_weeks: int = 260
    seed: int = 0
    replications: int = 10
    workers: int = 0  # processes for the replications; 0 = one per core (1 when a sweep's jobs run at once)
    results_dir: str = "results"
    report: Optional[bool] = None  # HTML report; None = yes for a single run, no for multirun jobs
    optimized_metric: str = "profit"  # what a run returns to a sweeper: an outcome of sim.metrics.OUTCOMES
    events: bool = False  # write the ground-truth event log of every run (sim.events) into events/


def run_name(experiment, strategy) -> str:
    """Results folder name: the experiment, or ``strategy-NAME`` when one strategy is picked."""
    if strategy not in (None, "", "null", "None"):
        return f"strategy-{_last_part(strategy)}"
    return _last_part(experiment)


def _last_part(name) -> str:
    """``../experiments/targeting`` -> ``targeting``: a results folder never climbs out of results_dir."""
    last = str(name).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return last if last not in ("", ".", "..") else "run"


def register() -> None:
    """Store the schema in Hydra's ConfigStore (idempotent); config.yaml lists it first."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name=SCHEMA_NAME, node=RapportConfig)


@dataclass(frozen=True)
class Arm:
    """A checked arm: its strategy (name or mapping, picklable) and full parameter set (with
    ``customer_file``, the path of the market's customer file, if one is given)."""

    name: str
    strategy: Any
    strategy_name: str
    description: str
    params: dict
    label: str = ""  # a few words for sentences ("value first"): the arm's, the strategy's or its name


@dataclass(frozen=True)
class ExperimentSpec:
    """Everything a run needs, as plain checked values (no Hydra objects)."""

    name: str
    question: str
    arms: tuple[Arm, ...]
    baseline: str
    comparisons: tuple[tuple[str, str], ...]  # (arm, versus) pairs the verdict states
    horizon_weeks: int
    seed: int
    replications: int
    workers: int  # worker processes: at most the cores and the runs, and what fits in memory
    params: dict  # the market's parameters shared by all arms (before arm overrides)
    optimized_metric: str = "profit"  # the outcome a run returns (see ``Results.objective``)
    events: bool = False  # write every run's event log (``sim.events``)
    current: CurrentPractice | None = None  # the market runs under it first, then the arms diverge

    @property
    def seeds(self) -> list[int]:
        """Common random numbers: replication r of every arm uses seed + r."""
        return [self.seed + r for r in range(self.replications)]


def plain(cfg: Any) -> Any:
    """An OmegaConf node as plain Python containers (resolved)."""
    if isinstance(cfg, (DictConfig, ListConfig)):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def model_params(cfg: Any) -> dict:
    """The model parameters of a config: market, behaviour and economics groups, flattened."""
    out = {}
    for group in GROUPS:
        node = plain(cfg[group]) if group in cfg else {}
        for key, value in (node or {}).items():
            out[key] = value
    return out


def _check_params(values: dict, where: str) -> dict:
    """``validate`` with the field named by its config path (``market.our_share=1.7: ...``); a
    customer file's path (``customer_file``, checked by ``sim.dealership``) passes through."""
    file = {k: values[k] for k in ("customer_file",) if k in values}
    try:
        return {**validate({k: v for k, v in values.items() if k not in file}), **file}
    except ParameterError as err:
        msg = str(err)
        name = msg.split("=", 1)[0].split(":", 1)[0]
        if name in PARAMS:
            prefix = where or _group_of(name)
            raise ParameterError(f"{prefix}.{msg}") from None
        raise ParameterError(f"{where}: {msg}" if where else msg) from None


def _group_of(name: str) -> str:
    return next(g for g, members in GROUPS.items() if PARAMS[name].group in members)


def _whole(cfg: Any, key: str) -> int:
    value = cfg[key]
    lo, hi = LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ParameterError(f"{key}={value!r}: expected a whole number in [{lo}, {hi}]")
    return value


def experiment_spec(cfg: Any, name: str, shared_cores: bool = False, overrides: list[str] | None = None
                    ) -> ExperimentSpec:
    """Check a composed config and turn it into an ``ExperimentSpec``.

    Args:
        cfg: The composed config (DictConfig or plain dict).
        name: Experiment name (the chosen ``experiment`` file, or ``strategy-NAME``).
        shared_cores: Whether other jobs run at the same time (a parallel Hydra launcher):
            then ``workers=0`` means one process, not one per core.
        overrides: The command line's overrides: when they change the experiment file's
            arms, the name and question are derived from the arms run (``describe_run``).

    ``workers=0`` also means one process for an experiment under ``SMALL_WORK``
    customer-weeks: worker processes cost more than they save there (measured for the jobs of
    a sweep even with the workers kept from job to job, see docs/benchmarks.md).
    ``workers`` is capped at the cores, the runs and the memory available (``sim.limits``).

    Raises:
        ParameterError: one line naming the field, the value and what is allowed.
    """
    known = {f.name for f in dataclasses.fields(RapportConfig)} | {"hydra"}
    unknown = sorted(str(k) for k in cfg.keys() if k not in known)
    if unknown:
        raise ParameterError(f"{unknown[0]}: unknown setting, allowed are {', '.join(sorted(known - {'hydra'}))}")
    check_output_dir(str(cfg.get("results_dir", "results")))
    horizon = _whole(cfg, "horizon_weeks")
    seed = _whole(cfg, "seed")
    reps = _whole(cfg, "replications")
    workers = _whole(cfg, "workers")
    shared, dealer = split_settings(model_params(cfg))
    shared = resolve_settings(dealer, shared, _check_params(shared, ""))
    base = _check_params(shared, "")
    exp = plain(cfg["experiment"]) or {}
    holdout = exp.get("holdout", HOLDOUT)
    if holdout != HOLDOUT:
        raise ParameterError(f"experiment.holdout={holdout!r}: only {HOLDOUT} is supported (the model runs it in "
                             f"lockstep); to compare against a strategy, make it an arm and set experiment.baseline")
    strategy = plain(cfg.get("strategy")) if "strategy" in cfg else None
    arms, baseline, comparisons = _arms_and_comparisons(exp, strategy, shared)
    work = horizon * reps * sum(2 * a.params["customers"] for a in arms)  # customer-weeks, holdouts included
    if workers == 0 and (shared_cores or work < SMALL_WORK):
        workers = 1  # the launcher already spreads jobs over the cores, or starting workers costs more
    workers = plan_workers(workers, len(arms) * reps, max(a.params["customers"] for a in arms),
                           max(a.params["social_ties"] for a in arms), len(arms))
    metric = cfg.get("optimized_metric", "profit")
    allowed = [o.name for o in OUTCOMES if o.has_difference]
    if metric not in allowed:
        raise ParameterError(f"optimized_metric={metric!r}: unknown, allowed are {', '.join(allowed)}")
    current = _current(exp.get("current"))
    name, question = describe_run(name, str(exp.get("question") or ""), arms, comparisons, current,
                                  strategy is not None, overrides or [])
    return ExperimentSpec(name, question, tuple(arms), baseline, comparisons, horizon, seed, reps,
                          workers, base, metric, _flag(cfg, "events"), current)


DEFAULT_WARM_UP = 104  # weeks of current practice when ``experiment.current`` names only a strategy (assumption: two years)
ARM_KEYS = ("experiment.arms", "experiment.baseline", "experiment.comparisons")


def describe_run(name: str, question: str, arms: list[Arm], comparisons: tuple, current: CurrentPractice | None,
                 picked: bool, overrides: list[str]) -> tuple[str, str]:
    """The run's name and question: the experiment file's, unless ``strategy=`` picked one
    strategy or ``overrides`` changed the arms (then derived from the arms run; a question
    given on the command line is kept)."""
    keys = [o.lstrip("+~").split("=", 1)[0] for o in overrides]
    if not picked and not any(k.startswith(ARM_KEYS) for k in keys):
        return name, question
    if not picked:
        name = "_vs_".join(a.name for a in arms)
    if "experiment.question" in keys:
        return name, question
    label = {a.name: a.label for a in arms}
    start = f"Starting from {load_strategy(current.strategy).label or current.strategy} for {current.weeks} weeks: " \
        if current is not None else ""
    if len(arms) == 1:
        text = f"{start}what does {label[arms[0].name]} earn against no contact, and when does it pay back?"
    else:
        text = start + "; ".join(f"does {label[a]} earn more than {label[b]}" for a, b in comparisons) + "?"
    return name, text[0].upper() + text[1:]


def _current(raw: Any) -> CurrentPractice | None:
    """The checked current practice (``experiment.current``), or None."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("strategy") is None or set(raw) - {"strategy", "weeks"}:
        raise ParameterError(f"experiment.current={raw!r}: expected a mapping with strategy and weeks "
                             f"(e.g. {{strategy: constant_sales, weeks: 104}}) or null")
    return CurrentPractice(raw["strategy"], raw.get("weeks", DEFAULT_WARM_UP))


def _arms_and_comparisons(exp: dict, strategy: Any, shared: dict) -> tuple[list[Arm], str, tuple]:
    """The checked arms (one when ``strategy=`` picks a strategy), the baseline arm and the
    comparisons the verdict states (each arm against the baseline unless the experiment
    names its own)."""
    if strategy is not None:
        raw_arms = [{"name": _strategy_label(strategy), "strategy": strategy}]
    else:
        raw_arms = exp.get("arms") or []
    if not raw_arms:
        raise ParameterError("experiment.arms=[]: expected at least one arm (or pick one with strategy=NAME)")
    arms = [_arm(raw, f"experiment.arms[{i}]", shared) for i, raw in enumerate(raw_arms)]
    names = [a.name for a in arms]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ParameterError(f"experiment.arms: name {dup[0]!r} used twice; give each arm its own name")
    baseline = (exp.get("baseline") if strategy is None else None) or names[0]
    if baseline not in names:
        raise ParameterError(f"experiment.baseline={baseline!r}: not an arm, allowed are {', '.join(names)}")
    pairs = exp.get("comparisons") or [] if strategy is None else []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, list) or len(pair) != 2 or pair[0] == pair[1] or any(n not in names for n in pair):
            raise ParameterError(f"experiment.comparisons[{i}]={pair!r}: expected [arm, versus], two different arms "
                                 f"from {', '.join(names)}")
    comparisons = tuple((a, b) for a, b in pairs) or tuple((n, baseline) for n in names if n != baseline)
    return arms, baseline, comparisons


def _arm(raw: Any, where: str, shared: dict) -> Arm:
    """One checked arm: its strategy compiled, its parameters (shared, then its own) validated."""
    if not isinstance(raw, dict) or "strategy" not in raw or raw["strategy"] is None:
        raise ParameterError(f"{where}={raw!r}: expected a mapping with name, strategy and optional params")
    try:
        policy = load_strategy(raw["strategy"])
    except ParameterError as err:
        from_file = isinstance(raw["strategy"], str) and is_strategy_path(raw["strategy"])
        raise ParameterError(f"{where}.strategy: {err}" if from_file else f"{where}.{err}") from None
    overrides = raw.get("params") or {}
    params = _check_params({**shared, **overrides}, f"{where}.params" if overrides else "")
    name = str(raw.get("name") or policy.name)
    return Arm(name, raw["strategy"], policy.name, raw.get("description") or policy.description, params,
               str(raw.get("label") or policy.label or name))


def _flag(cfg: Any, key: str) -> bool:
    value = cfg.get(key, False)
    if not isinstance(value, bool):
        raise ParameterError(f"{key}={value!r}: expected true or false")
    return value


def _strategy_label(strategy: Any) -> str:
    if isinstance(strategy, dict):
        return str(strategy.get("name", "custom"))
    return str(strategy)
