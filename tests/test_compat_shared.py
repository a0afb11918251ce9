"""get_fits scores the cells of every animal of an arena in one pass per layer.

Mappings that fit each cell on its own (ridge with one penalty, one-to-one) share one
factorisation / one correlation product per split across animals, each animal's unvisited bins
handled by an exact downdate. The numbers must stay those of a fit per animal on its own
visited bins: checked here against scikit-learn ``Ridge`` fitted per animal (and per NaN
pattern) on the visited training bins, and against a brute-force ``np.corrcoef`` arg-max, with
scipy's Pearson r on the visited test bins, to 1e-10.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg as sla
from scipy import stats
from sklearn.linear_model import Ridge

import mecbench.compat as compat
from mecbench.compat import get_fits

NX, NY = 12, 12
N_BINS = NX * NY
N_FEATURES = 80  # more features than training bins: the kernel (masked) path


def _problem(seed=0, n_animals=4, n_cells=6):
    """Features on a 12x12 grid; per animal its own unvisited bins (shared by its cells) and
    a few cell-specific NaN bins; one animal with no NaN at all."""
    rng = np.random.default_rng(seed)
    xx, yy = np.meshgrid(np.linspace(-1, 1, NX), np.linspace(-1, 1, NY), indexing="ij")
    basis = np.stack([np.cos(k * xx + m * yy + ph)
                      for k, m, ph in rng.uniform(0.5, 4, (N_FEATURES, 3))], axis=-1)
    X = basis + 0.2 * rng.standard_normal(basis.shape)
    data = {}
    for a in range(n_animals):
        w = rng.standard_normal((N_FEATURES, n_cells)) * (rng.random((N_FEATURES, n_cells))
                                                         < 0.2)
        resp = basis @ w + rng.standard_normal((NX, NY, n_cells))
        if a:
            resp[rng.integers(0, NX, 4 * a), rng.integers(0, NY, 4 * a), :] = np.nan
            resp[rng.integers(0, NX, 3), rng.integers(0, NY, 3), a % n_cells] = np.nan
        data[f"rat{a}"] = {"resp": resp,
                           "cell_ids": np.array([f"r{a}c{c}" for c in range(n_cells)])}
    return {2.2: data}, X


def _splits(train_frac, n, seed):
    n_train = int(np.ceil(train_frac * N_BINS))
    out = []
    for s in range(n):
        perm = np.random.RandomState(seed + s).permutation(N_BINS)
        out.append((perm[:n_train], perm[n_train:]))
    return out


def _pearson(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return stats.pearsonr(a, b)[0]


def _best_by_corrcoef(Xtr, ytr):
    """Brute force: every source's Pearson r by np.corrcoef, constant sources excluded,
    ties to the lowest index."""
    r = np.array([np.corrcoef(Xtr[:, j], ytr)[0, 1] if np.ptp(Xtr[:, j]) > 0 else -np.inf
                  for j in range(Xtr.shape[1])])
    return int(np.argmax(r))


def _reference(X, Y, splits, kind, alpha=1.0):
    """Mean over splits of r per cell. Ridge: one multi-output scikit-learn fit per group of
    cells sharing their visited bins (the animal's prep_data_2d when its cells share them)."""
    valid = np.isfinite(Y)
    r = np.full((len(splits), Y.shape[1]), np.nan)
    groups: dict[bytes, list[int]] = {}
    for c in range(Y.shape[1]):
        groups.setdefault(valid[:, c].tobytes(), []).append(c)
    for cols in groups.values():
        v = valid[:, cols[0]]
        for s, (tr, te) in enumerate(splits):
            tr, te = tr[v[tr]], te[v[te]]
            if kind == "ridge":
                pred = Ridge(alpha=alpha).fit(X[tr], Y[np.ix_(tr, cols)]).predict(X[te])
                pred = pred.reshape(len(te), len(cols))
            else:
                pred = np.column_stack([X[te, _best_by_corrcoef(X[tr], Y[tr, c])]
                                        for c in cols])
            for k, c in enumerate(cols):
                r[s, c] = _pearson(pred[:, k], Y[te, c])
    return np.nanmean(r, axis=0)


@pytest.mark.parametrize("map_type,map_kwargs,kind,alpha", [
    ("sklinear", {}, "ridge", 1.0),
    ("sklinear", {"regression_type": "Ridge", "regression_kwargs": {"alpha": 25.0}},
     "ridge", 25.0),
    ("corr", {}, "corr", None),
])
def test_model_path_equals_per_animal_fits(map_type, map_kwargs, kind, alpha):
    dataset, X = _problem()
    res = get_fits(dataset, model_resp={2.2: X}, map_type=map_type, map_kwargs=map_kwargs,
                   train_frac=0.3, num_train_test_splits=4, split_start_seed=2)
    splits = _splits(0.3, 4, 2)
    Xf = X.reshape(N_BINS, -1)
    for name, entry in dataset[2.2].items():
        expected = _reference(Xf, entry["resp"].reshape(N_BINS, -1), splits, kind, alpha)
        got = res[2.2][name]["corr"]
        np.testing.assert_array_equal(got["units"].values, entry["cell_ids"])
        np.testing.assert_allclose(got.values, expected, rtol=0, atol=1e-10)


def test_pairwise_equals_per_pair_fits():
    dataset, _ = _problem(seed=1, n_animals=3)
    res = get_fits(dataset, interanimal_mode="pairwise", train_frac=0.5,
                   num_train_test_splits=3)
    splits = _splits(0.5, 3, 0)
    animals = dataset[2.2]
    for target, entry in animals.items():
        Y = entry["resp"].reshape(N_BINS, -1)
        per_source = []
        for src in sorted(animals):
            if src == target:
                continue
            Xs = animals[src]["resp"].reshape(N_BINS, -1)
            ok = np.isfinite(Xs).all(axis=1)  # the source's unvisited bins leave every cell
            per_source.append(_reference(Xs, np.where(ok[:, None], Y, np.nan), splits,
                                         "ridge"))
        np.testing.assert_allclose(res[2.2][target]["corr"].values,
                                   np.nanmean(per_source, axis=0), rtol=0, atol=1e-10)


def _count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("map_type,map_kwargs,passes", [
    ("sklinear", {}, 1),  # one pass for the cells of all four animals
    ("corr", {}, 1),
    ("pls", {"n_components": 2}, 4),  # a joint fit per animal: never merged across animals
])
def test_one_scoring_pass_per_layer(monkeypatch, map_type, map_kwargs, passes):
    dataset, X = _problem(seed=2)
    calls = _count_calls(monkeypatch, compat, "predictivity_details")
    get_fits(dataset, model_resp={2.2: X}, map_type=map_type, map_kwargs=map_kwargs,
             num_train_test_splits=3)
    assert len(calls) == passes


def test_one_ridge_factorisation_per_split(monkeypatch):
    dataset, X = _problem(seed=3)
    calls = _count_calls(monkeypatch, sla, "cho_factor")
    get_fits(dataset, model_resp={2.2: X}, num_train_test_splits=5)
    assert len(calls) == 5  # not 5 per animal
    calls.clear()
    get_fits(dataset, interanimal_mode="pairwise", num_train_test_splits=2, train_frac=0.5)
    assert len(calls) == 2 * 4  # per split and source animal, not per (source, target) pair


def test_per_cell_parameters_are_not_merged_across_animals(monkeypatch):
    """Cells with their own map_kwargs keep their own fits; the shared ridge cells of all
    animals still go through one pass."""
    dataset, X = _problem(seed=4, n_animals=2, n_cells=3)
    per_cell = {}
    for entry in dataset[2.2].values():
        for k, cid in enumerate(entry["cell_ids"]):
            alpha = 1.0 if k < 2 else 10.0 ** k
            per_cell[cid] = {"map_kwargs": {"regression_type": "Ridge",
                                            "regression_kwargs": {"alpha": alpha}}}
    calls = _count_calls(monkeypatch, compat, "predictivity_details")
    res = get_fits(dataset, model_resp={2.2: X}, map_kwargs_per_cell=per_cell, train_frac=0.4,
                   num_train_test_splits=2)
    assert len(calls) == 2  # alpha 1 (both animals, 4 cells) and alpha 100 (2 cells)
    splits = _splits(0.4, 2, 0)
    Xf = X.reshape(N_BINS, -1)
    for name, entry in dataset[2.2].items():
        Y = entry["resp"].reshape(N_BINS, -1)
        expected = np.concatenate([_reference(Xf, Y[:, :2], splits, "ridge", 1.0),
                                   _reference(Xf, Y[:, 2:], splits, "ridge", 100.0)])
        np.testing.assert_allclose(res[2.2][name]["corr"].values, expected, rtol=0,
                                   atol=1e-10)
