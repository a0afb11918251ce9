"""Configurations of the trainable networks, serialisable to JSON.

Two dataclasses cover every network mecbench builds:

* :class:`PathIntegratorConfig` — supervised path integrators (vanilla RNN, UGRNN, LSTM, GRU)
  trained to report position through a readout (Sorscher et al. 2019/2023; Nayebi et al. 2021;
  Schaeffer et al. 2022 "No Free Lunch").
* :class:`SSLGridConfig` — the self-supervised grid model of Schaeffer, Khona et al. (NeurIPS
  2023).

Both carry the training hyper-parameters as well (batch size, learning rate, sequence length),
so that one ``config.json`` next to a checkpoint says everything needed to rebuild and continue
the run. :func:`config_from_dict` dispatches on the ``arch`` field. Unknown names of an
architecture, activation or readout raise :class:`~mecbench.errors.UnknownIdentifierError`
listing the valid choices.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from mecbench.errors import ConfigError, UnknownIdentifierError

__all__ = [
    "ARCHITECTURES",
    "PATH_INTEGRATOR_ARCHS",
    "ACTIVATIONS",
    "READOUTS",
    "PLACE_CELL_READOUTS",
    "RECURRENT_INITS",
    "PathIntegratorConfig",
    "SSLGridConfig",
    "NetConfig",
    "config_from_dict",
    "config_from_json",
]

PATH_INTEGRATOR_ARCHS = ("rnn", "ugrnn", "lstm", "gru")
ARCHITECTURES = (*PATH_INTEGRATOR_ARCHS, "ssl")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
READOUTS = ("dos", "gaussian", "multifield", "cartesian", "polar")
PLACE_CELL_READOUTS = ("dos", "gaussian", "multifield")
RECURRENT_INITS = ("identity", "orthogonal", "uniform")


def _choice(kind: str, value: Any, known: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in known:
        raise UnknownIdentifierError(kind, str(value), known)
    return value


def _positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> None:
    ok_type = isinstance(value, int) and not isinstance(value, bool) if integer else (
        isinstance(value, (int, float)) and not isinstance(value, bool))
    if not ok_type or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        what = "integer" if integer else "number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"config field {name!r} must be a {what} {bound}, got {value!r}")


class _ConfigMixin:
    """JSON round trip shared by the configuration dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of every field (tuples become lists)."""
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): equal configs give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1)

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(
                f"unknown config field(s) {sorted(unknown)} for arch {self.arch!r}; valid: "
                f"{sorted(f.name for f in dataclasses.fields(self))}"
            )
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class PathIntegratorConfig(_ConfigMixin):
    """A supervised path integrator and how to train it.

    Defaults follow Sorscher et al. 2023 (with the CPU-sized "smallest published
    configuration that reaches grid-like units": 256 units, 10-step sequences, batch 64,
    Adam 1e-3, identity-initialised recurrence). One deliberate departure: ``n_place`` is
    256, not the papers' Np = 512, to match the 256 recurrent units of that CPU-sized
    configuration (Ng 256/Np 256 at 0.15 s a step on two cores); pass
    ``n_place=512`` for the papers' readout.

    Parameters
    ----------
    arch : {"rnn", "ugrnn", "lstm", "gru"}
        Recurrent cell. ``rnn`` is the bias-free vanilla RNN of Sorscher et al.; ``ugrnn`` is
        the update-gate RNN of Collins et al. 2017 as used by Nayebi et al. 2021.
    activation : {"relu", "tanh", "sigmoid", "linear"}
        Non-linearity of the vanilla RNN / of the UGRNN candidate / of the LSTM and GRU
        candidate and output (``tanh`` is the textbook choice for those).
    readout : {"dos", "gaussian", "multifield", "cartesian", "polar"}
        Target the network is trained to report (see :mod:`mecbench.nets.readouts`).
    n_hidden : int
        Number of recurrent units Ng.
    n_place : int
        Number of place cells Np (place-cell readouts and the initial-state encoding).
    place_sigma : float
        Place-field width σ (m).
    surround_scale : float
        DoS surround **variance** ratio s: surround variance = s·σ² (Sorscher et al.); the
        No-Free-Lunch code instead uses std s·σ (variance s²·σ²).
    multifield_mean_fields : float
        Multi-field readout: each cell has 1 + Poisson(mean − 1) fields.
    multifield_sigma_range : (float, float)
        Multi-field readout: each field's σ is drawn log-uniformly from this range (m).
    decode_top_k : int
        Place-cell decoding: mean of the centres of the k most active cells.
    arena_width, arena_height : float
        Training box (m), centred on 0.
    periodic : bool
        Periodic (toroidal) box for trajectories and place-cell distances.
    dt : float
        Time step of the trajectories (s).
    seq_len : int
        Steps per training trajectory.
    batch_size : int
        Trajectories per training step.
    lr : float
        Adam learning rate.
    weight_decay : float
        L2 penalty (coefficient × sum of squares) on the recurrent hidden-to-hidden weights only.
    recurrent_init : {"identity", "orthogonal", "uniform"}
        Initialisation of the hidden-to-hidden weights.
    g_activation : {"relu", "tanh", "sigmoid", "linear"}
        Non-linearity of the dense ``g`` layer after the recurrent state (gated cells only).
    seed : int
        Seeds weights and place-cell centres (trajectories are seeded by the trainer).
    """

    arch: str = "rnn"
    activation: str = "relu"
    readout: str = "dos"
    n_hidden: int = 256
    n_place: int = 256
    place_sigma: float = 0.12
    surround_scale: float = 2.0
    multifield_mean_fields: float = 2.0
    multifield_sigma_range: tuple[float, float] = (0.06, 0.24)
    decode_top_k: int = 3
    arena_width: float = 2.2
    arena_height: float = 2.2
    periodic: bool = False
    dt: float = 0.02
    seq_len: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    recurrent_init: str = "identity"
    g_activation: str = "relu"
    seed: int = 0

    def __post_init__(self):
        _choice("architecture", self.arch, PATH_INTEGRATOR_ARCHS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("activation", self.g_activation, ACTIVATIONS)
        _choice("readout", self.readout, READOUTS)
        _choice("recurrent initialisation", self.recurrent_init, RECURRENT_INITS)
        for name in ("n_hidden", "n_place", "decode_top_k", "seq_len", "batch_size"):
            _positive(name, getattr(self, name), integer=True)
        for name in ("place_sigma", "surround_scale", "arena_width", "arena_height", "dt", "lr",
                     "multifield_mean_fields"):
            _positive(name, getattr(self, name))
        _positive("weight_decay", self.weight_decay, allow_zero=True)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"config field 'seed' must be an integer >= 0, got {self.seed!r}")
        lo_hi = tuple(self.multifield_sigma_range)
        if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1]:
            raise ConfigError(
                f"config field 'multifield_sigma_range' must be (lo, hi) with 0 < lo <= hi, "
                f"got {self.multifield_sigma_range!r}"
            )
        object.__setattr__(self, "multifield_sigma_range", (float(lo_hi[0]), float(lo_hi[1])))
        if self.multifield_mean_fields < 1:
            raise ConfigError("config field 'multifield_mean_fields' must be >= 1, got "
                              f"{self.multifield_mean_fields!r}")
        if self.decode_top_k > self.n_place:
            raise ConfigError(f"config field 'decode_top_k'={self.decode_top_k} exceeds "
                              f"n_place={self.n_place}")


@dataclass(frozen=True)
class SSLGridConfig(_ConfigMixin):
    """The self-supervised grid model of Schaeffer, Khona et al. (NeurIPS 2023).

    g_t = Norm(ReLU(W(v_t) g_{t-1})) with W(v) = MLP(v) ∈ R^{N×N}. Defaults are the reported
    settings (Schaeffer, Khona et al. 2023): N = 128, T = 60, B = 130 permutations,
    σx = 0.05 m, σg = 0.4, loss weights separation 1.0 / invariance 0.1 / capacity 0.5,
    velocities uniform in ±0.15 m per step and per component. The conformal-isometry weight is
    not stated there; ``w_conformal`` = 0.01 is our choice: with 1.0 the term (a variance of
    ‖Δg‖/‖v‖, typically 1–60 at initialisation) dominated and kept the code collapsed
    (separation loss stayed ≈ 0.95) in our CPU runs, while 0.01 lets separation fall to ≈ 0.3.

    Parameters
    ----------
    arch : "ssl"
    n_units : int
        N, the number of grid units.
    mlp_hidden : int
        Width of the two hidden layers of the 3-layer MLP 2 → H → H → N².
    mlp_activation : {"relu", "tanh", "sigmoid", "linear"}
        Non-linearity of the MLP's hidden layers.
    seq_len : int
        T, velocities per trajectory.
    n_permutations : int
        B, permutations of the one trajectory in each batch.
    sigma_x : float
        Spatial scale (m): pairs closer than σx are "same place" (invariance), farther pairs
        are pushed apart (separation); also the speed limit of the conformal-isometry term.
    sigma_g : float
        Neural scale of the separation kernel exp(−‖g−g'‖²/2σg²).
    w_separation, w_invariance, w_capacity, w_conformal : float
        Loss weights.
    max_step : float
        Velocities are uniform in [−max_step, max_step] per component (m per step).
    lr : float
        Adam learning rate.
    arena_width, arena_height : float
        Box used when the model is driven along random walks for scoring; the origin g_0
        represents the box centre.
    seed : int
        Seeds weights (velocities are seeded by the trainer).
    """

    arch: str = "ssl"
    n_units: int = 128
    mlp_hidden: int = 64
    mlp_activation: str = "relu"
    seq_len: int = 60
    n_permutations: int = 130
    sigma_x: float = 0.05
    sigma_g: float = 0.4
    w_separation: float = 1.0
    w_invariance: float = 0.1
    w_capacity: float = 0.5
    w_conformal: float = 0.01
    max_step: float = 0.15
    lr: float = 1e-3
    arena_width: float = 2.2
    arena_height: float = 2.2
    seed: int = 0

    def __post_init__(self):
        if self.arch != "ssl":
            raise UnknownIdentifierError("architecture", str(self.arch), ("ssl",))
        _choice("activation", self.mlp_activation, ACTIVATIONS)
        for name in ("n_units", "mlp_hidden", "seq_len", "n_permutations"):
            _positive(name, getattr(self, name), integer=True)
        for name in ("sigma_x", "sigma_g", "max_step", "lr", "arena_width", "arena_height"):
            _positive(name, getattr(self, name))
        for name in ("w_separation", "w_invariance", "w_capacity", "w_conformal"):
            _positive(name, getattr(self, name), allow_zero=True)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"config field 'seed' must be an integer >= 0, got {self.seed!r}")

    @property
    def batch_size(self) -> int:
        """Trajectories per step (the permutations)."""
        return self.n_permutations


NetConfig = PathIntegratorConfig | SSLGridConfig


def config_from_dict(data: dict[str, Any]) -> NetConfig:
    """Build the right configuration class from a dict (e.g. parsed ``config.json``).

    Raises
    ------
    UnknownIdentifierError
        Unknown ``arch``.
    ConfigError
        Unknown fields or invalid values.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"a network config must be a JSON object, got {type(data).__name__}")
    arch = data.get("arch", "rnn")
    _choice("architecture", arch, ARCHITECTURES)
    cls = SSLGridConfig if arch == "ssl" else PathIntegratorConfig
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown} for arch {arch!r}; valid: "
                          f"{sorted(names)}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**kwargs)


def config_from_json(text: str) -> NetConfig:
    """Inverse of ``config.to_json()``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"network config is not valid JSON: {err}") from None
    return config_from_dict(data)

