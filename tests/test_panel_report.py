"""``mecbench controls --panel --save``: the panel's files in a board's controls/ folder, and
the report's "panel" section that shows them."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import pytest

from mecbench.cli.main import main
from mecbench.controls.panel import load_panel, panel_path
from mecbench.controls.worlds import world_data
from mecbench.errors import DataError
from mecbench.report import SECTION_IDS, build_report

TINY = ["--mapping", "cka", "--dims", "4,16", "--seeds", "2", "--families", "fourier,grid",
        "--no-cache"]


class _Panel(HTMLParser):
    """Rows of the panel table, image sources and section ids."""

    def __init__(self):
        super().__init__()
        self.rows, self.imgs, self.sections = [], [], []
        self._in, self._row, self._cell = False, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "controls-panel":
            self._in = True
        elif tag == "tr" and self._in:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = ""
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "section":
            self.sections.append(a.get("id"))

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif tag == "td" and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _parse(page: str) -> _Panel:
    parsed = _Panel()
    parsed.feed(page)
    return parsed


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    import contextlib
    import io

    root = tmp_path_factory.mktemp("panel")
    world = world_data("grid", n_cells=10).save(root / "world.nc")
    board = root / "board"
    other = board / "controls" / "world.cka.json"
    other.parent.mkdir(parents=True)
    other.write_text("not touched", encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["controls", "--panel", str(world), *TINY, "--save", "--leaderboard-dir",
                   str(board), "--json"])
    assert rc == 0
    return {"board": board, "world": world, "doc": json.loads(out.getvalue()), "other": other}


def test_save_writes_the_panel_and_its_figure_and_nothing_else(saved):
    board, doc = saved["board"], saved["doc"]
    assert doc["saved"] == {"results": str(panel_path(board)),
                            "plot": str(panel_path(board, ".png"))}
    assert panel_path(board, ".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the saved document is the printed one without the local paths, and reads back equal
    on_disk = json.loads(panel_path(board).read_text(encoding="utf-8"))
    assert on_disk == {k: v for k, v in doc.items() if k != "saved"}
    assert load_panel(board) == on_disk
    assert [r["benchmark"] for r in on_disk["rows"]] == ["world.cka"]
    assert saved["other"].read_text(encoding="utf-8") == "not touched"
    assert sorted(p.name for p in (board / "controls").iterdir()) == [
        "panel.json", "panel.png", "world.cka.json"]


def test_report_shows_the_panel_table_and_the_saved_figure(saved):
    board, doc = saved["board"], saved["doc"]
    assert SECTION_IDS().index("panel") == SECTION_IDS().index("controls") + 1
    page = build_report("world.cka", directories=[board])
    parsed = _parse(page)
    assert "panel" in parsed.sections
    (row,) = doc["rows"]
    lo, hi = row["slope_ci"]
    (cells,) = parsed.rows
    assert cells[0] == "world.cka"
    assert cells[1] == f"{row['slope']:.3f} [{lo:.3f}, {hi:.3f}]"
    assert cells[2] == f"{row['gain']:.3f}"
    assert cells[3].startswith(f"{row['best_random']:.3f} (fourier")
    assert cells[5] == f"{row['grid_rank']:g} of 2"
    assert cells[6] == row["verdict"]
    png = base64.b64encode(panel_path(board, ".png").read_bytes()).decode("ascii")
    assert f"data:image/png;base64,{png}" in parsed.imgs
    assert "Verdict rule:" in page and "at least 0.05" in page
    # boards are named by role, local paths only when asked
    assert "a directory you passed: controls/panel.json" in page
    assert str(board) not in page
    assert str(panel_path(board)) in build_report("world.cka", directories=[board],
                                                  show_paths=True)


def test_report_draws_the_figure_when_the_png_is_missing(saved, tmp_path):
    import shutil

    copy = tmp_path / "board"
    (copy / "controls").mkdir(parents=True)
    shutil.copy(panel_path(saved["board"]), panel_path(copy))
    parsed = _parse(build_report("world.cka", directories=[copy]))
    assert "panel" in parsed.sections and len(parsed.rows) == 1
    assert any(src.startswith("data:image/png;base64,") for src in parsed.imgs)


def test_board_without_panel_has_no_panel_section(tmp_path):
    (tmp_path / "controls").mkdir()
    page = build_report("world.cka", directories=[tmp_path])
    assert "panel" not in _parse(page).sections and 'id="controls-panel"' not in page


def test_damaged_panel_is_named(tmp_path):
    path = panel_path(tmp_path)
    path.parent.mkdir()
    path.write_text(json.dumps({"command": "controls", "rows": []}), encoding="utf-8")
    with pytest.raises(DataError, match="panel.json"):
        load_panel(tmp_path)
    page = build_report("world.cka", directories=[tmp_path])
    assert "This section failed: DataError" in page


def test_save_refusals(saved, tmp_path, capsys):
    world = str(saved["world"])
    assert main(["controls", "--panel", world, *TINY, "--save", "--no-report",
                 "--leaderboard-dir", str(tmp_path)]) == 2
    assert "drop --no-report" in capsys.readouterr().err
    assert main(["controls", "--panel", world, *TINY, "--models", "toy-fourier", "--save",
                 "--leaderboard-dir", str(tmp_path)]) == 2
    assert "drop --models" in capsys.readouterr().err
    assert not (tmp_path / "controls").exists()
