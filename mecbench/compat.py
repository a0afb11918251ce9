"""Drop-in ``get_fits`` / ``unit_concat`` with the API of Nayebi et al. (2021).

``get_fits`` takes the reference data dict ``dataset[arena_size][animal] = {"resp", "cell_ids"}``
and returns ``results[arena_size][animal]["corr"]``: a per-cell :class:`xarray.DataArray` (dim
``units``, coordinate = cell ids) holding the mean over splits of the Pearson r on the test bins.
Scores go through :func:`mecbench.predictivity.predictivity_details`, the path every mecbench
benchmark uses. With a model, one feature cache per arena serves every animal, and the cells
of all animals whose mapping fits each cell on its own (ridge with one penalty, one-to-one) go
through one pass: one factorisation or correlation product per split, each animal's unvisited
bins handled by an exact downdate (in ``pairwise`` mode, one pass per source animal).

Arguments mean what they mean in the reference code:

- ``train_frac=0.2`` trains on 20 % of the bins (:mod:`mecbench.splits`); a string names a
  structured split (``topbottom``, ``leftright``, ``diag1``, ``diag2``, ``quad``).
- ``map_type="sklinear"`` with ``map_kwargs={"regression_type": "Ridge",
  "regression_kwargs": {"alpha": 1}}`` (the defaults) fits any ``sklearn.linear_model`` class by
  name; Ridge, Lasso and ElasticNet run on mecbench's fast solvers, other classes through
  scikit-learn itself.
- ``map_type="pls"`` with ``map_kwargs={"n_components": k}`` (required; ``scale=False``
  by default) fits PLS jointly on an animal's cells.
- ``map_type="corr"``: one-to-one, the training-bin best-correlated source unit.
- ``map_kwargs_per_cell = {cell_id: {"map_kwargs": {...}, "train_frac": optional}}`` gives
  each cell its own mapping (e.g. per-cell ElasticNet ``alpha``/``l1_ratio``; cells sharing a
  regression type are fitted together by the vectorised solver). ElasticNet and Lasso are
  solved to convergence (``tol`` at most 1e-7, at least 20000 iterations), not stopped at
  scikit-learn's looser defaults.
- ``model_resp``: the model's binned responses, ``(x_bins, y_bins, units)`` or
  ``(bins, units)``, as a dict keyed by arena size (or a bare array when one arena is scored).
  ``model`` may instead be a :class:`mecbench.providers.base.ResponseProvider`; its rate maps are
  taken on each arena's grid for layer ``model_pred_layer`` with seed ``trajectory_seed``
  (``n_eval_seq`` and ``cfg`` belong to the reference's TensorFlow models and are ignored).

Differences from the reference code (each a defect there; clean data give the same numbers):

- A NaN bin of one cell is dropped for that cell only (there, for every cell of the animal).
- Splits are built on the full grid, then NaN bins removed per cell (there, structured splits
  were built after NaN filtering, with the wrong geometry, and random splits permuted a
  different number of bins).
- Per-cell results in ``holdout`` mode with ``map_kwargs_per_cell`` are kept (there, lost);
  ``pairwise`` mode supports ``map_kwargs_per_cell`` too.
- Several arenas can be scored in one call, also with ``model_resp``.
- Holdout sources are concatenated in sorted animal order (there, Python set order).
- No global random state is touched.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from mecbench.errors import ConfigError, DataError, ModelError, UnknownIdentifierError
from mecbench.predictivity import (
    PredictivityResult,
    PreparedSource,
    combine_results,
    predictivity_details,
    prepare_source,
)
from mecbench.providers.base import ResponseProvider, check_provider_output
from mecbench.ratemaps import Arena, flat_values, parse_arena_key
from mecbench.splits import SplitScheme

__all__ = ["get_fits", "unit_concat", "MAP_TYPES", "make_mapping"]

MAP_TYPES = ("sklinear", "pls", "corr")
_SKLINEAR_KEYS = ("regression_type", "regression_kwargs")
_PLS_KEYS = ("n_components", "scale", "fit_per_target_unit", "verbose")
_CORR_KEYS = ("percentile", "identity", "regression_type", "regression_kwargs")
_FAST_RIDGE_KEYS = {"alpha", "fit_intercept"}
_FAST_ENET_KEYS = {"alpha", "l1_ratio", "fit_intercept", "max_iter", "tol"}
# scikit-learn estimators whose multi-output fit is the same as one fit per target
_SEPARABLE = {"Ridge", "LinearRegression", "ElasticNet", "Lasso"}


# ---------------------------------------------------------------------------------------------
# mappings from the reference's map_type / map_kwargs


def _check_keys(kwargs: Mapping, allowed: Sequence[str], where: str) -> None:
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"{where} must be a dict; got {type(kwargs).__name__}")
    for key in kwargs:
        if key not in allowed:
            raise UnknownIdentifierError(f"key of {where}", str(key), allowed)


def _sklearn_linear_names() -> list[str]:
    import sklearn.linear_model as lm

    return sorted(n for n in lm.__all__ if n[0].isupper())


def _converged(kwargs: dict) -> dict:
    """ElasticNet/Lasso solver settings at least as tight as mecbench's defaults: the
    reference's scores are meant at convergence, and scikit-learn's defaults (tol=1e-4,
    max_iter=1000) often stop before it."""
    from mecbench.mapping import ElasticNet

    defaults = ElasticNet().get_params()
    out = dict(kwargs)
    out["tol"] = min(float(out.get("tol", defaults["tol"])), defaults["tol"])
    out["max_iter"] = max(int(out.get("max_iter", defaults["max_iter"])), defaults["max_iter"])
    return out


def _sklinear(regression_type: str, kwargs: Mapping, where: str):
    from mecbench import mapping as mp

    names = _sklearn_linear_names()
    if regression_type not in names:
        raise UnknownIdentifierError(f"regression_type in {where}", str(regression_type), names)
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"regression_kwargs in {where} must be a dict")
    kwargs = dict(kwargs)
    if regression_type == "Ridge" and set(kwargs) <= _FAST_RIDGE_KEYS:
        return mp.get_mapping("ridge", **kwargs)
    if regression_type in ("ElasticNet", "Lasso") and set(kwargs) <= _FAST_ENET_KEYS:
        kwargs = _converged(kwargs)
        if regression_type == "Lasso":
            kwargs.pop("l1_ratio", None)
            return mp.get_mapping("lasso", **kwargs)
        return mp.get_mapping("enet", **kwargs)
    return mp.get_mapping("sklinear", estimator=regression_type, **kwargs)


def make_mapping(map_type: str, map_kwargs: Mapping | None = None, *, where: str = "map_kwargs"):
    """The mecbench mapping for a reference ``map_type`` and ``map_kwargs``.

    Returns
    -------
    (mapping, per_target) : tuple
        ``per_target`` is True when each target must be fitted alone (PLS with
        ``fit_per_target_unit=True``).
    """
    from mecbench import mapping as mp

    map_kwargs = {} if map_kwargs is None else map_kwargs
    if map_type not in MAP_TYPES:
        raise UnknownIdentifierError("map_type", str(map_type), MAP_TYPES)
    if map_type == "sklinear":
        _check_keys(map_kwargs, _SKLINEAR_KEYS, where)
        return (_sklinear(map_kwargs.get("regression_type", "Ridge"),
                          map_kwargs.get("regression_kwargs", {}), where), False)
    if map_type == "pls":
        _check_keys(map_kwargs, _PLS_KEYS, where)
        if map_kwargs.get("n_components") is None:
            raise ConfigError(f"map_type='pls' needs {where}['n_components'] (e.g. 25)")
        return (mp.get_mapping("pls", n_components=map_kwargs["n_components"],
                               scale=bool(map_kwargs.get("scale", False))),
                bool(map_kwargs.get("fit_per_target_unit", False)))
    _check_keys(map_kwargs, _CORR_KEYS, where)
    if map_kwargs.get("percentile", 100) != 100 or not map_kwargs.get("identity", True):
        raise ConfigError(
            f"map_type='corr' supports the one-to-one map only (percentile=100, identity=True); "
            f"got {dict(map_kwargs)}"
        )
    return mp.get_mapping("one-to-one"), False


# ---------------------------------------------------------------------------------------------
# data


class _Animal:
    __slots__ = ("name", "values", "cell_ids", "shape")

    def __init__(self, name, values: np.ndarray, cell_ids: np.ndarray, shape):
        self.name, self.values, self.cell_ids, self.shape = name, values, cell_ids, shape


def _grid_of(resp: np.ndarray, where: str, shape_2d) -> tuple[np.ndarray, tuple[int, int]]:
    if resp.ndim == 3:
        return resp.reshape(-1, resp.shape[2]), (resp.shape[0], resp.shape[1])
    if resp.ndim == 2:
        n = resp.shape[0]
        if shape_2d is not None:
            shape = (int(shape_2d[0]), int(shape_2d[1]))
            if shape[0] * shape[1] != n:
                raise DataError(f"{where}: shape_2d={tuple(shape_2d)} does not hold {n} bins")
            return resp, shape
        side = int(round(np.sqrt(n)))
        return resp, ((side, side) if side * side == n else (n, 1))
    raise DataError(f"{where} must be (x_bins, y_bins, cells) or (bins, cells); got shape "
                    f"{resp.shape}")


def _read_arena(dataset: Mapping, arena, shape_2d) -> list[_Animal]:
    animals = dataset[arena]
    if not isinstance(animals, Mapping) or not animals:
        raise DataError(f"dataset[{arena!r}] must be a non-empty dict of animals")
    out = []
    for name, entry in animals.items():
        where = f"dataset[{arena!r}][{name!r}]"
        if not isinstance(entry, Mapping) or "resp" not in entry:
            raise DataError(f"{where} must be a dict with 'resp' and 'cell_ids'")
        resp = np.asarray(entry["resp"])
        if not np.issubdtype(resp.dtype, np.number):
            raise DataError(f"{where}['resp'] must hold numbers; got dtype {resp.dtype}")
        values, shape = _grid_of(resp.astype(np.float64), f"{where}['resp']", shape_2d)
        if np.isinf(values).any():
            raise DataError(f"{where}['resp'] contains infinite values")
        ids = entry.get("cell_ids")
        ids = np.arange(values.shape[1]) if ids is None else np.asarray(ids)
        if ids.ndim != 1 or len(ids) != values.shape[1]:
            raise DataError(f"{where}: {len(np.atleast_1d(ids))} cell_ids for "
                            f"{values.shape[1]} cells in 'resp'")
        uniq, counts = np.unique(ids.astype(str), return_counts=True)
        if (counts > 1).any():
            raise DataError(f"{where}: duplicate cell_ids {uniq[counts > 1][:5].tolist()}")
        out.append(_Animal(name, values, ids, shape))
    shapes = {a.values.shape[0] for a in out}
    if len(shapes) > 1:
        detail = ", ".join(f"{a.name!r}: {a.values.shape[0]}" for a in out)
        raise DataError(f"dataset[{arena!r}]: animals have different numbers of bins ({detail})")
    return out


def _model_features(arena, animals: list[_Animal], model, model_resp, n_arenas: int,
                    model_pred_layer: str, trajectory_seed: int) -> np.ndarray:
    n_bins, shape = animals[0].values.shape[0], animals[0].shape
    where = f"model_resp[{arena!r}]"
    if model_resp is not None:
        if isinstance(model_resp, Mapping):
            if arena not in model_resp:
                raise UnknownIdentifierError("arena size in model_resp", str(arena),
                                             [str(k) for k in model_resp])
            resp = model_resp[arena]
        else:
            if n_arenas != 1:
                raise ConfigError("model_resp is a single array but several arenas are scored; "
                                  "pass a dict keyed by arena size")
            resp, where = model_resp, "model_resp"
        resp = np.asarray(resp)
        if not np.issubdtype(resp.dtype, np.number):
            raise ModelError(f"{where} must hold numbers; got dtype {resp.dtype}")
        if resp.ndim == 3:
            if shape[1] != 1 and resp.shape[:2] != tuple(shape):
                raise DataError(f"{where} has a {resp.shape[0]}x{resp.shape[1]} grid; the data "
                                f"of arena {arena!r} have {shape[0]}x{shape[1]}")
            resp = resp.reshape(-1, resp.shape[2])
        elif resp.ndim != 2:
            raise ModelError(f"{where} must be (x_bins, y_bins, units) or (bins, units); got "
                             f"shape {resp.shape}")
    else:
        if not isinstance(model, ResponseProvider):
            raise ConfigError(
                "model must be a mecbench ResponseProvider (the reference's TensorFlow models "
                "are not supported); or pass the binned responses as model_resp"
            )
        if shape[1] == 1:
            raise DataError(f"arena {arena!r}: give 'resp' as (x_bins, y_bins, cells) to score "
                            "a model provider")
        width, height = parse_arena_key(arena)
        spec = Arena(width, height, width / shape[0])
        if spec.shape != tuple(shape):
            raise DataError(f"arena {arena!r}: a {width}x{height} m box with "
                            f"{spec.bin_size} m bins is {spec.shape}, the data are {shape}")
        maps = model.rate_maps(spec, model_pred_layer, seed=trajectory_seed)
        resp = flat_values(check_provider_output(model, spec, model_pred_layer, maps))
        where = f"model {model.identifier!r} layer {model_pred_layer!r}"
    resp = resp.astype(np.float64, copy=False)
    if resp.shape[0] != n_bins:
        raise DataError(f"{where} has {resp.shape[0]} bins; the data of arena {arena!r} have "
                        f"{n_bins}")
    if resp.shape[1] == 0:
        raise ModelError(f"{where} has no units")
    if not np.isfinite(resp).all():
        n_bad = int((~np.isfinite(resp)).any(axis=0).sum())
        raise ModelError(f"{where} has non-finite values in {n_bad} units; model features "
                         "must be finite in every bin")
    return resp


# ---------------------------------------------------------------------------------------------
# scoring one target animal


def _per_cell_spec(map_kwargs_per_cell: Mapping, cell_id, map_type: str, train_frac):
    key = cell_id
    if key not in map_kwargs_per_cell:
        key = str(cell_id) if str(cell_id) in map_kwargs_per_cell else None
    if key is None:
        close = difflib.get_close_matches(str(cell_id), [str(k) for k in map_kwargs_per_cell],
                                          n=3)
        raise ConfigError(f"map_kwargs_per_cell has no entry for cell {cell_id!r}"
                          + (f" (closest: {close})" if close else ""))
    entry = map_kwargs_per_cell[key]
    if not isinstance(entry, Mapping) or "map_kwargs" not in entry:
        raise ConfigError(f"map_kwargs_per_cell[{cell_id!r}] must be a dict with 'map_kwargs' "
                          "(and optionally 'train_frac')")
    return entry["map_kwargs"], entry.get("train_frac", train_frac)


def _freeze(value) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return tuple(value.ravel().tolist())
    return value


def _plan(cell_ids: np.ndarray, map_type: str, map_kwargs, map_kwargs_per_cell, train_frac,
          n_splits: int, seed: int) -> list[tuple]:
    """Groups of cells fitted together: (column indices, mapping, per_target, splits,
    per-target parameters or None)."""
    if map_kwargs_per_cell is None:
        mapping, per_target = make_mapping(map_type, map_kwargs)
        return [(np.arange(len(cell_ids)), mapping, per_target,
                 SplitScheme.from_train_frac(train_frac, n_splits, seed), None)]
    if not isinstance(map_kwargs_per_cell, Mapping):
        raise ConfigError("map_kwargs_per_cell must be a dict keyed by cell id")
    groups: dict[Any, list[int]] = {}
    specs: dict[Any, tuple] = {}
    vector: dict[Any, list[dict]] = {}
    for i, cid in enumerate(cell_ids):
        kw, tf = _per_cell_spec(map_kwargs_per_cell, cid, map_type, train_frac)
        where = f"map_kwargs_per_cell[{cid!r}]['map_kwargs']"
        reg = kw.get("regression_type", "Ridge") if isinstance(kw, Mapping) else None
        rkw = dict(kw.get("regression_kwargs", {})) if isinstance(kw, Mapping) else {}
        if map_type == "sklinear" and reg in ("ElasticNet", "Lasso") \
                and set(rkw) <= _FAST_ENET_KEYS:
            _check_keys(kw, _SKLINEAR_KEYS, where)
            shared = {k: v for k, v in rkw.items() if k not in ("alpha", "l1_ratio")}
            key = ("vector", reg, _freeze(shared), _freeze(tf))
            groups.setdefault(key, []).append(i)
            vector.setdefault(key, []).append(rkw)
            specs[key] = (reg, shared, tf, where)
        else:
            separable = map_type == "sklinear" and reg in _SEPARABLE
            key = ("same", _freeze(kw), _freeze(tf)) if separable else ("alone", i)
            groups.setdefault(key, []).append(i)
            specs[key] = (kw, tf, where)
    plan = []
    for key, cols in groups.items():
        if key[0] == "vector":
            reg, shared, tf, where = specs[key]
            defaults = {"alpha": 1.0, "l1_ratio": 1.0 if reg == "Lasso" else 0.5}
            params = {name: np.array([float(kw.get(name, defaults[name])) for kw in vector[key]])
                      for name in ("alpha", "l1_ratio")}
            if reg == "Lasso":
                params["l1_ratio"][:] = 1.0
            from mecbench import mapping as mp

            mapping = mp.get_mapping("enet", **_converged(shared))
            plan.append((np.array(cols), mapping, False,
                         SplitScheme.from_train_frac(tf, n_splits, seed), params))
        else:
            kw, tf, where = specs[key]
            mapping, per_target = make_mapping(map_type, kw, where=where)
            plan.append((np.array(cols), mapping, per_target,
                         SplitScheme.from_train_frac(tf, n_splits, seed), None))
    return plan


def _merge_key(mapping, per_target: bool, scheme: SplitScheme, params, shape) -> tuple | None:
    """Key under which cells of several animals can share one scoring pass, or None.

    A mapping with a masked path (:mod:`mecbench.mapping.masked`) fits every target on its
    own, so the cells of all animals go into one pass per split (one factorisation, each
    animal's unvisited bins handled by an exact downdate), as
    :func:`mecbench.predictivity.score_rate_maps` does. Joint fits (PLS) and per-cell parameters
    stay per animal.
    """
    if params is not None or per_target or getattr(mapping, "_cross_predict_masked",
                                                   None) is None:
        return None
    return (type(mapping), _freeze(mapping.get_params()), scheme, tuple(shape))


def _slice_result(res: PredictivityResult, cols: slice) -> PredictivityResult:
    return PredictivityResult(res.r[:, cols], res.n_train[:, cols], res.n_test[:, cols],
                              res.reason[:, cols], n_groups=res.n_groups, extra=res.extra)


def _score_targets(source: PreparedSource, targets: list[_Animal], plans: Mapping
                   ) -> dict[Any, PredictivityResult]:
    """Score every animal of ``targets`` from one prepared source.

    Groups of cells whose mapping fits each target on its own are scored together across
    animals (see :func:`_merge_key`); the others animal by animal."""
    parts: dict[Any, list] = {t.name: [] for t in targets}
    n_splits: dict[Any, int] = {}
    merged: dict[tuple, list] = {}
    for target in targets:
        for cols, mapping, per_target, scheme, params in plans[target.name]:
            if scheme.kind != "random" and target.shape[1] == 1:
                raise ConfigError(f"train_frac={scheme.kind!r} needs the grid shape: give "
                                  "'resp' as (x_bins, y_bins, cells), or pass shape_2d")
            splits = scheme.splits(target.shape)
            if n_splits.setdefault(target.name, len(splits)) != len(splits):
                raise ConfigError("per-cell train_frac values give different numbers of "
                                  "splits; use one kind of split for every cell")
            key = _merge_key(mapping, per_target, scheme, params, target.shape)
            if key is not None:
                merged.setdefault(key, []).append((target, cols, mapping, splits))
                continue
            sets = ([np.array([k]) for k in range(len(cols))] if per_target
                    else [np.arange(len(cols))])
            for k in sets:
                sub = None if params is None else {n: v[k] for n, v in params.items()}
                parts[target.name].append((cols[k], predictivity_details(
                    source, target.values[:, cols[k]], mapping, splits, target_params=sub)))
    for members in merged.values():
        _, _, mapping, splits = members[0]
        Y = np.concatenate([t.values[:, cols] for t, cols, _, _ in members], axis=1)
        res = predictivity_details(source, Y, mapping, splits)
        start = 0
        for target, cols, _, _ in members:
            parts[target.name].append((cols, _slice_result(res, slice(start,
                                                                     start + len(cols)))))
            start += len(cols)
    return {t.name: combine_results(parts[t.name], t.values.shape[1], n_splits[t.name])
            for t in targets}


def _package(mean: np.ndarray, target: _Animal, res_list: list[PredictivityResult]
             ) -> xr.DataArray:
    counts: dict[str, int] = {}
    for res in res_list:
        for k, v in res.counts().items():
            counts[k] = counts.get(k, 0) + v
    return xr.DataArray(mean, coords={"units": target.cell_ids}, dims=["units"],
                        attrs={f"n_{k}": v for k, v in counts.items()})


def _split_mean(r: np.ndarray) -> np.ndarray:
    count = np.isfinite(r).sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, np.nansum(r, axis=0) / np.maximum(count, 1), np.nan)


def _check_fit_args(dataset: Mapping, arena_sizes: Sequence | None, map_type: str,
                    train_frac: float | str, num_train_test_splits: int, split_start_seed: int,
                    interanimal_mode: str, bin_kwargs: Mapping) -> list:
    """The arena sizes to score, after checking :func:`get_fits`'s arguments."""
    if bin_kwargs:
        raise ConfigError(
            f"unsupported arguments {sorted(bin_kwargs)}: binning options belong to the "
            "reference's TensorFlow models; pass binned model_resp or a ResponseProvider"
        )
    if not isinstance(dataset, Mapping) or not dataset:
        raise DataError("dataset must be a non-empty dict keyed by arena size")
    if interanimal_mode not in ("holdout", "pairwise"):
        raise UnknownIdentifierError("interanimal_mode", str(interanimal_mode),
                                     ("holdout", "pairwise"))
    if map_type not in MAP_TYPES:
        raise UnknownIdentifierError("map_type", str(map_type), MAP_TYPES)
    if not isinstance(train_frac, str) and train_frac == 0:
        raise ConfigError("train_frac=0 (no training bins) needs a parameter-free map; "
                          "sklinear, pls and corr all learn from training bins")
    SplitScheme.from_train_frac(train_frac, num_train_test_splits, split_start_seed)
    arenas = list(dataset.keys()) if arena_sizes is None else list(arena_sizes)
    for arena in arenas:
        if arena not in dataset:
            raise UnknownIdentifierError("arena size", str(arena), [str(k) for k in dataset])
    return arenas


def _model_fits(X: np.ndarray, animals: list[_Animal], plans: Mapping) -> dict:
    """``{animal: {"corr": ...}}`` of one arena, every animal's cells fitted from features X."""
    # one feature cache per arena (X is finite: checked above), and one pass for the
    # cells of every animal
    from mecbench.mapping import FeatureCache

    scored = _score_targets(prepare_source(FeatureCache(X)), animals, plans)
    out = {}
    for target in animals:
        res = scored[target.name]
        out[target.name] = {"corr": _package(_split_mean(res.r), target, [res])}
    return out


def _interanimal_fits(animals: list[_Animal], plans: Mapping, interanimal_mode: str) -> dict:
    """``{animal: {"corr": ...}}`` of one arena, each animal fitted from the others."""
    out: dict = {}
    if len(animals) < 2:
        return out
    by_name = {a.name: a for a in animals}
    order = sorted(by_name, key=str)
    sources: dict[tuple, PreparedSource] = {}

    def source_of(names: tuple) -> PreparedSource:
        if names not in sources:
            sources[names] = prepare_source(
                np.concatenate([by_name[n].values for n in names], axis=1))
        return sources[names]

    if interanimal_mode == "pairwise":
        # each source animal scores every other animal in one pass
        from_source = {src: _score_targets(source_of((src,)),
                                           [a for a in animals if a.name != src], plans)
                       for src in order}
    for target in animals:
        others = tuple(n for n in order if n != target.name)
        if interanimal_mode == "holdout":
            res = _score_targets(source_of(others), [target], plans)[target.name]
            mean, used = _split_mean(res.r), [res]
        else:
            used = [from_source[src][target.name] for src in others]
            # the reference's order: mean over splits per source, then over sources
            per_source = np.stack([_split_mean(res.r) for res in used])
            mean = _split_mean(per_source)
        out[target.name] = {"corr": _package(mean, target, used)}
    return out


# ---------------------------------------------------------------------------------------------
# public API


def get_fits(
    dataset: Mapping,
    model=None,
    model_resp=None,
    cfg=None,
    arena_sizes: Sequence | None = None,
    map_type: str = "sklinear",
    map_kwargs: Mapping | None = None,
    train_frac: float | str = 0.2,
    num_train_test_splits: int = 10,
    split_start_seed: int = 0,
    n_eval_seq: int = 100,
    interanimal_mode: str = "holdout",
    trajectory_seed: int = 0,
    model_pred_layer: str = "g",
    map_kwargs_per_cell: Mapping | None = None,
    shape_2d: Sequence[int] | None = None,
    **bin_kwargs,
) -> dict:
    """Inter-animal consistency (no model) or model-to-animal fits, as Nayebi et al. (2021).

    Parameters
    ----------
    dataset : dict
        ``dataset[arena_size][animal] = {"resp": (x, y, cells) or (bins, cells),
        "cell_ids": (cells,)}``; NaN marks unvisited bins.
    model : ResponseProvider, optional
        A mecbench model; its layer ``model_pred_layer`` is scored.
    model_resp : dict or ndarray, optional
        Model responses per arena size, ``(x, y, units)`` or ``(bins, units)``.
    cfg, n_eval_seq
        Accepted for compatibility; unused.
    arena_sizes : list, optional
        Keys of ``dataset`` to score (default: all).
    map_type : {"sklinear", "pls", "corr"}
    map_kwargs : dict
        See the module docstring.
    train_frac : float or str
        Fraction of bins that train, or a structured split name.
    num_train_test_splits, split_start_seed : int
        Split ``s`` permutes the bins with ``RandomState(split_start_seed + s)``.
    interanimal_mode : {"holdout", "pairwise"}
    trajectory_seed : int
        Seed passed to a ``model`` provider.
    model_pred_layer : str
        Layer of ``model``.
    map_kwargs_per_cell : dict, optional
        ``{cell_id: {"map_kwargs": {...}, "train_frac": ...}}``.
    shape_2d : (int, int), optional
        Grid shape for 2-D ``resp`` that is not square (structured splits only).
    **bin_kwargs
        The reference's binning options for its TensorFlow models: rejected with a
        :class:`ConfigError`.

    Returns
    -------
    dict
        ``results[arena_size][animal]["corr"]``: DataArray (units) of per-cell mean-over-splits
        r. Its ``attrs`` count the undefined (split, cell) entries (``n_undefined``, per reason).
        In inter-animal mode an arena with one animal maps to an empty dict.
    """
    del cfg, n_eval_seq  # the reference's TensorFlow-model arguments
    arenas = _check_fit_args(dataset, arena_sizes, map_type, train_frac, num_train_test_splits,
                             split_start_seed, interanimal_mode, bin_kwargs)
    with_model = model is not None or model_resp is not None
    results: dict = {}
    for arena in arenas:
        animals = _read_arena(dataset, arena, shape_2d)
        plans = {a.name: _plan(a.cell_ids, map_type, map_kwargs, map_kwargs_per_cell,
                               train_frac, num_train_test_splits, split_start_seed)
                 for a in animals}
        if with_model:
            X = _model_features(arena, animals, model, model_resp, len(arenas),
                                model_pred_layer, trajectory_seed)
            results[arena] = _model_fits(X, animals, plans)
        else:
            results[arena] = _interanimal_fits(animals, plans, interanimal_mode)
    return results


def unit_concat(results: Mapping, arena_size, inner_key: str | None = "corr") -> xr.DataArray:
    """Concatenate the per-cell results of every animal of one arena along ``units``.

    ``inner_key=None`` concatenates ``results[arena_size][animal]`` directly (e.g. grid scores).
    Animals without ``inner_key`` are skipped.
    """
    if arena_size not in results:
        raise UnknownIdentifierError("arena size", str(arena_size), [str(k) for k in results])
    per_animal = results[arena_size]
    if inner_key is None:
        parts = [per_animal[a] for a in per_animal]
    else:
        parts = [per_animal[a][inner_key] for a in per_animal if inner_key in per_animal[a]]
    if not parts:
        raise DataError(f"no result with key {inner_key!r} for arena {arena_size!r}")
    return xr.concat(parts, dim="units")
