"""Self-supervised grid model (Schaeffer, Khona et al. 2023) trained by ``mecbench train``.

The checkpoint folder ``ssl-grid/`` holds ``config.json``, ``model.safetensors`` and a README
with the exact command, seed, steps, wall time and the measured numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["ssl_grid"]

HERE = Path(__file__).resolve().parent


def ssl_grid(**kwargs: Any):
    """Self-supervised grid network (Schaeffer, Khona et al. 2023), normalised-ReLU state g."""
    from mecbench.nets.zoo import checkpoint_provider

    return checkpoint_provider(HERE / "ssl-grid", "ssl-grid", **kwargs)
