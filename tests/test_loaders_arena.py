"""The box of each session at import: how it was found and in which unit the positions were
read (NeuralData attributes), and a DataWarning when it is implausible for a rodent arena."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.io as sio

from mecbench.errors import DataError
from mecbench.loaders import infer_arena_side, load_recordings
from mecbench.loaders.recording import DataWarning


def _box(folder, side_m, metres_per_unit, seed=0):
    """One layout-A session covering a box of ``side_m`` metres (positions strictly inside),
    written in units of ``metres_per_unit``; returns the positions in metres."""
    rng = np.random.default_rng(seed)
    n = 6000
    t = np.arange(n) * 0.02
    x = 0.46 * side_m * np.sin(2 * np.pi * 0.031 * t + 1) + rng.normal(0, 0.004 * side_m, n)
    y = 0.46 * side_m * np.sin(2 * np.pi * 0.047 * t + 2) + rng.normal(0, 0.004 * side_m, n)
    folder.mkdir(parents=True)
    sio.savemat(folder / "5-01020301_POS.mat", {"posx": x / metres_per_unit,
                                                "posy": y / metres_per_unit, "post": t})
    sio.savemat(folder / "5-01020301_T1C1.mat", {"cellTS": np.sort(rng.uniform(0, 119, 400))})
    return x, y


def _report(nd):
    return json.loads(nd.attrs["arena_inference"])


def test_the_report_in_the_attributes(tmp_path):
    x, y = _box(tmp_path / "a", 0.6, 0.001)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nd = load_recordings(tmp_path / "a", position_unit="mm")
    assert nd.arena_names == ["0.6x0.6m"]
    assert nd.attrs["position_unit"] == "mm"
    entry = _report(nd)["0.6x0.6m"]
    assert entry["how"] == "inferred" and entry["sessions"] == 1 and entry["plausible"]
    assert entry["arena_m"] == pytest.approx([0.6, 0.6]) and entry["position_unit"] == "mm"
    assert entry["position_range_m"] == pytest.approx([np.ptp(x), np.ptp(y)], abs=1e-6)
    given = load_recordings(tmp_path / "a", position_unit=0.001, arena=(0.7, 0.6))
    entry = _report(given)["0.7x0.6m"]
    assert entry["how"] == "given" and entry["position_unit"] == "0.001 m"
    assert given.attrs["position_unit"] == "0.001 m"


@pytest.mark.parametrize(("side", "unit", "read_as"), [
    (0.6, 0.001, "cm"),  # millimetres read as centimetres: 10 times too large
    (0.25, 0.01, "cm"),  # a real 25 cm box: small but possible, a warning only
    (7.0, 0.01, "cm"),
])
def test_an_implausible_box_warns_and_names_the_options(tmp_path, side, unit, read_as):
    x, y = _box(tmp_path / "a", side, unit)
    scale = {"cm": 0.01}[read_as] / unit  # metres per file unit as read, over the true one
    w, h = (infer_arena_side(2 * np.abs(v).max() * scale, 0.05) for v in (x, y))
    assert not (0.3 <= w <= 5 and 0.3 <= h <= 5)
    with pytest.warns(DataWarning, match=(
            rf"5-01020301_POS\.mat: positions \(read as {read_as}\) span .* a {w:g} x {h:g} m "
            r"box, implausible for a rodent arena \(0\.3-5 m\); check the unit of the positions "
            r"\(--position-unit, position_unit=\) or give the box size \(--arena, arena=\)")):
        nd = load_recordings(tmp_path / "a", position_unit=read_as)
    assert _report(nd)[nd.arena_names[0]]["plausible"] is False


def test_a_given_arena_does_not_hide_a_wrong_unit(tmp_path):
    _box(tmp_path / "a", 1.0, 1.0)  # metres read as cm
    with pytest.raises(DataError, match=r"positions read as cm along x span .* no plausible "
                                        r"box .*--position-unit.*--arena"):
        load_recordings(tmp_path / "a")
    # the warning comes before binning, which then fails on the tiny box
    with pytest.warns(DataWarning, match="--position-unit"), pytest.raises(DataError):
        load_recordings(tmp_path / "a", arena=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nd = load_recordings(tmp_path / "a", arena=1.0, position_unit="m")
    assert _report(nd)["1x1m"] | {"position_range_m": None} == {
        "arena_m": [1.0, 1.0], "how": "given", "sessions": 1, "position_unit": "m",
        "plausible": True, "position_range_m": None}


@pytest.mark.parametrize("unit", ["px", float("inf"), float("nan"), 0, -0.01, None])
def test_a_bad_position_unit_is_a_config_error(tmp_path, unit):
    from mecbench.errors import ConfigError

    _box(tmp_path / "a", 1.0, 0.01)
    with pytest.raises(ConfigError, match=r"position_unit must be one of \['cm', 'm', 'mm'\] "
                                          r"or a positive number of metres per unit, got"):
        load_recordings(tmp_path / "a", position_unit=unit)
