"""mecbench: neural-predictivity benchmarks for models of the medial entorhinal cortex."""

from mecbench._version import __version__
from mecbench.errors import (
    ConfigError,
    DataError,
    MecbenchError,
    ModelError,
    UnknownIdentifierError,
)
from mecbench.registry import register_model

__all__ = [
    "__version__",
    "ConfigError",
    "DataError",
    "MecbenchError",
    "ModelError",
    "UnknownIdentifierError",
    "register_model",
]
