"""``mecbench data import`` / ``mecbench data info``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io as sio

from mecbench.cli.main import main
from mecbench.loaders import infer_arena_side, load_recordings, save_nayebi_npz
from mecbench.neural_data import NeuralData


def _session(folder, rat="7", n_cells=2, seed=0):
    rng = np.random.default_rng(seed)
    n = 6000
    t = np.arange(n) * 0.02
    x = 47 * np.sin(2 * np.pi * 0.031 * t + rng.uniform(0, 6)) + rng.normal(0, 1, n)
    y = 47 * np.sin(2 * np.pi * 0.047 * t + rng.uniform(0, 6)) + rng.normal(0, 1, n)
    folder.mkdir(parents=True, exist_ok=True)
    sio.savemat(folder / f"{rat}-01020301_POS.mat",
                {"posx": x[:, None], "posy": y[:, None], "post": t[:, None]})
    for c in range(n_cells):
        s = np.sort(rng.uniform(0, t[-1], 500))
        sio.savemat(folder / f"{rat}-01020301_T{c + 1}C1.mat", {"cellTS": s[:, None]})
    return folder


def test_import_writes_the_same_data_as_the_library(tmp_path, capsys):
    src = _session(tmp_path / "a", rat="7")
    _session(tmp_path / "a", rat="8", n_cells=1, seed=1)
    out = tmp_path / "out.nc"
    assert main(["data", "import", str(src), "--arena", "1", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    saved = NeuralData.load(out)
    direct = load_recordings(src, arena=1.0)
    assert saved.content_hash() == direct.content_hash()
    assert saved.attrs["created_by"] == "mecbench data import"
    assert saved.animals("1x1m") == ["7", "8"]


def test_import_options_change_the_grid_and_binning(tmp_path):
    src = _session(tmp_path / "a")
    out = tmp_path / "coarse.nc"
    assert main(["-q", "data", "import", str(src), "--arena", "1x1", "--bin-size", "0.1",
                 "--smoothing", "0", "--min-occupancy", "0", "--speed-min", "0",
                 "-o", str(out)]) == 0
    nd = NeuralData.load(out)
    assert nd.rate("1x1m").shape == (10, 10, 2)
    direct = load_recordings(src, arena=1.0, bin_size=0.1, smoothing_sigma=0,
                             min_occupancy=0, speed_min=0)
    np.testing.assert_array_equal(nd.rate("1x1m").values, direct.rate("1x1m").values)
    assert json.loads(nd.attrs["binning"])["smoothing_sigma"] == 0


def test_failed_import_leaves_existing_output_untouched(tmp_path, capsys):
    out = tmp_path / "out.nc"
    out.write_bytes(b"previous content")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "1-2_t1c1.mat").write_bytes(b"garbage" * 20)
    code = main(["data", "import", str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "1-2_t1c1.mat" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "out.nc"]  # no temp left
    assert main(["data", "import", str(bad), "--arena", "0x1", "-o", str(out)]) == 2
    assert main(["data", "import", str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert main(["data", "import", str(bad), "-o", str(tmp_path / "out.txt")]) == 2


def test_import_nayebi_npz(tmp_path):
    rng = np.random.default_rng(3)
    npz = save_nayebi_npz({2.2: {"m1": {"resp": rng.random((44, 44, 3)),
                                        "cell_ids": np.arange(3)}}}, tmp_path / "d.npz")
    out = tmp_path / "d.nc"
    assert main(["-q", "data", "import", str(npz), "-o", str(out)]) == 0
    assert NeuralData.load(out).rate("2.2x2.2m").shape == (44, 44, 3)
    assert main(["-q", "data", "import", str(npz), "--format", "dict", "--arena", "2",
                 "-o", str(out)]) == 2


def test_info_text_and_json(tmp_path, capsys):
    src = _session(tmp_path / "a")
    out = tmp_path / "out.nc"
    main(["-q", "data", "import", str(src), "-o", str(out)])
    capsys.readouterr()
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "arena 1x1m: 20x20 bins of 0.05 m" in text
    assert "2 cells from 1 animals: 7 (2)" in text
    assert "split halves: yes" in text and "source: moser-mat" in text
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    arena = info["arenas"]["1x1m"]
    rate = NeuralData.load(out).rate("1x1m").values
    assert arena["coverage_min"] == pytest.approx(np.isfinite(rate).mean(axis=(0, 1)).min())
    assert arena["cells_per_animal"] == {"7": 2}
    # a raw recording can be described directly
    assert main(["data", "info", str(src)]) == 0
    assert main(["data", "info", str(tmp_path / "nothing.nc")]) == 2


def test_real_data_import(real_mec_dir, tmp_path, capsys):
    out = tmp_path / "real.nc"
    assert main(["-q", "data", "import", str(real_mec_dir), "-o", str(out)]) == 0
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arenas"]["1x1m"]["cells_per_animal"] == {"10073": 8, "11207": 1, "11343": 1}


# ----------------------------------------------------------------------------------------------
# the arena: printed at import, shown by info, warned about when implausible
# ----------------------------------------------------------------------------------------------
def _box(folder, side_m, metres_per_unit, seed=4):
    """One session in a box of ``side_m`` metres, positions written in units of
    ``metres_per_unit``; returns the positions (m)."""
    rng = np.random.default_rng(seed)
    n = 6000
    t = np.arange(n) * 0.02
    half = 0.47 * side_m
    x = half * np.sin(2 * np.pi * 0.031 * t + 1) + rng.normal(0, 0.01 * side_m, n)
    y = half * np.sin(2 * np.pi * 0.047 * t + 2) + rng.normal(0, 0.01 * side_m, n)
    folder.mkdir(parents=True)
    sio.savemat(folder / "3-01020301_POS.mat", {"posx": x[:, None] / metres_per_unit,
                                                "posy": y[:, None] / metres_per_unit,
                                                "post": t[:, None]})
    sio.savemat(folder / "3-01020301_T1C1.mat",
                {"cellTS": np.sort(rng.uniform(0, t[-1], 800))[:, None]})
    return x, y


def test_import_prints_the_arena_and_info_shows_it(tmp_path, capsys):
    rx, ry = (np.ptp(v) for v in _box(tmp_path / "a", 1.0, 0.01))
    out = tmp_path / "out.nc"
    assert main(["data", "import", str(tmp_path / "a"), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    line = (f"arena 1x1m: 1 x 1 m box inferred from the positions; positions read as cm, "
            f"tracked range up to {rx:.3g} x {ry:.3g} m (1 session)")
    assert line in captured.out.splitlines()
    assert "warning" not in captured.err
    nd = NeuralData.load(out)
    assert nd.attrs["position_unit"] == "cm"
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "    1 x 1 m box inferred from the positions; positions read as cm, tracked range " \
           f"up to {rx:.3g} x {ry:.3g} m (1 session)" in text.splitlines()
    assert main(["data", "info", str(out), "--json"]) == 0
    box = json.loads(capsys.readouterr().out)["arenas"]["1x1m"]["box"]
    assert box["how"] == "inferred" and box["arena_m"] == [1.0, 1.0]
    assert box["position_range_m"] == pytest.approx([rx, ry], abs=1e-4)
    assert box["plausible"] is True and box["sessions"] == 1
    # a given arena says so
    assert main(["data", "import", str(tmp_path / "a"), "--arena", "1.2", "-o", str(out)]) == 0
    assert "arena 1.2x1.2m: 1.2 x 1.2 m box given; positions read as cm" in \
        capsys.readouterr().out


def test_a_box_in_the_wrong_unit_is_warned_about(tmp_path, capsys):
    x, y = _box(tmp_path / "mm", 0.6, 0.001)  # a 0.6 m box in millimetres, read as cm
    # read as cm, every distance is 10 times too large: the box the documented rule gives
    w, h = (infer_arena_side(2 * np.abs(v).max() * 10, 0.05) for v in (x, y))
    assert w > 5 and h > 5
    out = tmp_path / "out.nc"
    assert main(["data", "import", str(tmp_path / "mm"), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    warning = [w for w in captured.err.splitlines() if w.startswith("mecbench: warning: ")]
    assert len(warning) == 1, captured.err
    assert f"3-01020301_POS.mat: positions (read as cm) span {np.ptp(x) * 10:.3g} x " \
           f"{np.ptp(y) * 10:.3g} m, a {w:g} x {h:g} m box, implausible for a rodent arena " \
           "(0.3-5 m); check the unit of the positions (--position-unit, position_unit=) or " \
           "give the box size (--arena, arena=)" in warning[0]
    assert f"arena {w:g}x{h:g}m: {w:g} x {h:g} m box inferred" in captured.out and \
        "implausible for a rodent arena: check --position-unit and --arena" in captured.out
    assert main(["data", "info", str(out)]) == 0
    assert "check --position-unit and --arena" in capsys.readouterr().out
    # the right unit: a plausible box, no warning; a number of metres per unit is the same
    assert main(["data", "import", str(tmp_path / "mm"), "--position-unit", "mm",
                 "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    assert "arena 0.6x0.6m: 0.6 x 0.6 m box inferred from the positions; positions read as " \
           "mm" in captured.out
    by_name = NeuralData.load(out)
    assert main(["-q", "data", "import", str(tmp_path / "mm"), "--position-unit", "0.001",
                 "-o", str(out)]) == 0
    np.testing.assert_array_equal(NeuralData.load(out).rate("0.6x0.6m").values,
                                  by_name.rate("0.6x0.6m").values)
    for bad in ("px", "-1", "0", "nan"):
        assert main(["data", "import", str(tmp_path / "mm"), "--position-unit", bad,
                     "-o", str(out)]) == 2
        assert f"--position-unit {bad}: give cm, m, mm or a positive number of metres per " \
               "unit" in capsys.readouterr().err


def test_a_box_far_off_is_an_error_naming_the_options(tmp_path, capsys):
    x, _ = _box(tmp_path / "m", 1.0, 1.0)  # metres read as cm: a 1 cm box
    out = tmp_path / "out.nc"
    assert main(["data", "import", str(tmp_path / "m"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"3-01020301_POS.mat: positions read as cm along x span " \
           f"{2 * np.abs(x).max() / 100:.3g} m, which gives no plausible box" in err
    assert "(--position-unit, position_unit=)" in err and "(--arena, arena=)" in err
    # with the arena given the data are binned, but the unit is still warned about
    assert main(["data", "import", str(tmp_path / "m"), "--arena", "1", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "mecbench: warning: " in err and "--position-unit" in err
    assert main(["-q", "data", "import", str(tmp_path / "m"), "--position-unit", "m",
                 "-o", str(out)]) == 0
    assert NeuralData.load(out).arena_names == ["1x1m"]
