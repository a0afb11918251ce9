"""Random and idealised spatial bases: the control populations, as functions of position.

Every generator maps positions ``xy`` (n, 2) in metres to responses (n, D), vectorised over
units. Per-unit parameters come from independent, seeded streams, one stream per parameter,
read in unit order, so **the first D units of a population of size D' > D are exactly the
population of size D** (nested draws). A dimension sweep can therefore draw the largest
population once and take prefixes, and ``control/fourier-d64-s0`` is bit-identical to the first
64 units of ``control/fourier-d4096-s0``. Different seeds are independent draws.

Families (defaults chosen to match the spatial scales of MEC; see each function):

- :func:`fourier_features`  random Fourier features of an RBF kernel (Rahimi & Recht 2007);
- :func:`gaussian_bumps`    Gaussian bumps at uniformly random centres (place-cell-like basis,
  σ = 0.12 m as the place cells of Sorscher et al. 2019/2023);
- :func:`relu_features`     random ReLU ramps of position whose kinks cross the box (a random
  one-hidden-layer ReLU network of position, cf. the arc-cosine kernel of Cho & Saul 2009);
- :func:`grid_population`   idealised multi-module grid cells: spacings growing by a ratio of
  1.4 from 0.3 m (Stensola et al. 2012), one orientation per module, random phase per unit;
- :func:`shuffle_bins`      a seeded bin permutation per unit of any maps (Schaeffer et al. 2023
  style "same values, no spatial structure" control).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from mecbench.errors import ConfigError

__all__ = [
    "MAX_DIM",
    "check_dim",
    "unit_stream",
    "fourier_features",
    "gaussian_bumps",
    "relu_features",
    "grid_population",
    "grid_module_parameters",
    "shuffle_bins",
]

#: Largest population a control may have (memory guard: 2.2 m arena × MAX_DIM ≈ 1 GB).
MAX_DIM = 65536

_FAMILY_CODES = {"fourier": 1, "bumps": 2, "relu": 3, "grid": 4, "shuffle": 5}
_HALF_ULP = 2.0**-54


def check_dim(dim: object, name: str = "dimension D") -> int:
    """Return ``dim`` as an int in ``[1, MAX_DIM]`` or raise :class:`ConfigError`."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise ConfigError(f"{name} must be a positive integer, got {dim!r}")
    if dim <= 0:
        raise ConfigError(f"{name} must be a positive integer (D >= 1), got {dim}")
    if dim > MAX_DIM:
        raise ConfigError(f"{name}={dim} exceeds the largest control population {MAX_DIM}")
    return int(dim)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def unit_stream(family: str, seed: int, parameter: int) -> np.random.Generator:
    """The independent random stream of one parameter of one seeded control family."""
    seed = _check_seed(seed)
    code = _FAMILY_CODES[family]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, code, parameter])))


def _uniform(family: str, seed: int, parameter: int, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform(0, 1) draws in C order; a prefix along axis 0 is the draw of a smaller shape.

    ``Generator.random`` consumes exactly one 64-bit word per double, in order, which is what
    makes prefixes stable (unlike ``standard_normal``'s rejection sampler combined with other
    draws from the same stream).
    """
    return unit_stream(family, seed, parameter).random(shape)


def _normal(family: str, seed: int, parameter: int, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal draws by inverting the CDF of prefix-stable uniforms (finite always)."""
    return ndtri(_uniform(family, seed, parameter, shape) + _HALF_ULP)


def _positions(xy: np.ndarray) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ConfigError(f"positions must have shape (n, 2), got {xy.shape}")
    if not np.isfinite(xy).all():
        raise ConfigError("positions must be finite")
    return xy


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return value


def fourier_features(xy: np.ndarray, dim: int, seed: int, *, bandwidth: float = 0.12
                     ) -> np.ndarray:
    """Random Fourier features ``sqrt(2) cos(w·x + b)`` of position.

    ``w ~ N(0, I / bandwidth²)`` and ``b ~ U[0, 2π)``: the features approximate the RBF kernel
    ``exp(-|x - x'|² / (2 bandwidth²))`` (Rahimi & Recht 2007). Each unit has unit variance
    over a uniform sampling of the plane.

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Positions in metres.
    dim : int
        Number of units D (>= 1).
    seed : int
        Seed of the population.
    bandwidth : float
        Kernel length scale in metres (default 0.12 m, the place-field width of
        Sorscher et al.).

    Returns
    -------
    ndarray, shape (n, dim)
    """
    xy, dim = _positions(xy), check_dim(dim)
    bandwidth = _positive(bandwidth, "bandwidth")
    w = _normal("fourier", seed, 0, (dim, 2)) / bandwidth
    b = 2 * np.pi * _uniform("fourier", seed, 1, (dim,))
    return np.sqrt(2.0) * np.cos(xy @ w.T + b)


def gaussian_bumps(xy: np.ndarray, dim: int, seed: int, *, width: float = 0.12,
                   extent: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Gaussian bumps ``exp(-|x - c|² / (2 width²))`` with centres uniform in the box.

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Positions in metres.
    dim : int
        Number of units D.
    seed : int
        Seed of the population.
    width : float
        Standard deviation of each bump in metres (default 0.12 m, Sorscher et al.'s σ).
    extent : (float, float)
        Width and height of the box (centred on 0) the centres are drawn in.

    Returns
    -------
    ndarray, shape (n, dim)
        Peak 1 at each centre.
    """
    xy, dim = _positions(xy), check_dim(dim)
    width = _positive(width, "width")
    size = np.array([_positive(extent[0], "arena width"), _positive(extent[1], "arena height")])
    centres = (_uniform("bumps", seed, 0, (dim, 2)) - 0.5) * size
    sq = ((xy**2).sum(1)[:, None] + (centres**2).sum(1)[None, :] - 2 * xy @ centres.T)
    return np.exp(-np.maximum(sq, 0.0) / (2 * width**2))


def relu_features(xy: np.ndarray, dim: int, seed: int, *,
                  extent: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Random ReLU ramps ``max(0, u·(x - c)) / r`` of position.

    ``u`` is a unit vector of uniform direction, ``c`` a point uniform in the central 80 % of the
    box (on each axis) and ``r`` the box's half-diagonal: a random one-hidden-layer ReLU network
    of position whose kinks all cross the box well inside it, so no unit is silent or linear
    everywhere (with the usual ``a ~ N(0, I), b ~ N(0, 1)`` draw many units would be constant
    zero in the arena). Values lie in [0, 2].

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Positions in metres.
    dim : int
        Number of units D.
    seed : int
        Seed of the population.
    extent : (float, float)
        Width and height of the box (centred on 0).

    Returns
    -------
    ndarray, shape (n, dim)
    """
    xy, dim = _positions(xy), check_dim(dim)
    size = np.array([_positive(extent[0], "arena width"), _positive(extent[1], "arena height")])
    half_diag = 0.5 * np.hypot(*size)
    angle = 2 * np.pi * _uniform("relu", seed, 0, (dim,))
    u = np.stack([np.cos(angle), np.sin(angle)], 1)
    c = 0.8 * (_uniform("relu", seed, 1, (dim, 2)) - 0.5) * size
    return np.maximum(xy @ u.T - (u * c).sum(1), 0.0) / half_diag


def grid_module_parameters(dim: int, seed: int, *, n_modules: int = 4, spacing: float = 0.3,
                           ratio: float = 1.4, orientation: float | None = None
                           ) -> dict[str, np.ndarray]:
    """Module, spacing, orientation and phase of each unit of :func:`grid_population`.

    Units are assigned to modules round-robin (unit i in module ``i % n_modules``), so every
    prefix is balanced. Module m has spacing ``spacing * ratio**m`` and one orientation drawn
    uniformly in [0°, 60°) (or ``orientation`` degrees for every module when given); each
    unit's phase is uniform over the unit cell of its lattice.

    Returns
    -------
    dict with ``module`` (dim,), ``spacing`` (dim,) m, ``orientation`` (dim,) rad,
    ``phase`` (dim, 2) m, ``module_spacing`` (n_modules,), ``module_orientation`` (n_modules,).
    """
    dim = check_dim(dim)
    if isinstance(n_modules, bool) or not isinstance(n_modules, (int, np.integer)) \
            or not 1 <= n_modules <= 32:
        raise ConfigError(
            f"number of grid modules must be an integer in [1, 32], got {n_modules!r}"
        )
    spacing = _positive(spacing, "grid spacing")
    ratio = _positive(ratio, "grid spacing ratio")
    module_spacing = spacing * ratio ** np.arange(n_modules)
    module_orientation = (np.pi / 3) * _uniform("grid", seed, 0, (n_modules,))
    if orientation is not None:
        if not (np.isfinite(orientation) and 0 <= orientation < 60):
            raise ConfigError(f"grid orientation must be in [0, 60) degrees, got {orientation!r}")
        module_orientation = np.full(n_modules, np.deg2rad(float(orientation)))
    module = np.arange(dim) % n_modules
    lam, theta = module_spacing[module], module_orientation[module]
    u = _uniform("grid", seed, 1, (dim, 2))
    a1 = np.stack([np.cos(theta), np.sin(theta)], 1)
    a2 = np.stack([np.cos(theta + np.pi / 3), np.sin(theta + np.pi / 3)], 1)
    phase = lam[:, None] * (u[:, :1] * a1 + u[:, 1:] * a2)
    return {"module": module, "spacing": lam, "orientation": theta, "phase": phase,
            "module_spacing": module_spacing, "module_orientation": module_orientation}


def grid_population(xy: np.ndarray, dim: int, seed: int, *, n_modules: int = 4,
                    spacing: float = 0.3, ratio: float = 1.4, gain: float = 0.5,
                    orientation: float | None = None) -> np.ndarray:
    """Idealised multi-module grid cells.

    Unit i responds ``exp(gain * (Σ_j cos(k_j·(x - φ_i)) - 3))`` with three wave vectors of
    length ``4π / (√3 λ)`` at ``θ + 30°, θ + 90°, θ + 150°`` (λ, θ the spacing and orientation of
    its module, φ_i its phase): a hexagonal lattice of fields of peak 1 with spacing λ
    (Solstad et al. 2006 form). Module structure as in :func:`grid_module_parameters`.

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Positions in metres.
    dim : int
        Number of units D.
    seed : int
        Seed (orientations and phases).
    n_modules : int
        Number of modules (default 4).
    spacing : float
        Spacing of the smallest module in metres (default 0.3 m).
    ratio : float
        Ratio of successive module spacings (default 1.4, Stensola et al. 2012).
    gain : float
        Sharpness of the fields (default 0.5; field s.d. ≈ 0.16 λ).
    orientation : float, optional
        Orientation (degrees, [0, 60)) shared by every module; default one random orientation
        per module.

    Returns
    -------
    ndarray, shape (n, dim)
    """
    xy = _positions(xy)
    gain = _positive(gain, "grid gain")
    p = grid_module_parameters(dim, seed, n_modules=n_modules, spacing=spacing, ratio=ratio,
                               orientation=orientation)
    k = 4 * np.pi / (np.sqrt(3) * p["spacing"])
    total = np.zeros((xy.shape[0], p["module"].size))
    for j in range(3):  # three wave vectors per unit, vectorised over units and positions
        angle = p["orientation"] + np.pi / 6 + j * np.pi / 3
        kv = k[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
        total += np.cos(xy @ kv.T - (kv * p["phase"]).sum(1))
    return np.exp(gain * (total - 3.0))


def shuffle_bins(values: np.ndarray, seed: int) -> np.ndarray:
    """Permute the bins of each unit independently (seeded), keeping each unit's values.

    Parameters
    ----------
    values : ndarray, shape (n_bins, n_units)
        Flattened maps.
    seed : int
        Seed of the permutations; unit i's permutation depends only on ``seed`` and ``i``'s
        row of one prefix-stable draw (so the first D units shuffle the same at any D).

    Returns
    -------
    ndarray, shape (n_bins, n_units)
        ``out[:, i]`` is a permutation of ``values[:, i]``.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ConfigError(f"values to shuffle must be (n_bins, n_units), got {values.shape}")
    n_bins, n_units = values.shape
    order = np.argsort(_uniform("shuffle", seed, 0, (n_units, n_bins)), axis=1, kind="stable")
    return np.take_along_axis(values, order.T, axis=0)
