"""Noise ceilings: inter-animal consistency, split-half reliability and the source pools an
inter-animal ceiling rests on.

Inter-animal consistency (Nayebi et al. 2021)
    How well the *other* animals' cells predict a cell, with the **same** mapping and splits
    as the model, through the same scoring path
    (:func:`mecbench.predictivity.predictivity_details`).

    - ``holdout``: the source of a target animal is the concatenation, along cells, of every
      other animal in the same arena (sorted by animal name). Bins where any source cell is NaN
      are excluded for that target animal.
    - ``pairwise``: each other animal alone is a source; a cell's value per split is the mean
      over source animals (ignoring NaN).

Split-half reliability (Brain-Score convention)
    Per cell, Pearson r between the rate maps of the first and second half of the session over
    the bins finite in both, corrected with Spearman–Brown: ``2 r / (1 + r)``.

How a ceiling enters a score (ceiled values, their medians and CIs) is defined in
:mod:`mecbench.score` (:func:`mecbench.score.summarize`).

What a ceiling rests on (see :func:`source_pool_sizes`, :func:`mecbench.score.split_bootstrap`)
    Every inter-animal ceiling is reported with its source pool (cells of the other animals per
    target; animals) and a bootstrap CI over splits. The ceiling grows with the pool
    (:func:`pool_curve`; ``scripts/ceiling_pool_study.py`` measures it on mec-sim), so below
    :data:`MIN_SOURCE_CELLS` source cells a benchmark does not use it: it falls back to the
    split-half ceiling where halves exist and otherwise flags it unreliable
    (:class:`mecbench.benchmarks.Benchmark`). :func:`ceiling_warnings` gives the sentences a
    score must be printed with, including the reasons for any ceiled median above
    :data:`CEILED_WARN_ABOVE`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.metrics import masked_pearson_columns, spearman_brown
from mecbench.predictivity import (
    PredictivityResult,
    PreparedSource,
    combine_results,
    predictivity_details,
    prepare_source,
    resolve_splits,
    result_to_dataarray,
)
from mecbench.ratemaps import DIMS, flat_values, validate_rate_maps
from mecbench.score import cell_mean
from mecbench.splits import Split, SplitScheme

__all__ = [
    "INTERANIMAL_MODES",
    "interanimal_consistency",
    "interanimal_results",
    "split_half_reliability",
    "MIN_SOURCE_CELLS",
    "POOL_TOLERANCE",
    "CEILED_WARN_ABOVE",
    "SATURATING_FORMS",
    "source_pool_sizes",
    "pool_reliable",
    "ceiling_warnings",
    "pool_curve",
    "saturating",
    "fit_saturating",
]

INTERANIMAL_MODES = ("holdout", "pairwise")


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
        As for :func:`mecbench.predictivity.predictivity_details`.
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
    targets: Sequence[str] | None = None,
) -> xr.DataArray:
    """Per-cell, per-split inter-animal consistency r (dims neuroid, split).

    In ``pairwise`` mode the value of a (cell, split) is the mean over source animals of their r,
    ignoring NaN. Cells of an animal that is alone in the arena are NaN with reason
    ``"no_other_animal"``. With ``targets`` (animal names), only those animals' cells are
    computed and returned (their sources are still all the other animals), so that target
    animals can be computed apart and joined with
    :func:`mecbench.predictivity.merge_neuroid_parts`.
    """
    neural = validate_rate_maps(neural, "neural rate maps")
    shape = (neural.sizes["x"], neural.sizes["y"])
    split_list = resolve_splits(splits, shape)
    n_splits = len(split_list)
    animals, order = _animal_order(neural)
    target_cells = None
    if targets is not None:
        unknown = sorted(set(targets) - set(order))
        if unknown:
            raise UnknownIdentifierError("target animal", unknown[0], order)
        target_cells = {a: np.flatnonzero(animals == a) for a in targets}
    per_target = interanimal_results(neural, mapping, split_list, mode=mode,
                                     target_cells=target_cells)
    if targets is not None:
        wanted = set(targets)
        keep = np.flatnonzero(np.isin(animals, list(wanted)))
        order = [a for a in order if a in wanted]
        per_target = {a: per_target[a] for a in order}
        neural = neural.isel(neuroid=keep)
        animals = animals[keep]
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


# ---------------------------------------------------------------------------------------------
# What an inter-animal ceiling rests on, how uncertain it is, and when it is not used
# ---------------------------------------------------------------------------------------------

#: Smallest inter-animal source pool (cells of the other animals that predict a target cell in
#: its arena) at which the inter-animal ceiling is used. Set with
#: ``scripts/ceiling_pool_study.py`` on mec-sim (ridge, alpha = 1; numbers in
#: ``docs/ceiling_pool_study.json``): in the 1 m arena, the size of the real recordings' box,
#: 128 source cells is the smallest pool whose median ceiling is within
#: :data:`POOL_TOLERANCE` of the full 500-cell pool's in every seed (64 cells: 14 % short;
#: 8 cells: 60 % short). In the 2.2 m arena the curve has not saturated at 500 cells (128 cells
#: reach about 75 % of it), so a pool of this size still underestimates a large arena's
#: ceiling. A saturating fit to small pools does not predict the larger ones (held-out errors
#: of 30-60 % from pools of <= 8 cells), so the ceiling is not extrapolated.
MIN_SOURCE_CELLS = 128

#: Largest accepted shortfall of a subsampled pool's median ceiling relative to the full pool's,
#: the criterion that sets :data:`MIN_SOURCE_CELLS`.
POOL_TOLERANCE = 0.10

#: A ceiled headline above this is always printed with its reasons (:func:`ceiling_warnings`).
CEILED_WARN_ABOVE = 1.2

SATURATING_FORMS = ("hyperbolic", "sqrt-snr")


def source_pool_sizes(neural: xr.DataArray, mode: str = "holdout"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per target cell, the size of its inter-animal source pool.

    Parameters
    ----------
    neural : DataArray (x, y, neuroid)
        Rate maps of one arena with an ``animal`` coordinate.
    mode : {"holdout", "pairwise"}
        ``holdout``: the source is every other animal's cells together, so the pool is their
        total. ``pairwise``: each other animal alone is a source and the cell's ceiling is the
        mean over them, so the pool is the *smallest* other animal's cell count (the weakest
        source in the mean).

    Returns
    -------
    n_source_cells, n_source_animals : ndarray (n_cells,) of int
        Zero for a cell whose animal is alone in the arena.
    """
    if mode not in INTERANIMAL_MODES:
        raise UnknownIdentifierError("interanimal_mode", mode, INTERANIMAL_MODES)
    if "animal" not in neural.coords:
        raise DataError("neural rate maps lack the 'animal' coordinate")
    animals = neural["animal"].values.astype(str)
    names, inverse, counts = np.unique(animals, return_inverse=True, return_counts=True)
    n_animals = names.size
    n_source_animals = np.full(animals.size, n_animals - 1, dtype=np.int64)
    if mode == "holdout":
        n_source_cells = animals.size - counts[inverse]
    else:
        others_min = np.array([counts[np.arange(n_animals) != i].min() if n_animals > 1
                               else 0 for i in range(n_animals)])
        n_source_cells = others_min[inverse]
    return np.asarray(n_source_cells, dtype=np.int64), n_source_animals


def pool_reliable(n_source_cells_min: int | None, min_source_cells: int = MIN_SOURCE_CELLS
                  ) -> bool:
    """Whether an inter-animal ceiling whose smallest source pool is ``n_source_cells_min``
    cells may be used (False for None: no other animal)."""
    return n_source_cells_min is not None and int(n_source_cells_min) >= int(min_source_cells)


def ceiling_warnings(summary: dict, *, method: str, reliable: bool | None,
                     support: dict | None = None, requested: str | None = None,
                     min_source_cells: int = MIN_SOURCE_CELLS,
                     warn_above: float = CEILED_WARN_ABOVE) -> list[str]:
    """The sentences a ceiled score must be printed with.

    Parameters
    ----------
    summary : dict
        A score's summary (:meth:`mecbench.score.Score.summary`).
    method : str
        The ceiling used (``holdout``, ``pairwise``, ``split-half`` or ``none``).
    reliable : bool or None
        Whether that ceiling passed the pool rule (None: unknown, e.g. an old score).
    support : dict, optional
        :func:`mecbench.score.support_summary` of the inter-animal pool.
    requested : str, optional
        The ceiling the benchmark asked for (to say when another one was used).
    min_source_cells, warn_above
        The pool rule and the headline above which reasons are always given.

    Returns
    -------
    list of str
        Empty when there is nothing to say.
    """
    out: list[str] = []
    ceiled = summary.get("ceiled_median")
    support = support or {}
    pool = support.get("n_source_cells_min")
    if method in INTERANIMAL_MODES and reliable is False:
        out.append(
            f"unreliable ceiling: the inter-animal ceiling rests on as few as {pool} source "
            f"cells (fewer than {min_source_cells}, where on mec-sim it is still more than "
            f"{POOL_TOLERANCE:.0%} below its full-pool value) and the data have no split halves "
            "to fall back on; the ceiling is underestimated and 'ceiled' overstated")
    if ceiled is not None and np.isfinite(ceiled) and ceiled > warn_above:
        reasons = []
        frac = summary.get("frac_ceiled_above_1")
        if frac is not None and np.isfinite(frac):
            reasons.append(f"{frac:.0%} of the cells are predicted better by the model than "
                           "by their ceiling estimate")
        if method in INTERANIMAL_MODES:
            if reliable is False:
                reasons.append("the inter-animal ceiling is unreliable (see above)")
            elif pool is not None:
                reasons.append(f"the inter-animal ceiling rests on {pool} or more source cells "
                               "per target, so the model may genuinely predict these cells "
                               "better than the other animals do")
        elif method == "split-half":
            reasons.append("the split-half ceiling measures the agreement of two half "
                           "sessions, which is lower than the full session's reliability "
                           "when a half is short or unevenly covered")
        low = summary.get("ceiling_median")
        if low is not None and np.isfinite(low) and low < 0.3:
            reasons.append(f"the median ceiling is low ({low:.3f}): small differences in "
                           "raw r become large ceiled ones")
        out.append(f"ceiled score {ceiled:.3f} is above {warn_above:g}: "
                   + "; ".join(reasons or ["the ceiling is a finite-sample estimate"]))
    return out


# ---------------------------------------------------------------------------------------------
# Ceiling as a function of the source pool (scripts/ceiling_pool_study.py)
# ---------------------------------------------------------------------------------------------

def pool_curve(
    neural: xr.DataArray,
    mapping,
    splits: SplitScheme | Sequence[Split],
    sizes: Sequence[int],
    *,
    seeds: Sequence[int] = (0,),
) -> np.ndarray:
    """Inter-animal (holdout) ceiling of every cell with its source pool subsampled.

    For each seed and target animal, the cells of every other animal in the arena are put in
    one random order (``numpy.random.default_rng([seed, k])`` for the ``k``-th animal in sorted
    order); the pool of size ``n`` is the first ``n`` of them, so pools are nested. Each cell's
    ceiling is its mean over splits of the cross-validated r from that pool, through the same
    scoring path as :func:`interanimal_consistency` (which the full pool reproduces).

    Parameters
    ----------
    neural : DataArray (x, y, neuroid)
        Rate maps of one arena, at least two animals.
    mapping, splits
        As for :func:`interanimal_consistency`.
    sizes : sequence of int
        Pool sizes (>= 1); a size larger than a target's pool gives NaN for its cells.
    seeds : sequence of int
        Independent orders of the pools.

    Returns
    -------
    ndarray (n_seeds, n_sizes, n_cells)
        Per-cell ceiling (NaN where undefined), cells in the order of ``neural``.
    """
    neural = validate_rate_maps(neural, "neural rate maps")
    sizes = [int(s) for s in sizes]
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"sizes must be positive integers; got {sizes}")
    split_list = resolve_splits(splits, (neural.sizes["x"], neural.sizes["y"]))
    values = flat_values(neural)
    animals, order = _animal_order(neural)
    if len(order) < 2:
        raise DataError("pool_curve needs at least two animals in the arena")
    out = np.full((len(seeds), len(sizes), animals.size), np.nan)
    for s, seed in enumerate(seeds):
        for k, target in enumerate(order):
            cols = np.flatnonzero(animals == target)
            pool = np.flatnonzero(animals != target)
            pool = pool[np.random.default_rng([int(seed), k]).permutation(pool.size)]
            for j, n in enumerate(sizes):
                if n > pool.size:
                    continue
                res = predictivity_details(prepare_source(values[:, pool[:n]]),
                                           values[:, cols], mapping, split_list)
                out[s, j, cols] = cell_mean(res.r.T)
    return out


def saturating(n: np.ndarray, c_inf: float, n_half: float, form: str = "hyperbolic"
               ) -> np.ndarray:
    """A saturating ceiling-versus-pool curve.

    ``hyperbolic``: ``c_inf * n / (n + n_half)`` (half the asymptote at ``n_half`` cells).
    ``sqrt-snr``: ``c_inf * sqrt(n / (n + n_half))`` — the correlation reached by the best
    linear read-out of ``n`` sources that each carry the target's signal plus independent
    noise (signal-to-noise ratios add, so r² = c_inf² · n / (n + n_half)).
    """
    n = np.asarray(n, dtype=np.float64)
    if form == "hyperbolic":
        return c_inf * n / (n + n_half)
    if form == "sqrt-snr":
        return c_inf * np.sqrt(n / (n + n_half))
    raise UnknownIdentifierError("saturating form", form, SATURATING_FORMS)


def fit_saturating(sizes: Sequence[int], values: Sequence[float], form: str = "hyperbolic"
                   ) -> dict[str, float | str]:
    """Least-squares fit of :func:`saturating` to (pool size, ceiling) points.

    Returns
    -------
    dict
        ``form``, ``c_inf``, ``n_half`` and ``rmse`` (root mean square residual of the fit).
    """
    from scipy.optimize import curve_fit

    if form not in SATURATING_FORMS:
        raise UnknownIdentifierError("saturating form", form, SATURATING_FORMS)
    n = np.asarray(sizes, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(n) & np.isfinite(y)
    n, y = n[ok], y[ok]
    if n.size < 3:
        raise DataError(f"fit_saturating needs at least 3 finite points; got {n.size}")
    start = (max(float(y.max()), 1e-3), float(np.median(n)))
    params, _ = curve_fit(lambda x, c, h: saturating(x, c, h, form), n, y, p0=start,
                          bounds=([0.0, 1e-9], [np.inf, np.inf]), maxfev=20000)
    resid = y - saturating(n, *params, form=form)
    return {"form": form, "c_inf": float(params[0]), "n_half": float(params[1]),
            "rmse": float(np.sqrt(np.mean(resid ** 2)))}
