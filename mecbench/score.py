"""A score and its summaries: the :class:`Score` container (per-cell, per-split results plus
summaries, as one :class:`xarray.Dataset` saved to and loaded from netCDF) and the functions
that summarise per-cell values (:func:`cell_mean`, :func:`summarize`, :func:`split_bootstrap`,
:func:`support_summary`).

Ceiled scores (see :func:`summarize`; the text stored with a score is :data:`CEILING_FORMULA`)
    ``raw_i`` = mean over splits of the cell's Pearson r (NaN splits ignored);
    ``ceiling_i`` = the same for the inter-animal r, or the corrected split-half r
    (:mod:`mecbench.ceiling`); ``ceiled_i = raw_i / ceiling_i`` (r, not r²), defined only where
    ``ceiling_i > min_ceiling`` (default 0.1). Cells with a NaN or low ceiling are excluded from
    every ceiled summary and counted. Ceiled values are never clipped: a value above 1 means the
    model predicts that cell better than the ceiling estimate does — the ceiling is itself a
    noisy, finite-sample estimate (and inter-animal consistency is limited by how many cells
    the other animals contribute), so it is not a hard upper bound. The fraction of cells above 1
    is reported so that this is visible.

Variables
---------
``r`` (neuroid, split)
    Pearson r on the test bins of each split; NaN where undefined (coordinate
    ``undefined_reason`` says why, ``n_train``/``n_test`` the bins used).
``raw`` (neuroid)
    Mean over splits of ``r``, ignoring NaN splits.
``ceiling`` (neuroid), ``ceiled`` (neuroid), ``ceiling_ok`` (neuroid)
    Present when a ceiling was given: ``ceiled = raw / ceiling`` where ``ceiling_ok``
    (``ceiling > min_ceiling``), NaN elsewhere.
0-d variables
    ``raw_median``, ``raw_ci_low``, ``raw_ci_high`` (median over cells of ``raw`` and its
    bootstrap CI), ``raw_split_median_mean`` and ``raw_split_median_sem`` (Brain-Score style:
    median over cells per split, then mean and SEM over splits), with a ceiling
    ``ceiling_median``, ``ceiled_median``, ``ceiled_ci_low``, ``ceiled_ci_high``,
    ``ratio_of_medians``, ``frac_ceiled_above_1``; counts ``n_cells``, ``n_cells_scored``,
    ``n_cells_undefined``, ``n_splits_undefined``, ``n_cells_ceiled``, ``n_cells_low_ceiling``.
What the ceiling rests on (present when known)
    ``ceiling_ci_low``, ``ceiling_ci_high`` (neuroid): each cell's ceiling with its percentile
    bootstrap interval over splits (:func:`split_bootstrap`; per-split ceilings only, i.e.
    inter-animal), and 0-d ``ceiling_split_ci_low``, ``ceiling_split_ci_high``: the same
    bootstrap of the median ceiling over the cells with ``ceiling_ok``. ``n_source_cells``,
    ``n_source_animals`` (neuroid): the inter-animal source pool of each cell
    (:func:`mecbench.ceiling.source_pool_sizes`), summarised by 0-d
    ``ceiling_n_source_cells_min``, ``ceiling_n_source_cells_median``,
    ``ceiling_n_source_animals_min``.
Attributes
    Whatever the caller passes (``model``, ``benchmark``, ``benchmark_version``, ``layer``,
    hashes...; a :class:`~mecbench.benchmarks.Benchmark` adds ``ceiling_requested``,
    ``ceiling_reliable`` (0/1) and ``min_source_cells``), plus ``mecbench_version``,
    ``formula``, ``min_ceiling``, ``ci``, ``n_boot``, ``bootstrap_seed`` and ``ceiling_kind``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from mecbench._version import __version__
from mecbench.errors import ConfigError, DataError
from mecbench.metrics import bootstrap_median_ci, nanmedian
from mecbench.netcdf_attrs import netcdf_attrs
from mecbench.neural_data import atomic_write

__all__ = ["Score", "SUMMARY_KEYS", "DEFAULT_MIN_CEILING", "CEILING_FORMULA", "cell_mean",
           "summarize", "split_bootstrap", "support_summary", "undefined_cells_warning",
           "UNDEFINED_WARN_FRACTION"]

#: Cells whose ceiling is at most this (or NaN) are left out of every ceiled summary.
DEFAULT_MIN_CEILING = 0.1

#: The formulas of a score's summaries, stored as the ``formula`` attribute of every score.
CEILING_FORMULA = (
    "raw_i = mean over splits of Pearson r(prediction, data) on the test bins of cell i "
    "(NaN splits ignored); raw = median_i raw_i; ceiling_i = the same quantity for "
    "inter-animal consistency (same mapping and splits) or split-half r corrected by "
    "Spearman-Brown 2r/(1+r); ceiled_i = raw_i / ceiling_i (r, not r^2) for cells with "
    "ceiling_i > min_ceiling, other cells excluded and counted; ceiled = median_i ceiled_i; "
    "CI = 95% percentile bootstrap of the median over cells (seeded); ceiling_median = "
    "median ceiling_i over cells with ceiling_i > min_ceiling; ratio_of_medians = median raw_i "
    "/ median ceiling_i over the included cells; ceiled values are not clipped."
)

SUMMARY_KEYS = (
    "raw_median", "raw_ci_low", "raw_ci_high", "raw_split_median_mean", "raw_split_median_sem",
    "ceiling_median", "ceiled_median", "ceiled_ci_low", "ceiled_ci_high", "ratio_of_medians",
    "frac_ceiled_above_1", "n_cells", "n_cells_scored", "n_cells_undefined",
    "n_splits_undefined", "n_cells_ceiled", "n_cells_low_ceiling",
    "ceiling_split_ci_low", "ceiling_split_ci_high", "ceiling_n_source_cells_min",
    "ceiling_n_source_cells_median", "ceiling_n_source_animals_min",
)
_INT_KEYS = ("ceiling_n_source_cells_min", "ceiling_n_source_animals_min")


#: A score is printed with :func:`undefined_cells_warning` when at least this fraction of its
#: cells has no defined r in any split.
UNDEFINED_WARN_FRACTION = 0.01


def undefined_cells_warning(summary: dict,
                            min_fraction: float = UNDEFINED_WARN_FRACTION) -> str | None:
    """The sentence a score must be printed with when many of its cells have no score.

    A cell's raw score is undefined when every split's r is (a constant prediction — e.g. an
    elastic net whose chosen penalty zeroes every weight — or a constant cell, too few bins, a
    failed fit). Such cells are left out of the medians, so a model that predicts nothing for
    the cells it cannot fit loses nothing for them; the count must travel with the headline.

    Parameters
    ----------
    summary : dict
        A score's summary (:meth:`Score.summary`), with ``n_cells`` and ``n_cells_undefined``.
    min_fraction : float
        Say nothing below this fraction of undefined cells.

    Returns
    -------
    str or None
    """
    total = int(summary.get("n_cells") or 0)
    undefined = int(summary.get("n_cells_undefined") or 0)
    if total == 0 or undefined == 0 or undefined / total < min_fraction:
        return None
    return (f"{undefined} of {total} cells ({undefined / total:.0%}) have no score in any split "
            "(a constant prediction, e.g. a penalty that zeroes every weight, a constant cell, "
            "too few bins or a failed fit; per split in the full score's undefined_reason): "
            f"raw and ceiled are medians over the other {total - undefined} cells, "
            "which does not penalise a model for the cells it predicts nothing for")


class Score:
    """A benchmark score of one model (layer) on one benchmark.

    Build it with :meth:`from_results`; read it with :attr:`dataset`, :meth:`summary` or item
    access (``score["raw"]``); persist it with :meth:`save` / :meth:`load`.

    Parameters
    ----------
    dataset : xarray.Dataset
        A dataset with the layout of the module docstring.
    """

    def __init__(self, dataset: xr.Dataset):
        for var in ("r", "raw", "raw_median"):
            if var not in dataset:
                raise DataError(f"not a Score dataset: variable {var!r} is missing")
        self.dataset = dataset

    @classmethod
    def from_results(
        cls,
        r: xr.DataArray,
        ceiling: xr.DataArray | np.ndarray | None = None,
        *,
        ceiling_kind: str | None = None,
        source_pool: tuple[np.ndarray, np.ndarray] | None = None,
        min_ceiling: float = DEFAULT_MIN_CEILING,
        n_boot: int = 1000,
        ci: float = 0.95,
        seed: int = 0,
        **attrs,
    ) -> Score:
        """Assemble a score from per-split r and an optional per-cell ceiling.

        Parameters
        ----------
        r : DataArray (neuroid, split)
            As returned by :func:`mecbench.predictivity.score_rate_maps`.
        ceiling : DataArray (neuroid,) or (neuroid, split), or array, optional
            Per-cell ceiling; a (neuroid, split) array (inter-animal r) is averaged over splits
            first, ignoring NaN. Matched to ``r`` by ``neuroid_id`` when both carry it.
        ceiling_kind : str, optional
            E.g. ``"interanimal-holdout"`` or ``"split-half"``; default taken from the
            ceiling's ``ceiling`` attribute.
        source_pool : (n_source_cells, n_source_animals), optional
            Per-cell inter-animal source pool, in the order of ``r``'s neuroids
            (:func:`mecbench.ceiling.source_pool_sizes`); stored with its summary.
        min_ceiling, n_boot, ci, seed
            See :func:`summarize`.
        **attrs
            Provenance stored as attributes (``model``, ``benchmark``, ``layer``, hashes...).
        """
        if not isinstance(r, xr.DataArray) or set(r.dims) != {"neuroid", "split"}:
            raise DataError("r must be a DataArray with dims (neuroid, split)")
        r = r.transpose("neuroid", "split")
        raw = cell_mean(r)
        ds = xr.Dataset({"r": r.rename(None).drop_attrs()})
        ds["raw"] = ("neuroid", raw)
        ceil_values = per_split = None
        if ceiling is not None:
            ceil_values, kind, per_split = _ceiling_values(ceiling, r)
            ceiling_kind = ceiling_kind or kind
        summary = summarize(raw, ceil_values, min_ceiling=min_ceiling, n_boot=n_boot, ci=ci,
                            seed=seed)
        if ceil_values is not None:
            ok = np.isfinite(ceil_values) & (ceil_values > min_ceiling)
            ds["ceiling"] = ("neuroid", ceil_values)
            ds["ceiling_ok"] = ("neuroid", ok)
            ds["ceiled"] = ("neuroid", np.where(ok, raw / np.where(ok, ceil_values, 1.0), np.nan))
            if per_split is not None:
                low, high, plow, phigh = split_bootstrap(per_split, included=ok, n_boot=n_boot,
                                                         ci=ci, seed=seed)
                ds["ceiling_ci_low"] = ("neuroid", low)
                ds["ceiling_ci_high"] = ("neuroid", high)
                summary["ceiling_split_ci_low"] = plow
                summary["ceiling_split_ci_high"] = phigh
        if source_pool is not None:
            cells, animals = (np.asarray(a, dtype=np.int64) for a in source_pool)
            if cells.shape != raw.shape or animals.shape != raw.shape:
                raise DataError(f"source_pool arrays have shapes {cells.shape} and "
                                f"{animals.shape}; expected ({raw.size},)")
            ds["n_source_cells"] = ("neuroid", cells)
            ds["n_source_animals"] = ("neuroid", animals)
            pool = support_summary(cells, animals)
            if pool["n_source_cells_min"] is not None:
                summary["ceiling_n_source_cells_min"] = pool["n_source_cells_min"]
                summary["ceiling_n_source_cells_median"] = pool["n_source_cells_median"]
                summary["ceiling_n_source_animals_min"] = pool["n_source_animals_min"]
        values = r.values
        per_split = nanmedian(values, axis=0) if values.size else np.array([])
        per_split = np.atleast_1d(per_split)
        finite = per_split[np.isfinite(per_split)]
        summary["raw_split_median_mean"] = float(finite.mean()) if finite.size else np.nan
        summary["raw_split_median_sem"] = (float(finite.std(ddof=1) / np.sqrt(finite.size))
                                           if finite.size > 1 else np.nan)
        summary["n_cells_undefined"] = int(np.isnan(raw).sum())
        summary["n_splits_undefined"] = int(np.isnan(values).sum())
        for key, value in summary.items():
            ds[key] = ((), value)

        meta = {
            "mecbench_version": __version__,
            "formula": CEILING_FORMULA,
            "min_ceiling": float(min_ceiling),
            "ci": float(ci),
            "n_boot": int(n_boot),
            "bootstrap_seed": int(seed),
            "ceiling_kind": ceiling_kind or "none",
        }
        meta.update({k: v for k, v in r.attrs.items() if k not in attrs})
        meta.update(attrs)
        ds.attrs = netcdf_attrs(meta)
        return cls(ds)

    # access -------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> xr.DataArray:
        return self.dataset[key]

    def __contains__(self, key: str) -> bool:
        return key in self.dataset

    @property
    def attrs(self) -> dict:
        return self.dataset.attrs

    def summary(self) -> dict[str, float | int]:
        """The 0-d summary values as a plain dict (floats and ints)."""
        out: dict[str, float | int] = {}
        for key in SUMMARY_KEYS:
            if key in self.dataset:
                value = self.dataset[key].values.item()
                out[key] = (int(value) if key.startswith("n_") or key in _INT_KEYS
                            else float(value))
        return out

    @property
    def value(self) -> float:
        """The headline number: ceiled median when a ceiling exists, raw median otherwise."""
        key = "ceiled_median" if "ceiled_median" in self.dataset else "raw_median"
        return float(self.dataset[key].values)

    def __repr__(self) -> str:
        s = self.summary()
        parts = [f"raw={s['raw_median']:.3f} [{s['raw_ci_low']:.3f}, {s['raw_ci_high']:.3f}]"]
        if "ceiled_median" in s:
            parts.append(f"ceiled={s['ceiled_median']:.3f} "
                         f"[{s['ceiled_ci_low']:.3f}, {s['ceiled_ci_high']:.3f}]")
        parts.append(f"cells={s['n_cells_scored']}/{s['n_cells']}")
        who = " ".join(str(self.attrs[k]) for k in ("model", "layer", "benchmark")
                       if k in self.attrs)
        return f"Score({who + ': ' if who else ''}{', '.join(parts)})"

    # I/O ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write netCDF4 atomically (an existing file is replaced only on success)."""
        ds = self.dataset.copy()
        if "ceiling_ok" in ds:
            ds["ceiling_ok"] = ds["ceiling_ok"].astype(np.int8)
        atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4"))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Score:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        ds = read_score_dataset(path)
        try:
            return cls(ds)
        except DataError as err:
            raise DataError(f"{path}: {err}") from None


def read_score_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Read a per-cell score file (:meth:`Score.save` or a board score file) as a Dataset.

    String coordinates (except ``split``) come back as ``str`` and ``ceiling_ok`` as bool,
    whatever netCDF stored; a missing or unreadable file raises :class:`DataError`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        ds = xr.load_dataset(path, engine="netcdf4")
    except Exception as err:  # netCDF4/HDF5 raise many unrelated types on bad files
        raise DataError(f"{path}: not a readable netCDF4 file ({type(err).__name__})") from None
    for name in list(ds.coords):
        if ds[name].dtype.kind in "OSU" and name != "split":
            ds.coords[name] = ds[name].astype(str)
    if "ceiling_ok" in ds:
        ds["ceiling_ok"] = ds["ceiling_ok"].astype(bool)
    return ds


# ---------------------------------------------------------------------------------------------
# Summaries of per-cell values
# ---------------------------------------------------------------------------------------------

def cell_mean(r: xr.DataArray | np.ndarray) -> np.ndarray:
    """Mean over splits per cell, ignoring NaN splits (NaN if no split is defined).

    ``r`` is (neuroid, split) as a DataArray or a (n_cells, n_splits) array."""
    values = np.asarray(r.transpose("neuroid", "split").values if isinstance(r, xr.DataArray)
                        else r, dtype=np.float64)
    count = np.isfinite(values).sum(axis=1)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, np.nansum(values, axis=1) / np.maximum(count, 1), np.nan)


def summarize(raw: np.ndarray, ceiling: np.ndarray | None = None, *,
              min_ceiling: float = DEFAULT_MIN_CEILING, n_boot: int = 1000, ci: float = 0.95,
              seed: int = 0) -> dict[str, float | int]:
    """Summary statistics of per-cell raw and ceiled scores (formulas in the module docstring).

    Parameters
    ----------
    raw : array (n_cells,)
        Per-cell raw score (mean over splits of r).
    ceiling : array (n_cells,), optional
        Per-cell ceiling.
    min_ceiling : float
        Cells with ``ceiling <= min_ceiling`` (or NaN) are excluded from ceiled summaries.
    n_boot, ci, seed
        Percentile bootstrap over cells.

    Returns
    -------
    dict
        ``raw_median``, ``raw_ci_low``, ``raw_ci_high``, ``n_cells``, ``n_cells_scored``;
        with a ceiling also ``ceiling_median``, ``ceiled_median``, ``ceiled_ci_low``,
        ``ceiled_ci_high``, ``ratio_of_medians``, ``n_cells_ceiled``,
        ``n_cells_low_ceiling``, ``frac_ceiled_above_1``.
    """
    if not (np.isfinite(min_ceiling)):
        raise ConfigError(f"min_ceiling must be a finite number; got {min_ceiling!r}")
    raw = np.asarray(raw, dtype=np.float64)
    out: dict[str, float | int] = {"n_cells": int(raw.size),
                                   "n_cells_scored": int(np.isfinite(raw).sum())}
    out["raw_median"] = float(nanmedian(raw))
    out["raw_ci_low"], out["raw_ci_high"] = bootstrap_median_ci(raw, n_boot=n_boot, ci=ci,
                                                                seed=seed)
    if ceiling is None:
        return out
    ceiling = np.asarray(ceiling, dtype=np.float64)
    if ceiling.shape != raw.shape:
        raise DataError(f"ceiling has shape {ceiling.shape}, raw scores {raw.shape}")
    ok = np.isfinite(ceiling) & (ceiling > min_ceiling)
    ceiled = np.where(ok, raw / np.where(ok, ceiling, 1.0), np.nan)
    keep = ok & np.isfinite(raw)
    out["ceiling_median"] = float(nanmedian(np.where(ok, ceiling, np.nan)))
    out["ceiled_median"] = float(nanmedian(ceiled))
    out["ceiled_ci_low"], out["ceiled_ci_high"] = bootstrap_median_ci(
        ceiled, n_boot=n_boot, ci=ci, seed=seed)
    med_c = nanmedian(ceiling[keep]) if keep.any() else np.nan
    out["ratio_of_medians"] = float(nanmedian(raw[keep]) / med_c) if keep.any() else np.nan
    out["n_cells_ceiled"] = int(keep.sum())
    out["n_cells_low_ceiling"] = int((~ok).sum())
    out["frac_ceiled_above_1"] = float((ceiled[keep] > 1).mean()) if keep.any() else np.nan
    return out


def support_summary(n_source_cells: np.ndarray, n_source_animals: np.ndarray,
                    n_animals: int | None = None) -> dict[str, int | float | None]:
    """Min and median of the per-cell source pools (cells and animals) as plain numbers."""
    cells = np.asarray(n_source_cells, dtype=np.float64)
    animals = np.asarray(n_source_animals, dtype=np.float64)
    if cells.size == 0:
        return {"n_source_cells_min": None, "n_source_cells_median": None,
                "n_source_animals_min": None, "n_animals": n_animals}
    return {"n_source_cells_min": int(cells.min()),
            "n_source_cells_median": float(np.median(cells)),
            "n_source_animals_min": int(animals.min()),
            "n_animals": n_animals}


def split_bootstrap(per_split: np.ndarray, *, included: np.ndarray | None = None,
                    n_boot: int = 1000, ci: float = 0.95, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Percentile bootstrap over splits of each cell's ceiling, and of their median.

    Each replicate draws ``n_splits`` splits with replacement (the same draw for every cell,
    since the splits are shared) and takes every cell's mean over the drawn splits, ignoring
    NaN. This measures how much a ceiling depends on which bins were held out; it does not
    cover the sampling of cells or animals (that is the over-cells CI of the summaries).

    Parameters
    ----------
    per_split : array (n_cells, n_splits)
        Per-cell, per-split ceiling r.
    included : bool array (n_cells,), optional
        Cells that enter the pooled median (default: every cell with a finite mean).
    n_boot, ci, seed
        Bootstrap replicates, interval level and seed of ``numpy.random.default_rng``.

    Returns
    -------
    cell_low, cell_high : ndarray (n_cells,)
        Per-cell interval (NaN for cells without a defined split).
    pooled_low, pooled_high : float
        Interval of the median over the included cells (NaN when none).
    """
    if not (0 < ci < 1):
        raise ConfigError(f"ci must lie in (0, 1); got {ci!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(f"n_boot must be a positive integer; got {n_boot!r}")
    values = np.asarray(per_split, dtype=np.float64)
    if values.ndim != 2:
        raise DataError(f"per_split must be (n_cells, n_splits); got shape {values.shape}")
    n_cells, n_splits = values.shape
    nan = np.full(n_cells, np.nan)
    if n_cells == 0 or n_splits == 0:
        return nan, nan.copy(), np.nan, np.nan
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_splits, size=(n_boot, n_splits))
    weights = np.zeros((n_boot, n_splits))
    np.add.at(weights, (np.repeat(np.arange(n_boot), n_splits), draws.ravel()), 1.0)
    finite = np.isfinite(values)
    sums = np.where(finite, values, 0.0) @ weights.T          # (n_cells, n_boot)
    counts = finite.astype(np.float64) @ weights.T
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    q = [(1 - ci) / 2, (1 + ci) / 2]
    defined = finite.any(axis=1)
    low, high = nan.copy(), nan.copy()
    if defined.any():
        with np.errstate(invalid="ignore"):
            bounds = np.nanquantile(means[defined], q, axis=1)
        low[defined], high[defined] = bounds[0], bounds[1]
    if included is None:
        included = defined
    included = np.asarray(included, dtype=bool) & defined
    if not included.any():
        return low, high, np.nan, np.nan
    medians = np.nanmedian(means[included], axis=0)
    medians = medians[np.isfinite(medians)]
    if medians.size == 0:
        return low, high, np.nan, np.nan
    plo, phi = np.quantile(medians, q)
    return low, high, float(plo), float(phi)


def _ceiling_values(ceiling, r: xr.DataArray
                    ) -> tuple[np.ndarray, str | None, np.ndarray | None]:
    """Per-cell ceiling aligned to ``r``, its kind, and the (neuroid, split) values aligned the
    same way when the ceiling has splits (else None)."""
    kind = None
    per_split = None
    if isinstance(ceiling, xr.DataArray):
        kind = ceiling.attrs.get("ceiling")
        if "split" in ceiling.dims:
            per_split = np.asarray(ceiling.transpose("neuroid", "split").values,
                                   dtype=np.float64)
            values = cell_mean(per_split)
            ceiling = xr.DataArray(values, dims=("neuroid",), coords={
                k: v for k, v in ceiling.coords.items() if v.dims == ("neuroid",)})
        if ceiling.dims != ("neuroid",):
            raise DataError(f"ceiling must have dims (neuroid,) or (neuroid, split); got "
                            f"{ceiling.dims}")
        if "neuroid_id" in ceiling.coords and "neuroid_id" in r.coords:
            cid = ceiling["neuroid_id"].values.astype(str)
            rid = r["neuroid_id"].values.astype(str)
            pos = {c: i for i, c in enumerate(cid)}
            missing = [i for i in rid if i not in pos]
            if missing:
                raise DataError(f"ceiling lacks {len(missing)} neuroids of the score, e.g. "
                                f"{missing[:3]}")
            take = [pos[i] for i in rid]
            return (np.asarray(ceiling.values, dtype=np.float64)[take], kind,
                    None if per_split is None else per_split[take])
        ceiling = ceiling.values
    values = np.asarray(ceiling, dtype=np.float64)
    if values.shape != (r.sizes["neuroid"],):
        raise DataError(f"ceiling has shape {values.shape}; expected ({r.sizes['neuroid']},)")
    if per_split is not None and per_split.shape[0] != values.shape[0]:
        per_split = None
    return values, kind, per_split
