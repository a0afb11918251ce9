"""mecbench.netcdf_attrs: every value becomes an attribute netCDF4 stores, and reads back as
the value (numbers), 0/1 (booleans) or JSON text that parses to the value (containers)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import xarray as xr

from mecbench.netcdf_attrs import netcdf_attr, netcdf_attrs


def _roundtrip(attrs: dict, tmp_path: Path) -> dict:
    ds = xr.Dataset({"v": ("x", [1.0, 2.0])})
    ds.attrs = netcdf_attrs(attrs)
    path = tmp_path / "a.nc"
    ds.to_netcdf(path, engine="netcdf4")
    with xr.open_dataset(path, engine="netcdf4") as back:
        return dict(back.attrs)


def test_every_kind_of_value_is_stored_by_netcdf4(tmp_path):
    attrs = {
        "text": "mec-sim", "int": 3, "float": 0.25, "nan": float("nan"),
        "np_int": np.int64(-7), "np_float": np.float32(1.5),
        "yes": True, "no": np.bool_(False),
        "list": ["1x1m", "2.2x2.2m"], "tuple": (1, 2.5), "set": {"b", "a"},
        "dict": {"z": 1, "a": [np.int64(2), np.float64(0.5)]},
        "array": np.arange(3), "path": Path("/data/x.nwb"), "none": None,
    }
    back = _roundtrip(attrs, tmp_path)
    assert "none" not in back
    assert back["text"] == "mec-sim"
    assert back["int"] == 3 and back["float"] == 0.25 and math.isnan(back["nan"])
    assert back["np_int"] == -7 and back["np_float"] == 1.5
    assert back["yes"] == 1 and back["no"] == 0
    assert json.loads(back["list"]) == ["1x1m", "2.2x2.2m"]
    assert json.loads(back["tuple"]) == [1, 2.5]
    assert json.loads(back["set"]) == ["a", "b"]
    assert json.loads(back["dict"]) == {"a": [2, 0.5], "z": 1}
    assert json.loads(back["array"]) == [0, 1, 2]
    assert back["path"] == str(Path("/data/x.nwb"))


def test_json_text_has_sorted_keys_and_the_standard_separators():
    value = {"b": [1, 2], "a": {"d": 1, "c": 2}}
    assert netcdf_attr(value) == json.dumps(value, sort_keys=True)
    assert netcdf_attr(["1x1m", "2.2x2.2m"]) == '["1x1m", "2.2x2.2m"]'


def test_numbers_and_text_pass_unchanged():
    for value in ("x", 1, 2.5, np.int32(4), np.float64(0.1)):
        out = netcdf_attr(value)
        assert out == value and type(out) is type(value)
    assert type(netcdf_attr(True)) is int
    assert netcdf_attrs({1: "a", "k": None}) == {"1": "a"}
