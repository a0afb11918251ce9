"""Response providers: anything that yields model rate maps on an arena's bin grid.

Adapters (imported lazily, so ``import mecbench.providers`` does not import torch):
:class:`ArrayProvider` (precomputed arrays), :class:`FunctionProvider` (any function of
position), :class:`NetworkProvider` (a torch path integrator driven along random walks), and
:class:`RateMapAccumulator` / :func:`bin_activity` (vectorised binning of activity).
"""

import importlib

from mecbench.providers.base import ResponseProvider, check_provider_output

__all__ = [
    "ResponseProvider",
    "check_provider_output",
    "ArrayProvider",
    "FunctionProvider",
    "NetworkProvider",
    "PathIntegrator",
    "RateMapAccumulator",
    "bin_activity",
]

_LAZY = {
    "ArrayProvider": "mecbench.providers.arrays",
    "FunctionProvider": "mecbench.providers.function",
    "NetworkProvider": "mecbench.providers.network",
    "PathIntegrator": "mecbench.providers.network",
    "RateMapAccumulator": "mecbench.providers.accumulator",
    "bin_activity": "mecbench.providers.accumulator",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mecbench.providers' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
