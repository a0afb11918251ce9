"""Moser-lab layouts found by content, whatever the file names: the same real session written
in several naming variants (with and without rat numbers, without any pattern, row and column
arrays, other variable-name case) imports to the same rate maps; labels (--animal/--session)
for what the names do not say; pairing, collisions and errors."""

from __future__ import annotations

import re
import shutil
import warnings

import numpy as np
import pytest
import scipy.io as sio

from mecbench.cli.main import main
from mecbench.errors import ConfigError, DataError
from mecbench.loaders import load_recordings, read_moser
from mecbench.loaders.moser import parse_name
from mecbench.loaders.recording import DataWarning
from mecbench.neural_data import NeuralData

RAT, SESSION = "10073", "17010302"
# the cells of the real session, and the names a file without any pattern gets in one variant
CELLS = ["t1c1", "t2c1", "t2c3", "t3c1", "t3c2", "t3c3", "t3c4", "t4c1"]
PLAIN = dict(zip(CELLS, ["kiwi", "fig", "apple", "lime", "date", "plum", "pear", "yuzu"],
                 strict=True))


def _row(a):
    return np.asarray(a, dtype=np.float64).reshape(1, -1)


def _col(a):
    return np.asarray(a, dtype=np.float64).reshape(-1, 1)


@pytest.fixture
def session(real_mec_dir):
    """The real layout-A session (positions and 8 cells) as plain vectors."""
    pos = sio.loadmat(real_mec_dir / f"{RAT}-{SESSION}_POS.mat")
    spikes = {}
    for cell in CELLS:
        t, c = cell[1:].split("c")
        spikes[cell] = sio.loadmat(real_mec_dir / f"{RAT}-{SESSION}_T{t}C{c}.mat")["cellTS"]
    return {k: pos[k].reshape(-1) for k in ("posx", "posy", "post")}, \
        {k: v.reshape(-1) for k, v in spikes.items()}


def _original(real_mec_dir, folder):
    """The session under its own names (links to the real files, nothing copied)."""
    folder.mkdir()
    for f in sorted(real_mec_dir.glob(f"{RAT}-{SESSION}_*.mat")):
        (folder / f.name).symlink_to(f)
    return folder


def _published(session, folder):
    """``<SESSION>_T<tt>C<c>.mat`` + ``<SESSION>_pos.mat``, no rat number, 1xN rows, an
    untracked second LED as NaN rows."""
    pos, spikes = session
    folder.mkdir()
    n = pos["post"].size
    sio.savemat(folder / f"{SESSION}_pos.mat",
                {"posx": _row(pos["posx"]), "posy": _row(pos["posy"]), "post": _row(pos["post"]),
                 "posx2": np.full((1, n), np.nan), "posy2": np.full((1, n), np.nan)})
    for cell, s in spikes.items():
        t, c = cell[1:].split("c")
        sio.savemat(folder / f"{SESSION}_T{int(t):02d}C{c}.mat", {"cellTS": _row(s)})
    return folder


def _lower_case_tags(session, folder):
    """``<rat>-<session>_t<T>c<C>.mat`` + ``<rat>-<session>_POS.mat``, upper-case variable
    names, columns for positions and rows for spikes."""
    pos, spikes = session
    folder.mkdir()
    sio.savemat(folder / f"{RAT}-{SESSION}_POS.mat",
                {"POSX": _col(pos["posx"]), "PosY": _col(pos["posy"]), "POST": _col(pos["post"])})
    for cell, s in spikes.items():
        sio.savemat(folder / f"{RAT}-{SESSION}_{cell}.mat", {"CellTS": _row(s)})
    return folder


def _no_pattern(session, folder, pos_name="q.mat"):
    """File names with no pattern at all; orientation alternates from file to file."""
    pos, spikes = session
    folder.mkdir(parents=True)
    sio.savemat(folder / pos_name, {k: _row(v) for k, v in pos.items()})
    for k, (cell, s) in enumerate(spikes.items()):
        sio.savemat(folder / f"{PLAIN[cell]}.mat", {"cellTS": (_row if k % 2 else _col)(s)})
    return folder


def _assert_same_data(a: NeuralData, b: NeuralData, rename=None):
    """Same arenas, maps (values, halves, occupancy) and labels; ``rename`` maps the cell ids
    of ``b`` onto those of ``a`` (cells are then compared by id)."""
    assert a.arena_names == b.arena_names
    for key in a.arena_names:
        da, db = a.arena(key), b.arena(key)
        ids_a = da["cell_id"].values.astype(str).tolist()
        ids_b = [(rename or {}).get(c, c) for c in db["cell_id"].values.astype(str).tolist()]
        assert sorted(ids_a) == sorted(ids_b)
        order = [ids_b.index(c) for c in ids_a]
        for var in ("rate", "rate_halves", "occupancy"):
            np.testing.assert_array_equal(da[var].values, db[var].isel(neuroid=order).values)
        for coord in ("animal", "session"):
            assert da[coord].values.astype(str).tolist() == \
                db[coord].values.astype(str)[order].tolist()


# ----------------------------------------------------------------------------------------------
# names
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("11207-21060503_t8c1.mat", ("11207", "21060503", "t8c1", True)),
    ("10073-17010302_T02C3.mat", ("10073", "17010302", "t2c3", True)),
    ("10073-17010302_POS.mat", ("10073", "17010302", "pos", False)),
    ("sargolini_11207-21060501+02_t6c1.MAT", ("11207", "21060501+02", "t6c1", True)),
    ("ABC_T01C1.mat", (None, "ABC", "t1c1", True)),
    ("ABC_pos.mat", (None, "ABC", "abc_pos", False)),
    ("T3C12_day2.mat", (None, "day2", "t3c12", True)),
    ("mouse1-2_TT4_C2.mat", (None, "mouse1-2", "t4c2", True)),
    ("ratA_tetrode1_cell5.mat", (None, "ratA", "t1c5", True)),
    ("track.mat", (None, None, "track", False)),
    ("kiwi.mat", (None, None, "kiwi", False)),
    ("test_1.mat", (None, None, "test_1", False)),
])
def test_what_names_say(name, expected):
    assert parse_name(name) == expected


# ----------------------------------------------------------------------------------------------
# the same real session in every naming variant
# ----------------------------------------------------------------------------------------------
def test_naming_variants_import_to_the_same_data(real_mec_dir, session, tmp_path):
    reference = load_recordings(_original(real_mec_dir, tmp_path / "original"))
    assert reference.rate("1x1m")["cell_id"].values.tolist() == CELLS
    published = load_recordings(_published(session, tmp_path / "published"), animal=RAT)
    _assert_same_data(reference, published)
    assert published.rate("1x1m")["neuroid_id"].values.tolist() == \
        reference.rate("1x1m")["neuroid_id"].values.tolist()
    tagged = load_recordings(_lower_case_tags(session, tmp_path / "tagged"))
    _assert_same_data(reference, tagged)
    plain = load_recordings(_no_pattern(session, tmp_path / "plain"), animal=RAT,
                            session=SESSION)
    assert sorted(plain.rate("1x1m")["cell_id"].values.tolist()) == sorted(PLAIN.values())
    _assert_same_data(reference, plain, rename={v: k for k, v in PLAIN.items()})
    # the labels give what the names do: both together equal the original import
    labelled = load_recordings(tmp_path / "published", animal=RAT, session=SESSION)
    _assert_same_data(reference, labelled)


def test_labels_override_the_names(session, tmp_path):
    folder = _lower_case_tags(session, tmp_path / "tagged")
    nd = load_recordings(folder, animal="r1", session="s1")
    assert set(nd.rate("1x1m")["neuroid_id"].values) == {f"r1/s1/{c}" for c in CELLS}


def test_names_without_animal_or_session_ask_for_the_labels(session, tmp_path):
    published = _published(session, tmp_path / "published")
    with pytest.raises(DataError, match=re.escape(
            f"{published}: the file names (e.g. {SESSION}_T01C1.mat) do not give the animal; "
            "label the recordings with --animal NAME (animal= in Python)")):
        load_recordings(published)
    plain = _no_pattern(session, tmp_path / "plain")
    with pytest.raises(DataError, match=r"do not give the animal and session; label the "
                                        r"recordings with --animal NAME --session NAME"):
        load_recordings(plain)
    with pytest.raises(DataError, match=r"do not give the session; .* --session NAME \("):
        load_recordings(plain, animal="r1")


def test_a_lone_cell_file_finds_its_unnamed_position_file(session, tmp_path):
    folder = _no_pattern(session, tmp_path / "plain")
    nd = load_recordings(folder / "fig.mat", animal=RAT, session=SESSION)
    whole = load_recordings(folder, animal=RAT, session=SESSION)
    fig = whole.rate("1x1m").sel(neuroid=whole.rate("1x1m")["cell_id"] == "fig")
    np.testing.assert_array_equal(nd.rate("1x1m").values, fig.values)


def test_cells_named_by_session_pair_with_an_unnamed_position_file(session, tmp_path):
    """``ABC_T1C1.mat`` beside ``q.mat``: the only position file of the directory."""
    folder = _published(session, tmp_path / "mixed")
    (folder / f"{SESSION}_pos.mat").rename(folder / "q.mat")
    nd = load_recordings(folder, animal=RAT)
    assert nd.rate("1x1m")["session"].values.astype(str).tolist() == [SESSION] * 8


# ----------------------------------------------------------------------------------------------
# several paths in one call: a multi-animal NeuralData
# ----------------------------------------------------------------------------------------------
def test_several_directories_one_label_each(session, tmp_path, real_mec_dir):
    a = _published(session, tmp_path / "a")
    b = _no_pattern(session, tmp_path / "b")
    nd = load_recordings([a, b], animal=["r1", "r2"], session=[None, "s2"])
    rate = nd.rate("1x1m")
    assert nd.animals("1x1m") == ["r1", "r2"]
    assert sorted(set(rate["neuroid_id"].values)) == sorted(
        [f"r1/{SESSION}/{c}" for c in CELLS] + [f"r2/s2/{v}" for v in PLAIN.values()])
    one = load_recordings(a, animal="r1")
    np.testing.assert_array_equal(rate.values[..., :8], one.rate("1x1m").values)
    # with the real release (names give the rats) beside a labelled directory
    both = load_recordings([real_mec_dir, a], animal=[None, "r9"])
    assert both.animals("1x1m") == ["10073", "11207", "11343", "r9"]
    with pytest.raises(ConfigError, match=r"animal: give one label for all paths or one per "
                                          r"path \(2 paths\), got 3"):
        load_recordings([a, b], animal=["x", "y", "z"])
    with pytest.raises(ConfigError, match=r"animal label must be a non-empty name without '/'"):
        load_recordings(a, animal="r/1")


def test_a_label_may_not_merge_what_the_names_tell_apart(real_mec_dir):
    with pytest.raises(ConfigError, match=r"--animal X \(animal=\) would label files of 3 "
                                          r"animals .*10073, 11207, 11343.* as one animal"):
        load_recordings(real_mec_dir, animal="X")
    with pytest.raises(ConfigError, match=r"--session S .* 3 sessions .*10073-17010302"):
        load_recordings(real_mec_dir, session="S")


# ----------------------------------------------------------------------------------------------
# pairing and collisions
# ----------------------------------------------------------------------------------------------
def test_several_position_files_that_nothing_pairs_is_an_error(session, tmp_path):
    folder = _no_pattern(session, tmp_path / "plain")
    shutil.copy(folder / "q.mat", folder / "other.mat")
    with pytest.raises(DataError) as err:
        load_recordings(folder, animal="r", session="s")
    msg = str(err.value)
    assert "several position files" in msg
    assert str(folder / "q.mat") in msg and str(folder / "other.mat") in msg
    # sessions told apart by the names pair each cell with its own position file
    pos, spikes = session
    two = tmp_path / "two"
    two.mkdir()
    for name in ("A", "B"):
        sio.savemat(two / f"{name}_pos.mat", {k: _col(v) for k, v in pos.items()})
        sio.savemat(two / f"{name}_T1C1.mat", {"cellTS": _col(spikes["t1c1"])})
    nd = load_recordings(two, animal="r")
    assert sorted(nd.rate("1x1m")["neuroid_id"].values) == ["r/A/t1c1", "r/B/t1c1"]
    # ... unless one label makes them one session
    with pytest.raises(ConfigError, match=r"--session S .* 2 sessions named in the file "
                                          r"names \(A, B\) as one session"):
        load_recordings(two, animal="r", session="S")


def test_colliding_cell_ids_are_renamed_after_their_files(session, tmp_path):
    pos, spikes = session
    folder = tmp_path / "clash"
    folder.mkdir()
    sio.savemat(folder / "pos.mat", {k: _col(v) for k, v in pos.items()})
    sio.savemat(folder / "T1C1.mat", {"cellTS": _col(spikes["t1c1"])})
    sio.savemat(folder / "T01C1.mat", {"cellTS": _col(spikes["t2c1"])})
    sio.savemat(folder / "T2C1.mat", {"cellTS": _col(spikes["t3c1"])})
    with pytest.warns(DataWarning, match=r"animal r session s: cell id\(s\) t1c1 came from "
                                         r"several files; renamed them after their files: "
                                         r".*/T01C1\.mat -> t01c1; .*/T1C1\.mat -> t1c1$"):
        recs = read_moser(folder, animal="r", session="s")
    assert recs[0].cell_ids == ["t01c1", "t1c1", "t2c1"]
    np.testing.assert_array_equal(recs[0].spike_times[0], spikes["t2c1"])
    np.testing.assert_array_equal(recs[0].spike_times[1], spikes["t1c1"])
    # the same file twice (in a sub-folder): numbered, and named as a likely duplicate
    sub = folder / "sub"
    sub.mkdir()
    shutil.copy(folder / "T1C1.mat", sub / "T1C1.mat")
    with pytest.warns(DataWarning, match=r"sub/T1C1\.mat -> t1c1-2; identical spike times in "
                                         r".*clash/T1C1\.mat = .*clash/sub/T1C1\.mat: the "
                                         r"same cell twice\?$"):
        recs = read_moser(folder, animal="r", session="s")
    assert recs[0].cell_ids == ["t01c1", "t1c1", "t1c1-2", "t2c1"]
    with pytest.warns(DataWarning):  # the ids stay apart when binned
        nd = load_recordings(folder, animal="r", session="s")
    assert nd.rate("1x1m")["neuroid_id"].values.tolist() == \
        ["r/s/t01c1", "r/s/t1c1", "r/s/t1c1-2", "r/s/t2c1"]
    # without collisions: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_moser(_published(session, tmp_path / "published"), animal="r")


def test_errors_still_name_the_file_and_the_variable(session, tmp_path):
    folder = _no_pattern(session, tmp_path / "plain")
    pos, _ = session
    sio.savemat(folder / "q.mat", {"posx": _row(pos["posx"][:-3]), "posy": _row(pos["posy"]),
                                   "post": _row(pos["post"])})
    with pytest.raises(DataError, match=re.escape(
            f"{folder / 'q.mat'}: field 'posx' has {pos['post'].size - 3} samples but time "
            "field 'post'")):
        load_recordings(folder, animal="r", session="s")
    (folder / "q.mat").unlink()
    with pytest.raises(DataError, match=re.escape(
            f"{folder / 'apple.mat'}: no position file for animal r session s")):
        load_recordings(folder, animal="r", session="s")
    sio.savemat(folder / "notes.mat", {"comment": np.ones(3)})
    with pytest.raises(DataError, match=r"notes\.mat: no Moser-lab variables"):
        load_recordings(folder, animal="r", session="s")


# ----------------------------------------------------------------------------------------------
# the CLI
# ----------------------------------------------------------------------------------------------
def test_cli_imports_a_directory_without_pattern_with_labels(session, tmp_path, capsys,
                                                             real_mec_dir):
    plain = _no_pattern(session, tmp_path / "plain")
    published = _published(session, tmp_path / "published")
    out = tmp_path / "out.nc"
    assert main(["data", "import", str(plain), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--animal NAME --session NAME" in err and not out.exists()
    assert main(["data", "import", str(plain), "--animal", RAT, "--session", SESSION,
                 "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "warning" not in captured.err
    reference = load_recordings(_original(real_mec_dir, tmp_path / "original"))
    _assert_same_data(reference, NeuralData.load(out), rename={v: k for k, v in PLAIN.items()})
    # two directories, two animals, one call
    assert main(["-q", "data", "import", str(published), str(plain), "--animal", "r1",
                 "--animal", "r2", "--session", SESSION, "-o", str(out)]) == 0
    nd = NeuralData.load(out)
    assert nd.animals("1x1m") == ["r1", "r2"] and nd.n_neuroids == 16
    assert main(["data", "import", str(published), str(plain), "--animal", "r1", "--animal",
                 "r2", "--animal", "r3", "-o", str(out)]) == 2
    assert "--animal: give it once for all paths or once per path (2 paths), got 3" in \
        capsys.readouterr().err
    # labels do not apply to files that hold rate maps already
    assert main(["data", "import", str(out), "--animal", "x", "-o",
                 str(tmp_path / "again.nc")]) == 2
    assert "labels apply to recordings that are binned" in capsys.readouterr().err
    # data info takes the same labels for a raw directory
    assert main(["data", "info", str(plain), "--animal", "r", "--session", "s"]) == 0
    assert "8 cells from 1 animals: r (8)" in capsys.readouterr().out
