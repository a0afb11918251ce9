"""mecbench: neural-predictivity benchmarks for models of the medial entorhinal cortex."""

from mecbench.errors import (
    ConfigError,
    DataError,
    MecbenchError,
    ModelError,
    UnknownIdentifierError,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "ConfigError",
    "DataError",
    "MecbenchError",
    "ModelError",
    "UnknownIdentifierError",
]
