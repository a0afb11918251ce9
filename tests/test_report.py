"""The HTML report: content, embedded figures, section hooks, and rendering in Chromium."""

from __future__ import annotations

import base64
import io
import re
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from benchkit import find_chromium, load_plugin, make_neural_data

from mecbench import leaderboard as lb
from mecbench import registry
from mecbench.benchmarks import adhoc_benchmark
from mecbench.cache import Cache
from mecbench.report import SECTIONS, Section, build_report, register_section, write_report


class _Collect(HTMLParser):
    """Rows of the leaderboard table and every image source."""

    def __init__(self):
        super().__init__()
        self.in_board = False
        self.in_body = False
        self.rows, self.imgs, self.sections = [], [], []
        self._row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "leaderboard":
            self.in_board = True
        elif tag == "tbody" and self.in_board:
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self._row = []
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "section":
            self.sections.append(a.get("id"))

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_board = self.in_body = False
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._row is not None:
            self._row.append(data)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    load_plugin(root)
    data_path = make_neural_data(n_cells=5).save(root / "lab.nc")
    bench = adhoc_benchmark(data_path, splits="random:train_frac=0.5,n_splits=2")
    cache = Cache(root / "cache")
    directory = root / "board"
    for model, layers in (("toy-fourier", ["low", "high"]), ("toy-bumps", None)):
        provider = registry.load("model", model)
        for score in bench.score_layers(provider, layers, cache=cache).values():
            lb.save_entry(directory, score, command="test")
    return {"dir": directory, "benchmark": bench.identifier, "cache": cache, "root": root}


def _report(board, **kw):
    return build_report(board["benchmark"], directories=[board["dir"]], cache=board["cache"],
                        **kw)


@pytest.mark.slow
def test_table_rows_match_the_board_best_first(board):
    page = _report(board)
    parsed = _Collect()
    parsed.feed(page)
    entries = lb.load_board(board["dir"], board["benchmark"]).entries
    assert len(parsed.rows) == len(entries) == 3
    ceiled = sorted((e["ceiled"] for e in entries), reverse=True)
    assert [float(r[3]) for r in parsed.rows] == pytest.approx(ceiled, abs=5e-4)
    assert {(r[1], r[2]) for r in parsed.rows} == {("toy-fourier", "low"),
                                                   ("toy-fourier", "high"),
                                                   ("toy-bumps", "output")}
    assert parsed.sections[:4] == ["leaderboard", "distributions", "score-vs-layer", "gallery"]


@pytest.mark.slow
def test_figures_are_embedded_valid_pngs(board):
    import matplotlib.image as mpimg

    parsed = _Collect()
    parsed.feed(_report(board))
    # distributions + score vs layer + one gallery figure per model
    assert len(parsed.imgs) == 2 + 2
    for src in parsed.imgs:
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1])
        img = mpimg.imread(io.BytesIO(raw), format="png")
        assert img.shape[0] > 50 and img.shape[1] > 50 and np.ptp(img) > 0


@pytest.mark.slow
def test_gallery_shows_best_cells_and_best_unit(board):
    page = _report(board, options={"gallery_models": 1, "gallery_cells": 2})
    assert "Rate-map gallery" in page and "<h3>toy-" in page
    parsed = _Collect()
    parsed.feed(page)
    assert len(parsed.imgs) == 3


def test_best_matching_units_against_a_loop():
    from scipy.stats import pearsonr

    from mecbench.report.sections import best_matching_units

    rng = np.random.default_rng(0)
    model = rng.normal(size=(50, 7))
    cells = model[:, [3, 5]] + rng.normal(0, 0.3, (50, 2))
    cells[::7, 0] = np.nan
    idx, r = best_matching_units(model, cells)
    for j in range(2):
        ok = np.isfinite(cells[:, j])
        ref = [pearsonr(model[ok, k], cells[ok, j])[0] for k in range(7)]
        assert idx[j] == int(np.argmax(ref)) and r[j] == pytest.approx(max(ref))
    assert idx.tolist() == [3, 5]


def test_added_section_and_failing_section(board):
    def dimensionality(ctx):
        return Section("dimensionality", "Score vs effective dimensionality",
                       f"<p>{len(ctx.entries)} entries</p>")

    def broken(ctx):
        raise RuntimeError("no data for this")

    saved = list(SECTIONS)
    try:
        register_section(dimensionality, after="score-vs-layer")
        register_section(broken)
        page = _report(board, options={"gallery_models": 0})
    finally:
        SECTIONS[:] = saved
    parsed = _Collect()
    parsed.feed(page)
    assert parsed.sections == ["leaderboard", "distributions", "score-vs-layer",
                               "dimensionality", "broken"]
    assert "<p>3 entries</p>" in page
    assert "This section failed: RuntimeError: no data for this" in page


def test_empty_board_and_escaping(tmp_path):
    page = build_report("lab.ridge", directories=[tmp_path])
    assert "No entry on the leaderboard" in page
    assert "<script" not in page


def _meta(page: str) -> str:
    return re.search(r'<p class="meta">(.*?)</p>', page).group(1)


@pytest.mark.slow
def test_boards_are_named_by_role_and_paths_only_when_asked(board, tmp_path, monkeypatch):
    import shutil as sh

    root = str(board["root"])
    page = _report(board, options={"gallery_models": 0})
    assert root not in page
    assert "from a directory you passed;" in _meta(page)
    assert f"Benchmark {board['benchmark']}: 3 entries" in _meta(page)
    shown = _report(board, options={"gallery_models": 0}, show_paths=True)
    assert f"a directory you passed ({board['dir']})" in _meta(shown)
    # the same board as the user's own board, found through $XDG_DATA_HOME, beside the shipped
    # reference board (read by default), or found through $MECBENCH_LEADERBOARD_DIR
    own = tmp_path / "xdg" / "mecbench" / "leaderboards"
    sh.copytree(board["dir"], own)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    shipped = lb.shipped_board_dir()
    page = build_report(board["benchmark"], directories=[shipped, own],
                        options={"gallery_models": 0})
    assert "from the shipped reference board and your board;" in _meta(page)
    assert str(tmp_path) not in page and str(shipped) not in page
    monkeypatch.setenv("MECBENCH_LEADERBOARD_DIR", str(board["dir"]))
    page = build_report(board["benchmark"], directories=lb.read_dirs(), passed=False,
                        options={"gallery_models": 0})
    assert "from the board in $MECBENCH_LEADERBOARD_DIR;" in _meta(page)
    two = build_report(board["benchmark"], directories=[board["dir"], tmp_path],
                       options={"gallery_models": 0})
    assert "from a directory you passed (1) and a directory you passed (2);" in _meta(two)


def test_unreadable_lines_are_placed_by_role(board, tmp_path):
    import shutil as sh

    directory = tmp_path / "damaged"
    sh.copytree(board["dir"], directory)
    path = lb.board_path(directory, board["benchmark"])
    with open(path, "a") as fh:
        fh.write("{not json\n")
    page = build_report(board["benchmark"], directories=[directory],
                        options={"gallery_models": 0})
    assert f"a directory you passed: {path.name}" in page and str(directory) not in page
    shown = build_report(board["benchmark"], directories=[directory],
                         options={"gallery_models": 0}, show_paths=True)
    assert str(path) in shown


def test_title(board):
    page = _report(board, options={"gallery_models": 0}, title="Lab meeting <3 June>")
    assert "<title>Lab meeting &lt;3 June&gt;</title>" in page
    assert "<h1>Lab meeting &lt;3 June&gt;</h1>" in page
    assert f"Benchmark {board['benchmark']}:" in _meta(page)   # still named in the header
    default = _report(board, options={"gallery_models": 0})
    assert f"<h1>mecbench report: {board['benchmark']}</h1>" in default


def test_report_command_title_and_paths(board, tmp_path, capsys):
    from mecbench.cli.main import main

    out = tmp_path / "r.html"
    argv = ["report", "--benchmark", board["benchmark"], "-o", str(out), "--gallery-models",
            "0", "--leaderboard-dir", str(board["dir"]), "--title", "Our models"]
    assert main(argv) == 0
    page = out.read_text()
    assert "<h1>Our models</h1>" in page and str(board["root"]) not in page
    assert "from a directory you passed;" in _meta(page)
    assert main([*argv, "--show-paths"]) == 0
    assert f"a directory you passed ({board['dir']})" in _meta(out.read_text())
    capsys.readouterr()


_PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const rows = document.querySelectorAll("#leaderboard tbody tr").length;
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = `imgs=${imgs.length} ok=${ok} rows=${rows}`;
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.slow
def test_renders_in_headless_chromium(board, tmp_path):
    browser = find_chromium()
    if browser is None:
        pytest.skip("chromium is not installed")
    page = write_report(board["benchmark"], tmp_path / "report.html",
                        directories=[board["dir"]], cache=board["cache"])
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", _PROBE + "</body>"))
    profile = tmp_path / "profile"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
           probe.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'id="probe">imgs=(\d+) ok=(\d+) rows=(\d+)<', out.stdout)
    assert found, out.stderr[-2000:]
    n_imgs, n_ok, n_rows = map(int, found.groups())
    assert n_imgs == 4 and n_ok == n_imgs
    assert n_rows == 3
