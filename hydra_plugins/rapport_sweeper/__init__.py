"""Rapport's default sweeper, where Hydra looks for it: Hydra instantiates a sweeper only
from the ``hydra_plugins`` package. The sweeper itself is ``sim.sweeper``'s."""

from sim.sweeper import OnceComposedSweeper


class RapportSweeper(OnceComposedSweeper):
    """``hydra/sweeper=rapport`` (the default of config.yaml): see ``sim.sweeper``."""
