"""Rapport: an agent-based simulator of a car dealer's customer relationships."""

from .params import PARAMS, ParameterError, validate
from .strategies import builtin_strategies, load_strategy

__version__ = "0.1.0"
__all__ = ["RelationshipModel", "PARAMS", "ParameterError", "validate", "builtin_strategies", "load_strategy",
           "__version__"]


def __getattr__(name: str):
    """``RelationshipModel`` is imported on first use: the rules and their tests need no Mesa or pandas."""
    if name == "RelationshipModel":
        from .model import RelationshipModel

        return RelationshipModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
