"""Rapport's default Hydra sweeper: the basic sweep, composing only what differs.

It runs the same jobs as Hydra's basic sweeper (the product of the swept values, in the
same order, ``hydra.sweeper.params`` and ``max_batch_size`` included) through the
configured launcher, but does not compose every job's config a second time before
launching it: ``rapport`` has already checked every job of the sweep (``sim.preflight``).
The launcher composes each job with Hydra (about 0.1-0.3 s each); through ``SweepConfigs``
a job whose overrides only set other values of existing keys than an already composed job
(``seed=7`` after ``seed=6``) is derived from that job's config instead, with the same
result (tests/test_sweeps.py compares them); a job that picks another config group option
(``market=city``) is composed by Hydra. Other sweepers (``hydra/sweeper=optuna``) replace
it as usual. Built on Hydra's public plugin API only.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_loader import ConfigLoader
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext
from omegaconf import DictConfig, ListConfig, OmegaConf


@dataclass
class RapportSweeperConf:
    _target_: str = "hydra_plugins.rapport_sweeper.RapportSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[dict[str, str]] = None


def register() -> None:
    """Store the sweeper as ``hydra/sweeper=rapport`` (config.yaml's default) and make sure
    Hydra knows its class (also where its plugin discovery does not reach, e.g. a checkout
    that is not installed)."""
    from hydra_plugins.rapport_sweeper import RapportSweeper

    if RapportSweeper not in Plugins.instance().discover(Sweeper):
        Plugins.instance().register(RapportSweeper)
    ConfigStore.instance().store(group="hydra/sweeper", name="rapport", node=RapportSweeperConf, provider="rapport")


def jobs(overrides: list[Any]) -> list[list[str]] | None:
    """Each job's overrides for parsed Hydra ``overrides``: the product of the swept values
    (a list, ``range()``, ``choice()``), as the basic sweeper makes it; None if one of them
    is a sweep only another sweeper can run (``interval()``, ``glob()`` of values)."""
    values: dict[str, list[str]] = {}
    for o in overrides:
        key = o.get_key_element()
        if not o.is_sweep_override():
            values[key] = [f"{key}={o.get_value_element_as_str()}"]
        elif o.is_discrete_sweep() and o.value_type.name != "GLOB_CHOICE_SWEEP":
            values[key] = [f"{key}={v}" for v in o.sweep_string_iterator()]
        else:
            return None
    return [list(combo) for combo in itertools.product(*values.values())]


class OnceComposedSweeper(Sweeper):
    """Hydra's basic sweep without its second composition of each job (see the module);
    Hydra runs it as ``hydra_plugins.rapport_sweeper.RapportSweeper``."""

    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None) -> None:
        super().__init__()
        self.max_batch_size = max_batch_size
        self.params = params or {}
        self.hydra_context: Any = None
        self.config: DictConfig | None = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        self.hydra_context, self.config = hydra_context, config
        hydra_context = HydraContext(config_loader=SweepConfigs(hydra_context.config_loader),
                                     callbacks=hydra_context.callbacks)
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context,
                                                                task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([f"{k}={v}" for k, v in self.params.items()] + list(arguments))
        todo = jobs(overrides)
        if todo is None:
            kinds = sorted({o.value_type.name for o in overrides if o.is_sweep_override()})
            raise HydraException(f"the default sweeper does not support sweep type : {', '.join(kinds)} "
                                 f"(use another sweeper, e.g. hydra/sweeper=optuna)")
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        size = self.max_batch_size if self.max_batch_size and self.max_batch_size > 0 else max(len(todo), 1)
        returns = []
        for start in range(0, len(todo), size):
            results = self.launcher.launch(todo[start:start + size], initial_job_idx=start)
            for r in results:
                _ = r.return_value  # raises if the job raised, as with the basic sweeper
            returns.append(results)
        return returns


class SweepConfigs(ConfigLoader):
    """Hydra's config loader, except that a sweep job's config (``load_sweep_config``, which
    launchers call for each job) is derived from a job already composed with the same
    overrides but other values of plain settings, when that gives what Hydra would compose.

    A setting is plain if its override sets an existing key that holds a value (not a
    config group, not a mapping or list, no ``+``/``~``/``@``, not ``hydra.*``); the derived
    config is the composed one with those values set as Hydra sets them
    (``OmegaConf.update``), its ``hydra.overrides.task`` and ``hydra.job.override_dirname``
    those of the job. Anything else, or a value that does not fit, is composed by Hydra.
    """

    def __init__(self, loader: ConfigLoader) -> None:
        self.loader = loader
        self.composed: dict[tuple, tuple[DictConfig, list[Any]]] = {}  # by overrides, plain values left out
        self._groups: set[str] | None = None

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        given = list(OmegaConf.to_container(master_config.hydra.overrides.hydra)) + list(sweep_overrides)
        parsed = OverridesParser.create().parse_overrides(given)
        shape = tuple((o.key_or_group, None if self._plain(o) else o.input_line) for o in parsed)
        cfg = self._derived(self.composed[shape], parsed) if shape in self.composed else None
        if cfg is None:
            cfg = self.loader.load_sweep_config(master_config, list(sweep_overrides))
            self.composed.setdefault(shape, (copy.deepcopy(cfg), parsed))
        else:
            OmegaConf.copy_cache(from_config=master_config, to_config=cfg)  # as Hydra does (timestamps)
        return cfg

    def _plain(self, o: Any) -> bool:
        """Whether override ``o`` can only set a value (see the class)."""
        if self._groups is None:  # a group below another is only named with "/" (market/x=y), refused below
            self._groups = set(self.loader.list_groups(""))
        key = o.key_or_group
        return (o.type.name == "CHANGE" and o.package is None and not o.is_sweep_override()
                and not o.is_hydra_override() and "/" not in key and key not in self._groups
                and not isinstance(o.value(), (dict, list)))

    def _derived(self, composed: tuple[DictConfig, list[Any]], parsed: list[Any]) -> DictConfig | None:
        """The config of the job ``parsed`` from the config composed for ``composed``'s
        overrides, or None where that may differ from Hydra's composition."""
        base, base_parsed = composed
        keys = [o.key_or_group for o in parsed if o.key_or_group not in (self._groups or ())]  # values set in order
        changed = [o for o, b in zip(parsed, base_parsed) if o.input_line != b.input_line]
        for o in changed:
            key = o.key_or_group
            if sum(k == key or k.startswith(key + ".") or key.startswith(k + ".") for k in keys) != 1:
                return None  # another override sets the same key or one inside it: order matters
            value = OmegaConf.select(base, key, default=_ABSENT, throw_on_resolution_failure=False)
            if value is _ABSENT or OmegaConf.is_config(value):
                return None
        cfg = copy.deepcopy(base)
        try:
            for o in changed:
                OmegaConf.update(cfg, o.key_or_group, o.value(), merge=True)
        except Exception:  # a value the key does not take: Hydra composes it and says so
            return None
        task = [o for o in parsed if not o.is_hydra_override()]
        cfg.hydra.overrides.task = ListConfig([o.input_line for o in task])
        cfg.hydra.job.override_dirname = _override_dirname(task, cfg.hydra.job.config.override_dirname)
        return cfg

    # The rest of the loader is Hydra's.
    def load_configuration(self, *args: Any, **kwargs: Any) -> DictConfig:
        return self.loader.load_configuration(*args, **kwargs)

    def get_search_path(self) -> Any:
        return self.loader.get_search_path()

    def get_sources(self) -> Any:
        return self.loader.get_sources()

    def list_groups(self, parent_name: str) -> list[str]:
        return self.loader.list_groups(parent_name)

    def get_group_options(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.loader.get_group_options(*args, **kwargs)

    def compute_defaults_list(self, *args: Any, **kwargs: Any) -> Any:
        return self.loader.compute_defaults_list(*args, **kwargs)


_ABSENT = object()


def _override_dirname(task: list[Any], settings: DictConfig) -> str:
    """``hydra.job.override_dirname`` as Hydra makes it from the job's overrides."""
    lines = sorted(o.input_line for o in task if o.key_or_group not in settings.exclude_keys)
    return re.sub("[=]", settings.kv_sep, settings.item_sep.join(lines))
