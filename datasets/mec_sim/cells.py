"""Firing-rate models of the simulated MEC cell classes, vectorised over cells and samples.

Every cell's rate at time ``t`` is

``rate = G(t) · (b + a · S(position) · H(head direction)) · V(speed)``

- ``S`` spatial factor (1 for non-spatial cells), evaluated on a 2 cm lattice (``_RESOLUTION``
  in ``__init__.py``) and looked up at the nearest lattice point;
- ``H(φ) = exp(κ (cos(φ − μ) − 1))`` von Mises head-direction tuning (1 for non-HD cells);
- ``V(v) = max(0, 1 + β (v − v_ref) / v_ref)`` linear speed modulation;
- ``G(t) = exp(σ_g z(t) − σ_g²/2)`` a slow multiplicative gain, ``z`` a unit OU process with time
  constant ``gain_noise_tau`` (behavioural-state fluctuations; it makes split-half maps less
  reliable than Poisson noise alone would, as in recordings).

Cell classes (see README.md for the sources of proportions and parameters):

``grid``
    Gaussian fields (s.d. ``field_width · spacing``) on a triangular lattice (spacing,
    orientation, phase); each field has its own peak factor (log-normal, s.d.
    ``field_rate_sd``: real grid fields differ in rate) and is displaced from its lattice point
    (s.d. ``field_jitter · spacing``: real grids are not perfectly regular). Each module's
    lattice is stretched by a factor ``ellipticity`` along a random axis (real grids in square
    boxes are sheared into slight ellipses, Stensola et al. 2015).
``conjunctive``
    Grid × head direction (Sargolini et al. 2006).
``head_direction``
    Head direction only (spatially flat).
``border``
    A band along one wall (sometimes two adjacent walls), Gaussian fall-off from the wall
    (s.d. ``border_sigma``) over part of its length (Solstad et al. 2008).
``speed``
    Rate linear in running speed, ``intercept + slope · (v − v_ref)`` (Kropff et al. 2015),
    spatially flat.
``spatial``
    Non-grid spatially selective cells: 1 + Poisson(``spatial_field_density`` × box area)
    irregularly placed Gaussian fields (at most 12) of different sizes and rates (Diehl et al.
    2017); so a cell has ~2.5 fields in a 1 m box and ~8 in a 2.2 m box.

Rates are computed in float64. The spike generator turns them into spike times (time
rescaling), and a rate that differs in its last bit moves spike times by the same relative
amount; in float32 (relative error ~1e-7, and numpy's float32 ``exp``/``cos`` differ by a few
ulp between CPU kernels) that moved a few spikes into a neighbouring position sample on another
CPU, so the rate maps of a few cells differed by up to 14 % in a bin. In float64 the same
perturbation (~1e-16) moves spike times by ~1e-18 s, and the generated data agree to the last
bits on every machine (tests/test_data_identity.py checks it under NPY_DISABLE_CPU_FEATURES).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CELL_TYPES", "PopulationParams", "draw_modules", "draw_cells", "spatial_factor",
           "cell_rates", "WALLS"]

CELL_TYPES = ("grid", "conjunctive", "head_direction", "border", "speed", "spatial")
WALLS = ("east", "west", "north", "south")       # x = +W/2, x = -W/2, y = +H/2, y = -H/2
_LATTICE_TABLE = 32                              # per-cell table of field peak factors
_MAX_FIELDS = 12


@dataclass(frozen=True)
class PopulationParams:
    """Parameters of the simulated population (metres, seconds, Hz, degrees)."""

    proportions: tuple[tuple[str, float], ...] = (
        ("grid", 0.30), ("conjunctive", 0.10), ("head_direction", 0.15),
        ("border", 0.10), ("speed", 0.15), ("spatial", 0.20))
    n_modules: int = 3
    base_spacing_range: tuple[float, float] = (0.34, 0.42)
    module_ratio: float = 1.42
    module_weights: tuple[float, ...] = (0.5, 0.3, 0.2)
    module_spacing_jitter: float = 0.03
    cell_spacing_jitter: float = 0.02
    cell_orientation_jitter: float = 1.0
    field_width_range: tuple[float, float] = (0.11, 0.15)
    field_rate_sd: float = 0.4
    field_jitter: float = 0.08
    ellipticity_range: tuple[float, float] = (1.0, 1.15)
    grid_peak: tuple[float, float] = (8.0, 0.4)
    grid_baseline_range: tuple[float, float] = (0.01, 0.05)
    conjunctive_peak: tuple[float, float] = (15.0, 0.4)
    conjunctive_kappa_range: tuple[float, float] = (1.0, 4.0)
    hd_kappa_range: tuple[float, float] = (1.5, 6.0)
    hd_peak: tuple[float, float] = (15.0, 0.4)
    hd_baseline_range: tuple[float, float] = (0.02, 0.1)
    border_peak: tuple[float, float] = (10.0, 0.4)
    border_sigma_range: tuple[float, float] = (0.04, 0.08)
    border_extent_range: tuple[float, float] = (0.5, 1.0)
    border_corner_prob: float = 0.2
    border_baseline_range: tuple[float, float] = (0.02, 0.08)
    speed_intercept_range: tuple[float, float] = (5.0, 20.0)
    speed_slope_range: tuple[float, float] = (10.0, 40.0)
    spatial_field_density: float = 1.5
    spatial_sigma_range: tuple[float, float] = (0.05, 0.15)
    spatial_peak: tuple[float, float] = (8.0, 0.5)
    spatial_baseline_range: tuple[float, float] = (0.02, 0.1)
    speed_gain_mean: float = 0.1
    speed_gain_sd: float = 0.1
    v_ref: float = 0.15
    gain_noise_sd: float = 0.2
    gain_noise_tau: float = 30.0


def _allocate(n: int, weights) -> np.ndarray:
    """Counts summing to ``n`` proportional to ``weights`` (largest remainders)."""
    w = np.asarray(weights, float)
    w = w / w.sum()
    raw = n * w
    counts = np.floor(raw).astype(int)
    rest = n - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts


def draw_modules(rng: np.random.Generator, p: PopulationParams) -> dict[str, np.ndarray]:
    """Grid modules of one animal: spacing (m), orientation (deg), ellipticity and the axis
    (deg) of the stretch of each module.

    Spacings grow geometrically by ``module_ratio`` from a first module drawn uniformly in
    ``base_spacing_range`` (Stensola et al. 2012: ~1.4 from ~0.3–0.4 m), each with a small
    log-normal jitter; orientations are independent per module, uniform in [0, 60).
    """
    base = rng.uniform(*p.base_spacing_range)
    k = np.arange(p.n_modules)
    spacing = base * p.module_ratio**k * np.exp(rng.normal(0, p.module_spacing_jitter,
                                                           p.n_modules))
    spacing[0] = base
    orientation = rng.uniform(0, 60, p.n_modules)
    ellipticity = rng.uniform(*p.ellipticity_range, p.n_modules)
    stretch_axis = rng.uniform(0, 180, p.n_modules)
    return {"spacing": spacing, "orientation": orientation, "ellipticity": ellipticity,
            "stretch_axis": stretch_axis}


def _lognormal(rng, median_sd, n):
    """``n`` log-normal draws with the given (median, s.d. of the log)."""
    median, sd = median_sd
    return median * np.exp(rng.normal(0, sd, n))


def _draw_types(rng: np.random.Generator, p: PopulationParams, n_cells: int) -> np.ndarray:
    """Cell classes in exact ``proportions`` (largest remainders), in a shuffled order."""
    names = [c for c, _ in p.proportions]
    bad = set(names) - set(CELL_TYPES)
    if bad:
        raise ValueError(f"unknown cell types in proportions: {sorted(bad)}")
    counts = _allocate(n_cells, [f for _, f in p.proportions])
    ctype = np.repeat(np.array(names, dtype=object), counts)
    return ctype[rng.permutation(n_cells)].astype(str)


def _blank_cells(rng: np.random.Generator, p: PopulationParams,
                 ctype: np.ndarray) -> dict[str, np.ndarray]:
    """Parameter table with every class-specific field unset, and every cell's speed gain."""
    n = len(ctype)
    nan = np.full(n, np.nan)
    return {
        "cell_type": ctype, "module": np.full(n, -1), "spacing": nan.copy(),
        "orientation": nan.copy(), "phase_x": nan.copy(), "phase_y": nan.copy(),
        "field_sigma": nan.copy(), "hd_pref": nan.copy(), "hd_kappa": nan.copy(),
        "speed_slope": nan.copy(), "border_wall": np.full(n, "", dtype=object),
        "border_wall2": np.full(n, "", dtype=object), "border_sigma": nan.copy(),
        "border_lo": nan.copy(), "border_hi": nan.copy(),
        "peak": np.zeros(n), "baseline": np.zeros(n), "amplitude": np.zeros(n),
        "speed_gain": rng.normal(p.speed_gain_mean, p.speed_gain_sd, n),
        "field_x": np.full((n, _MAX_FIELDS), np.nan), "field_y": np.full((n, _MAX_FIELDS), np.nan),
        "field_s": np.full((n, _MAX_FIELDS), np.nan), "field_a": np.zeros((n, _MAX_FIELDS)),
        "lattice_rates": np.ones((n, _LATTICE_TABLE, _LATTICE_TABLE)),
        "lattice_jitter": np.zeros((n, _LATTICE_TABLE, _LATTICE_TABLE, 2)),
        "a1": np.full((n, 2), np.nan), "a2": np.full((n, 2), np.nan),
    }


def _draw_lattices(rng: np.random.Generator, p: PopulationParams,
                   modules: dict[str, np.ndarray], c: dict[str, np.ndarray], g: np.ndarray):
    """Module, lattice vectors, spacing and orientation of the grid-patterned cells ``g``."""
    mod = np.repeat(np.arange(p.n_modules), _allocate(g.size, p.module_weights))
    mod = mod[rng.permutation(g.size)]
    c["module"][g] = mod
    nominal = modules["spacing"][mod] * np.exp(rng.normal(0, p.cell_spacing_jitter, g.size))
    ori = (modules["orientation"][mod] + rng.normal(0, p.cell_orientation_jitter, g.size)) % 60
    # lattice vectors, stretched by the module's ellipticity along its axis
    t1, t2 = np.deg2rad(ori), np.deg2rad(ori + 60)
    a1 = nominal[:, None] * np.stack([np.cos(t1), np.sin(t1)], 1)
    a2 = nominal[:, None] * np.stack([np.cos(t2), np.sin(t2)], 1)
    ax = np.deg2rad(modules["stretch_axis"][mod])
    u = np.stack([np.cos(ax), np.sin(ax)], 1)
    e = modules["ellipticity"][mod][:, None]
    a1 = a1 + (e - 1) * (a1 * u).sum(1, keepdims=True) * u
    a2 = a2 + (e - 1) * (a2 * u).sum(1, keepdims=True) * u
    c["a1"][g], c["a2"][g] = a1, a2
    # spacing: mean length of the three lattice directions (what six peaks measure)
    c["spacing"][g] = (np.linalg.norm(a1, axis=1) + np.linalg.norm(a2, axis=1)
                       + np.linalg.norm(a1 - a2, axis=1)) / 3
    c["orientation"][g] = ori


def _draw_grid_fields(rng: np.random.Generator, p: PopulationParams,
                      c: dict[str, np.ndarray], g: np.ndarray):
    """Phase, field jitter, width and peak factors, peak and baseline of the grid cells ``g``."""
    a1, a2, sp = c["a1"][g], c["a2"][g], c["spacing"][g]
    # phase uniform over the unit cell: u a1 + v a2
    pu, pv = rng.random(g.size), rng.random(g.size)
    c["phase_x"][g] = pu * a1[:, 0] + pv * a2[:, 0]
    c["phase_y"][g] = pu * a1[:, 1] + pv * a2[:, 1]
    c["lattice_jitter"][g] = rng.normal(0, 1, (g.size, _LATTICE_TABLE, _LATTICE_TABLE, 2)) \
        * (p.field_jitter * sp)[:, None, None, None]
    c["field_sigma"][g] = sp * rng.uniform(*p.field_width_range, g.size)
    c["lattice_rates"][g] = np.exp(rng.normal(0, p.field_rate_sd,
                                              (g.size, _LATTICE_TABLE, _LATTICE_TABLE)))
    c["peak"][g] = _lognormal(rng, p.grid_peak, g.size)
    conj = c["cell_type"][g] == "conjunctive"
    c["peak"][g[conj]] = _lognormal(rng, p.conjunctive_peak, int(conj.sum()))
    c["baseline"][g] = c["peak"][g] * rng.uniform(*p.grid_baseline_range, g.size)


def _draw_head_direction(rng: np.random.Generator, p: PopulationParams,
                         c: dict[str, np.ndarray]):
    """Preferred direction and concentration of conjunctive and head-direction cells."""
    ctype = c["cell_type"]
    for kind, krange in (("conjunctive", p.conjunctive_kappa_range),
                         ("head_direction", p.hd_kappa_range)):
        h = np.flatnonzero(ctype == kind)
        c["hd_pref"][h] = rng.uniform(-np.pi, np.pi, h.size)
        c["hd_kappa"][h] = rng.uniform(*krange, h.size)
    h = np.flatnonzero(ctype == "head_direction")
    c["peak"][h] = _lognormal(rng, p.hd_peak, h.size)
    c["baseline"][h] = c["peak"][h] * rng.uniform(*p.hd_baseline_range, h.size)


def _draw_border(rng: np.random.Generator, p: PopulationParams, c: dict[str, np.ndarray]):
    """Wall(s), fall-off, extent along the wall, peak and baseline of the border cells."""
    b = np.flatnonzero(c["cell_type"] == "border")
    wall = rng.integers(0, 4, b.size)
    c["border_wall"][b] = np.array(WALLS, dtype=object)[wall]
    second = rng.random(b.size) < p.border_corner_prob
    # an adjacent wall: east/west pair with north/south
    adj = np.where(wall < 2, 2 + rng.integers(0, 2, b.size), rng.integers(0, 2, b.size))
    c["border_wall2"][b] = np.where(second, np.array(WALLS, dtype=object)[adj], "")
    c["border_sigma"][b] = rng.uniform(*p.border_sigma_range, b.size)
    ext = rng.uniform(*p.border_extent_range, b.size)
    lo = rng.uniform(0, 1 - ext)
    c["border_lo"][b], c["border_hi"][b] = lo, lo + ext
    c["peak"][b] = _lognormal(rng, p.border_peak, b.size)
    c["baseline"][b] = c["peak"][b] * rng.uniform(*p.border_baseline_range, b.size)


def _draw_speed(rng: np.random.Generator, p: PopulationParams, c: dict[str, np.ndarray]):
    """Intercept and slope of the speed cells, as a rate and a relative speed gain."""
    # intercept + slope (v - v_ref) = intercept (1 + beta (v - v_ref) / v_ref)
    s = np.flatnonzero(c["cell_type"] == "speed")
    intercept = rng.uniform(*p.speed_intercept_range, s.size)
    slope = rng.uniform(*p.speed_slope_range, s.size)
    c["speed_slope"][s] = slope
    c["speed_gain"][s] = slope * p.v_ref / intercept
    c["peak"][s] = intercept
    c["baseline"][s] = intercept


def _draw_spatial(rng: np.random.Generator, p: PopulationParams, c: dict[str, np.ndarray],
                  width: float, height: float):
    """Irregular fields (positions, sizes, rates), peak and baseline of non-grid spatial cells."""
    q = np.flatnonzero(c["cell_type"] == "spatial")
    n_fields = np.minimum(1 + rng.poisson(p.spatial_field_density * width * height, q.size),
                          _MAX_FIELDS)
    shape = (q.size, _MAX_FIELDS)
    fx = rng.uniform(-width / 2, width / 2, shape)
    fy = rng.uniform(-height / 2, height / 2, shape)
    fs = rng.uniform(*p.spatial_sigma_range, shape)
    fa = rng.uniform(0.3, 1.0, shape)
    fa[:, 0] = 1.0
    use = np.arange(_MAX_FIELDS)[None] < n_fields[:, None]
    c["field_x"][q] = np.where(use, fx, np.nan)
    c["field_y"][q] = np.where(use, fy, np.nan)
    c["field_s"][q] = np.where(use, fs, np.nan)
    c["field_a"][q] = np.where(use, fa, 0.0)
    c["peak"][q] = _lognormal(rng, p.spatial_peak, q.size)
    c["baseline"][q] = c["peak"][q] * rng.uniform(*p.spatial_baseline_range, q.size)


def draw_cells(rng: np.random.Generator, p: PopulationParams, modules: dict[str, np.ndarray],
               n_cells: int, width: float, height: float) -> dict[str, np.ndarray]:
    """Parameters of ``n_cells`` cells of one animal recorded in one box.

    Class counts follow ``proportions`` exactly (largest remainders), grid and conjunctive
    cells are spread over modules by ``module_weights``; the order of cells is shuffled.
    """
    # the steps draw from ``rng`` in this order; changing it changes every mec-sim value
    ctype = _draw_types(rng, p, n_cells)
    c = _blank_cells(rng, p, ctype)
    g = np.flatnonzero(np.isin(ctype, ("grid", "conjunctive")))
    if g.size:
        _draw_lattices(rng, p, modules, c, g)
        _draw_grid_fields(rng, p, c, g)
    _draw_head_direction(rng, p, c)
    _draw_border(rng, p, c)
    _draw_speed(rng, p, c)
    _draw_spatial(rng, p, c, width, height)
    # amplitude of the tuned part: rate = baseline + amplitude * S * H (speed cells: none)
    c["amplitude"] = np.where(ctype == "speed", 0.0, c["peak"])
    c["border_wall"] = c["border_wall"].astype(str)
    c["border_wall2"] = c["border_wall2"].astype(str)
    return c


def _grid_factor(c, idx, px, py) -> np.ndarray:
    """Sum of Gaussian fields at the lattice points near each position: (len(idx), n_points)."""
    real = np.float64
    a1x, a1y = c["a1"][idx, 0][:, None], c["a1"][idx, 1][:, None]
    a2x, a2y = c["a2"][idx, 0][:, None], c["a2"][idx, 1][:, None]
    det = a1x * a2y - a2x * a1y
    dx = (px[None] - c["phase_x"][idx][:, None]).astype(real)
    dy = (py[None] - c["phase_y"][idx][:, None]).astype(real)
    u = (a2y * dx - a2x * dy) / det
    v = (-a1y * dx + a1x * dy) / det
    iu, iv = np.rint(u).astype(int), np.rint(v).astype(int)
    sig2 = (2 * c["field_sigma"][idx][:, None] ** 2).astype(real)
    rates = c["lattice_rates"][idx].astype(real)
    jitter = c["lattice_jitter"][idx].astype(real)
    a1x, a1y, a2x, a2y = (v.astype(real) for v in (a1x, a1y, a2x, a2y))
    rows = np.arange(len(idx))[:, None]
    out = np.zeros_like(dx)
    # with (u, v) rounded, the lattice points near the position are among these 7 (the far
    # ends (1, 1), (-1, -1) of the 60° rhombus are sqrt(3) spacings away)
    for du, dv in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)):
        m, k = iu + du, iv + dv
        tm, tk = m % _LATTICE_TABLE, k % _LATTICE_TABLE
        cx = m * a1x + k * a2x + jitter[rows, tm, tk, 0]
        cy = m * a1y + k * a2y + jitter[rows, tm, tk, 1]
        d2 = (dx - cx) ** 2 + (dy - cy) ** 2
        out += rates[rows, tm, tk] * np.exp(-d2 / sig2)
    return out


def _wall_distance(wall: str, px, py, width, height):
    """Distance to a wall and the position along it as a fraction of its length."""
    if wall == "east":
        return width / 2 - px, (py + height / 2) / height
    if wall == "west":
        return px + width / 2, (py + height / 2) / height
    if wall == "north":
        return height / 2 - py, (px + width / 2) / width
    return py + height / 2, (px + width / 2) / width


def _border_factor(c, idx, px, py, width, height, soft: float = 0.05) -> np.ndarray:
    """Border band(s) of the cells ``idx`` at each position: (len(idx), n_points)."""
    out = np.zeros((len(idx), px.size))
    for row, i in enumerate(idx):
        d, along = _wall_distance(c["border_wall"][i], px, py, width, height)
        length = height if c["border_wall"][i] in ("east", "west") else width
        s = soft / length
        window = (1 / (1 + np.exp(-(along - c["border_lo"][i]) / s))
                  * 1 / (1 + np.exp((along - c["border_hi"][i]) / s)))
        f = np.exp(-d**2 / (2 * c["border_sigma"][i] ** 2)) * window
        if c["border_wall2"][i]:
            d2, _ = _wall_distance(c["border_wall2"][i], px, py, width, height)
            f = np.maximum(f, np.exp(-d2**2 / (2 * c["border_sigma"][i] ** 2)))
        out[row] = f
    return out


def spatial_factor(c: dict[str, np.ndarray], width: float, height: float,
                   resolution: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spatial factor ``S`` of every cell on a lattice of ``resolution`` (m).

    Returns
    -------
    S : ndarray, shape (n_cells, nx, ny), float64
    xs, ys : lattice coordinates (m)
    """
    nx = int(round(width / resolution))
    ny = int(round(height / resolution))
    xs = -width / 2 + resolution * (np.arange(nx) + 0.5)
    ys = -height / 2 + resolution * (np.arange(ny) + 0.5)
    PX, PY = np.meshgrid(xs, ys, indexing="ij")
    px, py = PX.ravel(), PY.ravel()
    n = len(c["cell_type"])
    S = np.ones((n, px.size), dtype=np.float64)
    ct = c["cell_type"]
    g = np.flatnonzero(np.isin(ct, ("grid", "conjunctive")))
    for chunk in np.array_split(g, max(1, g.size // 8)):
        if chunk.size:
            S[chunk] = _grid_factor(c, chunk, px, py)
    b = np.flatnonzero(ct == "border")
    if b.size:
        S[b] = _border_factor(c, b, px, py, width, height)
    q = np.flatnonzero(ct == "spatial")
    if q.size:
        acc = np.zeros((q.size, px.size))
        for k in range(_MAX_FIELDS):
            use = np.isfinite(c["field_x"][q, k])
            if not use.any():
                continue
            rows = q[use]
            d2 = ((px[None] - c["field_x"][rows, k][:, None]) ** 2
                  + (py[None] - c["field_y"][rows, k][:, None]) ** 2)
            acc[use] += c["field_a"][rows, k][:, None] * np.exp(
                -d2 / (2 * c["field_s"][rows, k][:, None] ** 2))
        S[q] = acc
    return S.reshape(n, nx, ny), xs, ys


def cell_rates(c: dict[str, np.ndarray], S: np.ndarray, resolution: float, width: float,
               height: float, x, y, head_direction, speed, *, p: PopulationParams,
               dt: float, rng: np.random.Generator, gain_step: float = 1.0) -> np.ndarray:
    """Firing rates (Hz, float64), shape (n_samples, n_cells), along a path.

    The slow gain ``G`` is drawn every ``gain_step`` seconds and held in between (its time
    constant, 30 s by default, is much longer).
    """
    n, nx, ny = S.shape
    ix = np.clip(((np.asarray(x) + width / 2) / resolution).astype(np.int64), 0, nx - 1)
    iy = np.clip(((np.asarray(y) + height / 2) / resolution).astype(np.int64), 0, ny - 1)
    real = np.float64
    table = np.ascontiguousarray(S.reshape(n, -1).T, dtype=real)           # (n_points, n)
    rate = np.take(table, ix * ny + iy, axis=0)                           # (T, n) float64
    hd = np.flatnonzero(np.isfinite(c["hd_kappa"]))
    if hd.size:
        phi = np.asarray(head_direction, dtype=real)[:, None]
        rate[:, hd] *= np.exp(c["hd_kappa"][hd].astype(real)[None]
                              * (np.cos(phi - c["hd_pref"][hd].astype(real)[None]) - 1))
    rate *= c["amplitude"].astype(real)[None]
    rate += c["baseline"].astype(real)[None]
    rel_speed = ((np.asarray(speed, dtype=real) - real(p.v_ref)) / real(p.v_ref))[:, None]
    rate *= np.maximum(real(0.0), 1 + c["speed_gain"].astype(real)[None] * rel_speed)
    if p.gain_noise_sd > 0:
        T = rate.shape[0]
        per = max(1, int(round(gain_step / dt)))
        m = -(-T // per)
        a = np.exp(-per * dt / p.gain_noise_tau)
        eps = rng.standard_normal((m, n)) * np.sqrt(1 - a * a)
        eps[0] = rng.standard_normal(n)
        from scipy import signal  # imported on first simulation, not on import

        z = signal.lfilter([1.0], [1.0, -a], eps, axis=0)
        gain = np.exp(p.gain_noise_sd * z - p.gain_noise_sd**2 / 2).astype(real)
        rate *= np.repeat(gain, per, axis=0)[:T]
    return rate
