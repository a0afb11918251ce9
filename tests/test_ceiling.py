"""Ceilings (inter-animal, split-half), ceiled summaries and the Score container."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from benchkit import ridge_r_per_cell
from scipy import stats

from mecbench.ceiling import interanimal_consistency, split_half_reliability
from mecbench.errors import DataError, UnknownIdentifierError
from mecbench.mapping import get_mapping
from mecbench.predictivity import score_rate_maps
from mecbench.ratemaps import make_rate_maps
from mecbench.score import Score, summarize
from mecbench.splits import SplitScheme


def _neural(seed=0, n_animals=3, n_cells=4, nan=True):
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(100, 6))
    parts, animals = [], []
    for a in range(n_animals):
        v = basis @ rng.normal(size=(6, n_cells)) + rng.normal(size=(100, n_cells))
        if nan:
            v[rng.choice(100, 3 + a, replace=False), :] = np.nan
            v[rng.choice(100, 2, replace=False), 0] = np.nan
        parts.append(v)
        animals += [f"rat{a}"] * n_cells
    values = np.concatenate(parts, axis=1).reshape(10, 10, -1)
    return make_rate_maps(values, arena_width=1.0, bin_size=0.1,
                          neuroid_id=[f"c{i}" for i in range(values.shape[2])], animal=animals)


@pytest.mark.parametrize("mode", ["holdout", "pairwise"])
def test_interanimal_matches_hand_loop(mode):
    neural = _neural()
    scheme = SplitScheme.random(0.3, 3, seed=2)
    got = interanimal_consistency(neural, get_mapping("ridge", alpha=1.0), scheme, mode=mode)
    assert got.dims == ("neuroid", "split") and got.shape == (12, 3)
    flat = neural.values.reshape(100, -1)
    animals = neural["animal"].values
    splits = scheme.splits((10, 10))
    for target in ("rat0", "rat1", "rat2"):
        cols = np.flatnonzero(animals == target)
        others = [a for a in ("rat0", "rat1", "rat2") if a != target]
        if mode == "holdout":
            X = flat[:, np.isin(animals, others)]
            expected = ridge_r_per_cell(X, flat[:, cols], splits)
        else:
            expected = np.mean([ridge_r_per_cell(flat[:, animals == o], flat[:, cols], splits)
                                for o in others], axis=0)
        np.testing.assert_allclose(got.values[cols].T, expected, rtol=1e-7, atol=1e-9)


def test_interanimal_lonely_animal_and_bad_mode():
    neural = _neural(n_animals=1)
    got = interanimal_consistency(neural, get_mapping("ridge"), SplitScheme.random(0.3, 2))
    assert np.isnan(got.values).all()
    assert set(got["undefined_reason"].values.ravel()) == {"no_other_animal"}
    with pytest.raises(UnknownIdentifierError, match="pairwise"):
        interanimal_consistency(neural, get_mapping("ridge"), SplitScheme.random(0.3, 2),
                                mode="pairwise2")


def test_split_half_reliability_simulated_known_noise():
    # halves = signal + independent noise: corr(h1, h2) = s2 / (s2 + n2), and the
    # Spearman-Brown value equals the reliability of their mean, 2 s2 / (2 s2 + n2)
    rng = np.random.default_rng(0)
    n_bins, n_cells = 10_000, 12
    noise_sd = np.linspace(0.5, 2.5, n_cells)
    signal = rng.normal(size=(n_bins, n_cells))
    halves = np.stack([signal + rng.normal(size=(n_bins, n_cells)) * noise_sd
                       for _ in range(2)]).reshape(2, 100, 100, n_cells)
    da = xr.DataArray(halves, dims=("half", "x", "y", "neuroid"))
    rel = split_half_reliability(da)
    rho = 1 / (1 + noise_sd**2)
    np.testing.assert_allclose(rel["split_half_r"].values, rho, atol=0.03)
    np.testing.assert_allclose(rel.values, 2 / (2 + noise_sd**2), atol=0.03)
    np.testing.assert_allclose(rel.values, 2 * rel["split_half_r"] / (1 + rel["split_half_r"]))


def test_split_half_masks_bins_per_cell():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(2, 6, 6, 3))
    h[0, 0, :, 0] = np.nan
    h[1, 2, 3, 0] = np.nan
    h[1, :, :, 2] = np.nan
    h[1, 0, 0, 2] = 1.0
    rel = split_half_reliability(xr.DataArray(h, dims=("half", "x", "y", "neuroid")))
    a, b = h[0, ..., 0].ravel(), h[1, ..., 0].ravel()
    m = np.isfinite(a) & np.isfinite(b)
    assert rel["split_half_r"].values[0] == pytest.approx(stats.pearsonr(a[m], b[m])[0])
    assert np.isnan(rel.values[2])
    with pytest.raises(DataError, match="half"):
        split_half_reliability(xr.DataArray(h[0], dims=("x", "y", "neuroid")))


def test_summarize_by_hand():
    raw = np.array([0.2, 0.4, 0.6, 0.5, np.nan])
    ceiling = np.array([0.5, 0.8, 0.05, np.nan, 0.9])
    s = summarize(raw, ceiling, min_ceiling=0.1, n_boot=200)
    assert s["raw_median"] == pytest.approx(0.45)
    assert s["ceiled_median"] == pytest.approx(0.45)  # median of 0.2/0.5 and 0.4/0.8
    assert s["ratio_of_medians"] == pytest.approx(0.3 / 0.65)
    assert s["ceiling_median"] == pytest.approx(0.8)
    assert s["n_cells_ceiled"] == 2 and s["n_cells_low_ceiling"] == 2
    assert s["n_cells"] == 5 and s["n_cells_scored"] == 4
    assert s["frac_ceiled_above_1"] == 0.0
    assert s["ceiled_ci_low"] <= s["ceiled_median"] <= s["ceiled_ci_high"]
    above = summarize(np.array([0.5, 0.3]), np.array([0.4, 0.6]), n_boot=10)
    assert above["frac_ceiled_above_1"] == 0.5  # 0.5 / 0.4 = 1.25 is kept, not clipped


def test_score_from_model_and_ceiling_roundtrip(tmp_path):
    neural = _neural(seed=3)
    rng = np.random.default_rng(3)
    model = make_rate_maps(rng.normal(size=(10, 10, 30)), arena_width=1.0, bin_size=0.1)
    scheme = SplitScheme.random(0.3, 3)
    mapping = get_mapping("ridge", alpha=1.0)
    r = score_rate_maps(model, neural, mapping, scheme)
    ceiling = interanimal_consistency(neural, mapping, scheme)
    score = Score.from_results(r, ceiling, model="random", benchmark="test.ridge", layer="g",
                               n_boot=100, seed=1)
    raw = np.nanmean(r.values, axis=1)
    ceil = np.nanmean(ceiling.values, axis=1)
    ok = ceil > 0.1
    np.testing.assert_allclose(score["raw"].values, raw)
    np.testing.assert_allclose(score["ceiled"].values[ok], raw[ok] / ceil[ok])
    assert np.isnan(score["ceiled"].values[~ok]).all()
    summary = score.summary()
    assert summary["raw_median"] == pytest.approx(np.median(raw))
    assert summary["ceiled_median"] == pytest.approx(np.median(raw[ok] / ceil[ok]))
    assert summary["n_cells"] == 12 and summary["n_cells_low_ceiling"] == int((~ok).sum())
    per_split = np.median(r.values, axis=0)
    assert summary["raw_split_median_mean"] == pytest.approx(per_split.mean())
    assert summary["raw_split_median_sem"] == pytest.approx(stats.sem(per_split))
    assert score.attrs["ceiling_kind"] == "interanimal-holdout"
    assert score.attrs["model"] == "random" and "mecbench_version" in score.attrs
    path = score.save(tmp_path / "s.nc")
    back = Score.load(path)
    xr.testing.assert_identical(back.dataset, score.dataset)
    assert back.summary() == summary
    assert "ceiled" in repr(back)


def test_score_ceiling_matched_by_id_and_bad_files(tmp_path):
    r = xr.DataArray([[0.5, 0.7], [0.2, np.nan], [np.nan, np.nan]], dims=("neuroid", "split"),
                     coords={"neuroid_id": ("neuroid", ["a", "b", "c"])})
    ceiling = xr.DataArray([0.8, 0.5, 0.9], dims=("neuroid",),
                           coords={"neuroid_id": ("neuroid", ["c", "a", "b"])})
    score = Score.from_results(r, ceiling, n_boot=50)
    np.testing.assert_allclose(score["ceiling"].values, [0.5, 0.9, 0.8])
    assert score.summary()["n_cells_undefined"] == 1
    assert score.summary()["n_splits_undefined"] == 3
    with pytest.raises(DataError, match="lacks"):
        Score.from_results(r, ceiling.isel(neuroid=[0, 1]))
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(DataError, match="netCDF"):
        Score.load(bad)
    with pytest.raises(DataError, match="no such file"):
        Score.load(tmp_path / "missing.nc")


def test_undefined_cells_travel_with_the_headline():
    """Cells whose every split is undefined leave the medians; past 1 % the score says so,
    with counts checked against the r array itself."""
    from mecbench.score import undefined_cells_warning

    rng = np.random.default_rng(3)
    values = rng.uniform(0.1, 0.9, (200, 4))
    values[:7] = np.nan  # 7 cells with a constant prediction in every split
    values[7:12, 0] = np.nan  # 5 cells undefined in one split only: still scored
    r = xr.DataArray(values, dims=("neuroid", "split"),
                     coords={"neuroid_id": ("neuroid", [f"c{i}" for i in range(200)])})
    score = Score.from_results(r, n_boot=50)
    s = score.summary()
    assert s["n_cells_undefined"] == int(np.all(np.isnan(values), axis=1).sum()) == 7
    text = undefined_cells_warning(s)
    assert text is not None
    assert text.startswith("7 of 200 cells (4%) have no score in any split")
    assert "other 193 cells" in text
    assert s["raw_median"] == pytest.approx(np.median(np.nanmean(values[7:], axis=1)))
    # below the threshold, and with nothing undefined, nothing is said
    assert undefined_cells_warning(s, min_fraction=0.05) is None
    assert undefined_cells_warning(Score.from_results(r[7:], n_boot=50).summary()) is None


def test_score_command_prints_the_undefined_cells_warning():
    from mecbench.cli.score import _layer_doc

    values = np.full((50, 3), 0.5)
    values[:2] = np.nan
    r = xr.DataArray(values, dims=("neuroid", "split"))
    doc = _layer_doc("g", Score.from_results(r, n_boot=20), None)
    assert any(w.startswith("2 of 50 cells (4%)") for w in doc["warnings"])
