"""A static HTML report of one benchmark's leaderboard (``mecbench report``).

The report is a single self-contained file: tables as HTML, figures as embedded base64 PNGs
(matplotlib, Agg backend), no scripts and no external resources, so it opens from disk or an
e-mail attachment.

Sections
--------
The report is the list :data:`SECTIONS` of section functions, rendered in order. A section
function takes a :class:`ReportContext` and returns a :class:`Section` (id, title, HTML body)
or None to leave itself out (e.g. "score vs layer" when every model has one layer). To add a
section, write such a function and register it::

    from mecbench.report import ReportContext, Section, register_section, figure_img

    def dimensionality(ctx: ReportContext) -> Section | None:
        entries = ctx.entries                 # newest entry per (model, layer), best first
        score = ctx.score(entries[0])         # its per-cell Score (from the score file)
        fig = ...                             # a matplotlib figure
        return Section("dimensionality", "Score vs effective dimensionality",
                       figure_img(fig, "score vs effective dimensionality"))

    register_section(dimensionality, after="score-vs-layer")

``ctx`` also gives the benchmark (:attr:`ReportContext.benchmark`, loaded on first use), the
model providers (:meth:`ReportContext.provider`) and their rate maps through the result cache
(:meth:`ReportContext.model_maps`). A section that raises is replaced by a short note naming
the error, so one failing figure never loses the whole report.

Boards and files are named by role, not by path (the report is meant to be shared): "the
shipped reference board", "your board" (``~/.local/share/mecbench/leaderboards``), "the board
in $MECBENCH_LEADERBOARD_DIR" or "a directory you passed" (:func:`board_role`). A section that
mentions a file shows :meth:`ReportContext.place` of it; ``show_paths=True`` adds the paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mecbench import leaderboard as lb
from mecbench._version import __version__
from mecbench.benchmarks import benchmark_for_entry
from mecbench.errors import UnknownIdentifierError
from mecbench.htmlkit import Section, esc, figure_img, html_table, render_page
from mecbench.leaderboard import entry_score_path, load_board_score
from mecbench.neural_data import atomic_write
from mecbench.registry import load_model

__all__ = [
    "Section",
    "ReportContext",
    "SECTIONS",
    "SECTION_IDS",
    "register_section",
    "build_report",
    "write_report",
    "board_role",
    "figure_img",
    "html_table",
    "esc",
]

SectionFn = Callable[["ReportContext"], "Section | None"]


@dataclass
class ReportContext:
    """What section functions can use.

    Attributes
    ----------
    benchmark_id : str
    board : mecbench.leaderboard.Board
        Every entry and unreadable line.
    entries : list of dict
        The newest entry of each (model, layer) at the current version, best first.
    options : dict
        ``gallery_models`` (models in the rate-map gallery), ``gallery_cells`` (cells per
        model), ``metric`` (``"ceiled"`` or ``"raw"``).
    roles : dict
        The role of each board directory (str of the directory -> e.g. "your board").
    show_paths : bool
        Whether the report may show local paths.
    """

    benchmark_id: str
    board: Any
    entries: list[dict]
    options: dict = field(default_factory=dict)
    cache: Any = None
    roles: dict = field(default_factory=dict)
    show_paths: bool = False
    _scores: dict = field(default_factory=dict)
    _providers: dict = field(default_factory=dict)
    _benchmark: Any = None

    @property
    def benchmark(self):
        """The :class:`~mecbench.benchmarks.Benchmark` (built on first use)."""
        if self._benchmark is None:
            latest = self.entries[0] if self.entries else {"benchmark": self.benchmark_id}
            self._benchmark = benchmark_for_entry(latest)
        return self._benchmark

    def score(self, entry: dict):
        """The per-cell scores of an entry (an :class:`xarray.Dataset` from
        :func:`mecbench.leaderboard.load_board_score`: ``raw``, ``ceiling``, ``ceiled`` and the
        coordinates ``neuroid_id``, ``animal``, ``arena``, ``recorded_id``), or None."""
        if entry["id"] not in self._scores:
            path = entry_score_path(entry)
            self._scores[entry["id"]] = (load_board_score(path) if path and path.is_file()
                                         else None)
        return self._scores[entry["id"]]

    def provider(self, model: str):
        """The model's response provider (loaded once)."""
        if model not in self._providers:
            self._providers[model] = load_model(model)
        return self._providers[model]

    def model_maps(self, model: str, layer: str, arena: str, seed: int = 0):
        """The model's rate maps on one of the benchmark's arenas (through the cache)."""
        return self.benchmark.model_maps(self.provider(model), layer, arena, seed=seed,
                                         cache=self.cache)

    def place(self, path: str | os.PathLike) -> str:
        """How the report names a file: its board's role and its path inside the board
        (e.g. "your board: controls/mec-sim.ridge.json"), or the full path with
        ``show_paths``; a file outside every board is named by its file name."""
        path = Path(path)
        if self.show_paths:
            return str(path)
        for directory, role in self.roles.items():
            try:
                inside = path.relative_to(directory)
            except ValueError:
                continue
            return f"{role}: {inside.as_posix()}"
        return path.name

    @property
    def metric(self) -> str:
        """``"ceiled"`` when the entries have ceiled scores, else ``"raw"``."""
        return self.options.get("metric") or (
            "ceiled" if any(e["ceiled"] is not None for e in self.entries) else "raw")


def SECTION_IDS() -> list[str]:  # noqa: N802 - reads like a constant
    """Ids of the registered sections, in order."""
    return [sid for sid, _ in SECTIONS]


def register_section(fn: SectionFn, *, section_id: str | None = None,
                     after: str | None = None) -> SectionFn:
    """Add a section to every report.

    Parameters
    ----------
    fn : callable(ReportContext) -> Section or None
    section_id : str, optional
        Default: ``fn.__name__`` with ``_`` replaced by ``-``. Registering an id again
        replaces that section.
    after : str, optional
        Insert after this section id (default: before the "problems" section at the end).
    """
    sid = section_id or fn.__name__.replace("_", "-")
    SECTIONS[:] = [(i, f) for i, f in SECTIONS if i != sid]
    ids = SECTION_IDS()
    if after is not None:
        if after not in ids:
            raise UnknownIdentifierError("report section", after, ids)
        pos = ids.index(after) + 1
    else:
        pos = ids.index("problems") if "problems" in ids else len(ids)
    SECTIONS.insert(pos, (sid, fn))
    return fn


def _sort_key(entry: dict, metric: str):
    value = entry.get(metric)
    return (value is None, -(value or 0.0), entry["model"], entry["layer"])


def _same_dir(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def board_role(directory: str | os.PathLike, *, passed: bool = False) -> str:
    """What a board directory is, in words that hold on anyone's machine.

    Parameters
    ----------
    directory : path
    passed : bool
        The directory was named explicitly (``--leaderboard-dir``, ``directories=``) rather
        than found through ``$MECBENCH_LEADERBOARD_DIR``.

    Returns
    -------
    str
        "the shipped reference board", "your board", "the board in
        $MECBENCH_LEADERBOARD_DIR" or "a directory you passed".
    """
    shipped = lb.shipped_board_dir()
    if shipped is not None and _same_dir(directory, shipped):
        return "the shipped reference board"
    if _same_dir(directory, lb.user_board_dir()):
        return "your board"
    env = os.environ.get(lb.ENV_VAR)
    if not passed and env and _same_dir(directory, env):
        return "the board in $MECBENCH_LEADERBOARD_DIR"
    return "a directory you passed"


def _roles(dirs: list[Path], passed: bool) -> dict[str, str]:
    """Each directory's role; roles that repeat are numbered."""
    names = [board_role(d, passed=passed) for d in dirs]
    out = {}
    for d, name in zip(dirs, names, strict=True):
        if names.count(name) > 1:
            name = f"{name} ({names[:len(out) + 1].count(name)})"
        out[str(d)] = name
    return out


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def build_report(benchmark: str, *, directories=None, options: dict | None = None,
                 cache=None, title: str | None = None, show_paths: bool = False,
                 passed: bool | None = None) -> str:
    """The report of ``benchmark``'s leaderboard as an HTML string.

    Parameters
    ----------
    benchmark : str
        Benchmark identifier.
    directories : list of path, optional
        Board directories (default :func:`mecbench.leaderboard.read_dirs`).
    options : dict, optional
        See :class:`ReportContext`.
    cache : mecbench.cache.Cache, optional
        For model rate maps in the gallery.
    title : str, optional
        The page's title and heading (default "mecbench report: BENCHMARK").
    show_paths : bool
        Name the boards and files with their local paths too (default: by role only).
    passed : bool, optional
        Whether ``directories`` were named by the user (see :func:`board_role`); default:
        whether ``directories`` is given.
    """
    dirs = lb.read_dirs() if directories is None else [Path(d) for d in directories]
    board = lb.load_boards(dirs, benchmark)
    opts = {"gallery_models": 3, "gallery_cells": 4, "metric": None, **(options or {})}
    roles = _roles(dirs, directories is not None if passed is None else passed)
    ctx = ReportContext(benchmark, board, [], opts, cache, roles=roles, show_paths=show_paths)
    ctx.entries = sorted(board.latest(), key=lambda e: _sort_key(e, ctx.metric))
    sections = []
    for sid, fn in list(SECTIONS):
        try:
            section = fn(ctx)
        except Exception as err:  # one broken figure must not lose the report
            section = Section(sid, sid.replace("-", " ").capitalize(),
                              f'<p class="note">This section failed: '
                              f"{esc(type(err).__name__)}: {esc(err)}</p>")
        if section is not None:
            sections.append(section)
    versions = sorted({e["benchmark_version"] for e in ctx.entries})
    sources = [f"{roles[str(d)]} ({d})" if show_paths else roles[str(d)] for d in dirs]
    intro = (f'<p class="meta">Benchmark {esc(benchmark)}: {len(ctx.entries)} entries (newest '
             f"per model and layer) from {esc(_and(sources) if sources else 'no board')}; "
             f"benchmark version {esc(', '.join(map(str, versions)) or '–')}; generated by "
             f"mecbench {esc(__version__)} on {esc(lb.utc_now())}.</p>")
    return render_page(title or f"mecbench report: {benchmark}", intro, sections)


def write_report(benchmark: str, output: str | os.PathLike, **kwargs) -> Path:
    """Build the report and write it atomically to ``output``."""
    import matplotlib

    matplotlib.use("Agg")

    text = build_report(benchmark, **kwargs)
    atomic_write(output, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    os.chmod(output, 0o644)
    return Path(output)


from mecbench.report import sections as _sections  # noqa: E402  (needs the names above)

#: The report's sections, in order, as (id, function); see :func:`register_section`.
SECTIONS: list[tuple[str, SectionFn]] = [
    ("leaderboard", _sections.leaderboard_table),
    ("distributions", _sections.score_distributions),
    ("score-vs-layer", _sections.score_vs_layer),
    ("gallery", _sections.ratemap_gallery),
    ("problems", _sections.unreadable_lines),
]

# The controls analysis saved by `mecbench controls --save` (mecbench.controls.report).
from mecbench.controls.report import controls_section as _controls_section  # noqa: E402

register_section(_controls_section, section_id="controls", after="score-vs-layer")
from mecbench.controls.report import panel_section as _panel_section  # noqa: E402

register_section(_panel_section, section_id="panel", after="controls")
