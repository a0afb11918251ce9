"""Scoring a registered model on a benchmark: the library's entry point behind
``mecbench score``."""

from __future__ import annotations

from typing import Any

from mecbench.errors import ConfigError
from mecbench.registry import load_model

__all__ = ["run_score"]


def run_score(model: str, benchmark, *, layer: str | None = None, seed: int = 0,
              cache=None, parallel=None, progress=None) -> tuple[Any, dict]:
    """Score the registered model ``model`` on ``benchmark``, one layer or all.

    Parameters
    ----------
    model : str
        Model identifier (see ``mecbench models``).
    benchmark : Benchmark
        From :func:`mecbench.benchmarks.get_benchmark`.
    layer : str, optional
        A layer name, ``"all"``, or None for the model's default layer.
    seed : int
        Seed of the model's rate maps (trajectories), non-negative.
    cache, parallel, progress
        Passed to :meth:`~mecbench.benchmarks.Benchmark.score_layers`.

    Returns
    -------
    provider : ResponseProvider
        The loaded model.
    scores : dict
        ``{layer: Score}``. With several layers, a layer that fails maps to its
        :class:`~mecbench.errors.MecbenchError` instead (the other layers are still scored).
    """
    provider = load_model(model)
    if layer == "all":
        layers = list(provider.layers)
    elif layer:
        layers = [layer]
    else:
        layers = [provider.default_layer]
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {seed!r}")
    scores = benchmark.score_layers(provider, layers, seed=seed, cache=cache, parallel=parallel,
                                    progress=progress,
                                    errors="collect" if len(layers) > 1 else "raise")
    return provider, scores
