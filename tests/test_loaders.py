"""Loaders: Moser-lab .mat (both layouts, v5 and v7.3), NWB, Nayebi .npz and netCDF, with
auto-detection and errors that name the file and the field."""

from __future__ import annotations

import datetime as _dt
import pickle
import re
import shutil

import h5py
import numpy as np
import pynwb
import pytest
import scipy.io as sio

from mecbench.analysis import grid_scores
from mecbench.binning import bin_session
from mecbench.errors import ConfigError, DataError
from mecbench.loaders import (
    detect_format,
    infer_arena_side,
    load_recordings,
    parse_moser_name,
    read_moser,
    save_nayebi_npz,
)
from mecbench.neural_data import NeuralData


# ----------------------------------------------------------------------------------------------
# synthetic sessions (positions in cm, as in the Kavli releases)
# ----------------------------------------------------------------------------------------------
def _walk(rng, n=6000, dt=0.02, half=48.0):
    """A Lissajous path with jitter (cm) that covers a 1 m box centred on 0."""
    t = np.arange(n) * dt
    phase = rng.uniform(0, 2 * np.pi, 2)
    x = half * np.sin(2 * np.pi * 0.031 * t + phase[0]) + rng.normal(0, 1.0, n)
    y = half * np.sin(2 * np.pi * 0.047 * t + phase[1]) + rng.normal(0, 1.0, n)
    return t, np.clip(x, -49.9, 49.9), np.clip(y, -49.9, 49.9)


def _spikes(rng, t, n_cells, rate=4.0):
    end = t[-1]
    return [np.sort(rng.uniform(t[0], end, rng.poisson(rate * end))) for _ in range(n_cells)]


def _write_layout_a(folder, rng, rat="10073", session="17010302", n_cells=3, column=True,
                    pos_name=None):
    t, x, y = _walk(rng)
    shape = (lambda a: a[:, None]) if column else (lambda a: a[None, :])
    folder.mkdir(parents=True, exist_ok=True)
    sio.savemat(folder / (pos_name or f"{rat}-{session}_POS.mat"),
                {"posx": shape(x), "posy": shape(y), "post": shape(t),
                 "posx2": np.zeros((0, 0), np.uint8), "posy2": np.zeros((0, 0), np.uint8)})
    spikes = _spikes(rng, t, n_cells)
    names = [f"T{k + 1}C1" for k in range(n_cells)]
    for name, s in zip(names, spikes, strict=True):
        sio.savemat(folder / f"{rat}-{session}_{name}.mat", {"cellTS": shape(s)})
    return t, x, y, spikes, [n.lower() for n in names]


def _write_layout_b(folder, rng, rat="11207", session="21060503", cell="t8c1", sep=2.5):
    t, x, y = _walk(rng)
    theta = rng.uniform(-np.pi, np.pi, t.size)
    x1, y1 = x + sep * np.cos(theta), y + sep * np.sin(theta)
    x2, y2 = x - sep * np.cos(theta), y - sep * np.sin(theta)
    s = _spikes(rng, t, 1)[0]
    folder.mkdir(parents=True, exist_ok=True)
    sio.savemat(folder / f"{rat}-{session}_{cell}.mat",
                {"x1": x1[:, None], "y1": y1[:, None], "x2": x2[:, None], "y2": y2[:, None],
                 "t": t[:, None], "ts": s[:, None], "extra_variable": np.arange(3)})
    return t, (x1, y1, x2, y2), s


def _direct(t, x, y, spikes, **kw):
    """Expected maps: bin_session on the same data in metres (the loader must add nothing)."""
    return bin_session(t, x / 100, y / 100, spikes, arena_width=1.0, **kw)


# ----------------------------------------------------------------------------------------------
# Moser-lab .mat
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("11207-21060503_t8c1.mat", ("11207", "21060503", "t8c1")),
        ("10073-17010302_T2C3.mat", ("10073", "17010302", "t2c3")),
        ("10073-17010302_POS.mat", ("10073", "17010302", "pos")),
        ("sargolini_11207-21060501+02_t6c1.MAT", ("11207", "21060501+02", "t6c1")),
    ],
)
def test_parse_moser_name(name, expected):
    assert parse_moser_name(name) == expected


def test_unparseable_name_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read rat and session"):
        parse_moser_name(tmp_path / "cell7.mat")


@pytest.mark.parametrize("column", [True, False])
def test_layout_a_directory_matches_direct_binning(tmp_path, column):
    rng = np.random.default_rng(0)
    t, x, y, spikes, names = _write_layout_a(tmp_path / "s", rng, column=column)
    nd = load_recordings(tmp_path, arena=1.0)
    rate = nd.rate("1x1m")
    direct = _direct(t, x, y, spikes)
    np.testing.assert_array_equal(rate.values, direct.rate.values)
    np.testing.assert_array_equal(nd.halves("1x1m").values, direct.rate_halves.values)
    assert list(rate["cell_id"].values) == names
    assert list(rate["neuroid_id"].values) == [f"10073/17010302/{n}" for n in names]
    assert set(rate["animal"].values) == {"10073"}
    assert nd.attrs["source"] == "moser-mat"


def test_single_cell_file_finds_its_position_file(tmp_path):
    rng = np.random.default_rng(1)
    t, x, y, spikes, names = _write_layout_a(tmp_path, rng)
    nd = load_recordings(tmp_path / "10073-17010302_T2C1.mat", arena=1.0)
    assert nd.n_neuroids == 1
    np.testing.assert_array_equal(nd.rate("1x1m").values[..., 0],
                                  _direct(t, x, y, [spikes[1]]).rate.values[..., 0])
    # a list of one session's files works as well
    files = [tmp_path / "10073-17010302_POS.mat", tmp_path / "10073-17010302_T1C1.mat"]
    assert load_recordings(files, arena=1.0).n_neuroids == 1


def test_layout_b_two_leds(tmp_path):
    rng = np.random.default_rng(2)
    t, (x1, y1, x2, y2), s = _write_layout_b(tmp_path, rng)
    nd = load_recordings(tmp_path / "11207-21060503_t8c1.mat", arena=1.0)
    direct = bin_session(t, x1 / 100, y1 / 100, [s], x2=x2 / 100, y2=y2 / 100, arena_width=1.0)
    np.testing.assert_allclose(nd.rate("1x1m").values, direct.rate.values, equal_nan=True)
    recs = read_moser(tmp_path)
    assert recs[0].x2 is not None and recs[0].cell_ids == ["t8c1"]
    np.testing.assert_allclose(recs[0].x, x1 / 100)


def test_layout_b_cells_of_one_session_are_binned_together(tmp_path):
    rng = np.random.default_rng(3)
    t, (x1, y1, x2, y2), s1 = _write_layout_b(tmp_path, rng, cell="t1c1")
    data = sio.loadmat(tmp_path / "11207-21060503_t1c1.mat")
    data["ts"] = np.sort(rng.uniform(0, t[-1], 300))[:, None]
    sio.savemat(tmp_path / "11207-21060503_t2c4.mat",
                {k: v for k, v in data.items() if not k.startswith("__")})
    recs = read_moser(tmp_path)
    assert len(recs) == 1 and recs[0].cell_ids == ["t1c1", "t2c4"]


def test_mixed_layouts_and_animals(tmp_path):
    rng = np.random.default_rng(4)
    _write_layout_a(tmp_path / "a", rng, rat="1", n_cells=2)
    _write_layout_a(tmp_path / "b", rng, rat="2", session="01020301", n_cells=1)
    _write_layout_b(tmp_path / "c", rng, rat="3")
    nd = load_recordings(tmp_path)
    assert nd.arena_names == ["1x1m"]
    assert nd.animals("1x1m") == ["1", "2", "3"]
    assert nd.n_neuroids == 4
    assert nd.attrs["n_sessions"] == 3


def test_mat_v73_hdf5(tmp_path):
    """MATLAB -v7.3 files are HDF5 with a 512-byte text header; MATLAB stores arrays
    column-major (a column vector is a (1, n) dataset)."""
    rng = np.random.default_rng(5)
    t, x, y, spikes, names = _write_layout_a(tmp_path / "v5", rng, n_cells=1)
    out = tmp_path / "v73"
    out.mkdir()
    for name, fields in [("10073-17010302_POS.mat", {"posx": x, "posy": y, "post": t}),
                         ("10073-17010302_T1C1.mat", {"cellTS": spikes[0]})]:
        path = out / name
        with h5py.File(path, "w", userblock_size=512) as fh:
            for key, value in fields.items():
                ds = fh.create_dataset(key, data=value[None, :])
                ds.attrs["MATLAB_class"] = np.bytes_("double")
            empty = fh.create_dataset("posx2", data=np.array([0, 0], np.uint64))
            empty.attrs["MATLAB_class"] = np.bytes_("double")
            empty.attrs["MATLAB_empty"] = np.uint8(1)
        with open(path, "r+b") as fh:
            fh.write(b"MATLAB 7.3 MAT-file, Platform: test".ljust(116, b" "))
    nd = load_recordings(out, arena=1.0)
    np.testing.assert_array_equal(nd.rate("1x1m").values,
                                  _direct(t, x, y, spikes).rate.values)


def test_arena_inference_rule():
    assert infer_arena_side(0.96, 0.05) == pytest.approx(1.0)
    assert infer_arena_side(1.04, 0.05) == pytest.approx(1.0)
    assert infer_arena_side(2.17, 0.05) == pytest.approx(2.2)
    assert infer_arena_side(1.03, 0.04) == pytest.approx(1.04)  # 10 cm is not whole bins


def test_inferred_arena_and_recentring(tmp_path):
    rng = np.random.default_rng(6)
    t, x, y, spikes, _ = _write_layout_a(tmp_path / "centred", rng, n_cells=1)
    assert load_recordings(tmp_path / "centred").arena_names == ["1x1m"]
    # positions in 0..100 cm are shifted onto the box centred on 0
    sio.savemat(tmp_path / "centred" / "10073-17010302_POS.mat",
                {"posx": x[:, None] + 50, "posy": y[:, None] + 50, "post": t[:, None]})
    nd = load_recordings(tmp_path / "centred")
    assert nd.arena_names == ["1x1m"]


def test_real_data_ten_cells_three_animals(real_mec_dir):
    nd = load_recordings(real_mec_dir.parent, arena=1.0)
    rate = nd.rate("1x1m")
    assert rate.shape == (20, 20, 10)
    assert nd.animals("1x1m") == ["10073", "11207", "11343"]
    per_animal = {a: int((rate["animal"].values == a).sum()) for a in nd.animals("1x1m")}
    assert per_animal == {"10073": 8, "11207": 1, "11343": 1}
    # every spike was recorded during tracking; counts match the files
    n_spikes = sum(sio.loadmat(p)[k].size for p in sorted(real_mec_dir.glob("*.mat"))
                   for k in ("cellTS", "ts") if k in sio.loadmat(p))
    assert nd.attrs["n_spikes"] == n_spikes == 11930
    assert nd.attrs["n_spikes_outside_recording"] == 0
    # occupancy adds up to the tracked time that passed the speed filter
    occ = nd.arena("1x1m")["occupancy"].values
    assert occ[..., 0].sum() == pytest.approx(599.98 + 0.02, rel=0.2)
    # mean firing rates are physiological and maps cover most of the box
    assert np.all(np.isfinite(rate.values).mean(axis=(0, 1)) > 0.85)
    assert np.all((np.nanmean(rate.values, axis=(0, 1)) > 0.2)
                  & (np.nanmean(rate.values, axis=(0, 1)) < 20))
    assert nd.halves("1x1m").shape == (2, 20, 20, 10)
    # inferred arena equals the documented 1 m box
    assert load_recordings(real_mec_dir).arena_names == ["1x1m"]


def test_real_head_direction_follows_running_direction(real_mec_dir):
    """Rats run head first: with head direction from LED 2 to LED 1, the running direction
    during fast movement lies within 90 degrees of it on average."""
    for rec in read_moser(sorted(real_mec_dir.glob("*_t8c*.mat"))):
        b = bin_session(rec.t, rec.x, rec.y, rec.spike_times, x2=rec.x2, y2=rec.y2,
                        arena_width=1.0, outside="drop")
        x, y = (rec.x + rec.x2) / 2, (rec.y + rec.y2) / 2
        move = np.arctan2(np.gradient(y, rec.t), np.gradient(x, rec.t))
        fast = b.speed > 0.1
        mean = np.mean(np.exp(1j * (move - b.head_direction)[fast]))
        assert abs(np.angle(mean)) < np.pi / 2 and abs(mean) > 0.3


def test_real_grid_cells_score_above_threshold(real_mec_dir):
    nd = load_recordings(real_mec_dir, arena=1.0)
    rate = nd.rate("1x1m")
    scores = dict(zip(rate["neuroid_id"].values.tolist(),
                      np.asarray(grid_scores(rate)).tolist(), strict=True))
    # chosen by eye from the rate maps: hexagonal multi-field maps, and one single-field cell
    grid_like = ["10073/17010302/t2c3", "10073/17010302/t3c1", "10073/17010302/t3c3",
                 "11207/21060503/t8c1", "11343/08120502/t8c2"]
    for cell in grid_like:
        assert scores[cell] > 0.3, (cell, scores[cell])
    assert scores["10073/17010302/t3c4"] < 0.3


# ----------------------------------------------------------------------------------------------
# bad input: each a DataError naming the file and the field
# ----------------------------------------------------------------------------------------------
def test_bad_mat_files(tmp_path):
    rng = np.random.default_rng(7)
    t, x, y, spikes, _ = _write_layout_a(tmp_path / "ok", rng, n_cells=1)
    pos = tmp_path / "ok" / "10073-17010302_POS.mat"

    junk = tmp_path / "junk" / "1-2_t1c1.mat"
    junk.parent.mkdir()
    junk.write_bytes(b"this is not a MATLAB file at all" * 10)
    with pytest.raises(DataError, match=r"1-2_t1c1\.mat"):
        load_recordings(junk)

    trunc = tmp_path / "trunc"
    shutil.copytree(tmp_path / "ok", trunc)
    raw = (trunc / "10073-17010302_POS.mat").read_bytes()
    (trunc / "10073-17010302_POS.mat").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"10073-17010302_POS\.mat.*(truncated|readable)"):
        load_recordings(trunc)

    missing = tmp_path / "missing"
    missing.mkdir()
    sio.savemat(missing / "10073-17010302_POS.mat", {"posx": x[:, None], "post": t[:, None]})
    sio.savemat(missing / "10073-17010302_T1C1.mat", {"cellTS": spikes[0][:, None]})
    with pytest.raises(DataError, match=r"POS\.mat.*missing posy"):
        load_recordings(missing)

    sio.savemat(missing / "10073-17010302_POS.mat",
                {"posx": x[:-5, None], "posy": y[:, None], "post": t[:, None]})
    with pytest.raises(DataError, match=r"POS\.mat: field 'posx' has 5995 samples.*'post'"):
        load_recordings(missing)

    sio.savemat(missing / "10073-17010302_POS.mat",
                {"posx": np.full((t.size, 1), np.nan), "posy": y[:, None], "post": t[:, None]})
    with pytest.raises(DataError, match=r"POS\.mat: position fields 'posx'/'posy' are all NaN"):
        load_recordings(missing)

    shutil.copy(pos, missing / "10073-17010302_POS.mat")
    sio.savemat(missing / "10073-17010302_T1C1.mat",
                {"cellTS": np.append(spikes[0], t[-1] + 10)[:, None]})
    with pytest.raises(DataError, match=r"T1C1\.mat field 'cellTS'.*outside the position"):
        load_recordings(missing)
    nd = load_recordings(missing, spikes_outside="drop")
    assert nd.attrs["n_spikes_outside_recording"] == 1

    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(tmp_path / "ok" / "10073-17010302_T1C1.mat", lone)
    with pytest.raises(DataError, match=r"T1C1\.mat: no position file"):
        load_recordings(lone)

    other = tmp_path / "other"
    other.mkdir()
    sio.savemat(other / "5-01010101_t1c1.mat", {"waveform": np.ones((4, 3))})
    with pytest.raises(DataError, match=r"t1c1\.mat: no Moser-lab variables"):
        load_recordings(other)

    shaped = tmp_path / "shaped"
    shaped.mkdir()
    sio.savemat(shaped / "5-01010101_t1c1.mat",
                {"x1": np.ones((10, 2)), "y1": np.ones(10), "t": np.arange(10.0),
                 "ts": np.ones(2)})
    with pytest.raises(DataError, match=r"t1c1\.mat: field 'x1' must be a vector"):
        load_recordings(shaped)

    with pytest.raises(DataError, match="no such file"):
        load_recordings(tmp_path / "nothing.mat")


def _rewrite_without(path, *drop, **replace):
    """Rewrite a .mat file without the variables ``drop`` (and with ``replace`` swapped in)."""
    data = {k: v for k, v in sio.loadmat(path).items() if not k.startswith("__")}
    for name in drop:
        del data[name]
    data.update(replace)
    sio.savemat(path, data)
    return sorted(data)


@pytest.mark.parametrize(("drop", "named"), [(("t",), "'t'"), (("x1",), "'x1'"),
                                             (("y1",), "'y1'"), (("x1", "y1"), "'x1', 'y1'")])
def test_self_contained_file_without_positions_names_them(tmp_path, drop, named):
    rng = np.random.default_rng(14)
    _write_layout_b(tmp_path, rng, cell="t1c1")
    path = tmp_path / "11207-21060503_t1c1.mat"
    has = _rewrite_without(path, *drop)
    with pytest.raises(DataError) as err:
        load_recordings(tmp_path, arena=1.0)
    msg = str(err.value)
    assert msg.startswith(f"{path}: self-contained cell file lacks variable"), msg
    assert f"variable{'s' if len(drop) > 1 else ''} {named} (has: {', '.join(has)})" in msg
    assert "no position file" not in msg


def test_self_contained_file_without_spike_times_is_not_dropped(tmp_path):
    rng = np.random.default_rng(15)
    _write_layout_b(tmp_path, rng, cell="t1c1")
    _write_layout_b(tmp_path, rng, cell="t2c1")
    assert [r.cell_ids for r in read_moser(tmp_path)] == [["t1c1"], ["t2c1"]]
    path = tmp_path / "11207-21060503_t2c1.mat"
    _rewrite_without(path, "ts")
    # alone, and beside a complete cell of the same session (which used to hide it)
    for where in (path, tmp_path):
        with pytest.raises(DataError, match=re.escape(f"{path}: self-contained cell file lacks "
                                                      "variable 'ts' (has: extra_variable, t,")):
            load_recordings(where, arena=1.0)
    # a layout-A session beside it does not hide it either
    _write_layout_a(tmp_path / "a", rng, n_cells=1)
    with pytest.raises(DataError, match=r"_t2c1\.mat: self-contained .* lacks variable 'ts'"):
        read_moser(tmp_path)


def test_layout_a_cell_file_with_extra_and_empty_led2_variables_still_pairs(tmp_path):
    """Empty second-LED placeholders (as in layout-A position files) and unknown variables do
    not make a cell file self-contained; a non-empty LED-2 coordinate does."""
    rng = np.random.default_rng(18)
    t, x, y, spikes, _ = _write_layout_a(tmp_path, rng, n_cells=1)
    cell = tmp_path / "10073-17010302_T1C1.mat"
    _rewrite_without(cell, posx2=np.zeros((0, 0)), posy2=np.zeros((0, 0)),
                     waveform=np.ones((4, 3)))
    recs = read_moser(tmp_path)
    assert recs[0].cell_ids == ["t1c1"]
    np.testing.assert_array_equal(recs[0].spike_times[0], spikes[0])
    _rewrite_without(cell, "posy2", posx2=x[:, None])
    with pytest.raises(DataError, match=re.escape(
            f"{cell}: self-contained cell file lacks variables 't', 'x1', 'y1' "
            "(has: cellTS, posx2, waveform)")):
        read_moser(tmp_path)


@pytest.mark.parametrize(("drop", "replace", "message"), [
    ("y2", {}, "field 'x2' has 6000 samples but 'y2' is missing"),
    ("x2", {}, "field 'y2' has 6000 samples but 'x2' is missing"),
    (None, {"x2": np.zeros((0, 0))}, "field 'y2' has 6000 samples but 'x2' is empty"),
])
def test_second_led_with_one_coordinate_is_an_error(tmp_path, drop, replace, message):
    rng = np.random.default_rng(16)
    _write_layout_b(tmp_path, rng)
    path = tmp_path / "11207-21060503_t8c1.mat"
    _rewrite_without(path, *([drop] if drop else []), **replace)
    with pytest.raises(DataError, match=re.escape(f"{path}: second LED: {message}")):
        load_recordings(path, arena=1.0)


def test_layout_a_second_led_with_one_coordinate_is_an_error(tmp_path):
    rng = np.random.default_rng(17)
    _, x, _, _, _ = _write_layout_a(tmp_path, rng, n_cells=1)
    pos = tmp_path / "10073-17010302_POS.mat"
    _rewrite_without(pos, "posx2", posx2=x[:, None] + 3)
    with pytest.raises(DataError, match=re.escape(
            f"{pos}: second LED: field 'posx2' has 6000 samples but 'posy2' is empty")):
        load_recordings(tmp_path, arena=1.0)
    _rewrite_without(pos, "posy2")
    with pytest.raises(DataError, match=re.escape("'posx2' has 6000 samples but 'posy2' is "
                                                  "missing")):
        load_recordings(tmp_path, arena=1.0)
    # both coordinates of LED 2 load (and change the maps: the position is the LEDs' mean)
    _rewrite_without(pos, posy2=sio.loadmat(pos)["posy"] + 3)
    recs = read_moser(tmp_path)
    np.testing.assert_allclose(recs[0].x2, (x + 3) / 100)


# ----------------------------------------------------------------------------------------------
# NWB
# ----------------------------------------------------------------------------------------------
def _write_nwb(path, t, xy_cm, spikes, *, xy2_cm=None, units=True, unit="meters",
               conversion=0.01, subject="10073", session="17010302"):
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.file import Subject

    nwb = pynwb.NWBFile(
        session_description="open field", identifier=f"{subject}-{session}",
        session_start_time=_dt.datetime(2006, 1, 17, tzinfo=_dt.timezone.utc),
        session_id=session, subject=Subject(subject_id=subject, species="Rattus norvegicus"),
    )
    series = [SpatialSeries(name="SpatialSeriesLED1", data=xy_cm, timestamps=t, unit=unit,
                            conversion=conversion, reference_frame="box centre")]
    if xy2_cm is not None:
        series.append(SpatialSeries(name="SpatialSeriesLED2", data=xy2_cm, timestamps=t,
                                    unit=unit, conversion=conversion,
                                    reference_frame="box centre"))
    behavior = nwb.create_processing_module("behavior", "position tracking")
    behavior.add(Position(spatial_series=series))
    if units:
        nwb.add_unit_column("unit_name", "tetrode and cell")
        for k, s in enumerate(spikes):
            nwb.add_unit(spike_times=s, unit_name=f"t{k + 1}c1")
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_nwb_round_trip(tmp_path):
    rng = np.random.default_rng(8)
    t, x, y = _walk(rng)
    spikes = _spikes(rng, t, 3)
    _write_nwb(tmp_path / "sub-10073_ses-17010302_behavior+ecephys.nwb", t,
               np.stack([x, y], 1), spikes)
    assert detect_format(tmp_path / "sub-10073_ses-17010302_behavior+ecephys.nwb") == "nwb"
    nd = load_recordings(tmp_path, arena=1.0)
    direct = _direct(t, x, y, spikes)
    np.testing.assert_allclose(nd.rate("1x1m").values, direct.rate.values, rtol=1e-12,
                               equal_nan=True)
    rate = nd.rate("1x1m")
    assert list(rate["neuroid_id"].values) == [f"10073/17010302/t{k}c1" for k in (1, 2, 3)]
    assert nd.attrs["source"] == "nwb"


def test_nwb_two_leds_and_units_in_cm(tmp_path):
    rng = np.random.default_rng(9)
    t, x, y = _walk(rng)
    spikes = _spikes(rng, t, 1)
    theta = rng.uniform(-np.pi, np.pi, t.size)
    led1 = np.stack([x + 2 * np.cos(theta), y + 2 * np.sin(theta)], 1)
    led2 = np.stack([x - 2 * np.cos(theta), y - 2 * np.sin(theta)], 1)
    _write_nwb(tmp_path / "a.nwb", t, led1, spikes, xy2_cm=led2, unit="cm", conversion=1.0)
    nd = load_recordings(tmp_path / "a.nwb", arena=1.0)
    direct = bin_session(t, led1[:, 0] / 100, led1[:, 1] / 100, spikes, x2=led2[:, 0] / 100,
                         y2=led2[:, 1] / 100, arena_width=1.0)
    np.testing.assert_allclose(nd.rate("1x1m").values, direct.rate.values, rtol=1e-9,
                               equal_nan=True)
    assert nd.attrs["position_unit"] == "cm"  # the unit of the file, for the arena report
    # labels override the file's subject and session
    labelled = load_recordings(tmp_path / "a.nwb", arena=1.0, animal="r9", session="s9")
    assert labelled.rate("1x1m")["neuroid_id"].values[0].startswith("r9/s9/")


def test_nwb_bad_inputs(tmp_path):
    rng = np.random.default_rng(10)
    t, x, y = _walk(rng, n=500)
    _write_nwb(tmp_path / "nounits.nwb", t, np.stack([x, y], 1), [], units=False)
    with pytest.raises(DataError, match=r"nounits\.nwb: no units"):
        load_recordings(tmp_path / "nounits.nwb", arena=1.0)
    _write_nwb(tmp_path / "pixels.nwb", t, np.stack([x, y], 1), _spikes(rng, t, 1),
               unit="pixels", conversion=1.0)
    with pytest.raises(DataError, match=r"pixels\.nwb: SpatialSeries 'SpatialSeriesLED1': "
                                        r"field 'unit'"):
        load_recordings(tmp_path / "pixels.nwb", arena=1.0)
    bad = tmp_path / "broken.nwb"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    with pytest.raises(DataError, match=r"broken\.nwb"):
        load_recordings(bad)


# ----------------------------------------------------------------------------------------------
# Nayebi dict (.npz) and netCDF
# ----------------------------------------------------------------------------------------------
def test_nayebi_npz_round_trip_and_in_memory_dict(tmp_path):
    rng = np.random.default_rng(11)
    resp = rng.random((20, 20, 4))
    resp[0, 0, :] = np.nan
    dataset = {1.0: {"rat1": {"resp": resp, "cell_ids": np.array([3, 4, 5, 6])},
                     "rat2": {"resp": rng.random((400, 2)), "cell_ids": np.array(["a", "b"])}}}
    path = save_nayebi_npz(dataset, tmp_path / "d.npz")
    nd = load_recordings(path)
    direct = NeuralData.from_nayebi_dict(dataset)
    np.testing.assert_array_equal(nd.rate("1x1m").values, direct.rate("1x1m").values)
    assert list(nd.rate("1x1m")["neuroid_id"].values) == \
        list(direct.rate("1x1m")["neuroid_id"].values)
    with pytest.raises(ConfigError, match="already holds rate maps"):
        load_recordings(path, speed_min=0.0)
    in_memory = load_recordings(dataset)
    assert in_memory.content_hash() == direct.content_hash()


def test_pickles_are_refused_without_being_opened(tmp_path):
    path = tmp_path / "dataset.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"x": 1}, fh)
    with pytest.raises(DataError, match="never unpickles"):
        load_recordings(path)
    npz = tmp_path / "objects.npz"
    np.savez(npz, **{"1.0/rat/resp": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(DataError, match="unpickling"):
        load_recordings(npz)


def test_netcdf_round_trip_through_load_recordings(tmp_path):
    rng = np.random.default_rng(12)
    _write_layout_a(tmp_path / "s", rng, n_cells=2)
    nd = load_recordings(tmp_path / "s", arena=1.0)
    out = nd.save(tmp_path / "out.nc")
    assert detect_format(out) == "netcdf"
    back = load_recordings(out)
    assert back.content_hash() == nd.content_hash()
    assert back.attrs["source"] == "moser-mat"
    with pytest.raises(ConfigError, match="already holds rate maps"):
        load_recordings(out, arena=1.0)


def test_detect_format(tmp_path):
    rng = np.random.default_rng(13)
    _write_layout_a(tmp_path / "m", rng, n_cells=1)
    assert detect_format(tmp_path / "m") == "moser"
    assert detect_format(tmp_path / "m" / "10073-17010302_POS.mat") == "moser"
    renamed = tmp_path / "recording.dat"
    shutil.copy(tmp_path / "m" / "10073-17010302_POS.mat", renamed)
    assert detect_format(renamed) == "moser"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .mat or .nwb"):
        detect_format(tmp_path / "empty")
    (tmp_path / "x.bin").write_bytes(b"\x01\x02")
    with pytest.raises(DataError, match="unknown recording format"):
        detect_format(tmp_path / "x.bin")
    with pytest.raises(ConfigError, match="format must be"):
        load_recordings(tmp_path / "m", format="excel")
