"""get_fits / unit_concat against an independent, straightforward re-computation.

The re-computation below uses plain scikit-learn estimators (Ridge, PLSRegression, ElasticNet),
a numpy argmax-correlation loop and scipy.stats.pearsonr, one split and one cell at a time,
with the documented semantics: splits on the full grid, then per cell the bins where the cell
and every source feature are finite.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import ElasticNet, Ridge

from mecbench.compat import get_fits, unit_concat
from mecbench.errors import ConfigError, DataError, ModelError, UnknownIdentifierError

# scikit-learn's NIPALS stops its power iterations at tol=1e-6 (predictions then differ from the
# exact PLS solution by ~1e-5 relative); iterate it to convergence for an exact reference
_PLS_EXACT = {"tol": 1e-14, "max_iter": 100_000}
NX = NY = 10
N_BINS = NX * NY
TOL = 1e-6


# ------------------------------------------------------------------------------------------
# data


def _dataset(seed=0, nan=True, n_animals=3, n_cells=5):
    rng = np.random.default_rng(seed)
    xx, yy = np.meshgrid(np.linspace(-1, 1, NX), np.linspace(-1, 1, NY), indexing="ij")
    basis = np.stack([np.cos(k * xx + m * yy + ph) for k, m, ph in
                      rng.uniform(0.5, 4, size=(12, 3))], axis=-1)
    data = {}
    for a in range(n_animals):
        w = rng.normal(size=(basis.shape[-1], n_cells))
        resp = basis @ w + 0.7 * rng.normal(size=(NX, NY, n_cells))
        resp = np.maximum(resp + 3.0, 0.0)
        if nan:
            # unvisited bins shared by the animal, plus a few cell-specific ones
            resp[rng.integers(0, NX, 3 + a), rng.integers(0, NY, 3 + a), :] = np.nan
            resp[rng.integers(0, NX, 2), rng.integers(0, NY, 2), a % n_cells] = np.nan
            resp[0, a, (a + 2) % n_cells] = np.nan
        data[f"animal{2 - a}"] = {"resp": resp,
                                  "cell_ids": np.array([f"a{a}c{c}" for c in range(n_cells)])}
    model = np.maximum(basis @ rng.normal(size=(12, 30)), 0) + 0.1 * rng.normal(size=(NX, NY, 30))
    return {2.2: data}, model


def _random_splits(train_frac=0.2, n=10, seed=0):
    out = []
    n_train = int(np.ceil(train_frac * N_BINS))
    for s in range(n):
        perm = np.random.RandomState(seed + s).permutation(N_BINS)
        out.append((perm[:n_train], perm[n_train:]))
    return out


# ------------------------------------------------------------------------------------------
# independent re-computation


def _pearson(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return stats.pearsonr(a, b)[0]


def _one_to_one(Xtr, ytr, Xte):
    best, best_r = Xtr.shape[1] - 1, -np.inf
    for j in range(Xtr.shape[1]):
        r = _pearson(Xtr[:, j], ytr)
        if np.isfinite(r) and r > best_r:
            best, best_r = j, r
    return Xte[:, best]


def _hand_scores(X, Y, splits, kind, params=None):
    """Per cell, mean over splits of r. X (bins, p) may hold NaN rows; Y (bins, t)."""
    src_ok = np.isfinite(X).all(axis=1)
    valid = np.isfinite(Y) & src_ok[:, None]
    t = Y.shape[1]
    r = np.full((len(splits), t), np.nan)
    if kind == "pls":
        # PLS is fitted jointly on the cells sharing a valid-bin mask
        groups = {}
        for c in range(t):
            groups.setdefault(valid[:, c].tobytes(), []).append(c)
        for cols in groups.values():
            v = valid[:, cols[0]]
            for s, (tr, te) in enumerate(splits):
                tr, te = tr[v[tr]], te[v[te]]
                pls = PLSRegression(n_components=params, scale=False, **_PLS_EXACT)
                pls.fit(X[tr], Y[np.ix_(tr, cols)])
                pred = pls.predict(X[te]).reshape(len(te), len(cols))
                for k, c in enumerate(cols):
                    r[s, c] = _pearson(pred[:, k], Y[te, c])
    else:
        for c in range(t):
            v = valid[:, c]
            for s, (tr, te) in enumerate(splits):
                tr, te = tr[v[tr]], te[v[te]]
                if kind == "ridge":
                    pred = Ridge(alpha=params).fit(X[tr], Y[tr, c]).predict(X[te])
                elif kind == "enet":
                    a, l1 = params[c]
                    pred = ElasticNet(alpha=a, l1_ratio=l1, tol=1e-10, max_iter=200000).fit(
                        X[tr], Y[tr, c]).predict(X[te])
                else:
                    pred = _one_to_one(X[tr], Y[tr, c], X[te])
                r[s, c] = _pearson(pred, Y[te, c])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanmean(r, axis=0)


def _flat(resp):
    return resp.reshape(-1, resp.shape[-1])


MAPS = [("sklinear", {}, "ridge", 1.0),
        ("sklinear", {"regression_type": "Ridge", "regression_kwargs": {"alpha": 10.0}},
         "ridge", 10.0),
        ("pls", {"n_components": 3}, "pls", 3),
        ("corr", {}, "corr", None)]


@pytest.mark.parametrize("map_type,map_kwargs,kind,params", MAPS)
@pytest.mark.parametrize("mode", ["holdout", "pairwise"])
def test_interanimal_matches_hand_recomputation(map_type, map_kwargs, kind, params, mode):
    dataset, _ = _dataset()
    results = get_fits(dataset, arena_sizes=[2.2], map_type=map_type, map_kwargs=map_kwargs,
                       train_frac=0.2, num_train_test_splits=4, interanimal_mode=mode)
    animals = dataset[2.2]
    names = sorted(animals)
    splits = _random_splits(0.2, 4)
    assert list(results[2.2]) == list(animals)  # the dataset's order
    for target in animals:
        Y = _flat(animals[target]["resp"])
        others = [n for n in names if n != target]
        if mode == "holdout":
            X = np.concatenate([_flat(animals[n]["resp"]) for n in others], axis=1)
            expected = _hand_scores(X, Y, splits, kind, params)
        else:
            expected = np.nanmean([_hand_scores(_flat(animals[n]["resp"]), Y, splits, kind,
                                                params) for n in others], axis=0)
        got = results[2.2][target]["corr"]
        assert got.dims == ("units",)
        np.testing.assert_array_equal(got["units"].values, animals[target]["cell_ids"])
        np.testing.assert_allclose(got.values, expected, rtol=TOL, atol=TOL)
    assert np.isfinite(unit_concat(results, 2.2).values).all()


@pytest.mark.parametrize("map_type,map_kwargs,kind,params", MAPS)
def test_model_path_matches_hand_recomputation(map_type, map_kwargs, kind, params):
    dataset, model = _dataset(seed=1)
    results = get_fits(dataset, model_resp={2.2: model}, map_type=map_type,
                       map_kwargs=map_kwargs, train_frac=0.3, num_train_test_splits=3,
                       split_start_seed=5)
    splits = _random_splits(0.3, 3, seed=5)
    for target, entry in dataset[2.2].items():
        expected = _hand_scores(_flat(model), _flat(entry["resp"]), splits, kind, params)
        np.testing.assert_allclose(results[2.2][target]["corr"].values, expected,
                                   rtol=TOL, atol=TOL)


def test_model_path_bare_array_and_flat_resp():
    dataset, model = _dataset(seed=2, nan=False)
    flat_data = {2.2: {a: {"resp": _flat(e["resp"]), "cell_ids": e["cell_ids"]}
                       for a, e in dataset[2.2].items()}}
    a = get_fits(dataset, model_resp=model, num_train_test_splits=2)
    b = get_fits(flat_data, model_resp=_flat(model), num_train_test_splits=2)
    for animal in dataset[2.2]:
        np.testing.assert_allclose(a[2.2][animal]["corr"], b[2.2][animal]["corr"], rtol=1e-12)


def test_structured_split_uses_full_grid_geometry():
    dataset, model = _dataset(seed=3)
    results = get_fits(dataset, model_resp={2.2: model}, train_frac="quad")
    i, j = np.meshgrid(np.arange(NX), np.arange(NY), indexing="ij")
    quads = [(i < 5) & (j < 5), (i < 5) & (j >= 5), (i >= 5) & (j < 5), (i >= 5) & (j >= 5)]
    splits = [(np.flatnonzero(~q), np.flatnonzero(q)) for q in quads]
    for target, entry in dataset[2.2].items():
        expected = _hand_scores(_flat(model), _flat(entry["resp"]), splits, "ridge", 1.0)
        np.testing.assert_allclose(results[2.2][target]["corr"].values, expected,
                                   rtol=TOL, atol=TOL)


def test_per_cell_elasticnet_matches_per_cell_sklearn():
    dataset, model = _dataset(seed=4, n_animals=2, n_cells=4)
    rng = np.random.default_rng(0)
    per_cell, params = {}, {}
    for entry in dataset[2.2].values():
        for cid in entry["cell_ids"]:
            a, l1 = float(10 ** rng.uniform(-2, 0)), float(rng.uniform(0.1, 0.9))
            params[cid] = (a, l1)
            per_cell[cid] = {"map_kwargs": {"regression_type": "ElasticNet",
                                            "regression_kwargs": {"alpha": a, "l1_ratio": l1,
                                                                  "tol": 1e-10,
                                                                  "max_iter": 200000}}}
    results = get_fits(dataset, model_resp={2.2: model}, map_kwargs_per_cell=per_cell,
                       train_frac=0.5, num_train_test_splits=2)
    splits = _random_splits(0.5, 2)
    for target, entry in dataset[2.2].items():
        cell_params = [params[c] for c in entry["cell_ids"]]
        expected = _hand_scores(_flat(model), _flat(entry["resp"]), splits, "enet", cell_params)
        np.testing.assert_allclose(results[2.2][target]["corr"].values, expected, atol=1e-3)
    # in holdout mode too (the reference lost these results)
    holdout = get_fits(dataset, map_kwargs_per_cell=per_cell, train_frac=0.5,
                       num_train_test_splits=2)
    assert all(np.isfinite(v["corr"].values).all() for v in holdout[2.2].values())


def test_two_arenas_and_unit_concat_order():
    d1, m1 = _dataset(seed=5, nan=False)
    d2, m2 = _dataset(seed=6, nan=False)
    dataset = {1.0: d1[2.2], 2.2: d2[2.2]}
    res = get_fits(dataset, model_resp={1.0: m1, 2.2: m2}, num_train_test_splits=2)
    assert set(res) == {1.0, 2.2}
    inter = get_fits(dataset, num_train_test_splits=2)
    cat = unit_concat(inter, 1.0)
    assert cat.sizes["units"] == 15
    np.testing.assert_array_equal(cat["units"].values,
                                  np.concatenate([e["cell_ids"] for e in d1[2.2].values()]))
    np.testing.assert_array_equal(cat.values[:5], inter[1.0]["animal2"]["corr"].values)


def test_single_animal_arena_gives_empty_interanimal_result():
    dataset, _ = _dataset(n_animals=1)
    assert get_fits(dataset) == {2.2: {}}


def test_holdout_source_order_is_irrelevant_to_dict_order():
    dataset, _ = _dataset(seed=7)
    reordered = {2.2: dict(reversed(list(dataset[2.2].items())))}
    a = get_fits(dataset, num_train_test_splits=2, map_type="corr")
    b = get_fits(reordered, num_train_test_splits=2, map_type="corr")
    for animal in dataset[2.2]:
        np.testing.assert_array_equal(a[2.2][animal]["corr"].values,
                                      b[2.2][animal]["corr"].values)


# ------------------------------------------------------------------------------------------
# bad input


def test_unknown_map_type_suggests_closest():
    dataset, _ = _dataset()
    with pytest.raises(UnknownIdentifierError, match="sklinear"):
        get_fits(dataset, map_type="sklinaer")
    with pytest.raises(UnknownIdentifierError, match="Ridge"):
        get_fits(dataset, map_kwargs={"regression_type": "Rigde"})
    with pytest.raises(UnknownIdentifierError, match="regression_kwargs"):
        get_fits(dataset, map_kwargs={"regression_kwarg": {"alpha": 1}})
    with pytest.raises(UnknownIdentifierError, match="holdout"):
        get_fits(dataset, interanimal_mode="holdot")


def test_bad_parameters():
    dataset, model = _dataset()
    with pytest.raises(ConfigError, match="train_frac"):
        get_fits(dataset, train_frac=1.5)
    with pytest.raises(ConfigError, match="train_frac"):
        get_fits(dataset, train_frac=0)
    with pytest.raises(ConfigError, match="n_components"):
        get_fits(dataset, map_type="pls")
    with pytest.raises(ConfigError, match="a0c0"):
        get_fits(dataset, model_resp=model, map_kwargs_per_cell={"x": {"map_kwargs": {}}})
    with pytest.raises(UnknownIdentifierError, match="2.2"):
        get_fits(dataset, arena_sizes=[2.0])
    with pytest.raises(ConfigError, match="nbins"):
        get_fits(dataset, model_resp=model, nbins=20)


def test_bad_model_features():
    dataset, model = _dataset()
    bad = model.copy()
    bad[3, 4, 7] = np.nan
    with pytest.raises(ModelError, match="non-finite"):
        get_fits(dataset, model_resp={2.2: bad})
    with pytest.raises(DataError, match="grid"):
        get_fits(dataset, model_resp={2.2: model[:, :5]})
    with pytest.raises(DataError, match="bins"):
        get_fits(dataset, model_resp={2.2: _flat(model)[:50]})
    with pytest.raises(ModelError, match="shape"):
        get_fits(dataset, model_resp={2.2: model[..., None]})
    with pytest.raises(ConfigError, match="ResponseProvider"):
        get_fits(dataset, model=object())


def test_bad_data():
    dataset, _ = _dataset()
    entry = dataset[2.2]["animal1"]
    dup = {2.2: {**dataset[2.2], "animal1": {"resp": entry["resp"],
                                             "cell_ids": np.array(["x"] * 5)}}}
    with pytest.raises(DataError, match="duplicate"):
        get_fits(dup)
    short = {2.2: {**dataset[2.2], "animal1": {"resp": entry["resp"][:, :5],
                                               "cell_ids": entry["cell_ids"]}}}
    with pytest.raises(DataError, match="different numbers of bins"):
        get_fits(short)
    wrong = {2.2: {**dataset[2.2], "animal1": {"resp": entry["resp"][None],
                                               "cell_ids": entry["cell_ids"]}}}
    with pytest.raises(DataError, match="shape"):
        get_fits(wrong)
    infs = {2.2: {**dataset[2.2], "animal1": {"resp": np.where(np.isnan(entry["resp"]), np.inf,
                                                               entry["resp"]),
                                              "cell_ids": entry["cell_ids"]}}}
    with pytest.raises(DataError, match="infinite"):
        get_fits(infs)


# ------------------------------------------------------------------------------------------
# the reference algorithm, literally, on clean data; and a ResponseProvider as `model`


def _reference_literal(X, Y, train_frac, n_splits, make):
    """The reference procedure: drop bins non-finite in ANY cell, permute the remaining bins,
    one multi-output fit per split, per-cell scipy r, nanmean over splits."""
    ok = np.isfinite(X).all(axis=1) & np.isfinite(Y).all(axis=1)
    X, Y = X[ok], Y[ok]
    r = []
    for s in range(n_splits):
        perm = np.random.RandomState(s).permutation(X.shape[0])
        n_train = int(np.ceil(train_frac * len(perm)))
        tr, te = perm[:n_train], perm[n_train:]
        pred = make().fit(X[tr], Y[tr]).predict(X[te]).reshape(len(te), -1)
        r.append([_pearson(Y[te, i], pred[:, i]) for i in range(Y.shape[1])])
    return np.nanmean(r, axis=0)


@pytest.mark.parametrize("map_type,map_kwargs,make", [
    ("sklinear", {}, lambda: Ridge(alpha=1.0)),
    ("pls", {"n_components": 4},
     lambda: PLSRegression(n_components=4, scale=False, **_PLS_EXACT)),
])
def test_clean_data_equals_reference_procedure(map_type, map_kwargs, make):
    dataset, model = _dataset(seed=8, nan=False)
    res = get_fits(dataset, map_type=map_type, map_kwargs=map_kwargs, num_train_test_splits=3)
    res_model = get_fits(dataset, model_resp={2.2: model}, map_type=map_type,
                         map_kwargs=map_kwargs, num_train_test_splits=3)
    animals = dataset[2.2]
    for target in animals:
        Y = _flat(animals[target]["resp"])
        X = np.concatenate([_flat(animals[n]["resp"]) for n in animals if n != target], axis=1)
        np.testing.assert_allclose(res[2.2][target]["corr"].values,
                                   _reference_literal(X, Y, 0.2, 3, make), rtol=TOL, atol=TOL)
        np.testing.assert_allclose(res_model[2.2][target]["corr"].values,
                                   _reference_literal(_flat(model), Y, 0.2, 3, make),
                                   rtol=TOL, atol=TOL)


class _Provider:
    identifier = "toy"
    layers = ("g", "pre_g")
    default_layer = "g"

    def __init__(self, values):
        self.values = values
        self.calls = []

    def rate_maps(self, arena, layer, *, seed=0):
        from mecbench.ratemaps import make_rate_maps

        self.calls.append((arena.key, arena.shape, layer, seed))
        return make_rate_maps(self.values, arena_width=arena.width, bin_size=arena.bin_size)

    def fingerprint(self):
        return "toy"


def test_response_provider_as_model():
    dataset, model = _dataset(seed=9)
    provider = _Provider(model)
    a = get_fits(dataset, model=provider, model_pred_layer="g", trajectory_seed=3,
                 num_train_test_splits=2)
    b = get_fits(dataset, model_resp={2.2: model}, num_train_test_splits=2)
    assert provider.calls == [("2.2x2.2m", (NX, NY), "g", 3)]
    for animal in dataset[2.2]:
        np.testing.assert_array_equal(a[2.2][animal]["corr"].values,
                                      b[2.2][animal]["corr"].values)
    with pytest.raises(UnknownIdentifierError, match="pre_g"):
        get_fits(dataset, model=provider, model_pred_layer="pre-g")
