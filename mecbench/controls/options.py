"""What the controls analysis computes: :class:`ControlsOptions`, and the parsers of its
families and dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mecbench.controls import features
from mecbench.controls.names import ControlSpec, parse_control_name
from mecbench.controls.providers import untrained_factory
from mecbench.errors import ConfigError, UnknownIdentifierError

__all__ = [
    "DEFAULT_DIMS",
    "DEFAULT_FAMILIES",
    "METRICS",
    "ControlsOptions",
    "parse_family",
    "family_label",
    "parse_dims",
]

DEFAULT_DIMS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
DEFAULT_FAMILIES = ("fourier", "bumps", "relu", "grid")
METRICS = ("raw", "ceiled")


# families and dimensions ---------------------------------------------------------------------
def parse_family(text: str) -> ControlSpec:
    """A family with its options, e.g. ``"fourier"``, ``"fourier-bw0.2"``, ``"grid-m3"``,
    ``"untrained-rnn-relu"``; returned as a template spec (D = 1, seed 0).

    ``shuffle`` is not accepted here: shuffles are made of the models given.
    """
    text = str(text).strip().removeprefix("control/")
    family = text.partition("-")[0]
    if family == "shuffle":
        raise ConfigError("'shuffle' controls are built from the models given with --models; "
                          "do not list it among the families")
    spec = parse_control_name(f"{text}-d1-s0")
    if spec.family == "untrained":
        untrained_factory(spec.base)  # an unknown architecture fails now, not mid-sweep
    return spec


def family_label(spec: ControlSpec) -> str:
    """Name of a spec's family with its non-default options (``"fourier-bw0.2"``)."""
    if spec.family == "shuffle":
        return "shuffle"
    if spec.family == "untrained":
        return f"untrained-{spec.base}"
    name = spec.name.removeprefix("control/")
    parts = name.split("-")
    return "-".join([parts[0], *parts[3:]])


def parse_dims(text: str | Sequence[int]) -> list[int]:
    """Dimensions from ``"8,16,32"`` (or a sequence): positive, unique, sorted."""
    if isinstance(text, str):
        items = [t.strip() for t in text.split(",") if t.strip()]
        try:
            values = [int(t) for t in items]
        except ValueError:
            raise ConfigError(f"--dims must be comma-separated integers, got {text!r}") from None
    else:
        values = [int(v) for v in text]
    if not values:
        raise ConfigError("--dims is empty")
    for v in values:
        features.check_dim(v, "each dimension in --dims")
    return sorted(set(values))


def _positive_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


# the options -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ControlsOptions:
    """What :func:`mecbench.controls.sweep.run_controls` computes; checked when created (a bad
    value raises :class:`~mecbench.errors.ConfigError` or
    :class:`~mecbench.errors.UnknownIdentifierError` naming the argument).

    Attributes
    ----------
    models : tuple of str or ResponseProvider
        Models (``"NAME"`` or ``"NAME@LAYER"``) to place among the controls; loaded (and
        checked) when the analysis runs.
    families : tuple of str
        Control families with options (:func:`parse_family`).
    dims : tuple of int
        Dimensions of the sweep; given as a sequence or as ``"8,16,32"``, kept sorted and
        unique (:func:`parse_dims`).
    seeds : int
        Seeds ``0 .. seeds-1`` per family and dimension.
    metric : {"raw", "ceiled"}
        Per-cell value of the paired tests (as ``mecbench compare --metric``).
    grid_units : int
        Most units whose grid score is computed per representation.
    alpha : float
        Significance level, in (0, 1) (Holm-corrected paired tests; one-sided OLS grid term).
    n_boot : int
        Bootstrap resamples of the CI of the median difference.
    shuffle : bool
        Also score each model's spatially shuffled maps.
    match : bool
        Do the dimension-matched comparisons.
    jobs : int
        Sweep work units (one family at one seed, all dimensions) run at once in worker
        processes (``-1``: one per core). Every unit scores with one BLAS thread, so the
        numbers do not depend on ``jobs``.
    templates : tuple of ControlSpec
        The parsed families (derived, not an argument).
    labels : tuple of str
        Their names with options (:func:`family_label`; derived, not an argument).
    """

    models: Sequence[Any] = ()
    families: Sequence[str] = DEFAULT_FAMILIES
    dims: Sequence[int] | str = DEFAULT_DIMS
    seeds: int = 3
    metric: str = "raw"
    grid_units: int = 512
    alpha: float = 0.05
    n_boot: int = 10_000
    shuffle: bool = True
    match: bool = True
    jobs: int = 1
    templates: tuple[ControlSpec, ...] = field(init=False, repr=False, compare=False)
    labels: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise UnknownIdentifierError("metric", self.metric, METRICS)
        if not _positive_int(self.seeds):
            raise ConfigError(f"--seeds must be a positive integer, got {self.seeds!r}")
        if not _positive_int(self.grid_units):
            raise ConfigError(f"grid_units must be a positive integer, got {self.grid_units!r}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must lie in (0, 1), got {self.alpha!r}")
        if not _positive_int(self.n_boot):
            raise ConfigError(f"n_boot must be a positive integer, got {self.n_boot!r}")
        jobs = self.jobs
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs == 0 or jobs < -1:
            raise ConfigError(f"jobs must be a positive integer or -1, got {jobs!r}")
        dims = tuple(parse_dims(self.dims))
        families = (self.families,) if isinstance(self.families, str) else tuple(self.families)
        templates = tuple(parse_family(f) for f in families)
        labels = tuple(family_label(t) for t in templates)
        if len(set(labels)) != len(labels):
            raise ConfigError(f"a family is listed twice: {list(families)}")
        models = (self.models,) if isinstance(self.models, str) else tuple(self.models)
        if not templates and not models:
            raise ConfigError("nothing to do: give control families and/or models")
        for name, value in (("models", models), ("families", families), ("dims", dims),
                            ("seeds", int(self.seeds)), ("grid_units", int(self.grid_units)),
                            ("n_boot", int(self.n_boot)), ("templates", templates),
                            ("labels", labels)):
            object.__setattr__(self, name, value)
