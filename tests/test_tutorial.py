"""The README's "A lab's daily loop", run as written, on a fresh home directory.

The commands and the model file are read from README.md (the ``console`` and ``python`` blocks
of that subsection of the Tutorial), so the tutorial cannot drift from the code. The lab's
recordings are simulated: three animals in a 1 m box, grid cells whose spikes are drawn from
known rate maps, written as Moser-lab ``.mat`` files whose names give the session but not the
animal. Every command runs in its own process with HOME pointing to an empty directory (no
user board, no $MECBENCH_LEADERBOARD_DIR, no $MECBENCH_DATA); the result cache is the test
session's (content-keyed, so it cannot change a result). The report is rendered in headless
Chromium when it is installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
from benchkit import find_chromium
from scipy.signal import lfilter

from mecbench import leaderboard as lb
from mecbench.benchmarks import get_benchmark
from mecbench.cli.main import build_parser, merge_global_options

pytestmark = pytest.mark.slow  # the README's daily loop, run as written

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SUBSECTION = "### A lab's daily loop"

ANIMALS = ("rat1", "rat2", "rat3")
CELLS_PER_ANIMAL = 8
BOX_CM = 100.0


def _tutorial_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Tutorial\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def daily_loop() -> tuple[str, list[str]]:
    """(the model file, the commands) of the README's daily-loop subsection."""
    section = _tutorial_section()
    body = section[section.index(SUBSECTION):]
    nxt = body.find("\n### ", len(SUBSECTION))
    body = body if nxt < 0 else body[:nxt]
    blocks = re.findall(r"```(\w+)\n(.*?)```", body, flags=re.S)
    python = [code for lang, code in blocks if lang == "python"]
    console = [code for lang, code in blocks if lang == "console"]
    assert len(python) == 1 and len(console) == 1, "one python and one console block"
    commands = [line[2:] for line in console[0].splitlines() if line.startswith("$ ")]
    return python[0], commands


def _step(commands: list[str], *words: str) -> str:
    """The one command that starts with ``mecbench WORDS...`` and names every word."""
    found = [c for c in commands if shlex.split(c)[1] == words[0]
             and all(w in shlex.split(c) for w in words)]
    assert len(found) == 1, (words, commands)
    return found[0]


def test_the_daily_loop_is_complete_and_parses():
    model, commands = daily_loop()
    assert '@mecbench.register_model("my-model")' in model
    assert all(shlex.split(c)[0] == "mecbench" for c in commands)
    # the steps of a lab's day, in order
    order = [_step(commands, "models"), _step(commands, "data", "import"),
             _step(commands, "score", "my_lab.nc", "--save"),
             _step(commands, "score", "mec-sim.ridge", "--save"),
             _step(commands, "compare", "mec-sim.ridge"),
             _step(commands, "report", "mec-sim.ridge")]
    assert order == commands
    for command in commands:   # every command is one the CLI accepts
        args = merge_global_options(build_parser().parse_args(shlex.split(command)[1:]))
        assert args.func is not None
    imported = shlex.split(_step(commands, "data", "import"))
    assert [imported[imported.index("-o") + 1]] == ["my_lab.nc"]
    assert [p for p in imported[3:] if p.startswith("my_lab/")] == \
        [f"my_lab/{a}" for a in ANIMALS]


# the lab's recordings --------------------------------------------------------------------
def _trajectory(rng: np.random.Generator, n: int, dt: float) -> np.ndarray:
    """(n, 2) positions in cm: an Ornstein-Uhlenbeck velocity (25 cm/s per axis, 0.7 s
    correlation time) integrated and folded back into the box at the walls."""
    a = np.exp(-dt / 0.7)
    velocity = lfilter([25.0 * np.sqrt(1 - a * a)], [1.0, -a], rng.normal(size=(n, 2)), axis=0)
    walk = np.cumsum(velocity * dt, axis=0) + BOX_CM / 2
    folded = np.mod(walk, 2 * BOX_CM)
    return np.where(folded > BOX_CM, 2 * BOX_CM - folded, folded)


def _grid_rate(xy_m: np.ndarray, spacing: float, phase: np.ndarray, angle: float) -> np.ndarray:
    """A grid cell's rate (Hz) along a path (positions in metres)."""
    theta = angle + np.deg2rad([0.0, 60.0, 120.0])
    k = 4 * np.pi / (np.sqrt(3) * spacing)
    wave = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    drive = np.cos(k * ((xy_m - phase) @ wave.T)).sum(-1)       # in [-1.5, 3]
    return 12.0 * np.exp(1.2 * (drive - 3.0)) + 0.1


def write_lab(root: Path, seed: int = 0) -> dict:
    """Three animals' sessions as Moser-lab files; returns what was written."""
    rng = np.random.default_rng(seed)
    dt = 0.02
    n = int(600 / dt)   # 10 minutes at 50 Hz
    written = {}
    for i, animal in enumerate(ANIMALS):
        folder = root / animal
        folder.mkdir(parents=True)
        session = f"2106050{i + 1}"
        t = np.arange(n) * dt
        xy = _trajectory(rng, n, dt)
        sio.savemat(folder / f"{session}_pos.mat",
                    {"posx": xy[:, :1], "posy": xy[:, 1:], "post": t[:, None]})
        angle = rng.uniform(0, np.pi / 3)
        for c in range(CELLS_PER_ANIMAL):
            spacing = (0.35, 0.50)[c % 2]
            rate = _grid_rate(xy / 100.0, spacing, rng.uniform(0, 1.0, 2), angle)
            counts = rng.poisson(rate * dt)
            spikes = np.repeat(t, counts) + rng.uniform(0, dt, counts.sum())
            sio.savemat(folder / f"{session}_T{c // 4 + 1}C{c % 4 + 1}.mat",
                        {"cellTS": np.sort(spikes)[:, None]})
        written[animal] = session
    return written


def test_simulated_walk_covers_the_box():
    xy = _trajectory(np.random.default_rng(0), 30000, 0.02)
    assert xy.min() >= 0 and xy.max() <= BOX_CM
    occupancy, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=20, range=[[0, 100], [0, 100]])
    assert (occupancy > 0).mean() > 0.95       # every 5 cm bin or nearly is visited
    speed = np.linalg.norm(np.diff(xy, axis=0), axis=1) / 0.02
    assert 10 < np.median(speed) < 60           # cm/s, a foraging rat's range


# the loop --------------------------------------------------------------------------------
def _mecbench() -> str:
    beside = Path(sys.executable).with_name("mecbench")
    found = str(beside) if beside.exists() else shutil.which("mecbench")
    if found is None:
        pytest.skip("the mecbench command is not installed")
    return found


def _fresh_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_DATA_HOME", "MECBENCH_LEADERBOARD_DIR", "MECBENCH_DATA")}
    env["HOME"] = str(home)
    return env


_PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const rows = Array.from(document.querySelectorAll("#leaderboard tbody tr"));
  const mine = rows.filter(r => r.textContent.includes("my-model")).length;
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = `imgs=${imgs.length} ok=${ok} rows=${rows.length} mine=${mine}`;
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> dict:
    """The README's commands, run in order in a fresh HOME; their outputs and places."""
    model, commands = daily_loop()
    root = tmp_path_factory.mktemp("tutorial")
    home, work = root / "home", root / "work"
    home.mkdir()
    work.mkdir()
    (work / "my_model.py").write_text(model)
    write_lab(work / "my_lab")
    env = _fresh_env(home)
    exe = _mecbench()
    outputs = {}
    for command in commands:
        argv = shlex.split(command)
        proc = subprocess.run([exe, *argv[1:]], cwd=work, env=env, capture_output=True,
                              text=True, timeout=1800)
        assert proc.returncode == 0, f"$ {command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr
        outputs[command] = proc.stdout
    report = shlex.split(_step(commands, "report"))
    return {"commands": commands, "outputs": outputs, "root": root, "home": home, "work": work,
            "env": env, "exe": exe, "report": work / report[report.index("-o") + 1],
            "title": report[report.index("--title") + 1],
            "board": home / ".local" / "share" / "mecbench" / "leaderboards"}


def test_daily_loop_as_the_readme_writes_it(loop):
    commands, outputs, work, env, exe = (loop[k] for k in ("commands", "outputs", "work", "env",
                                                           "exe"))
    home, board_dir = loop["home"], loop["board"]

    # the model is registered from the file
    assert re.search(r"^my-model\s+48 idealised grid cells", outputs[_step(commands, "models")],
                     flags=re.M)
    # the import found the 1 m box of the simulation, in cm, and every animal's cells
    out = outputs[_step(commands, "data", "import")]
    assert "1 x 1 m box inferred from the positions; positions read as cm" in out
    info = subprocess.run([exe, "data", "info", "my_lab.nc", "--json"], cwd=work, env=env,
                          capture_output=True, text=True, check=True)
    arenas = json.loads(info.stdout)["arenas"]
    assert len(arenas) == 1
    (arena,) = arenas.values()
    assert arena["cells_per_animal"] == {a: CELLS_PER_ANIMAL for a in ANIMALS}
    assert arena["has_halves"]

    # both scores were saved to the user's own board under the fresh HOME
    lab = lb.load_board(board_dir, "my_lab.ridge").entries
    sim = lb.load_board(board_dir, "mec-sim.ridge").entries
    assert [(e["model"], e["layer"]) for e in lab] == [("my-model", "output")]
    assert [(e["model"], e["layer"]) for e in sim] == [("my-model", "output")]
    assert lab[0]["ceiling_method"] == "split-half"          # 16 source cells per target
    assert lab[0]["n_cells_total"] == len(ANIMALS) * CELLS_PER_ANIMAL
    assert sim[0]["benchmark_version"] == get_benchmark("mec-sim.ridge").version
    out = outputs[_step(commands, "score", "my_lab.nc")]
    assert "my-model on my_lab.ridge" in out and f"saved output: entry {lab[0]['id']}" in out
    assert "split-half" in out

    # compare paired the fresh entry with the shipped reference entry the README names
    compare = shlex.split(_step(commands, "compare"))
    reference = compare[3]
    shipped = lb.load_board(lb.shipped_board_dir(), "mec-sim.ridge")
    expected = lb.select_entry(shipped, reference)
    doc = subprocess.run([exe, *compare[1:], "--json"], cwd=work, env=env,
                         capture_output=True, text=True)
    assert doc.returncode == 0, doc.stderr
    ids = [e["id"] for e in json.loads(doc.stdout)["entries"]]
    assert ids == [sim[0]["id"], expected["id"]]
    verdict = outputs[_step(commands, "compare")].splitlines()[-1]
    assert "my-model@output" in verdict and reference in verdict

    # the report: the user's entry among the reference entries, boards named by role only
    page = loop["report"].read_text(encoding="utf-8")
    assert f"<h1>{loop['title']}</h1>" in page
    assert "from the shipped reference board and your board;" in page
    for local in (str(loop["root"]), str(home), str(lb.shipped_board_dir())):
        assert local not in page
    assert sim[0]["id"] in page and expected["id"] in page


def test_the_report_renders_in_headless_chromium(loop, tmp_path):
    browser = find_chromium()
    if browser is None:
        pytest.skip("chromium is not installed")
    page = loop["report"].read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
           "--dump-dom", probe.as_uri()]
    shown = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    found = re.search(r'id="probe">imgs=(\d+) ok=(\d+) rows=(\d+) mine=(\d+)<', shown.stdout)
    assert found, shown.stderr[-2000:]
    n_imgs, n_ok, n_rows, n_mine = map(int, found.groups())
    assert n_imgs >= 1 and n_ok == n_imgs
    shown_entries = lb.load_boards([lb.shipped_board_dir(), loop["board"]], "mec-sim.ridge")
    assert n_rows == len(shown_entries.latest()) and n_mine == 1
