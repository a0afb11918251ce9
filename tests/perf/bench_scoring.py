"""Reference-scale scoring benchmark: mecbench's scoring path vs scikit-learn used as the
reference code (Nayebi et al. 2021) uses it.

Workload (the reference scale): one model layer of 4096 units on 44×44 bins (2.2 m at 5 cm),
6 animals × 100 cells (each animal with its own unvisited bins), train on 20 % of the bins,
10 splits.

mecbench side: :func:`mecbench.predictivity.score_rate_maps` — the function the benchmarks and
``get_fits`` use — end to end, including building the layer's feature cache.

Reference side, per animal and split, on exactly the same training/test bins: multi-output
``Ridge(alpha=1)`` refit per split; ``RidgeCV(alpha_per_target=True)`` (scikit-learn) and
himalaya ``RidgeCV`` for per-target alphas; ``PLSRegression(25, scale=False)`` fit jointly on
the animal's cells; a per-cell ``ElasticNet`` loop with fixed per-cell hyper-parameters; a
one-to-one map as the reference's ``CorrNeuralMap`` (the same as brainmodel_utils'
``PercentileNeuralMap`` at percentile 100) does it — all correlations in one product, then a
loop over targets for the arg-max — and, as a second row, with a loop over target cells each
correlated with every unit; and per-cell ``scipy.stats.pearsonr`` scoring (as the reference).
As the reference's ``fit_subroutine`` does, each animal first gets its own NaN-filtered copy of
the features (``prep_data_2d``; timed once per animal, not extrapolated), the one-to-one fit
gathers each target's selected source column, and a prediction is scored only when it has no
NaN. Where the reference would take too long (PLS, ElasticNet), a subset of fits is timed and
the total extrapolated (marked ``*``); max |Δr| is computed on the fits that ran.

Also printed, timed in the same run: the Gram floor (one X Xᵀ over all bins, the work every
split and animal shares) and the Ridge path / floor ratio; two lower bounds on exact float64
work — the correlation products alone (``X_trᵀ Y_tr`` per split for every cell: any one-to-one
map that computes every correlation, the reference's included, does this product) and the
least kernel-ridge work (the Gram matrix, then per split one Cholesky solve for every cell and
the test predictions ``K_te,tr C``) — with the speed-up and floor ratio they allow at most; and
the peak RSS of the process; the one-to-one path over its correlation products, the two
timed alternately (target <= 1.5).

Rows ``get_fits ridge`` and ``get_fits one-to-one``: :func:`mecbench.compat.get_fits` (the
reference API, which returns per-cell means over splits) on the same data and splits, best of
3, against the reference rows' times and split-mean r; and get_fits over the scoring path,
the two timed alternately (target <= 1.2).

Usage: ``python tests/perf/bench_scoring.py [--quick]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings

import numpy as np
from scipy import stats

from mecbench.mapping import get_mapping
from mecbench.predictivity import score_rate_maps
from mecbench.ratemaps import make_rate_maps
from mecbench.splits import SplitScheme

#: The Gram floor and the two fastest mecbench paths are timed as the best of this many runs
#: (each run builds its own feature cache, so every run pays for its Gram matrix).
REPEATS = 3
TARGETS = {"ridge": 10, "ridgecv": 3, "pls": 5, "enet, tol 1e-4": 10, "one-to-one": 20}
#: scikit-learn's ElasticNet default: stop when the duality gap <= tol * ||y - ȳ||² / n, the
#: criterion mecbench's solver uses too; the matched row runs both at this tolerance.
SKLEARN_ENET_TOL = 1e-4
ALPHAS = np.logspace(-2, 6, 9)


def make_problem(n_side: int, n_units: int, n_animals: int, n_cells: int, seed: int = 0):
    """Smooth model features and noisy, partly explainable cells with per-animal NaN masks."""
    rng = np.random.default_rng(seed)
    width = 2.2
    c = -width / 2 + width / n_side * (np.arange(n_side) + 0.5)
    px, py = (a.ravel() for a in np.meshgrid(c, c, indexing="ij"))

    def grid_like(n, rng):
        spacing = rng.uniform(0.3, 1.2, n)
        theta = rng.uniform(0, np.pi / 3, n)
        phase = rng.uniform(-1, 1, (n, 2))
        out = np.zeros((px.size, n))
        for k in range(3):
            ang = theta + k * np.pi / 3
            kmag = 4 * np.pi / (np.sqrt(3) * spacing)
            kx, ky = np.cos(ang) * kmag, np.sin(ang) * kmag
            out += np.cos(np.outer(px, kx) + np.outer(py, ky) + phase[:, 0] * kx
                          + phase[:, 1] * ky)
        return np.maximum(out, 0)

    X = grid_like(n_units, rng)
    X += 0.05 * rng.standard_normal(X.shape)
    latent = grid_like(64, rng)
    mix = np.concatenate([X[:, rng.choice(n_units, 64, replace=False)], latent], axis=1)
    cells, animals = [], []
    for a in range(n_animals):
        w = rng.gamma(1.0, 1.0, (mix.shape[1], n_cells)) * (rng.random((mix.shape[1], n_cells))
                                                            < 0.1)
        rates = mix @ w
        rates = 10 * rates / rates.max(axis=0)
        rates = rates + rng.normal(0, 1.0 + 0.3 * rates)
        rates = np.maximum(rates, 0)
        # unvisited bins: part of one corner and a few random bins, shared by the animal
        n_nan = int(0.02 * px.size) + a
        corner = (px < c[0] + 0.15 * width * rng.random()) & (py > c[-1] - 0.1 * width)
        miss = corner.copy()
        miss[rng.choice(px.size, n_nan, replace=False)] = True
        rates[miss] = np.nan
        cells.append(rates)
        animals += [f"rat{a}"] * n_cells
    Y = np.concatenate(cells, axis=1)
    model = make_rate_maps(X.reshape(n_side, n_side, n_units), arena_width=width,
                           bin_size=width / n_side)
    neural = make_rate_maps(Y.reshape(n_side, n_side, -1), arena_width=width,
                            bin_size=width / n_side, animal=animals,
                            neuroid_id=[f"c{i}" for i in range(Y.shape[1])])
    return model, neural, X, Y, np.array(animals)


def pearson_loop(pred, data):
    """Per-cell scipy Pearson r, as the reference code scores."""
    out = np.full(data.shape[1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(data.shape[1]):
            if np.isnan(pred[:, i]).sum() == 0:
                out[i] = stats.pearsonr(data[:, i], pred[:, i])[0]
    return out


def one_to_one_reference(Xtr, Ytr, Xte):
    """The reference CorrNeuralMap: vectorised correlations, then a loop over targets."""
    Xn = Xtr - Xtr.mean(0)
    Yn = Ytr - Ytr.mean(0)
    with np.errstate(all="ignore"):
        Xn = Xn / np.linalg.norm(Xn, axis=0)
        Yn = Yn / np.linalg.norm(Yn, axis=0)
        corrs = Xn.T @ Yn
    pred = np.empty((Xte.shape[0], Ytr.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(Ytr.shape[1]):
            col = corrs[:, i]
            sel = col >= np.nanpercentile(col, 100)
            if not sel.any():
                sel = np.arange(col.size) >= col.size - 1
            _ = Xtr[:, sel]  # the reference's fit gathers the selected training column
            pred[:, i] = Xte[:, np.argwhere(sel).flatten()[0]]
    return pred


def one_to_one_loop(Xtr, Ytr, Xte):
    """A per-cell loop: each target z-scored and correlated with every (z-scored) unit."""
    Xn = Xtr - Xtr.mean(0)
    with np.errstate(all="ignore"):
        Xn = Xn / np.linalg.norm(Xn, axis=0)
    pred = np.empty((Xte.shape[0], Ytr.shape[1]))
    for i in range(Ytr.shape[1]):
        y = Ytr[:, i] - Ytr[:, i].mean()
        with np.errstate(all="ignore"):
            r = Xn.T @ (y / np.linalg.norm(y))
        pred[:, i] = Xte[:, int(np.nanargmax(r)) if np.isfinite(r).any() else 0]
    return pred


def reference_run(kind, X, Y, animals, splits, per_cell=None, max_fits=None):
    """Run the reference procedure; returns (seconds of the fits that ran, seconds of the
    per-animal data preparation, r (n_splits, n_cells) NaN where not run, fits run, fits total,
    non-converged fits)."""
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import ElasticNet, Ridge, RidgeCV

    r = np.full((len(splits), Y.shape[1]), np.nan)
    jobs = []
    # the reference's prep_data_2d: per animal, the bins finite for every cell (and unit),
    # copied out of the features and the animal's responses; timed once per animal below
    t0 = time.perf_counter()
    prepared = {}
    for a in sorted(set(animals.tolist())):
        cols = np.flatnonzero(animals == a)
        ok = np.isfinite(X).all(axis=-1) & np.isfinite(Y[:, cols]).all(axis=-1)
        prepared[a] = (X[ok], Y[np.ix_(ok, cols)])
        pos = np.cumsum(ok) - 1  # bin -> row of the filtered copy
        for s, (tr, te) in enumerate(splits):
            tr_a, te_a = pos[tr[ok[tr]]], pos[te[ok[te]]]
            if kind == "enet":
                jobs += [(a, s, tr_a, te_a, cols, np.array([i])) for i in range(cols.size)]
            else:
                jobs.append((a, s, tr_a, te_a, cols, np.arange(cols.size)))
    t_prep = time.perf_counter() - t0
    total = len(jobs)
    if max_fits is not None and max_fits < total:
        pick = np.random.default_rng(0).choice(total, max_fits, replace=False)
        jobs = [jobs[i] for i in sorted(pick)]
    not_converged = 0
    t0 = time.perf_counter()
    for a, s, tr, te, animal_cols, which in jobs:
        Xa, Ya = prepared[a]
        cols = animal_cols[which]
        Xtr, Ytr, Xte = Xa[tr], Ya[np.ix_(tr, which)], Xa[te]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            if kind == "ridge":
                pred = Ridge(alpha=1.0).fit(Xtr, Ytr).predict(Xte)
            elif kind == "ridgecv":
                pred = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(Xtr, Ytr).predict(Xte)
            elif kind == "himalaya":
                from himalaya.ridge import RidgeCV as HRidgeCV

                pred = HRidgeCV(alphas=ALPHAS, fit_intercept=True).fit(Xtr, Ytr).predict(Xte)
            elif kind == "pls":
                pred = PLSRegression(25, scale=False).fit(Xtr, Ytr).predict(Xte)
            elif kind == "enet":
                a_, l1 = per_cell[0][cols[0]], per_cell[1][cols[0]]
                pred = ElasticNet(alpha=a_, l1_ratio=l1).fit(Xtr, Ytr[:, 0]).predict(Xte)
            elif kind == "one-to-one-loop":
                pred = one_to_one_loop(Xtr, Ytr, Xte)
            else:
                pred = one_to_one_reference(Xtr, Ytr, Xte)
        not_converged += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        pred = np.asarray(pred).reshape(len(te), len(cols))
        r[s, cols] = pearson_loop(pred, Ya[np.ix_(te, which)])
    seconds = time.perf_counter() - t0
    return seconds, t_prep, r, len(jobs), total, not_converged


def correlation_products_seconds(X, Y, splits) -> float:
    """Seconds for the products ``Y₀ᵀ X_tr`` of every split alone (operands built untimed):
    the least float64 work of any one-to-one map that computes every correlation."""
    valid = np.isfinite(Y)
    operands = []
    for tr, _ in splits:
        W, Yt = valid[tr], np.where(valid[tr], Y[tr], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            Y0 = np.where(W, Yt - Yt.sum(axis=0) / W.sum(axis=0), 0.0)
        operands.append((np.ascontiguousarray(Y0.T), np.ascontiguousarray(X[tr])))
    t0 = time.perf_counter()
    for Y0T, Xt in operands:
        _ = Y0T @ Xt
    return time.perf_counter() - t0


def ridge_split_work_seconds(X, Y, splits, alpha=1.0) -> float:
    """Seconds for the per-split part of the least kernel-ridge work (operands built untimed):
    a Cholesky factorisation of ``K_tr,tr + αI``, one solve for every cell and the test
    predictions ``K_te,tr C`` (with the Gram floor: the least work of the ridge path)."""
    import scipy.linalg as sla
    from threadpoolctl import threadpool_limits

    K = X @ X.T
    Yz = np.where(np.isfinite(Y), Y, 0.0)
    operands = []
    for tr, te in splits:
        A = K[np.ix_(tr, tr)]
        A.flat[:: len(tr) + 1] += alpha
        operands.append((A, np.ascontiguousarray(Yz[tr]), np.ascontiguousarray(K[np.ix_(te, tr)])))
    t0 = time.perf_counter()
    for A, Yt, Kte in operands:
        with threadpool_limits(1, user_api="blas"):  # small LAPACK calls: fastest on 1 thread
            C = sla.cho_solve(sla.cho_factor(A, lower=True, check_finite=False), Yt,
                              check_finite=False)
        _ = Kte @ C
    return time.perf_counter() - t0


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--pls-fits", type=int, default=6,
                    help="reference PLS fits to time (extrapolated to all)")
    ap.add_argument("--enet-fits", type=int, default=60,
                    help="reference per-cell ElasticNet fits to time (extrapolated to all)")
    ap.add_argument("--himalaya-fits", type=int, default=3,
                    help="himalaya RidgeCV fits to time (extrapolated to all)")
    ap.add_argument("--enet-pairs", type=int, default=None,
                    help="time mecbench's ElasticNet on this many (animal, split) fits of the "
                         "first animal and extrapolate (default: 3 in the full run, all with "
                         "--quick)")
    ap.add_argument("--skip", default="",
                    help="comma-separated methods to skip: ridge, ridgecv, himalaya, pls, enet "
                         "(both elastic-net rows), one-to-one, get_fits (its rows need the "
                         "ridge and one-to-one rows), backends (the ridge row on torch)")
    args = ap.parse_args(argv)
    if args.quick:
        n_side, n_units, n_animals, n_cells, n_splits = 22, 512, 3, 20, 3
    else:
        n_side, n_units, n_animals, n_cells, n_splits = 44, 4096, 6, 100, 10
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    if args.enet_pairs is None and not args.quick:
        args.enet_pairs = 3
    model, neural, X, Y, animals = make_problem(n_side, n_units, n_animals, n_cells)
    scheme = SplitScheme.random(0.2, n_splits, seed=0)
    splits = scheme.splits((n_side, n_side))
    rng = np.random.default_rng(1)
    enet_alpha = 10 ** rng.uniform(-2, 0, Y.shape[1])
    enet_l1 = rng.uniform(0.1, 0.9, Y.shape[1])
    print(f"problem: {n_units} units, {n_side}x{n_side} bins, {n_animals} animals x {n_cells} "
          f"cells, train_frac 0.2, {n_splits} splits; NaN bins per animal: "
          f"{[int(np.isnan(Y[:, animals == a][:, 0]).sum()) for a in sorted(set(animals))]}",
          flush=True)

    # warm-up on a small problem: imports and thread-pool start-up are not the workload
    small = make_problem(8, 96, 2, 3)
    for name in ("ridge", "one-to-one"):
        score_rate_maps(small[0], small[1], name, SplitScheme.random(0.5, 2, seed=0))
    floor = np.inf
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        _ = X @ X.T
        floor = min(floor, time.perf_counter() - t0)

    methods = [
        ("ridge", get_mapping("ridge", alpha=1.0), None, "ridge", None),
        ("ridgecv", get_mapping("ridgecv", alphas=ALPHAS), None, "ridgecv", None),
        ("pls", get_mapping("pls", n_components=25, scale=False), None, "pls", args.pls_fits),
        ("enet", get_mapping("enet"), {"alpha": enet_alpha, "l1_ratio": enet_l1}, "enet",
         args.enet_fits),
        ("enet, tol 1e-4", get_mapping("enet", tol=SKLEARN_ENET_TOL),
         {"alpha": enet_alpha, "l1_ratio": enet_l1}, "enet", args.enet_fits),
        ("one-to-one", get_mapping("one-to-one"), None, "one-to-one", None),
    ]
    rows = []
    ours = {}
    refs = {}  # the reference's r (n_splits, n_cells) per method
    n_pairs = n_animals * n_splits  # (animal, split) fits of a joint map
    for name, mapping, params, ref_kind, max_fits in methods:
        if name.split(",")[0] in skip:  # "enet" skips both elastic-net rows
            continue
        sub_neural, sub_scheme, sub_params, sub_Y, sub_animals, sub_splits, k = \
            neural, scheme, params, Y, animals, splits, n_pairs
        sub_cols = np.arange(Y.shape[1])
        if name.startswith("enet") and args.enet_pairs and args.enet_pairs < n_pairs:
            # the vectorised solver fits all cells of an (animal, split) together: time the
            # first animal on its first splits and extrapolate linearly in (animal, split)
            n_sub = max(1, min(n_splits, args.enet_pairs))
            cols = np.flatnonzero(animals == animals[0])
            sub_neural = neural.isel(neuroid=cols)
            sub_splits = splits[:n_sub]
            sub_scheme = sub_splits
            sub_params = {key: v[cols] for key, v in params.items()}
            sub_Y, sub_animals, k, sub_cols = Y[:, cols], animals[cols], n_sub, cols
        t_ours = np.inf
        for _ in range(REPEATS if name in ("ridge", "one-to-one") else 1):
            t0 = time.perf_counter()
            r = score_rate_maps(model, sub_neural, mapping, sub_scheme, target_params=sub_params)
            t_ours = min(t_ours, (time.perf_counter() - t0) * n_pairs / k)
        if k < n_pairs and k > 1:
            # a per-layer part (feature checks, the Gram matrix) is paid once, not per
            # (animal, split): extrapolate from two points, t(1) + (N - 1) (t(k) - t(1)) / (k - 1)
            t_k = t_ours * k / n_pairs
            t0 = time.perf_counter()
            score_rate_maps(model, sub_neural, mapping, sub_splits[:1],
                            target_params=sub_params)
            t_1 = time.perf_counter() - t0
            per_pair = (t_k - t_1) / (k - 1)
            if per_pair > 0:
                t_ours = t_1 + (n_pairs - 1) * per_pair
        ours[name] = r.values.T
        t_ref, t_prep, r_ref, done, _, nc = reference_run(
            ref_kind, X, sub_Y, sub_animals, sub_splits,
            (enet_alpha[sub_cols], enet_l1[sub_cols]), max_fits)
        total = n_pairs if ref_kind != "enet" else n_pairs * n_cells
        # the per-animal preparation is paid once per animal whatever the number of fits
        t_ref_all = t_ref * total / done + t_prep * n_animals / len(set(sub_animals))
        ran = np.isfinite(r_ref)
        dr = np.nanmax(np.abs(ours[name][ran] - r_ref[ran])) if ran.any() else np.nan
        rows.append((name, t_ours, k < n_pairs, t_ref_all, done < total, dr, nc, done, total, k))
        refs[name] = r_ref
        print(f"  {name}: mecbench {t_ours:.2f}s ({k}/{n_pairs} animal-splits), reference "
              f"{t_ref_all:.2f}s ({done}/{total} fits)", flush=True)
    if "one-to-one" in ours:
        t_ref, t_prep, r_ref, done, total, nc = reference_run("one-to-one-loop", X, Y,
                                                              animals, splits)
        ran = np.isfinite(r_ref)
        dr = np.nanmax(np.abs(ours["one-to-one"][ran] - r_ref[ran]))
        t_ours = next(row[1] for row in rows if row[0] == "one-to-one")
        rows.append(("one-to-one vs cell loop", t_ours, False, t_ref * total / done + t_prep,
                     done < total, dr, nc, done, total, n_pairs))
    get_fits_ratio = {}
    if "get_fits" not in skip:
        # the reference API (mecbench.compat.get_fits) on the same data: one feature cache per
        # arena and one scoring pass for the cells of every animal, timed against the scoring
        # path above in this run
        from mecbench.compat import get_fits

        order = sorted(set(animals.tolist()))
        dataset = {2.2: {a: {"resp": Y[:, animals == a].reshape(n_side, n_side, -1),
                             "cell_ids": np.flatnonzero(animals == a)} for a in order}}
        features = {2.2: X.reshape(n_side, n_side, n_units)}
        for name, map_type in (("ridge", "sklinear"), ("one-to-one", "corr")):
            if name not in ours:
                continue
            # get_fits and the scoring path timed alternately (best of each): the load of a
            # shared machine moves both alike
            t_fits = t_path = np.inf
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                score_rate_maps(model, neural, get_mapping(name), scheme)
                t_path = min(t_path, time.perf_counter() - t0)
                t0 = time.perf_counter()
                res = get_fits(dataset, model_resp=features, map_type=map_type,
                               num_train_test_splits=n_splits)
                t_fits = min(t_fits, time.perf_counter() - t0)
            mean = np.empty(Y.shape[1])
            for a in order:
                mean[np.flatnonzero(animals == a)] = res[2.2][a]["corr"].values
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ref_mean = np.nanmean(refs[name], axis=0)
            ok = np.isfinite(ref_mean)
            dr = np.nanmax(np.abs(mean[ok] - ref_mean[ok]))
            row = next(row for row in rows if row[0] == name)
            get_fits_ratio[name] = (t_fits, t_path)
            rows.append((f"get_fits {name}", t_fits, False, row[3], row[4], dr, 0, row[7],
                         row[8], n_pairs))
    if "himalaya" not in skip and "ridgecv" in ours:
        t_ref, t_prep, r_ref, done, total, nc = reference_run(
            "himalaya", X, Y, animals, splits, max_fits=args.himalaya_fits)
        ran = np.isfinite(r_ref)
        dr = np.nanmax(np.abs(ours["ridgecv"][ran] - r_ref[ran]))
        t_ours = next(row[1] for row in rows if row[0] == "ridgecv")
        rows.append(("ridgecv vs himalaya", t_ours, False, t_ref * total / done + t_prep,
                     done < total, dr, nc, done, total, n_pairs))

    print()
    print(f"{'method':<22}{'mecbench s':>12}{'reference s':>13}{'speed-up':>10}{'target':>8}"
          f"{'max |Δr|':>11}  notes")
    for name, t_ours, ext_ours, t_ref, ext_ref, dr, nc, done, total, k in rows:
        target = TARGETS.get(name)
        notes = []
        if ext_ours:
            notes.append(f"mecbench extrapolated from 1 and {k} of {n_pairs} animal-splits")
        if ext_ref:
            notes.append(f"reference extrapolated from {done}/{total} fits")
        if nc:
            notes.append(f"{nc} reference fits stopped at max_iter")
        if name.startswith("get_fits"):
            notes.append("mean over splits per cell, as get_fits returns")
        if name == "ridgecv vs himalaya":
            notes.append("himalaya uses 5-fold CV: Δr informative only")
        if name == "enet":
            notes.append("mecbench at its default tol 1e-7 (a 1000x smaller duality gap)")
        if name == "enet, tol 1e-4":
            notes.append("same stopping rule as the reference (duality gap, tol 1e-4)")
        tgt = f">={target}x" if target else ""
        print(f"{name:<22}{t_ours:>11.2f}{'*' if ext_ours else ' '}{t_ref:>12.2f}"
              f"{'*' if ext_ref else ' '}{t_ref / t_ours:>9.1f}x{tgt:>8}{dr:>11.2e}  "
              + "; ".join(notes))
    ridge_t = next((row[1] for row in rows if row[0] == "ridge"), np.nan)
    print("* extrapolated (see notes)")
    print(f"\nGram floor (X Xᵀ over all {X.shape[0]} bins, {X.shape[1]} units): {floor:.2f}s; "
          f"ridge path / floor = {ridge_t / floor:.2f} (target <= 1.5)")
    print("\nLeast exact float64 work, timed in this run (best of "
          f"{REPEATS}; operands prepared untimed):")
    if "ridge" in ours:
        split_work = min(ridge_split_work_seconds(X, Y, splits) for _ in range(REPEATS))
        print(f"  ridge: Gram floor + per split Cholesky, solve for every cell, test predictions "
              f"= {floor:.2f} + {split_work:.2f} s -> least ridge path / floor = "
              f"{(floor + split_work) / floor:.2f}")
    if "one-to-one" in ours:
        # the products and the whole path timed alternately (best of each)
        products = t_ours = np.inf
        for _ in range(REPEATS):
            products = min(products, correlation_products_seconds(X, Y, splits))
            t0 = time.perf_counter()
            score_rate_maps(model, neural, get_mapping("one-to-one"), scheme)
            t_ours = min(t_ours, time.perf_counter() - t0)
        t_ref = next(row[3] for row in rows if row[0] == "one-to-one")
        print(f"  one-to-one: the correlation products Y₀ᵀ X_tr alone = {products:.2f} s "
              f"(mecbench's whole path: {t_ours:.2f} s) -> at most {t_ref / products:.1f}x "
              f"faster than the reference for any map computing every correlation; "
              f"one-to-one path / products = {t_ours / products:.2f} (target <= 1.5)")
    for name, (t_fits, t_path) in get_fits_ratio.items():
        print(f"get_fits ({name}) / scoring path, timed alternately = {t_fits:.2f} / "
              f"{t_path:.2f} s = {t_fits / t_path:.2f} (target <= 1.2)")
    if "ridge" in ours and "backends" not in skip:
        print_backend_rows(model, neural, scheme, ours["ridge"],
                           next(row[1] for row in rows if row[0] == "ridge"))
    print(f"peak RSS: {peak_rss_gb():.2f} GB (target < 4 GB)")
    return 0


def print_backend_rows(model, neural, scheme, r_numpy: np.ndarray, t_numpy: float) -> None:
    """The ridge row on the other array backends (torch on the CPU, and on CUDA where there
    is a GPU), timed in this run against numpy's time above (best of REPEATS each)."""
    try:
        import torch
    except ImportError:
        print("\narray backends: torch is not installed")
        return
    names = ["torch:cpu:float64", "torch:cpu:float32"]
    if torch.cuda.is_available():
        names += ["torch:cuda:float64", "torch:cuda:float32"]
    print(f"\nridge on the array backends (numpy float64 {t_numpy:.2f} s above):")
    for name in names:
        mapping = get_mapping("ridge", alpha=1.0, backend=name)
        score_rate_maps(model, neural, mapping, scheme)  # library and device start-up
        best = np.inf
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            r = score_rate_maps(model, neural, mapping, scheme)
            best = min(best, time.perf_counter() - t0)
        both = np.isfinite(r_numpy) & np.isfinite(r.values.T)
        dr = float(np.max(np.abs(r.values.T[both] - r_numpy[both]), initial=0.0))
        print(f"  {name:<20}{best:>8.2f} s  {t_numpy / best:>5.2f}x numpy  max |Δr| {dr:.1e}")


if __name__ == "__main__":
    sys.exit(main())
