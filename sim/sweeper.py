"""Rapport's default Hydra sweeper: the basic sweep, each job's config composed once.

It runs the same jobs as Hydra's basic sweeper (the product of the swept values, in the
same order, ``hydra.sweeper.params`` and ``max_batch_size`` included) through the
configured launcher, but does not compose every job's config a second time before
launching it: ``rapport`` has already checked every job of the sweep (``sim.preflight``),
and the launcher composes each job anyway (about 0.15-0.3 s per composition). Other
sweepers (``hydra/sweeper=optuna``) replace it as usual. Built on Hydra's public plugin API only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf


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
