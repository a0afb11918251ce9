"""Supervised path integrators trained by ``mecbench train`` on CPU (shipped checkpoints).

Each folder next to this file holds one checkpoint (``config.json``, ``model.safetensors``)
and a README with the exact training command, seed, steps, wall time, decoding error and
fraction of grid-like units measured by mecbench. The factories return a
:class:`~mecbench.providers.NetworkProvider`; keyword arguments (``n_batches``, ``batch_size``,
``n_steps``, ``device``) are passed to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["rnn_relu_dos", "rnn_relu_cartesian", "rnn_relu_gaussian", "ugrnn_relu_dos",
           "lstm_dos"]

HERE = Path(__file__).resolve().parent


def _provider(name: str, kwargs: dict[str, Any]):
    from mecbench.nets.zoo import checkpoint_provider

    return checkpoint_provider(HERE / name, name, **kwargs)


def rnn_relu_dos(**kwargs: Any):
    """Vanilla ReLU RNN (Sorscher et al.), difference-of-softmaxes place-cell readout."""
    return _provider("rnn-relu-dos", kwargs)


def rnn_relu_cartesian(**kwargs: Any):
    """Vanilla ReLU RNN trained to report cartesian (x, y) position (No Free Lunch control)."""
    return _provider("rnn-relu-cartesian", kwargs)


def rnn_relu_gaussian(**kwargs: Any):
    """Vanilla ReLU RNN with a Gaussian place-cell readout (No Free Lunch control)."""
    return _provider("rnn-relu-gaussian", kwargs)


def ugrnn_relu_dos(**kwargs: Any):
    """UGRNN (Nayebi et al. 2021 layout: pre_g, g, dc), ReLU candidate, DoS place cells."""
    return _provider("ugrnn-relu-dos", kwargs)


def lstm_dos(**kwargs: Any):
    """LSTM with a dense g layer and a difference-of-softmaxes place-cell readout."""
    return _provider("lstm-dos", kwargs)
