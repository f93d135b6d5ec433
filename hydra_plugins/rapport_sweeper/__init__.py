"""Rapport's default sweeper and launcher, where Hydra looks for them: Hydra instantiates
plugins only from the ``hydra_plugins`` package. They themselves are ``sim.sweeper``'s and
``sim.launcher``'s."""

from sim.launcher import JobsAcrossProcesses
from sim.sweeper import OnceComposedSweeper


class RapportSweeper(OnceComposedSweeper):
    """``hydra/sweeper=rapport`` (the default of config.yaml): see ``sim.sweeper``."""


class RapportLauncher(JobsAcrossProcesses):
    """``hydra/launcher=rapport`` (the default of config.yaml): see ``sim.launcher``."""
