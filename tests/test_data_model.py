"""Rate maps and NeuralData: construction, validation, netCDF and Nayebi-dict round trips."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from mecbench.errors import DataError, UnknownIdentifierError
from mecbench.neural_data import NeuralData
from mecbench.ratemaps import Arena, check_same_grid, flat_values, make_rate_maps


def _maps(nx=20, n=4, animal="a", seed=0, width=1.0):
    rng = np.random.default_rng(seed)
    return make_rate_maps(rng.random((nx, nx, n)), arena_width=width, bin_size=width / nx,
                          neuroid_id=[f"{animal}/{i}" for i in range(n)], animal=animal)


def test_bin_centres_are_centred_on_zero():
    arena = Arena(2.2, 2.2, 0.05)
    assert arena.shape == (44, 44)
    np.testing.assert_allclose(arena.x, np.linspace(-1.075, 1.075, 44))
    assert arena.key == "2.2x2.2m"


def test_flat_values_is_c_order_over_x_then_y():
    da = _maps(nx=4, n=2)
    flat = flat_values(da)
    assert flat.shape == (16, 2)
    np.testing.assert_array_equal(flat[1 * 4 + 2], da.values[1, 2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": np.zeros((5, 5))}, "3 dims"),
        ({"values": np.zeros((5, 6, 2))}, "do not match"),
        ({"values": np.full((5, 5, 1), np.inf)}, "infinite"),
        ({"neuroid_id": ["x", "x"]}, "duplicate neuroid ids"),
        ({"bin_size": 0.3}, "whole number of bins"),
    ],
)
def test_bad_rate_maps_name_the_problem(kwargs, message):
    args = {"values": np.zeros((5, 5, 2)), "arena_width": 1.0, "bin_size": 0.2}
    args.update(kwargs)
    with pytest.raises(DataError, match=message):
        make_rate_maps(**args)


def test_grid_mismatch_is_reported():
    with pytest.raises(DataError, match="arena_width"):
        check_same_grid(_maps(width=1.0), _maps(width=2.0), ("model", "data"))


def test_netcdf_round_trip_keeps_values_coords_and_halves(tmp_path):
    rate = _maps(n=3)
    halves = xr.concat([rate * 0.9, rate * 1.1], dim="half")
    occupancy = xr.ones_like(rate)
    nd = NeuralData.from_rate_maps([rate, _maps(nx=44, width=2.2, animal="b")],
                                   halves=[halves, None], occupancy=[occupancy, None],
                                   attrs={"source": "unit test"})
    path = nd.save(tmp_path / "data.nc")
    back = NeuralData.load(path)
    assert back.arena_names == ["1x1m", "2.2x2.2m"]
    xr.testing.assert_identical(back.rate("1x1m"), nd.rate("1x1m"))
    np.testing.assert_array_equal(back.halves(1.0).values, halves.transpose("half", ...).values)
    assert back.halves("2.2x2.2m") is None
    assert back.attrs["source"] == "unit test"
    assert back.content_hash() == nd.content_hash()


def test_content_hash_changes_with_one_value():
    rate = _maps()
    other = rate.copy()
    other[0, 0, 0] += 1e-9
    assert (NeuralData.from_rate_maps(rate).content_hash()
            != NeuralData.from_rate_maps(other).content_hash())


def test_nayebi_dict_round_trip_flat_and_grid_resp():
    rng = np.random.default_rng(1)
    grid = rng.random((44, 44, 5))
    flat = rng.random((400, 2))
    flat[3] = np.nan
    d = {2.2: {"r1": {"resp": grid, "cell_ids": np.arange(5)}},
         1.0: {"r2": {"resp": flat, "cell_ids": np.array(["c1", "c2"])}}}
    nd = NeuralData.from_nayebi_dict(d)
    assert nd.animals(2.2) == ["r1"]
    out = nd.to_nayebi_dict()
    np.testing.assert_array_equal(out[2.2]["r1"]["resp"], grid)
    np.testing.assert_array_equal(out[1.0]["r2"]["resp"].reshape(400, 2), flat)
    assert out[1.0]["r2"]["cell_ids"].tolist() == ["c1", "c2"]


def test_nayebi_dict_errors():
    with pytest.raises(DataError, match="not a square grid"):
        NeuralData.from_nayebi_dict({1.0: {"a": {"resp": np.zeros((10, 2))}}})
    with pytest.raises(DataError, match="cell_ids"):
        NeuralData.from_nayebi_dict(
            {1.0: {"a": {"resp": np.zeros((4, 4, 2)), "cell_ids": [1, 2, 3]}}})


def test_all_nan_cell_is_rejected():
    rate = _maps()
    rate[..., 1] = np.nan
    with pytest.raises(DataError, match="a/1"):
        NeuralData.from_rate_maps(rate)


def test_unknown_arena_suggests_names():
    nd = NeuralData.from_rate_maps(_maps())
    with pytest.raises(UnknownIdentifierError, match="1x1m"):
        nd.arena("1x2m")


def test_load_bad_files_raise_data_error(tmp_path):
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not a netcdf file at all")
    with pytest.raises(DataError, match="junk.nc"):
        NeuralData.load(junk)
    with pytest.raises(DataError, match="no such file"):
        NeuralData.load(tmp_path / "missing.nc")


def test_failed_save_keeps_existing_file(tmp_path, monkeypatch):
    nd = NeuralData.from_rate_maps(_maps())
    path = nd.save(tmp_path / "d.nc")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", boom)
    with pytest.raises(OSError):
        nd.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["d.nc"]
