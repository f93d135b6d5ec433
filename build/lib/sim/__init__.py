"""Rapport: an agent-based simulator of a car dealer's customer relationships."""

from .model import RelationshipModel
from .params import PARAMS, ParameterError, validate
from .strategies import builtin_strategies, load_strategy

__version__ = "0.1.0"
__all__ = ["RelationshipModel", "PARAMS", "ParameterError", "validate", "builtin_strategies", "load_strategy",
           "__version__"]
