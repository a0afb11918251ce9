"""A mecbench model plugin: one file, one decorated factory (quoted in the README).

    mecbench --plugin example_plugin.py models
    mecbench --plugin example_plugin.py models ratemaps my-tiny-model --arena 1x1m -o maps.nc
"""

import numpy as np

import mecbench
from mecbench.providers import FunctionProvider


@mecbench.register_model("my-tiny-model")
def my_tiny_model():
    """Nine idealised grid cells: three spacings x three spatial phases."""
    spacing = np.repeat([0.30, 0.42, 0.59], 3)                     # metres, one per cell
    phase = np.tile([[0.0, 0.0], [0.10, 0.05], [-0.08, 0.12]], (3, 1))
    angle = np.deg2rad([0.0, 60.0, 120.0])
    wave = np.stack([np.cos(angle), np.sin(angle)], axis=1)        # three plane waves (3, 2)
    k = 4 * np.pi / (np.sqrt(3) * spacing)                         # wave number per cell

    def responses(positions):
        """(N, 2) positions in metres -> (N, 9) non-negative rates."""
        rel = positions[:, None, :] - phase[None]                  # (N, 9, 2)
        drive = np.cos(k[None, :, None] * (rel @ wave.T)).sum(-1)  # (N, 9), max 3
        return np.maximum(drive, 0.0)

    return FunctionProvider(responses, identifier="my-tiny-model", n_units=9)
