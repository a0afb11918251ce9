"""Noise ceilings: inter-animal consistency and split-half reliability, and ceiled summaries.

Inter-animal consistency (Nayebi et al. 2021)
    How well the *other* animals' cells predict a cell, with the **same** mapping and splits
    as the model, through the same scoring path (:func:`mecbench.scoring.predictivity_details`).

    - ``holdout``: the source of a target animal is the concatenation, along cells, of every
      other animal in the same arena (sorted by animal name). Bins where any source cell is NaN
      are excluded for that target animal.
    - ``pairwise``: each other animal alone is a source; a cell's value per split is the mean
      over source animals (ignoring NaN).

Split-half reliability (Brain-Score convention)
    Per cell, Pearson r between the rate maps of the first and second half of the session over
    the bins finite in both, corrected with Spearman–Brown: ``2 r / (1 + r)``.

Ceiled scores (see :func:`summarize`)
    ``raw_i`` = mean over splits of the cell's Pearson r (NaN splits ignored);
    ``ceiling_i`` = the same for the inter-animal r, or the corrected split-half r;
    ``ceiled_i = raw_i / ceiling_i`` (r, not r²), defined only where
    ``ceiling_i > min_ceiling`` (default 0.1). Cells with a NaN or low ceiling are excluded from
    every ceiled summary and counted. Ceiled values are never clipped: a value above 1 means the
    model predicts that cell better than the ceiling estimate does — the ceiling is itself a
    noisy, finite-sample estimate (and inter-animal consistency is limited by how many cells
    the other animals contribute), so it is not a hard upper bound. The fraction of cells above 1
    is reported so that this is visible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.metrics import bootstrap_median_ci, masked_pearson_columns, nanmedian, spearman_brown
from mecbench.ratemaps import DIMS, flat_values, validate_rate_maps
from mecbench.scoring import (
    PredictivityResult,
    PreparedSource,
    combine_results,
    predictivity_details,
    prepare_source,
    resolve_splits,
    result_to_dataarray,
)
from mecbench.splits import Split, SplitScheme

__all__ = [
    "INTERANIMAL_MODES",
    "DEFAULT_MIN_CEILING",
    "interanimal_consistency",
    "interanimal_results",
    "split_half_reliability",
    "cell_mean",
    "summarize",
    "CEILING_FORMULA",
]

INTERANIMAL_MODES = ("holdout", "pairwise")
DEFAULT_MIN_CEILING = 0.1

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


def _animal_order(neural: xr.DataArray) -> tuple[np.ndarray, list[str]]:
    animals = neural["animal"].values.astype(str)
    return animals, sorted(set(animals.tolist()))


def interanimal_results(
    neural: xr.DataArray,
    mapping,
    splits: SplitScheme | Sequence[Split],
    *,
    mode: str = "holdout",
    target_cells: dict[str, np.ndarray] | None = None,
) -> dict[str, list[tuple[str, PredictivityResult]]]:
    """Inter-animal predictivity per target animal and source.

    Parameters
    ----------
    neural : DataArray (x, y, neuroid)
        Rate maps of one arena with an ``animal`` coordinate.
    mapping, splits
        As for :func:`mecbench.scoring.predictivity_details`.
    mode : {"holdout", "pairwise"}
    target_cells : dict, optional
        Restrict the targets of an animal to these neuroid positions (used by
        :mod:`mecbench.compat` to fit per-cell hyper-parameters).

    Returns
    -------
    dict animal -> list of (source_name, PredictivityResult)
        One entry (source ``"holdout"``) in holdout mode, one per other animal (sorted) in
        pairwise mode. Animals alone in their arena get an empty list.
    """
    if mode not in INTERANIMAL_MODES:
        raise UnknownIdentifierError("interanimal_mode", mode, INTERANIMAL_MODES)
    neural = validate_rate_maps(neural, "neural rate maps")
    shape = (neural.sizes["x"], neural.sizes["y"])
    split_list = resolve_splits(splits, shape)
    values = flat_values(neural)
    animals, order = _animal_order(neural)
    columns = {a: np.flatnonzero(animals == a) for a in order}
    out: dict[str, list[tuple[str, PredictivityResult]]] = {}
    sources: dict[str, PreparedSource] = {}

    def source_of(names: list[str]) -> PreparedSource:
        key = "\x00".join(names)
        if key not in sources:
            sources[key] = prepare_source(values[:, np.concatenate([columns[a] for a in names])])
        return sources[key]

    for target in order:
        cols = columns[target] if target_cells is None else target_cells.get(target)
        if cols is None or len(order) < 2:
            out[target] = []
            continue
        Y = values[:, cols]
        others = [a for a in order if a != target]
        if mode == "holdout":
            out[target] = [("holdout", predictivity_details(
                source_of(others), Y, mapping, split_list))]
        else:
            out[target] = [(src, predictivity_details(source_of([src]), Y, mapping, split_list))
                           for src in others]
    return out


def interanimal_consistency(
    neural: xr.DataArray,
    mapping,
    splits: SplitScheme | Sequence[Split],
    *,
    mode: str = "holdout",
) -> xr.DataArray:
    """Per-cell, per-split inter-animal consistency r (dims neuroid, split).

    In ``pairwise`` mode the value of a (cell, split) is the mean over source animals of their r,
    ignoring NaN. Cells of an animal that is alone in the arena are NaN with reason
    ``"no_other_animal"``.
    """
    neural = validate_rate_maps(neural, "neural rate maps")
    shape = (neural.sizes["x"], neural.sizes["y"])
    split_list = resolve_splits(splits, shape)
    n_splits = len(split_list)
    animals, order = _animal_order(neural)
    per_target = interanimal_results(neural, mapping, split_list, mode=mode)
    parts = []
    for target in order:
        idx = np.flatnonzero(animals == target)
        results = per_target[target]
        if not results:
            continue
        if len(results) == 1:
            parts.append((idx, results[0][1]))
        else:
            parts.append((idx, _mean_over_sources([res for _, res in results])))
    combined = combine_results(parts, neural.sizes["neuroid"], n_splits)
    da = result_to_dataarray(combined, neural, {
        "ceiling": f"interanimal-{mode}",
        "splits": splits.identifier if isinstance(splits, SplitScheme) else "explicit",
    })
    lonely = ~np.isin(animals, [a for a in order if per_target[a]])
    if lonely.any():
        reason = da["undefined_reason"].values.astype(object)
        reason[lonely, :] = "no_other_animal"
        da = da.assign_coords(undefined_reason=(("neuroid", "split"), reason.astype(str)))
    return da


def _mean_over_sources(results: list[PredictivityResult]) -> PredictivityResult:
    stack = np.stack([res.r for res in results])
    with np.errstate(invalid="ignore"):
        count = np.isfinite(stack).sum(axis=0)
        r = np.where(count > 0, np.nansum(stack, axis=0) / np.maximum(count, 1), np.nan)
    first = results[0]
    reason = np.where(count > 0, 0, first.reason).astype(np.uint8)
    return PredictivityResult(
        r,
        np.min([res.n_train for res in results], axis=0),
        np.min([res.n_test for res in results], axis=0),
        reason,
        sum(res.n_groups for res in results),
    )


def split_half_reliability(halves: xr.DataArray, *, min_bins: int = 3) -> xr.DataArray:
    """Spearman–Brown corrected split-half reliability per cell.

    Parameters
    ----------
    halves : DataArray (half=2, x, y, neuroid)
        Rate maps of the first and second half of each session (``NeuralData.halves``).
    min_bins : int
        Fewer bins finite in both halves give NaN.

    Returns
    -------
    DataArray (neuroid,)
        ``2 r / (1 + r)`` with ``r`` the Pearson correlation of the two halves over the bins
        finite in both; the uncorrected ``r`` is the coordinate ``split_half_r``.
    """
    if not isinstance(halves, xr.DataArray):
        raise DataError(f"halves must be an xarray.DataArray; got {type(halves).__name__}")
    if set(halves.dims) != {"half", *DIMS} or halves.sizes.get("half") != 2:
        raise DataError(f"halves must have dims (half=2, x, y, neuroid); got {dict(halves.sizes)}")
    halves = halves.transpose("half", *DIMS)
    n = halves.sizes["neuroid"]
    values = np.asarray(halves.values, dtype=np.float64)
    a = values[0].reshape(-1, n)
    b = values[1].reshape(-1, n)
    r = masked_pearson_columns(a, b, min_rows=min_bins)
    coords = {k: v for k, v in halves.coords.items() if v.dims == ("neuroid",)}
    return xr.DataArray(spearman_brown(r), dims=("neuroid",),
                        coords={**coords, "split_half_r": ("neuroid", r)},
                        name="ceiling", attrs={"ceiling": "split-half-spearman-brown"})


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
