"""Grid modules: clusters of grid spacing.

Grid cells come in a few discrete modules whose spacings grow by a ratio of about 1.4 from
~0.3–0.4 m (Stensola et al. 2012). We cluster log-spacings with a one-dimensional Gaussian
mixture for every number of modules ``k = 1 … max_modules`` and keep the ``k`` with the lowest
Bayesian information criterion (BIC) among the fits whose neighbouring module spacings differ by
at least ``min_ratio`` (1.2; measured module ratios are ~1.4, rarely below 1.2, Stensola et al.
2012) — without that constraint a few cells with noisy spacings are easily split off as an extra
"module". Log-spacing is used because module spacings form a geometric series, so their
within-module spreads are comparable on a log scale. Modules are numbered from the smallest
spacing (module 0) upwards. Modules differ between animals, so cluster each animal separately.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mecbench.errors import ConfigError, DataError

__all__ = ["ModuleAssignment", "assign_modules"]


@dataclass(frozen=True)
class ModuleAssignment:
    """Result of :func:`assign_modules`.

    Attributes
    ----------
    labels : ndarray of int, shape (n,)
        Module of each cell (0 = smallest spacing); -1 where the spacing was NaN.
    spacings : ndarray, shape (k,)
        Module spacing: the geometric mean of its cells' spacings (same unit as the input).
    n_modules : int
    bic : ndarray, shape (max_modules,)
        BIC of each tried ``k`` (``inf`` where ``k`` exceeded what the data allow); the chosen
        ``k`` has the lowest BIC among fits respecting ``min_ratio``.
    """

    labels: np.ndarray
    spacings: np.ndarray
    n_modules: int
    bic: np.ndarray


def assign_modules(spacing, *, max_modules: int = 6, min_cells_per_module: int = 2,
                   min_ratio: float = 1.2, seed: int = 0, n_init: int = 3) -> ModuleAssignment:
    """Cluster grid spacings into modules (1-D Gaussian mixture on log spacing, k by BIC).

    Parameters
    ----------
    spacing : array_like, shape (n,)
        Grid spacings (any unit); NaN entries are left unassigned.
    max_modules : int
        Largest number of modules tried.
    min_cells_per_module : int
        ``k`` is only tried when there are at least ``k * min_cells_per_module`` spacings.
    min_ratio : float
        Smallest ratio between the spacings of neighbouring modules a fit may have
        (1 disables the constraint).
    seed : int
        Seed of the mixture fits (deterministic result).
    n_init : int
        Restarts per ``k``.

    Returns
    -------
    ModuleAssignment
    """
    from sklearn.mixture import GaussianMixture

    s = np.asarray(spacing, dtype=np.float64).ravel()
    if max_modules < 1:
        raise ConfigError(f"max_modules must be >= 1, got {max_modules}")
    if min_ratio < 1:
        raise ConfigError(f"min_ratio must be >= 1, got {min_ratio}")
    ok = np.isfinite(s)
    if (s[ok] <= 0).any():
        raise DataError("spacing must be positive")
    labels = np.full(s.shape, -1, dtype=int)
    bic = np.full(max_modules, np.inf)
    if ok.sum() == 0:
        return ModuleAssignment(labels, np.empty(0), 0, bic)
    x = np.log(s[ok])[:, None]
    if ok.sum() < 2 * min_cells_per_module or np.ptp(x) == 0:
        labels[ok] = 0
        return ModuleAssignment(labels, np.array([float(np.exp(x.mean()))]), 1, bic)
    fits = {}
    for k in range(1, max_modules + 1):
        if x.shape[0] < k * min_cells_per_module:
            break
        gm = GaussianMixture(k, covariance_type="full", n_init=n_init, random_state=seed,
                             reg_covar=1e-4)
        gm.fit(x)
        bic[k - 1] = gm.bic(x)
        fits[k] = gm
    admissible = [k for k, gm in fits.items()
                  if k == 1 or np.diff(np.sort(gm.means_.ravel())).min() >= np.log(min_ratio)]
    k_best = min(admissible, key=lambda k: bic[k - 1])
    gm = fits[k_best]
    raw = gm.predict(x)
    order = np.argsort(gm.means_.ravel())
    rank = np.empty(k_best, dtype=int)
    rank[order] = np.arange(k_best)
    lab = rank[raw]
    # drop components that received no cell (possible with overlapping mixtures)
    used = np.unique(lab)
    remap = {old: new for new, old in enumerate(used)}
    lab = np.array([remap[v] for v in lab], dtype=int)
    labels[ok] = lab
    spacings = np.array([float(np.exp(x[lab == j].mean())) for j in range(len(used))])
    return ModuleAssignment(labels, spacings, len(used), bic)
