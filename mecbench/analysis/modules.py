"""Grid modules: clusters of grid cells sharing spacing, orientation and ellipticity.

Grid cells come in a few discrete modules whose spacings grow by a ratio of about 1.4 from
~0.3–0.4 m; the cells of one module also share the orientation of their grid and its
ellipticity (the deformation of the hexagon into an ellipse), and modules with similar
spacings can differ in orientation (Stensola et al. 2012, Nature 492:72). Modules differ between
animals, so cluster each animal separately (:func:`grid_modules` does).

Features
    ``log spacing``; ``orientation``, an angle with period 60° (hexagonal symmetry); and
    optionally ``log ellipticity`` (major/minor axis ratio, ≥ 1). Log scales are used because
    module spacings form a geometric series, so within-module spreads are comparable on a log
    scale.
Circular orientation
    The 60° circle is cut in the middle of the largest empty arc between the cells'
    orientations and unrolled there into a line, so every distance along it that does not
    cross the cut is the exact circular distance, ``min(|Δθ| mod 60, 60 − |Δθ| mod 60)``, and no
    cluster is cut in two (the cut lies where there is no cell): cells at 59° and 1° are 2°
    apart, not 58°. Unrolling keeps orientation one-dimensional, so a module is a compact
    Gaussian blob. (Embedding ``(cos 6θ, sin 6θ)`` would also be circular, but it puts a
    module on a curved arc of the unit circle, which a Gaussian describes badly: for single
    simulated modules of 40 cells with a 4° orientation spread, the BIC of a mixture on that
    embedding preferred two components in 14 of 15 draws, on the unrolled line in none.)
    Module orientations are circular means (of ``6θ``,
    divided by 6), and the distinctness rule below uses circular distances.
Scaling
    Each feature is expressed in units of a reference within-module spread: ``spacing_spread``
    (0.05 in log spacing, i.e. 5 %), ``orientation_spread`` (3°) and ``ellipticity_spread``
    (0.05 in log ellipticity). Each mixture component has its own variance per feature
    (diagonal covariance: the features are measured separately, and unrolled orientation is a
    line, so no rotated axes are needed; on mec-sim the full covariance's extra parameters
    merged modules once ellipticity was added, the diagonal one did not). The variances adapt
    to the actual spreads, so the result depends on these units only through the variance
    floor (0.2 reference spreads, i.e. 1 % in spacing, 0.6° in orientation) and the k-means
    initialisation; they make a difference of one unit weigh the same in every feature.
Number of modules
    A Gaussian mixture is fitted for every ``k = 1 … max_modules`` and the ``k`` with the lowest
    Bayesian information criterion (BIC) is kept among the *admissible* fits: those in which
    every two modules differ in spacing by a ratio of at least ``min_ratio`` (1.2; measured
    module ratios are ~1.4, rarely below 1.2), or in orientation by at least
    ``min_orientation_diff`` degrees (7.5°, a quarter of the largest possible difference, 30°),
    or in ellipticity by at least ``min_ellipticity_diff`` (0.1). Without that rule a few cells
    with noisy values are easily split off as an extra "module".

Modules are numbered by spacing (module 0 smallest), ties broken by orientation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from mecbench.analysis.gridscore import _form, grid_analysis
from mecbench.errors import ConfigError, DataError

__all__ = ["ModuleAssignment", "assign_modules", "circular_orientation_mean", "grid_modules"]

_PERIOD = 60.0
_REG_UNITS = 0.2 ** 2       # covariance floor, in squared reference spreads


@dataclass(frozen=True)
class ModuleAssignment:
    """Result of :func:`assign_modules`.

    Attributes
    ----------
    labels : ndarray of int, shape (n,)
        Module of each cell (0 = smallest spacing); -1 where a feature used was NaN.
    spacings : ndarray, shape (k,)
        Module spacing: the geometric mean of its cells' spacings (same unit as the input).
    n_modules : int
    bic : ndarray, shape (max_modules,)
        BIC of each tried ``k`` (``inf`` where ``k`` exceeded what the data allow); the chosen
        ``k`` has the lowest BIC among admissible fits.
    orientations : ndarray, shape (k,)
        Module orientation: circular mean (period 60°) of its cells' orientations, degrees in
        [0, 60); NaN when no orientation was given.
    ellipticities : ndarray, shape (k,)
        Module ellipticity: geometric mean of its cells' ellipticities; NaN when none was given.
    features : tuple of str
        Features the clustering used (``"spacing"``, ``"orientation"``, ``"ellipticity"``).
    ids : ndarray, optional
        Name of each cell (e.g. neuroid ids), shape (n,), when the caller gave them.
    """

    labels: np.ndarray
    spacings: np.ndarray
    n_modules: int
    bic: np.ndarray
    orientations: np.ndarray | None = None
    ellipticities: np.ndarray | None = None
    features: tuple[str, ...] = ("spacing",)
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        nan = np.full(self.n_modules, np.nan)
        if self.orientations is None:
            object.__setattr__(self, "orientations", nan.copy())
        if self.ellipticities is None:
            object.__setattr__(self, "ellipticities", nan.copy())

    @property
    def members(self) -> list[np.ndarray]:
        """Indices (into the input) of the cells of each module, module 0 first."""
        return [np.flatnonzero(self.labels == j) for j in range(self.n_modules)]

    def table(self):
        """One row per module: ``module``, ``n_cells``, ``spacing``, ``orientation``,
        ``ellipticity`` and ``members`` (ids when given, else indices), as a pandas DataFrame."""
        import pandas as pd

        members = self.members
        names = [list(self.ids[m]) if self.ids is not None else m.tolist() for m in members]
        return pd.DataFrame({
            "module": np.arange(self.n_modules),
            "n_cells": [len(m) for m in members],
            "spacing": self.spacings,
            "orientation": self.orientations,
            "ellipticity": self.ellipticities,
            "members": names,
        })


def circular_orientation_mean(orientation, period: float = _PERIOD) -> float:
    """Circular mean of angles with the given period (degrees), in ``[0, period)``."""
    th = np.asarray(orientation, dtype=np.float64).ravel()
    z = np.exp(2j * np.pi * th / period).mean()
    return float((np.angle(z) * period / (2 * np.pi)) % period)


def _circ_diff(a, b, period: float = _PERIOD):
    """Circular distance between angles (degrees), in ``[0, period / 2]``."""
    d = np.abs(np.asarray(a) - np.asarray(b)) % period
    return np.minimum(d, period - d)


def _unroll(theta: np.ndarray) -> np.ndarray:
    """Orientations (degrees) as offsets from the cell after the largest empty arc: in
    ``[0, 60)``, exact circular distances for every pair not separated by that arc."""
    t = np.sort(theta % _PERIOD)
    gaps = np.diff(np.concatenate([t, [t[0] + _PERIOD]]))
    start = t[(np.argmax(gaps) + 1) % t.size]
    return (theta - start) % _PERIOD


def _feature(values, name: str, n: int | None) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if n is not None and a.size != n:
        raise DataError(f"{name} must have one value per cell ({n}); got {a.size}")
    if np.isinf(a).any():
        raise DataError(f"{name} contains infinite values")
    return a


def _check_module_options(max_modules: int, min_ratio: float, min_orientation_diff: float,
                          min_ellipticity_diff: float, spacing_spread: float,
                          orientation_spread: float, ellipticity_spread: float) -> None:
    """A :class:`ConfigError` for an out-of-range option of :func:`assign_modules`."""
    if max_modules < 1:
        raise ConfigError(f"max_modules must be >= 1, got {max_modules}")
    if min_ratio < 1:
        raise ConfigError(f"min_ratio must be >= 1, got {min_ratio}")
    for name, val in (("min_orientation_diff", min_orientation_diff),
                      ("min_ellipticity_diff", min_ellipticity_diff)):
        if not val >= 0:
            raise ConfigError(f"{name} must be >= 0, got {val}")
    for name, val in (("spacing_spread", spacing_spread),
                      ("orientation_spread", orientation_spread),
                      ("ellipticity_spread", ellipticity_spread)):
        if not val > 0:
            raise ConfigError(f"{name} must be > 0, got {val}")


def _cell_features(s: np.ndarray, orientation, ellipticity, ids):
    """Checked ids, orientations and ellipticities, the usable-cell mask and feature names."""
    n = s.size
    names = None
    if ids is not None:
        names = np.asarray(ids).ravel()
        if names.size != n:
            raise DataError(f"ids must have one entry per cell ({n}); got {names.size}")
    features = ["spacing"]
    ok = np.isfinite(s)
    theta = e = None
    if orientation is not None:
        theta = _feature(orientation, "orientation", n)
        ok &= np.isfinite(theta)
        features.append("orientation")
    if ellipticity is not None:
        e = _feature(ellipticity, "ellipticity", n)
        ok &= np.isfinite(e)
        if (e[np.isfinite(e)] < 1 - 1e-9).any():
            raise DataError("ellipticity must be >= 1 (the major/minor axis ratio)")
        features.append("ellipticity")
    if (s[np.isfinite(s)] <= 0).any():
        raise DataError("spacing must be positive")
    return names, theta, e, ok, tuple(features)


def _summarise(labels: np.ndarray, lab: np.ndarray, k: int, bic: np.ndarray, s: np.ndarray,
               theta: np.ndarray | None, e: np.ndarray | None, feats: tuple[str, ...],
               names: np.ndarray | None) -> ModuleAssignment:
    """The assignment with per-module means of the usable cells' features (labels ``lab``)."""
    groups = [lab == j for j in range(k)]
    sp = np.array([float(np.exp(np.log(s[g]).mean())) for g in groups])
    ori = None if theta is None else np.array(
        [circular_orientation_mean(theta[g]) for g in groups])
    ell = None if e is None else np.array(
        [float(np.exp(np.log(e[g]).mean())) for g in groups])
    return ModuleAssignment(labels, sp, k, bic, ori, ell, feats, names)


def _distinct(means: np.ndarray, has_orientation: bool, has_ellipticity: bool,
              spreads: tuple[float, float, float], min_diffs: tuple[float, float, float]
              ) -> bool:
    """Every two components differ enough in at least one feature."""
    spacing_spread, orientation_spread, ellipticity_spread = spreads
    min_ratio, min_orientation_diff, min_ellipticity_diff = min_diffs
    k = means.shape[0]
    i, j = np.triu_indices(k, 1)
    far = np.abs(means[i, 0] - means[j, 0]) * spacing_spread >= np.log(min_ratio)
    col = 1
    if has_orientation:
        ti, tj = means[i, col] * orientation_spread, means[j, col] * orientation_spread
        far |= _circ_diff(ti, tj) >= min_orientation_diff
        col += 1
    if has_ellipticity:
        ei = np.exp(means[i, col] * ellipticity_spread)
        ej = np.exp(means[j, col] * ellipticity_spread)
        far |= np.abs(ei - ej) >= min_ellipticity_diff
    return bool(far.all())


def _fit_mixtures(x: np.ndarray, max_modules: int, min_cells_per_module: int, n_init: int,
                  seed: int, bic: np.ndarray) -> dict:
    """Diagonal Gaussian mixtures for ``k = 1 …`` (as far as the cells allow); fills ``bic``."""
    from sklearn.mixture import GaussianMixture

    fits = {}
    # a few dozen cells: threads (k-means initialisation) only cost time, a lot on a busy machine
    with threadpool_limits(limits=1):
        for k in range(1, max_modules + 1):
            if x.shape[0] < k * min_cells_per_module:
                break
            gm = GaussianMixture(k, covariance_type="diag", n_init=n_init, random_state=seed,
                                 reg_covar=_REG_UNITS)
            gm.fit(x)
            bic[k - 1] = gm.bic(x)
            fits[k] = gm
    return fits


def _ordered_labels(raw: np.ndarray, s: np.ndarray, theta: np.ndarray | None
                    ) -> tuple[np.ndarray, int]:
    """Labels ranked by mean log spacing then orientation (empty components dropped), and k."""
    # components that received no cell are dropped (possible with overlapping mixtures);
    # modules are ordered by mean log spacing, then by circular orientation of the cells
    used = np.unique(raw)
    keys = []
    for c in used:
        g = raw == c
        o = circular_orientation_mean(theta[g]) if theta is not None else 0.0
        keys.append((float(np.log(s[g]).mean()), o))
    order = sorted(range(len(used)), key=lambda i: keys[i])
    rank = np.empty(int(used.max()) + 1, dtype=int)
    rank[used[order]] = np.arange(len(used))
    return rank[raw], len(used)


def assign_modules(spacing, orientation=None, ellipticity=None, *, max_modules: int = 6,
                   min_cells_per_module: int = 2, min_ratio: float = 1.2,
                   min_orientation_diff: float = 7.5, min_ellipticity_diff: float = 0.1,
                   spacing_spread: float = 0.05, orientation_spread: float = 3.0,
                   ellipticity_spread: float = 0.05, seed: int = 0, n_init: int = 3,
                   ids=None) -> ModuleAssignment:
    """Cluster grid cells into modules by spacing, and orientation and ellipticity when given.

    A Gaussian mixture over log spacing, unrolled circular orientation and log ellipticity,
    ``k`` by BIC among admissible fits; see the module docstring for the circular treatment,
    the scaling of the features and the admissibility rule. With ``spacing`` alone it is the
    one-dimensional clustering of log spacings.

    Parameters
    ----------
    spacing : array_like, shape (n,)
        Grid spacings (any unit, > 0).
    orientation : array_like, shape (n,), optional
        Grid orientations in degrees (period 60°, any range).
    ellipticity : array_like, shape (n,), optional
        Major/minor axis ratio of the ellipse through the six inner autocorrelogram peaks
        (≥ 1), as :func:`mecbench.analysis.grid_analysis` reports it.
    max_modules : int
        Largest number of modules tried.
    min_cells_per_module : int
        ``k`` is only tried when there are at least ``k * min_cells_per_module`` cells.
    min_ratio : float
        Smallest spacing ratio that makes two modules distinct (1: any two mixture components
        count as distinct modules).
    min_orientation_diff : float
        Smallest circular orientation difference (degrees) that makes two modules distinct.
    min_ellipticity_diff : float
        Smallest ellipticity difference that makes two modules distinct.
    spacing_spread, orientation_spread, ellipticity_spread : float
        Reference within-module spreads (log spacing, degrees, log ellipticity): the units of
        the features.
    seed : int
        Seed of the mixture fits (deterministic result).
    n_init : int
        Restarts per ``k``.
    ids : array_like, shape (n,), optional
        Names of the cells, kept in the result (for :meth:`ModuleAssignment.table`).

    Returns
    -------
    ModuleAssignment
        Cells with NaN in any feature used are left unassigned (label -1).
    """
    s = _feature(spacing, "spacing", None)
    _check_module_options(max_modules, min_ratio, min_orientation_diff, min_ellipticity_diff,
                          spacing_spread, orientation_spread, ellipticity_spread)
    names, theta, e, ok, feats = _cell_features(s, orientation, ellipticity, ids)
    labels = np.full(s.size, -1, dtype=int)
    bic = np.full(max_modules, np.inf)
    s_ok = s[ok]
    theta_ok = None if theta is None else theta[ok]
    e_ok = None if e is None else e[ok]

    def result(lab: np.ndarray, k: int) -> ModuleAssignment:
        """The assignment in which the usable cells have labels ``lab`` (``k`` modules)."""
        labels[ok] = lab
        return _summarise(labels, lab, k, bic, s_ok, theta_ok, e_ok, feats, names)

    if ok.sum() == 0:
        return result(np.empty(0, dtype=int), 0)
    cols = [np.log(s_ok) / spacing_spread]
    if theta is not None:
        cols.append(_unroll(theta_ok) / orientation_spread)
    if e is not None:
        cols.append(np.log(e_ok) / ellipticity_spread)
    x = np.stack(cols, axis=1)
    if ok.sum() < 2 * min_cells_per_module or np.ptp(x, axis=0).max() == 0:
        return result(np.zeros(int(ok.sum()), dtype=int), 1)

    fits = _fit_mixtures(x, max_modules, min_cells_per_module, n_init, seed, bic)
    spreads = (spacing_spread, orientation_spread, ellipticity_spread)
    min_diffs = (min_ratio, min_orientation_diff, min_ellipticity_diff)
    admissible = [k for k, gm in fits.items()
                  if k == 1 or _distinct(gm.means_, theta is not None, e is not None, spreads,
                                         min_diffs)]
    k_best = min(admissible, key=lambda k: bic[k - 1])
    lab, k = _ordered_labels(fits[k_best].predict(x), s_ok, theta_ok)
    return result(lab, k)


def grid_modules(maps, *, min_grid_score: float = 0.3, form: str = "sargolini",
                 features=("spacing", "orientation", "ellipticity"), by: str | None = "animal",
                 bin_size: float | None = None, grid_kw: dict | None = None,
                 **kw) -> dict[str, ModuleAssignment]:
    """Grid modules straight from rate maps: grid properties, then :func:`assign_modules`.

    Parameters
    ----------
    maps : xarray.DataArray or array_like
        Rate maps ``(x, y, neuroid)`` (a DataArray keeps neuroid ids and animals) or a plain
        stack ``(X, Y, n)``.
    min_grid_score : float
        Only cells whose grid score (of ``form``) exceeds this are clustered; the others get
        label -1.
    form : str
        Grid-score form used for the selection (see :func:`mecbench.analysis.grid_analysis`).
    features : sequence of str
        Which of ``"spacing"`` (always used), ``"orientation"`` and ``"ellipticity"`` to
        cluster. A cell with a NaN feature (e.g. fewer than five autocorrelogram peaks for the
        ellipticity) stays unassigned.
    by : str or None
        Neuroid coordinate whose values are clustered separately (default ``"animal"``:
        modules differ between animals); ``None`` clusters all cells together.
    bin_size : float, optional
        Bin side in metres (default: the DataArray's ``bin_size`` attribute).
    grid_kw : dict, optional
        Passed to :func:`mecbench.analysis.grid_analysis`.
    **kw
        Passed to :func:`assign_modules`.

    Returns
    -------
    dict of str to ModuleAssignment
        One entry per value of ``by`` (a single entry ``"all"`` without groups); each
        assignment's labels follow that group's neuroids in their order, and ``ids`` are
        their neuroid ids when the maps carry them.
    """
    unknown = set(features) - {"spacing", "orientation", "ellipticity"}
    if unknown:
        raise ConfigError(f"unknown module features {sorted(unknown)}; use spacing, "
                          "orientation, ellipticity")
    f = _form(form)
    is_da = hasattr(maps, "dims") and hasattr(maps, "coords")
    if is_da and "neuroid" not in maps.dims:
        raise DataError(f"rate maps must have a 'neuroid' dim; got {maps.dims}")
    data = maps.transpose("x", "y", "neuroid") if is_da else maps
    res = grid_analysis(data, bin_size=bin_size, **(grid_kw or {}))
    score = np.atleast_1d(res[f"grid_score_{f}"])
    n = score.size
    if is_da and by is not None and by in maps.coords:
        groups = np.asarray(maps[by].values).astype(str)
    elif by is not None and is_da:
        raise DataError(f"rate maps have no neuroid coordinate {by!r} to group by; "
                        "pass by=None to cluster all cells together")
    else:
        groups = np.full(n, "all")
    ids = np.asarray(maps["neuroid_id"].values) if is_da and "neuroid_id" in maps.coords \
        else np.arange(n)
    grid = np.nan_to_num(score, nan=-np.inf) > min_grid_score
    out: dict[str, ModuleAssignment] = {}
    for g in dict.fromkeys(groups):
        sel = groups == g
        mask = grid[sel]

        def pick(key, sel=sel, mask=mask):
            return np.where(mask, np.atleast_1d(res[key])[sel], np.nan)

        out[str(g)] = assign_modules(
            pick("spacing"),
            pick("orientation") if "orientation" in features else None,
            pick("ellipticity") if "ellipticity" in features else None,
            ids=ids[sel], **kw)
    return out
