"""Border score (Solstad et al. 2008), vectorised over many rate maps.

``b = (CM − DM) / (CM + DM)``, in [−1, 1]:

- Firing fields are connected groups of bins (4-connectivity) whose rate exceeds
  ``field_threshold`` (0.3) × the map's peak rate and that cover at least ``min_field_area``
  (200 cm² = 8 bins of 5 cm).
- ``CM``: the largest fraction of one wall covered by one field, over fields and the four walls.
  A wall is the row/column of bins along it; only its visited bins count.
- ``DM``: the mean distance of field bins to the nearest wall, weighted by their rate, divided by
  half the shorter side of the box (so a field at the centre of a square box has DM ≈ 1).

Maps without any field score NaN. Connected components of all maps are labelled in one
:func:`scipy.ndimage.label` call with a structure that does not connect different maps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage

from mecbench.analysis.autocorrelation import as_map_stack
from mecbench.errors import ConfigError

__all__ = ["border_score", "border_scores"]


def border_score(maps, *, bin_size: float | None = None, field_threshold: float = 0.3,
                 min_field_area: float = 0.02) -> np.ndarray:
    """Border score of one map ``(X, Y)`` or of each map of a stack ``(X, Y, n)``.

    Parameters
    ----------
    maps : array_like or xarray.DataArray
        Rate maps, NaN for unvisited bins.
    bin_size : float, optional
        Bin side in metres (taken from a DataArray's attributes when present; default 0.05).
    field_threshold : float
        Fraction of the peak rate above which a bin belongs to a field.
    min_field_area : float
        Smallest field, in m² (Solstad et al. 2008: 200 cm²).

    Returns
    -------
    ndarray
        Scores in [−1, 1] (0-d for one map), NaN for maps without a field.
    """
    if bin_size is None:
        bin_size = float(maps.attrs.get("bin_size", 0.05)) if hasattr(maps, "attrs") else 0.05
    if not 0 < field_threshold < 1:
        raise ConfigError(f"field_threshold must be in (0, 1), got {field_threshold}")
    stack, single = as_map_stack(maps)
    n, X, Y = stack.shape
    fin = np.isfinite(stack)
    filled = np.where(fin, stack, -np.inf)
    peak = filled.max(axis=(1, 2))
    above = fin & (stack > field_threshold * peak[:, None, None]) & (peak[:, None, None] > 0)
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    labels, n_lab = ndimage.label(above, structure=structure)
    min_bins = min_field_area / bin_size**2
    size = np.bincount(labels.ravel(), minlength=n_lab + 1).astype(float)
    big = size >= min_bins - 1e-9
    big[0] = False
    lab = np.where(big[labels], labels, 0)
    owner = np.zeros(n_lab + 1, dtype=int)        # map index of each label
    idx_map = np.broadcast_to(np.arange(n)[:, None, None], labels.shape)
    owner[labels.ravel()] = idx_map.ravel()
    # CM: coverage of each wall by each field
    walls = [(lab[:, 0, :], fin[:, 0, :]), (lab[:, -1, :], fin[:, -1, :]),
             (lab[:, :, 0], fin[:, :, 0]), (lab[:, :, -1], fin[:, :, -1])]
    cm = np.zeros(n)
    for wall_lab, wall_fin in walls:
        visited = wall_fin.sum(axis=1).astype(float)
        cover = np.bincount(wall_lab.ravel(), minlength=n_lab + 1).astype(float)
        cover[0] = 0.0
        frac = np.zeros(n_lab + 1)
        has = cover > 0
        frac[has] = cover[has] / np.maximum(visited[owner[has]], 1.0)
        per_map = np.zeros(n)
        np.maximum.at(per_map, owner[has], frac[has])
        cm = np.maximum(cm, per_map)
    # DM: rate-weighted distance of field bins to the nearest wall
    xc = (np.arange(X) + 0.5) * bin_size
    yc = (np.arange(Y) + 0.5) * bin_size
    dwall = np.minimum(np.minimum(xc, X * bin_size - xc)[:, None],
                       np.minimum(yc, Y * bin_size - yc)[None, :])
    half = min(X, Y) * bin_size / 2
    in_field = lab > 0
    w = np.where(in_field, stack, 0.0)
    wsum = w.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        dm = (w * dwall[None]).sum(axis=(1, 2)) / wsum / half
        score = np.where(in_field.any(axis=(1, 2)) & (wsum > 0), (cm - dm) / (cm + dm), np.nan)
    return score[0] if single else score


def border_scores(da: xr.DataArray, **kw) -> xr.DataArray:
    """Border score of every neuroid of a rate-map array, as a DataArray along ``neuroid``."""
    vals = border_score(da.transpose("x", "y", "neuroid"), **kw)
    coords = {k: ("neuroid", c.values) for k, c in da.coords.items() if c.dims == ("neuroid",)}
    return xr.DataArray(vals, dims=("neuroid",), coords=coords, name="border_score")
