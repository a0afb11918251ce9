"""Small problems for the benchmark, CLI, leaderboard and report tests (not a test module).

- :func:`make_neural_data`: a few animals with Gaussian place fields plus noise on small
  arenas, some unvisited bins, and split halves, so every ceiling is defined and fast.
- :data:`PLUGIN_SOURCE`: a plugin file registering ``toy-fourier`` (two layers of random
  Fourier features of position) and ``toy-bumps`` (Gaussian bumps), cheap, deterministic models
  usable by name from any process (``mecbench --plugin FILE``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from mecbench.neural_data import NeuralData
from mecbench.ratemaps import make_rate_maps


def make_neural_data(n_animals: int = 3, n_cells: int = 6,
                     arenas=((0.5, 0.5), (0.6, 0.6)), seed: int = 0,
                     halves: bool = True, nan_frac: float = 0.05) -> NeuralData:
    """Synthetic recordings: each cell a Gaussian field (centre uniform, width 8-15 cm) with
    multiplicative noise; a fraction of bins unvisited (NaN) per animal."""
    rng = np.random.default_rng(seed)
    rates, halves_list = [], []
    bin_size = 0.05
    for width, height in arenas:
        nx, ny = int(round(width / bin_size)), int(round(height / bin_size))
        x = -width / 2 + bin_size * (np.arange(nx) + 0.5)
        y = -height / 2 + bin_size * (np.arange(ny) + 0.5)
        gx, gy = np.meshgrid(x, y, indexing="ij")
        for a in range(n_animals):
            cx = rng.uniform(-width / 2, width / 2, n_cells)
            cy = rng.uniform(-height / 2, height / 2, n_cells)
            sd = rng.uniform(0.08, 0.15, n_cells)
            clean = 5 * np.exp(-((gx[..., None] - cx) ** 2 + (gy[..., None] - cy) ** 2)
                               / (2 * sd ** 2))
            h = clean[None] * rng.gamma(8.0, 1 / 8.0, (2, nx, ny, n_cells))
            h += rng.normal(0, 0.3, h.shape)
            unvisited = rng.random((nx, ny)) < nan_frac
            h[:, unvisited, :] = np.nan
            rate = h.mean(axis=0)
            ids = [f"r{a}/c{c}" for c in range(n_cells)]
            da = make_rate_maps(rate, arena_width=width, arena_height=height,
                                bin_size=bin_size, neuroid_id=ids, animal=f"r{a}")
            rates.append(da)
            if halves:
                hv = da.expand_dims(half=2).copy(data=h)
                halves_list.append(hv)
    return NeuralData.from_rate_maps(rates, halves=halves_list if halves else None,
                                     attrs={"source": "tests/benchkit.py"})


PLUGIN_SOURCE = textwrap.dedent('''
    """Toy models for the mecbench tests."""
    import numpy as np

    from mecbench import register_model
    from mecbench.providers import FunctionProvider

    _RNG = np.random.default_rng(1234)
    _W = _RNG.normal(0, 12.0, (2, 40))
    _B = _RNG.uniform(0, 2 * np.pi, 40)
    _C = _RNG.uniform(-0.3, 0.3, (25, 2))


    def _fourier(pos):
        z = pos @ _W + _B
        return {"low": np.cos(z[:, :10]), "high": np.cos(z)}


    def _bumps(pos):
        d2 = ((pos[:, None, :] - _C[None]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * 0.1 ** 2))


    @register_model("toy-fourier")
    def toy_fourier():
        """Random Fourier features of position (10 and 40 units)."""
        return FunctionProvider(_fourier, "toy-fourier", layers=("low", "high"),
                                default_layer="high")


    @register_model("toy-bumps")
    def toy_bumps():
        """25 Gaussian bumps of width 10 cm."""
        return FunctionProvider(_bumps, "toy-bumps")
''')


def write_plugin(directory: Path) -> Path:
    """Write :data:`PLUGIN_SOURCE` to ``directory/toy_models.py``."""
    path = Path(directory) / "toy_models.py"
    path.write_text(PLUGIN_SOURCE)
    return path


def load_plugin(directory: Path) -> Path:
    """Write and import the toy plugin in this process."""
    from mecbench.registry import load_plugin_file

    path = write_plugin(directory)
    load_plugin_file(path)
    return path


def sklearn_enet_cv_errors(X, Y, alphas, l1_ratios, *, seed: int, tol: float,
                           max_iter: int, skip_lasso: bool = False) -> np.ndarray:
    """Independent reference for :func:`mecbench.mapping.elastic_net_cv`: summed squared
    validation errors (n_l1_ratios, n_alphas, n_targets) of scikit-learn's ``ElasticNet`` over
    the same 2 folds (rows permuted with ``default_rng(seed)``); NaN for pure-lasso candidates
    with ``skip_lasso``."""
    import warnings

    import sklearn.linear_model as lm

    n, t = Y.shape
    folds = np.array_split(np.random.default_rng(seed).permutation(n), 2)
    err = np.zeros((len(l1_ratios), len(alphas), t))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for val in folds:
            fit = np.setdiff1d(np.arange(n), val)
            for i, l1 in enumerate(l1_ratios):
                for k, a in enumerate(alphas):
                    if skip_lasso and l1 == 1.0:
                        err[i, k] = np.nan
                        continue
                    m = lm.ElasticNet(alpha=a, l1_ratio=l1, tol=tol, max_iter=max_iter)
                    pred = m.fit(X[fit], Y[fit]).predict(X[val])
                    err[i, k] += ((Y[val] - pred) ** 2).sum(axis=0)
    return err


def find_chromium() -> str | None:
    """Path of a Chromium-like browser on PATH, or None."""
    import shutil

    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def ridge_r_per_cell(X: np.ndarray, Y: np.ndarray, splits, alpha: float = 1.0) -> np.ndarray:
    """Independent reference: one scikit-learn ``Ridge`` per cell and split on the cell's
    finite rows, scored by ``scipy.stats.pearsonr``; ``(n_splits, n_cells)``."""
    from scipy import stats
    from sklearn.linear_model import Ridge

    out = np.full((len(splits), Y.shape[1]), np.nan)
    for c in range(Y.shape[1]):
        ok = np.isfinite(Y[:, c]) & np.isfinite(X).all(axis=1)
        for s, (tr, te) in enumerate(splits):
            tr, te = tr[ok[tr]], te[ok[te]]
            pred = Ridge(alpha=alpha).fit(X[tr], Y[tr, c]).predict(X[te])
            out[s, c] = stats.pearsonr(pred, Y[te, c])[0]
    return out
