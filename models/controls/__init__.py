"""Control models: random and idealised bases, shuffled maps, untrained networks.

Registered as the model family ``control/*`` (see :mod:`mecbench.controls.names` for the
grammar): ``control/fourier-d64-s0``, ``control/bumps-d64-s0-w0.1``, ``control/relu-d64-s0``,
``control/grid-d64-s0``, ``control/shuffle-<MODEL>-s0``, ``control/untrained-<ARCH>-d64-s0``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["control"]


def control(rest: str, **kwargs: Any):
    """Controls (random/grid bases, shuffled maps, untrained nets): control/<family>-d<D>-s<SEED>.

    Families ``fourier``, ``bumps``, ``relu``, ``grid``; also ``shuffle-<MODEL>-s<SEED>`` and
    ``untrained-<ARCH>-d<D>-s<SEED>`` (grammar: :mod:`mecbench.controls.names`).
    """
    from mecbench.controls.providers import control_provider

    return control_provider("control/" + rest, **kwargs)
