"""Untrained networks built from a seed: ``untrained/<arch>[-n<units>][-seed<seed>]``.

Architectures: ``rnn-relu``, ``rnn-tanh``, ``ugrnn``, ``lstm``, ``gru``, ``ssl-grid``. Each uses
the configuration of its shipped trained counterpart (``rnn-relu-dos``, ``ugrnn-relu-dos``,
``lstm-dos``, ``ssl-grid``; presets for the others) with fresh weights drawn from the seed, so
a trained model and its untrained version differ only in learning.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build", "rnn_relu", "rnn_tanh", "ugrnn", "lstm", "gru", "ssl_grid"]


def build(rest: str, **kwargs: Any):
    """Untrained network untrained/<arch>[-n<units>][-seed<seed>] (weights from the seed)."""
    from mecbench.nets.zoo import untrained_provider

    return untrained_provider(rest, **kwargs)


def rnn_relu(**kwargs: Any):
    """Untrained vanilla ReLU RNN (configuration of rnn-relu-dos, weights from a seed)."""
    return build("rnn-relu", **kwargs)


def rnn_tanh(**kwargs: Any):
    """Untrained vanilla tanh RNN (configuration of the rnn-tanh-dos preset)."""
    return build("rnn-tanh", **kwargs)


def ugrnn(**kwargs: Any):
    """Untrained UGRNN (configuration of ugrnn-relu-dos, weights from a seed)."""
    return build("ugrnn", **kwargs)


def lstm(**kwargs: Any):
    """Untrained LSTM (configuration of lstm-dos, weights from a seed)."""
    return build("lstm", **kwargs)


def gru(**kwargs: Any):
    """Untrained GRU (configuration of the gru-dos preset, weights from a seed)."""
    return build("gru", **kwargs)


def ssl_grid(**kwargs: Any):
    """Untrained self-supervised grid network (configuration of ssl-grid, weights from a seed)."""
    return build("ssl-grid", **kwargs)
