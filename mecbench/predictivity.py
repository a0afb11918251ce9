"""Per-cell neural predictivity: the one scoring path of mecbench.

Every score — model benchmarks, inter-animal ceilings, :func:`mecbench.compat.get_fits` — goes
through :func:`predictivity_details`:

1. Splits are defined on the full bin grid (:mod:`mecbench.splits`).
2. For each target cell, the *valid* bins are those where the cell is finite **and** every
   source feature is finite (sources recorded from animals have unvisited bins too).
   Split ``s`` of that cell trains on ``train_s ∩ valid`` and tests on ``test_s ∩ valid``.
   A NaN in one cell never removes a bin from another cell.
3. Cells sharing a valid-bin mask share one call of :func:`mecbench.mapping.cross_predict`, so
   the mapping decomposes the training features once per split for all of them (and fits them
   jointly, which matters for PLS). Mappings that fit every target on its own (ridge with one
   penalty, one-to-one) instead take all cells in one masked pass per split
   (:func:`mecbench.mapping.cross_predict_masked`): one factorisation on every training bin,
   corrected exactly for the bins each cell misses — the same numbers, less work.
4. Per cell and split, Pearson r between prediction and data on the test bins.

A (cell, split) whose r is undefined gives NaN and is counted with its reason, never an error:
fewer than :data:`MIN_TRAIN_BINS` training bins (``few_train``), fewer than
:data:`mecbench.metrics.MIN_BINS` test bins (``few_test``), data constant on the test bins
(``constant_data``), constant prediction (``constant_prediction``) or a fit that failed for this
group of cells only (``fit_failed``, e.g. PLS asked for more components than the group's
training bins allow; the messages are kept in ``PredictivityResult.extra["fit_errors"]``). When
the fit fails for every group the error is raised: it is a configuration problem, not a data
one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError, ModelError
from mecbench.metrics import (
    MIN_BINS,
    constant_columns,
    masked_pearson_details,
    pearson_columns,
)
from mecbench.ratemaps import check_same_grid, flat_values, validate_rate_maps
from mecbench.splits import Split, SplitScheme

__all__ = [
    "MIN_TRAIN_BINS",
    "merge_neuroid_parts",
    "REASONS",
    "PredictivityResult",
    "PreparedSource",
    "prepare_source",
    "predictivity",
    "predictivity_details",
    "resolve_splits",
    "score_rate_maps",
    "group_by_mask",
    "combine_results",
    "result_to_dataarray",
]

#: Fewest training bins on which a mapping is fitted; fewer give NaN (``few_train``).
MIN_TRAIN_BINS = 3

#: Codes of :attr:`PredictivityResult.reason`; index 0 means r is defined.
REASONS = ("", "few_train", "few_test", "constant_data", "constant_prediction", "fit_failed")
_FEW_TRAIN, _FEW_TEST, _CONST_DATA, _CONST_PRED, _FIT_FAILED = 1, 2, 3, 4, 5


@dataclass
class PredictivityResult:
    """Per split and cell Pearson r with the bookkeeping of undefined values.

    Attributes
    ----------
    r : ndarray (n_splits, n_cells)
        Pearson r on the test bins; NaN where undefined.
    n_train, n_test : ndarray (n_splits, n_cells) of int
        Bins used to fit and to score each cell in each split.
    reason : ndarray (n_splits, n_cells) of uint8
        Index into :data:`REASONS` (0 where r is defined).
    n_groups : int
        Number of distinct valid-bin masks (one mapping fit per group and split).
    """

    r: np.ndarray
    n_train: np.ndarray
    n_test: np.ndarray
    reason: np.ndarray
    n_groups: int = 0
    extra: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Number of undefined (split, cell) entries per reason, plus cells with no defined
        split at all (``cells_undefined``)."""
        out = {name: int((self.reason == code).sum()) for code, name in enumerate(REASONS)
               if code}
        out["undefined"] = int(np.isnan(self.r).sum())
        out["cells_undefined"] = int(np.isnan(self.r).all(axis=0).sum()) if self.r.size else 0
        return out


def resolve_splits(splits: SplitScheme | Sequence[Split], shape: tuple[int, int]) -> list[Split]:
    """Turn a :class:`SplitScheme` (or an explicit list of splits) into index arrays for a grid
    of ``shape``, checking that explicit indices fall on the grid."""
    n_bins = int(shape[0]) * int(shape[1])
    if isinstance(splits, SplitScheme):
        return splits.splits(shape)
    out = []
    try:
        items = list(splits)
    except TypeError:
        raise ConfigError(
            f"splits must be a SplitScheme or a list of (train, test) index arrays; got "
            f"{type(splits).__name__}"
        ) from None
    if not items:
        raise ConfigError("splits is empty")
    for k, item in enumerate(items):
        try:
            train, test = item
        except (TypeError, ValueError):
            raise ConfigError(f"splits[{k}] must be a (train, test) pair") from None
        pair = []
        for name, idx in (("train", train), ("test", test)):
            idx = np.asarray(idx)
            if idx.size and not np.issubdtype(idx.dtype, np.integer):
                raise ConfigError(f"splits[{k}] {name} indices must be integers")
            idx = idx.astype(np.intp).ravel()
            if idx.size and (idx.min() < 0 or idx.max() >= n_bins):
                raise ConfigError(f"splits[{k}] {name} indices fall outside the {n_bins} bins")
            pair.append(idx)
        if np.intersect1d(pair[0], pair[1]).size:
            raise ConfigError(f"splits[{k}]: train and test bins overlap")
        out.append((pair[0], pair[1]))
    return out


def group_by_mask(valid: np.ndarray) -> list[np.ndarray]:
    """Columns of a boolean (n_rows, n_cols) array grouped by identical column; returns the
    column indices of each group, groups ordered by their first column."""
    if valid.shape[1] == 0:
        return []
    packed = np.packbits(valid, axis=0).T  # (n_cols, n_bytes)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(first, kind="stable")
    return [np.flatnonzero(inverse == g) for g in order]


def _mapping_module():
    from mecbench import mapping

    return mapping


def _as_mapping(mapping):
    if isinstance(mapping, str):
        return _mapping_module().get_mapping(mapping)
    if not (hasattr(mapping, "fit") and hasattr(mapping, "predict")):
        raise ConfigError(
            f"mapping must be a mapping name or an estimator with fit/predict; got "
            f"{type(mapping).__name__}"
        )
    return mapping


@dataclass(frozen=True)
class PreparedSource:
    """Source features ready for scoring: a feature cache over the bins where every feature is
    finite, and ``rows[i]`` = the cache row of bin ``i`` (-1 for excluded bins).

    Build it once with :func:`prepare_source` and pass it to :func:`predictivity_details` many
    times (e.g. one source animal scored against several targets)."""

    cache: object
    rows: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.rows.shape[0])


def prepare_source(source) -> PreparedSource:
    """Validate source features (bins, features) and build their feature cache.

    Rows with a NaN feature are excluded (unvisited bins of recorded sources); infinite values
    raise :class:`DataError`. A :class:`~mecbench.mapping.FeatureCache` is taken as is (it
    covers every bin).
    """
    if isinstance(source, PreparedSource):
        return source
    mp = _mapping_module()
    if isinstance(source, mp.FeatureCache):
        return PreparedSource(source, np.arange(_cache_rows(source), dtype=np.intp))
    X = np.asarray(source)
    if X.ndim != 2:
        raise DataError(f"source must be a 2-D (bins, features) array; got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"source must hold numbers, got dtype {X.dtype}")
    X = X.astype(np.float64, copy=False)
    if X.shape[1] == 0:
        raise DataError("source has no features")
    if np.isinf(X).any():
        n_bad = int(np.isinf(X).any(axis=0).sum())
        raise DataError(f"source contains infinite values in {n_bad} features")
    ok = ~np.isnan(X).any(axis=1)
    if not ok.any():
        raise DataError("source has no bin where every feature is finite")
    rows = np.full(X.shape[0], -1, dtype=np.intp)
    rows[ok] = np.arange(int(ok.sum()))
    cache = mp.FeatureCache(X if ok.all() else np.ascontiguousarray(X[ok]))
    return PreparedSource(cache, rows)


def _cache_rows(cache) -> int:
    for attr in ("n_samples", "n_bins", "n_rows"):
        if hasattr(cache, attr):
            return int(getattr(cache, attr))
    return int(cache.X.shape[0])


def predictivity_details(
    source,
    target: np.ndarray,
    mapping,
    splits: SplitScheme | Sequence[Split],
    *,
    shape: tuple[int, int] | None = None,
    min_train: int = MIN_TRAIN_BINS,
    target_params: Mapping[str, np.ndarray] | None = None,
) -> PredictivityResult:
    """Cross-validated per-cell Pearson r of ``mapping`` from ``source`` to ``target``.

    Parameters
    ----------
    source : ndarray (n_bins, n_features), FeatureCache or PreparedSource
        Features per bin. Rows with a NaN feature (unvisited bins of a source animal) are
        excluded for every target; infinite values are an error. Pass a
        :class:`~mecbench.mapping.FeatureCache` (covering every bin) or a
        :class:`PreparedSource` to reuse per-layer precomputations across calls.
    target : ndarray (n_bins, n_cells)
        Recorded rates, NaN in unvisited bins.
    mapping : mapping estimator or name
        Any :mod:`mecbench.mapping` estimator (or a name for
        :func:`mecbench.mapping.get_mapping`); cloned per split.
    splits : SplitScheme or list of (train, test)
        Flat bin indices on the full grid. A :class:`SplitScheme` needs ``shape``.
    shape : (n_x, n_y), optional
        Grid shape; required when ``splits`` is a :class:`SplitScheme`.
    min_train : int
        Fewest training bins for a fit.
    target_params : dict of str to array (n_cells,), optional
        Hyper-parameters given per target cell (e.g. per-cell ElasticNet ``alpha`` and
        ``l1_ratio``): each group of cells gets ``mapping.set_params(name=values[group])``.

    Returns
    -------
    PredictivityResult
    """
    mapping = _as_mapping(mapping)
    Y = _check_target(target)
    prepared = prepare_source(source)
    if prepared.rows.shape[0] != Y.shape[0]:
        raise DataError(
            f"source has {prepared.rows.shape[0]} bins but target has {Y.shape[0]}; they must "
            "share one bin grid"
        )
    n_bins, n_cells = Y.shape
    target_params = _check_target_params(target_params, n_cells)
    split_list = _splits_on_bins(splits, shape, n_bins)
    n_splits = len(split_list)
    valid = np.isfinite(Y) & (prepared.rows >= 0)[:, None]
    groups = group_by_mask(valid)
    res = PredictivityResult(np.full((n_splits, n_cells), np.nan),
                             np.zeros((n_splits, n_cells), dtype=np.int64),
                             np.zeros((n_splits, n_cells), dtype=np.int64),
                             np.zeros((n_splits, n_cells), dtype=np.uint8),
                             n_groups=len(groups), extra={"fit_errors": []})
    plans = _plan_groups(groups, valid, split_list, prepared.rows, min_train, res)
    if not target_params and getattr(mapping, "_cross_predict_masked", None) is not None:
        # masked path: one fit per split for every cell, when the mapping accepts it
        needed = sorted({s for plan in plans for s in plan.good})
        shared = _shared_predictions(mapping, prepared.cache, prepared.rows, Y, valid,
                                     split_list, needed)
        if shared is not None:
            _score_shared(shared, plans, Y, valid, res.r, res.reason, type(mapping).__name__)
            return res
    _score_groups(mapping, prepared, Y, valid, plans, target_params, res)
    return res


def _check_target(target) -> np.ndarray:
    """``target`` as a float (bins, cells) array without infinite values."""
    Y = np.asarray(target)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2:
        raise DataError(f"target must be a 2-D (bins, cells) array; got shape {Y.shape}")
    if not np.issubdtype(Y.dtype, np.number):
        raise DataError(f"target must hold numbers, got dtype {Y.dtype}")
    Y = Y.astype(np.float64, copy=False)
    if np.isinf(Y).any():
        raise DataError(f"target contains infinite values in "
                        f"{int(np.isinf(Y).any(axis=0).sum())} cells")
    return Y


def _splits_on_bins(splits: SplitScheme | Sequence[Split], shape: tuple[int, int] | None,
                    n_bins: int) -> list[Split]:
    """The splits as index arrays over ``n_bins`` bins (a :class:`SplitScheme` other than
    ``random`` needs the grid ``shape``); at least one split must have training bins."""
    if isinstance(splits, SplitScheme):
        if shape is None:
            if splits.kind != "random":
                raise ConfigError(f"the {splits.kind!r} SplitScheme needs the grid shape")
            shape = (n_bins, 1)
        if int(shape[0]) * int(shape[1]) != n_bins:
            raise DataError(f"grid shape {tuple(shape)} does not hold the {n_bins} bins")
        split_list = resolve_splits(splits, shape)
    else:
        split_list = resolve_splits(splits, (n_bins, 1))
    if all(tr.size == 0 for tr, _ in split_list):
        raise ConfigError(
            "every split has an empty training set (train_frac=0); mecbench's mappings have "
            "parameters and need training bins"
        )
    return split_list


class _GroupPlan(NamedTuple):
    """The splits on which one group of cells (one valid-bin mask) is scored."""

    cols: np.ndarray  #: the group's cells (target columns)
    good: list[int]  #: splits with enough training and test bins
    cv_splits: list[tuple[np.ndarray, np.ndarray]]  #: their (train, test) feature-cache rows
    tests: list[np.ndarray]  #: their test bins


def _plan_groups(groups: list[np.ndarray], valid: np.ndarray, split_list: list[Split],
                 rows: np.ndarray, min_train: int, res: PredictivityResult
                 ) -> list[_GroupPlan]:
    """Per group of cells, the splits to score; records the bins used in ``res.n_train`` and
    ``res.n_test`` and marks splits with too few bins (``few_train``, ``few_test``)."""
    plans = []
    for cols in groups:
        v = valid[:, cols[0]]
        good, cv_splits, tests = [], [], []
        for s, (tr, te) in enumerate(split_list):
            # sorted rows: the fit and r do not depend on row order, and gathers of sorted
            # rows from the cached Gram matrix are several times faster
            tr_v, te_v = np.sort(tr[v[tr]]), np.sort(te[v[te]])
            res.n_train[s, cols], res.n_test[s, cols] = tr_v.size, te_v.size
            if tr_v.size < min_train:
                res.reason[s, cols] = _FEW_TRAIN
            elif te_v.size < MIN_BINS:
                res.reason[s, cols] = _FEW_TEST
            else:
                good.append(s)
                cv_splits.append((rows[tr_v], rows[te_v]))
                tests.append(te_v)
        plans.append(_GroupPlan(cols, good, cv_splits, tests))
    return plans


def _score_groups(mapping, prepared: PreparedSource, Y: np.ndarray, valid: np.ndarray,
                  plans: list[_GroupPlan], target_params: dict[str, np.ndarray],
                  res: PredictivityResult) -> None:
    """Per-group path: one :func:`mecbench.mapping.cross_predict` per group of cells (joint
    fits, per-cell parameters, or mappings without a masked path). A fit that fails for a
    group marks its cells ``fit_failed``; when every group fails the first error is raised."""
    src_ok = prepared.rows >= 0  # cache rows are the bins with src_ok, in order
    mp = _mapping_module()
    failures: list[tuple[int, Exception]] = []
    fitted = 0
    for cols, good, cv_splits, tests in plans:
        if not good:
            continue
        v = valid[:, cols[0]]
        Yg = np.where(v[src_ok, None], Y[np.ix_(src_ok, cols)], 0.0)
        group_mapping = mapping
        if target_params:
            from sklearn.base import clone  # heavy: only when per-target parameters are fit

            group_mapping = clone(mapping).set_params(
                **{k: vals[cols] for k, vals in target_params.items()})
        try:
            preds = mp.cross_predict(group_mapping, prepared.cache, Yg, cv_splits)
        except (np.linalg.LinAlgError, ValueError) as err:
            # data-dependent failures (e.g. PLS with more components than this group's
            # training bins allow) cost only this group; a failure of every group is re-raised
            res.reason[np.ix_(good, cols)] = _FIT_FAILED
            failures.append((cols.size, err))
            continue
        fitted += 1
        _score_group(preds, cols, good, tests, Y, res, type(mapping).__name__)
    if failures and not fitted:
        raise failures[0][1]
    res.extra["fit_errors"] = [f"{n} cells: {type(e).__name__}: {e}" for n, e in failures]


def _score_group(preds, cols: np.ndarray, good: list[int], tests: list[np.ndarray],
                 Y: np.ndarray, res: PredictivityResult, mapping_name: str) -> None:
    """Fill ``res.r`` and ``res.reason`` of one group from its predictions on the test bins of
    its ``good`` splits."""
    for s, te_v, pred in zip(good, tests, preds, strict=True):
        pred = np.asarray(pred, dtype=np.float64).reshape(te_v.size, cols.size)
        data = Y[np.ix_(te_v, cols)]
        if not np.isfinite(pred).all():
            raise ModelError(
                f"mapping {mapping_name} produced non-finite predictions "
                f"(split {s}); check the scale of the source features"
            )
        rs = pearson_columns(pred, data)
        res.r[s, cols] = rs
        undefined = np.isnan(rs)
        if undefined.any():
            const_data = constant_columns(data)
            res.reason[s, cols[undefined & const_data]] = _CONST_DATA
            res.reason[s, cols[undefined & ~const_data]] = _CONST_PRED


def _score_shared(shared, plans, Y, valid, r, reason, mapping_name: str) -> None:
    """Masked path: fill ``r`` and ``reason`` from the masked pass's predictions: one
    vectorised masked Pearson per split over every cell (each on its own valid test bins)."""
    wanted: dict[int, list[np.ndarray]] = {}
    for cols, good, _, _ in plans:
        for s in good:
            wanted.setdefault(s, []).append(cols)
    for s, col_sets in wanted.items():
        P, te_b = shared[s]
        cols = np.concatenate(col_sets)
        mask = valid[te_b]
        if not np.isfinite(P).all() and not np.isfinite(P[:, cols][mask[:, cols]]).all():
            raise ModelError(f"mapping {mapping_name} produced non-finite predictions "
                             f"(split {s}); check the scale of the source features")
        rs, _, const_data = masked_pearson_details(P, Y[te_b], mask)
        r[s, cols] = rs[cols]
        undefined = np.isnan(rs[cols])
        reason[s, cols[undefined & const_data[cols]]] = _CONST_DATA
        reason[s, cols[undefined & ~const_data[cols]]] = _CONST_PRED


def _shared_predictions(mapping, cache, rows: np.ndarray, Y: np.ndarray, valid: np.ndarray,
                        split_list: list[Split], needed: list[int]
                        ) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    """Predictions of every target on every test bin of the ``needed`` splits from one
    masked fit per split (:func:`mecbench.mapping.cross_predict_masked`), as
    ``{split: (predictions (test bins, cells), sorted test bins)}``; None when the mapping has
    no masked path for its settings or it fails (the per-group path then decides)."""
    if not needed:
        return None
    src_ok = rows >= 0
    bins = np.flatnonzero(src_ok)
    cv_splits, test_bins = [], []
    for s in needed:
        tr, te = split_list[s]
        tr_b, te_b = np.sort(tr[src_ok[tr]]), np.sort(te[src_ok[te]])
        cv_splits.append((rows[tr_b], rows[te_b]))
        test_bins.append(te_b)
    try:
        preds = _mapping_module().cross_predict_masked(
            mapping, cache, np.where(valid, Y, 0.0)[bins], valid[bins], cv_splits)
    except (np.linalg.LinAlgError, ValueError):
        return None
    if preds is None:
        return None
    return {s: (P, te_b) for s, P, te_b in zip(needed, preds, test_bins, strict=True)}


def _check_target_params(target_params, n_cells: int) -> dict[str, np.ndarray]:
    if not target_params:
        return {}
    out = {}
    for name, values in target_params.items():
        values = np.asarray(values)
        if values.shape != (n_cells,):
            raise ConfigError(f"target_params[{name!r}] has shape {values.shape}; expected "
                              f"one value per target cell ({n_cells},)")
        out[str(name)] = values
    return out


def predictivity(source, target, mapping, splits, *, shape=None,
                 min_train: int = MIN_TRAIN_BINS, target_params=None) -> np.ndarray:
    """Per split and cell Pearson r, shape (n_splits, n_cells); see
    :func:`predictivity_details` for the parameters and for how undefined values arise."""
    return predictivity_details(source, target, mapping, splits, shape=shape,
                                min_train=min_train, target_params=target_params).r


def _check_model_maps(model_maps: xr.DataArray, name: str) -> xr.DataArray:
    if not isinstance(model_maps, xr.DataArray):
        raise ModelError(f"{name} must be an xarray.DataArray (x, y, neuroid); got "
                         f"{type(model_maps).__name__}")
    try:
        model_maps = validate_rate_maps(model_maps, name)
    except DataError as err:
        raise ModelError(str(err)) from None
    values = np.asarray(model_maps.values)
    if not np.isfinite(values).all():
        bad = ~np.isfinite(values).all(axis=(0, 1))
        ids = model_maps["neuroid_id"].values[bad][:5].tolist()
        raise ModelError(
            f"{name} has non-finite values in {int(bad.sum())} units (e.g. {ids}); model "
            "features must be finite in every bin"
        )
    return model_maps


def result_to_dataarray(res: PredictivityResult, neural: xr.DataArray, attrs: dict | None = None
                        ) -> xr.DataArray:
    """Package a result over all neuroids of ``neural`` as a DataArray (neuroid, split)."""
    coords = {k: v for k, v in neural.coords.items() if v.dims == ("neuroid",)}
    da = xr.DataArray(
        # C order, as a join of parts (merge_neuroid_parts) has it: reductions over splits
        # then round alike whichever way a result was computed
        np.ascontiguousarray(res.r.T),
        dims=("neuroid", "split"),
        coords={**coords, "split": np.arange(res.r.shape[0]),
                "n_train": (("neuroid", "split"), res.n_train.T),
                "n_test": (("neuroid", "split"), res.n_test.T),
                "undefined_reason": (("neuroid", "split"),
                                     np.asarray(REASONS, dtype=str)[res.reason.T])},
        name="r",
        attrs={**{f"n_{k}": v for k, v in res.counts().items()}, **(attrs or {})},
    )
    if res.extra.get("fit_errors"):
        da.attrs["fit_errors"] = "; ".join(res.extra["fit_errors"])
    return da


def merge_neuroid_parts(parts: Sequence[xr.DataArray], neural: xr.DataArray) -> xr.DataArray:
    """Join per-(cell, split) results computed on disjoint subsets of ``neural``'s cells
    (e.g. one animal each) into the result over all of them, in ``neural``'s neuroid order.

    Each part is what :func:`score_rate_maps` or
    :func:`mecbench.ceiling.interanimal_consistency` returns for its cells; the undefined
    counts (``n_*`` attributes) are summed, ``fit_errors`` joined, and the other attributes
    must agree. The result is the one a single call over all cells gives when every part was
    computed the same way as in that call (one animal's fit does not depend on the others').

    Raises
    ------
    DataError
        When the parts do not cover every cell of ``neural`` exactly once or disagree on
        their attributes.
    """
    ids = neural["neuroid_id"].values.astype(str)
    joined = xr.concat(list(parts), dim="neuroid", combine_attrs="drop")
    got = joined["neuroid_id"].values.astype(str)
    where = {name: k for k, name in enumerate(got)}
    if len(where) != len(got) or sorted(where) != sorted(ids):
        raise DataError(f"the parts cover {len(got)} neuroids ({len(where)} distinct); "
                        f"expected each of the {len(ids)} neuroids of the data once")
    merged = joined.isel(neuroid=[where[name] for name in ids])
    merged = merged.copy(data=np.ascontiguousarray(merged.values))
    attrs: dict = {}
    errors: list[str] = []
    for part in parts:
        for key, value in part.attrs.items():
            if key == "fit_errors":
                errors.append(str(value))
            elif key.startswith("n_") and isinstance(value, int | np.integer):
                attrs[key] = int(attrs.get(key, 0)) + int(value)
            elif key in attrs and attrs[key] != value:
                raise DataError(f"the parts disagree on {key!r}: {attrs[key]!r} and {value!r}")
            else:
                attrs[key] = value
    if errors:
        attrs["fit_errors"] = "; ".join(errors)
    merged.attrs = attrs
    return merged


def combine_results(results: list[tuple[np.ndarray, PredictivityResult]], n_cells: int,
                    n_splits: int) -> PredictivityResult:
    """Assemble results computed on column subsets into one over ``n_cells`` columns."""
    out = PredictivityResult(np.full((n_splits, n_cells), np.nan),
                             np.zeros((n_splits, n_cells), dtype=np.int64),
                             np.zeros((n_splits, n_cells), dtype=np.int64),
                             np.zeros((n_splits, n_cells), dtype=np.uint8), 0)
    for idx, res in results:
        out.r[:, idx] = res.r
        out.n_train[:, idx] = res.n_train
        out.n_test[:, idx] = res.n_test
        out.reason[:, idx] = res.reason
        out.n_groups += res.n_groups
        if res.extra.get("fit_errors"):
            out.extra.setdefault("fit_errors", []).extend(res.extra["fit_errors"])
    return out


def score_rate_maps(
    model_maps: xr.DataArray,
    neural: xr.DataArray,
    mapping,
    splits: SplitScheme | Sequence[Split],
    *,
    per_animal: bool = True,
    cache=None,
    target_params: Mapping[str, np.ndarray] | None = None,
) -> xr.DataArray:
    """Score model rate maps against recorded rate maps on the same arena.

    Parameters
    ----------
    model_maps : DataArray (x, y, unit)
        Model features; must be finite everywhere (:class:`ModelError` otherwise).
    neural : DataArray (x, y, neuroid)
        Recorded rate maps with an ``animal`` coordinate; NaN in unvisited bins.
    mapping : mapping estimator or name
    splits : SplitScheme or list of (train, test)
    per_animal : bool
        Fit the mapping separately per animal, each animal's cells forming one multi-output
        target (as Nayebi et al. 2021 do; it matters for PLS). Otherwise all cells at once.
    cache : mecbench.mapping.FeatureCache, optional
        A cache of ``model_maps``'s flat values, to reuse across calls; built here otherwise.
        One cache serves every animal.
    target_params : dict of str to array (n_neuroid,), optional
        Per-cell hyper-parameters in the neuroid order of ``neural`` (e.g. ElasticNet
        ``alpha`` and ``l1_ratio``), see :func:`predictivity_details`.

    Returns
    -------
    DataArray (neuroid, split)
        Pearson r, with the neuroid coordinates of ``neural`` and, as coordinates, ``n_train``,
        ``n_test`` and ``undefined_reason`` per (neuroid, split); counts in ``attrs``.
    """
    model_maps = _check_model_maps(model_maps, "model rate maps")
    neural = validate_rate_maps(neural, "neural rate maps")
    check_same_grid(model_maps, neural, ("model rate maps", "neural rate maps"))
    shape = (neural.sizes["x"], neural.sizes["y"])
    split_list = resolve_splits(splits, shape)
    if cache is None:
        cache = _mapping_module().FeatureCache(flat_values(model_maps))
    elif _cache_rows(cache) != shape[0] * shape[1]:
        raise DataError(f"the feature cache has {_cache_rows(cache)} bins; the grid has "
                        f"{shape[0] * shape[1]}")
    Y = flat_values(neural)
    params = _check_target_params(target_params, Y.shape[1])
    animals = neural["animal"].values.astype(str)
    mapping = _as_mapping(mapping)
    # a mapping with a masked path fits every target on its own: grouping by animal changes
    # nothing but the number of passes, so all cells go through one pass
    separable = getattr(mapping, "_cross_predict_masked", None) is not None and not params
    groups = ([np.flatnonzero(animals == a) for a in sorted(set(animals.tolist()))]
              if per_animal and not separable else [np.arange(Y.shape[1])])
    parts = []
    for idx in groups:
        sub = {k: v[idx] for k, v in params.items()} or None
        parts.append((idx, predictivity_details(cache, Y[:, idx], mapping, split_list,
                                                target_params=sub)))
    res = combine_results(parts, Y.shape[1], len(split_list))
    attrs = {"splits": splits.identifier if isinstance(splits, SplitScheme) else "explicit",
             "per_animal": int(per_animal)}
    return result_to_dataarray(res, neural, attrs)

