"""Controls: does a model's predictivity reflect its dimensionality rather than its structure?

Control models (random Fourier features, Gaussian bumps, ReLU features, idealised multi-module
grid cells, spatially shuffled maps, untrained networks) are ordinary response providers named
``control/...`` (grammar in :mod:`mecbench.controls.names`). The analysis (dimension sweep,
effective dimensionality, grid fraction, OLS, dimension-matched paired tests) lives in
:mod:`mecbench.controls.sweep` (:func:`run_controls`, with :class:`ControlsOptions`).
"""

from mecbench.controls.names import (
    FAMILIES,
    POSITION_FAMILIES,
    RANDOM_BASES,
    ControlSpec,
    parse_control_name,
)
from mecbench.controls.options import ControlsOptions
from mecbench.controls.providers import (
    PositionControl,
    ShuffleControl,
    control_provider,
    model_rate_maps,
)
from mecbench.controls.sweep import ControlsResult, run_controls

__all__ = [
    "ControlsOptions",
    "ControlsResult",
    "run_controls",
    "FAMILIES",
    "POSITION_FAMILIES",
    "RANDOM_BASES",
    "ControlSpec",
    "PositionControl",
    "ShuffleControl",
    "control_provider",
    "model_rate_maps",
    "parse_control_name",
]
