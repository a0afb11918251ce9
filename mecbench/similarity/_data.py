"""Input handling shared by every similarity metric: rate maps to (bins, columns) arrays, the
bins both representations visited, constant columns, column z-scoring and bin splits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError
from mecbench.metrics import constant_columns
from mecbench.predictivity import resolve_splits
from mecbench.ratemaps import DIMS, check_same_grid, flat_values
from mecbench.splits import Split, SplitScheme

__all__ = ["PairedBins", "paired_bins", "as_bins_array", "zscore_columns", "bin_splits"]


def as_bins_array(a, name: str) -> tuple[np.ndarray, tuple[int, int] | None]:
    """``a`` as a float64 (n_bins, n_columns) array, and the grid shape when it is known.

    Accepts a rate-map :class:`xarray.DataArray` with dims ``("x", "y", "neuroid")`` (in any
    order), a 3-D array ``(n_x, n_y, n_columns)`` or a 2-D array ``(n_bins, n_columns)``.
    Bins are flattened in C order over ``(x, y)``, the order of :mod:`mecbench.splits`.
    """
    if isinstance(a, xr.DataArray):
        if set(a.dims) != set(DIMS):
            raise DataError(f"{name} must have dims {DIMS}; got {a.dims}")
        return flat_values(a), (int(a.sizes["x"]), int(a.sizes["y"]))
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be a numeric array: {err}") from None
    if arr.ndim == 3:
        return arr.reshape(-1, arr.shape[2]), (int(arr.shape[0]), int(arr.shape[1]))
    if arr.ndim != 2:
        raise DataError(
            f"{name} must be 2-D (n_bins, n_columns) or 3-D (n_x, n_y, n_columns); "
            f"got shape {arr.shape}"
        )
    return arr, None


@dataclass(frozen=True)
class PairedBins:
    """Two representations on the bins both visited, without constant columns.

    Attributes
    ----------
    X, Y : ndarray (n_kept_bins, n_kept_units), (n_kept_bins, n_kept_cells)
        C-contiguous float64, finite.
    X2, Y2 : ndarray or None
        Second independent halves (same columns as ``X`` / ``Y``), when given.
    bins : int ndarray (n_kept_bins,)
        Kept rows of the inputs (flat bin indices, increasing).
    units, cells : int ndarray
        Kept columns of ``X`` and ``Y``.
    n_bins, n_units, n_cells : int
        Sizes of the inputs.
    shape : (n_x, n_y) or None
        Grid shape when an input carried it (a DataArray or a 3-D array).
    """

    X: np.ndarray
    Y: np.ndarray
    X2: np.ndarray | None
    Y2: np.ndarray | None
    bins: np.ndarray
    units: np.ndarray
    cells: np.ndarray
    n_bins: int
    n_units: int
    n_cells: int
    shape: tuple[int, int] | None = None

    def subset(self, rows: np.ndarray) -> PairedBins:
        """The same representations on rows ``rows`` of the kept bins (no columns dropped)."""
        rows = np.asarray(rows, dtype=np.intp)
        return PairedBins(
            np.ascontiguousarray(self.X[rows]), np.ascontiguousarray(self.Y[rows]),
            None if self.X2 is None else np.ascontiguousarray(self.X2[rows]),
            None if self.Y2 is None else np.ascontiguousarray(self.Y2[rows]),
            self.bins[rows], self.units, self.cells, self.n_bins, self.n_units, self.n_cells,
            self.shape)


def paired_bins(X, Y, *, X2=None, Y2=None, min_bins: int = 3,
                drop_constant: bool = True) -> PairedBins:
    """Check two representations on one bin grid and keep what every metric can use.

    Rules, applied in this order:

    1. **Bins.** A bin (row) is dropped when it is NaN in *any* column of *any* input
       (``X``, ``Y`` and the halves ``X2``, ``Y2`` when given): every metric compares the two
       representations on one common set of bins. Infinite values are an error.
    2. **Constant columns.** A unit of ``X`` (cell of ``Y``) whose values are constant over the
       kept bins (to within 1e-12 of its magnitude, :func:`mecbench.metrics.constant_columns`)
       carries no spatial information and is dropped, in every half. A representation left
       with no column is an error naming it.

    Parameters
    ----------
    X : array (n_bins, n_units), (n_x, n_y, n_units) or rate-map DataArray
        Model responses; NaN marks bins without a response.
    Y : array (n_bins, n_cells), (n_x, n_y, n_cells) or rate-map DataArray
        Recorded responses of one animal; NaN marks unvisited bins.
    X2, Y2 : array, optional
        A second independent estimate of ``X`` / ``Y`` (e.g. the second half of the session,
        ``X``/``Y`` being the first), same shape as ``X`` / ``Y``.
    min_bins : int
        Fewest kept bins accepted.
    drop_constant : bool
        Drop constant columns (rule 2); otherwise keep them.

    Returns
    -------
    PairedBins

    Raises
    ------
    DataError
        Different numbers of bins or grids, infinite values, fewer than ``min_bins`` common
        finite bins, or a representation whose every column is constant.
    """
    arrays = {}
    shape = None
    das = {}
    for name, a in (("X", X), ("Y", Y), ("X2", X2), ("Y2", Y2)):
        if a is None:
            continue
        if isinstance(a, xr.DataArray):
            das[name] = a
        arr, sh = as_bins_array(a, name)
        if arr.shape[1] < 1:
            raise DataError(f"{name} has no column; got shape {arr.shape}")
        if shape is None and sh is not None:
            shape = sh
        arrays[name] = arr
    names = list(das)
    for other in names[1:]:
        check_same_grid(das[names[0]], das[other], (names[0], other))
    n = arrays["X"].shape[0]
    for name, arr in arrays.items():
        if arr.shape[0] != n:
            raise DataError(f"X has {n} bins but {name} has {arr.shape[0]}; the representations "
                            "must share one bin grid")
    for half, full in (("X2", "X"), ("Y2", "Y")):
        if half in arrays and arrays[half].shape != arrays[full].shape:
            raise DataError(f"{half} has shape {arrays[half].shape} but {full} has "
                            f"{arrays[full].shape}; a second half holds the same columns")
    ok = np.ones(n, dtype=bool)
    for name, arr in arrays.items():
        if np.isinf(arr).any():
            raise DataError(f"{name} contains infinite values in "
                            f"{int(np.isinf(arr).any(axis=0).sum())} columns")
        ok &= ~np.isnan(arr).any(axis=1)
    bins = np.flatnonzero(ok)
    if bins.size < min_bins:
        raise DataError(
            f"only {bins.size} of {n} bins are finite in every column of "
            f"{', '.join(arrays)}; at least {min_bins} are needed"
        )
    kept = {name: arr[bins] for name, arr in arrays.items()}
    cols = {}
    for rep, half in (("X", "X2"), ("Y", "Y2")):
        keep = np.ones(kept[rep].shape[1], dtype=bool)
        if drop_constant:
            keep &= ~constant_columns(kept[rep])
            if half in kept:
                keep &= ~constant_columns(kept[half])
        if not keep.any():
            what = "unit" if rep == "X" else "cell"
            raise DataError(
                f"every {what} of {rep} is constant over the {bins.size} bins finite in all "
                "inputs; a similarity needs responses that vary in space"
            )
        cols[rep] = np.flatnonzero(keep)
    out = {}
    for name, arr in kept.items():
        c = cols[name[0]]
        out[name] = np.ascontiguousarray(arr if c.size == arr.shape[1] else arr[:, c])
    return PairedBins(out["X"], out["Y"], out.get("X2"), out.get("Y2"), bins, cols["X"],
                      cols["Y"], n, arrays["X"].shape[1], arrays["Y"].shape[1], shape)


def zscore_columns(A: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit Euclidean norm; constant columns become zero
    (so their Pearson r with anything is 0)."""
    Ac = A - A.mean(axis=0)
    norm = np.sqrt(np.einsum("ij,ij->j", Ac, Ac))
    const = constant_columns(A)
    norm[const] = np.inf
    Ac /= norm
    return Ac


def bin_splits(splits: SplitScheme | Sequence[Split], pb: PairedBins,
               shape: tuple[int, int] | None = None) -> list[Split]:
    """Splits of the full bin grid as rows of the kept bins of ``pb``.

    Splits are defined on the full grid (:mod:`mecbench.splits`); bins that ``pb`` dropped are
    then removed from each split's train and test sets, as :mod:`mecbench.predictivity` does.

    Parameters
    ----------
    splits : SplitScheme or sequence of (train, test) int arrays
        Flat bin indices in C order over ``(x, y)``.
    pb : PairedBins
    shape : (n_x, n_y), optional
        Grid shape; needed for a structured or blocked :class:`SplitScheme` unless the inputs
        carried it.

    Returns
    -------
    list of (train_rows, test_rows), sorted int arrays indexing ``pb.X`` / ``pb.Y``.
    """
    n = pb.n_bins
    shape = shape if shape is not None else pb.shape
    if shape is None:
        if isinstance(splits, SplitScheme) and splits.kind != "random":
            raise ConfigError(f"the {splits.kind!r} SplitScheme needs the grid shape "
                              "(pass shape=(n_x, n_y) or rate maps with x and y)")
        shape = (n, 1)
    if int(shape[0]) * int(shape[1]) != n:
        raise ConfigError(f"grid shape {tuple(shape)} does not hold the {n} bins")
    pos = np.full(n, -1, dtype=np.intp)
    pos[pb.bins] = np.arange(pb.bins.size)
    out = []
    for train, test in resolve_splits(splits, shape):  # validated flat bin indices
        rows_train, rows_test = pos[train], pos[test]
        out.append((np.sort(rows_train[rows_train >= 0]), np.sort(rows_test[rows_test >= 0])))
    return out
