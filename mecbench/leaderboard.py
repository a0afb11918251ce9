"""Leaderboards: one JSON-Lines file per benchmark, one entry per line.

Where boards live
-----------------
Reading uses, in order: an explicit directory (``--leaderboard-dir``), else
``$MECBENCH_LEADERBOARD_DIR``, else the reference board shipped with mecbench (package data
``mecbench.leaderboards``, read with :mod:`importlib.resources`) together with the user's own
board in ``$XDG_DATA_HOME/mecbench/leaderboards`` (default ``~/.local/share/...``).
Writing (``mecbench score --save``) goes to the explicit directory, else
``$MECBENCH_LEADERBOARD_DIR``, else the user's board — never into the installed package.

File layout
-----------
``<dir>/<benchmark>.jsonl``
    One entry per line (schema below).
``<dir>/scores/<benchmark>/<entry id>.nc``
    The per-cell score of each entry (:func:`write_board_score`: the per-cell variables,
    summaries and attributes of the :class:`mecbench.score.Score`, compressed; the per-split
    r stays in the result cache); the entry's ``score_file`` holds this path relative to
    ``<dir>``. Read it with :func:`load_board_score`.

Entry schema (``schema`` = 2)
-----------------------------
=====================  ======================================================================
``schema``             int, 2 (entries of schema 1 are still read; see below)
``id``                 str, 12 hex digits, unique per entry
``model``              str, model identifier (``rnn-relu-dos``, ``untrained/rnn-relu``...)
``benchmark``          str, benchmark identifier (``mec-sim.ridge``)
``benchmark_version``  int
``layer``              str
``raw``                float or null: median over cells of the per-cell raw score (Pearson r)
``ceiling``            float or null: median over cells of the per-cell ceiling
``ceiled``             float or null: the summary ceiled score (see :mod:`mecbench.score`)
``ci``                 [lo, hi]: 95 % bootstrap CI of ``ceiled`` (cells resampled)
``raw_ci``             [lo, hi]: 95 % bootstrap CI of ``raw``
``n_cells``            int: cells in the ``ceiled`` summary (finite score, ceiling above the
                       threshold); without a ceiling, cells with a finite raw score
``n_cells_total``      int: all cells of the benchmark
``ceiling_method``     str: ``holdout``, ``pairwise`` or ``split-half``
``mapping``            str: mapping name and parameters
``splits``             str: split-scheme identifier
``mecbench_version``   str
``data_id``            str: the benchmark data's identity (:class:`mecbench.identity.DataIdentity`)
``data_fingerprint``   [float, ...]: its fingerprint, compared with a tolerance
``weights_hash``       str: the model provider's fingerprint (weights and configuration)
``seeds``              {"model": int, "splits": int, "bootstrap": int}
``command``            str: the command line that produced the entry
``date``               str: ISO 8601 UTC time of the run
``score_file``         str or null: per-cell score file, relative to the board directory
``benchmark_source``   optional, ad-hoc benchmarks only: {"path", "mapping", "splits",
                       "ceiling"}, what ``leaderboard verify`` needs to rebuild the benchmark
``control_family``     optional (``mecbench controls --save``), str or null: the
                       dimension-matched random basis with the highest score, e.g.
                       ``"fourier-d37"`` (:mod:`mecbench.controls.board`)
``control_score``      optional, float or null: that control's score (mean over seeds; same
                       kind as ``ceiled``, or ``raw`` without a ceiling)
``control_delta``      optional, float or null: the entry's score minus ``control_score``
``ceiling_reliable``   optional, bool: false when the inter-animal ceiling rests on fewer
                       source cells than the benchmark's pool rule asks
``array_backend``      optional, str: ``name:device:dtype`` of the ridge fits when they did
                       not run on the reference float64 engine (float32 or a GPU)
=====================  ======================================================================

Entries of schema 1 carry ``data_hash`` (the SHA-256 of the data's exact bits, which differs
between CPUs) instead of ``data_id`` and ``data_fingerprint``: they are read and shown, but
``verify`` reports them as stale and ``compare`` refuses them until they are scored again.

Concurrency
-----------
Appends take an exclusive :class:`filelock.FileLock` on ``<board>.jsonl.lock`` and write the
whole line with one ``os.write`` on an ``O_APPEND`` descriptor followed by ``fsync``. A process
killed at any moment leaves either no line or a full line (a torn line can only come from
outside causes, e.g. a full disk); if the file does not end in a newline, the next append starts
on a fresh line so the damage stays on one line. :func:`load_board` reports every unreadable
line with its number and still returns all the valid entries.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from mecbench.errors import ConfigError, DataError, UnknownIdentifierError
from mecbench.identity import DataIdentity
from mecbench.jsonsafe import json_float
from mecbench.neural_data import atomic_write
from mecbench.score import read_score_dataset

__all__ = [
    "SCHEMA_VERSION",
    "FIELDS",
    "Board",
    "LineProblem",
    "read_dirs",
    "write_dir",
    "user_board_dir",
    "board_path",
    "validate_entry",
    "make_entry_id",
    "append_entry",
    "load_board",
    "load_boards",
    "board_names",
    "score_file_path",
    "clean_float",
    "entry_score_path",
    "shipped_board_dir",
    "utc_now",
    "entry_from_score",
    "save_entry",
    "board_score_dataset",
    "write_board_score",
    "load_board_score",
    "select_entry",
    "entry_identity",
    "data_difference",
    "entries_on_same_data",
    "backend_note",
    "model_label",
    "SCHEMA_FIELDS",
]

SCHEMA_VERSION = 2
#: Fields that depend on an entry's schema; every other field of :data:`FIELDS` is common.
SCHEMA_FIELDS: dict[int, dict[str, tuple[type, ...]]] = {
    1: {"data_hash": (str,)},
    2: {"data_id": (str,), "data_fingerprint": (list,)},
}
ENV_VAR = "MECBENCH_LEADERBOARD_DIR"
LOCK_TIMEOUT_S = 120.0

#: Required fields and their accepted types (``None`` allowed where listed).
FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (int,),
    "id": (str,),
    "model": (str,),
    "benchmark": (str,),
    "benchmark_version": (int,),
    "layer": (str,),
    "raw": (float, int, type(None)),
    "ceiling": (float, int, type(None)),
    "ceiled": (float, int, type(None)),
    "ci": (list,),
    "raw_ci": (list,),
    "n_cells": (int,),
    "n_cells_total": (int,),
    "ceiling_method": (str,),
    "mapping": (str,),
    "splits": (str,),
    "mecbench_version": (str,),
    "weights_hash": (str,),
    "seeds": (dict,),
    "command": (str,),
    "date": (str,),
    "score_file": (str, type(None)),
}


#: Optional fields and their accepted types (the control_* fields are written by
#: ``mecbench controls --save``).
OPTIONAL_FIELDS: dict[str, tuple[type, ...]] = {
    "control_family": (str, type(None)),
    "control_score": (float, int, type(None)),
    "control_delta": (float, int, type(None)),
    # False when the inter-animal ceiling rests on fewer source cells than the benchmark's
    # pool rule asks and no split-half ceiling could replace it: "ceiled" is then overstated
    "ceiling_reliable": (bool, type(None)),
    # the mapping engine's array backend (``name:device:dtype``) when it was not the
    # reference float64 engine (float32 or a GPU: r within about 1e-4 of the reference)
    "array_backend": (str, type(None)),
}


@dataclass(frozen=True)
class LineProblem:
    """An unreadable line of a board file."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Board:
    """The entries of one benchmark, from one or more directories.

    Attributes
    ----------
    benchmark : str
    entries : list of dict
        Valid entries, in file order; each has an extra key ``_dir`` (its board directory,
        not part of the stored schema).
    problems : list of LineProblem
        Lines that could not be read.
    """

    benchmark: str
    entries: list[dict] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)

    def find(self, model: str, layer: str | None = None) -> list[dict]:
        """Entries of ``model`` (and ``layer``), newest last."""
        return [e for e in self.entries
                if e["model"] == model and (layer is None or e["layer"] == layer)]

    def latest(self) -> list[dict]:
        """The newest entry of every (model, layer) with the current benchmark version."""
        if not self.entries:
            return []
        version = max(e["benchmark_version"] for e in self.entries)
        newest: dict[tuple[str, str], dict] = {}
        for e in self.entries:
            if e["benchmark_version"] == version:
                newest[(e["model"], e["layer"])] = e
        return list(newest.values())


# directories ------------------------------------------------------------------------------
def user_board_dir() -> Path:
    """The user's own board: ``$XDG_DATA_HOME/mecbench/leaderboards``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base, "mecbench", "leaderboards")


def shipped_board_dir() -> Path | None:
    """The reference board installed with mecbench (None if the package data is missing)."""
    try:
        root = files("mecbench.leaderboards")
    except ModuleNotFoundError:
        return None
    path = Path(str(root))
    return path if path.is_dir() else None


def read_dirs(explicit: str | os.PathLike | None = None) -> list[Path]:
    """Board directories to read (see the module docstring)."""
    if explicit:
        return [Path(explicit)]
    if os.environ.get(ENV_VAR):
        return [Path(os.environ[ENV_VAR])]
    shipped = shipped_board_dir()
    out = [shipped] if shipped is not None else []
    user = user_board_dir()
    if user.is_dir() and user not in out:
        out.append(user)
    return out


def write_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Board directory that ``--save`` writes to."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return user_board_dir()


_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


def _check_benchmark_name(benchmark: str) -> str:
    if not benchmark or "/" in benchmark or benchmark.startswith(".") or _SAFE.search(benchmark):
        raise ConfigError(
            f"cannot keep a leaderboard for benchmark {benchmark!r}: use letters, digits, "
            "'.', '_', '+' and '-' only"
        )
    return benchmark


def board_path(directory: str | os.PathLike, benchmark: str) -> Path:
    """``<directory>/<benchmark>.jsonl``."""
    return Path(directory) / f"{_check_benchmark_name(benchmark)}.jsonl"


def score_file_path(directory: str | os.PathLike, benchmark: str, entry_id: str) -> Path:
    """Where the per-cell score of an entry is stored."""
    return Path(directory) / "scores" / _check_benchmark_name(benchmark) / f"{entry_id}.nc"


def board_names(directories: Iterable[str | os.PathLike]) -> list[str]:
    """Benchmarks that have a board in any of ``directories``."""
    found = set()
    for d in directories:
        d = Path(d)
        if d.is_dir():
            found |= {p.name[: -len(".jsonl")] for p in d.glob("*.jsonl")}
    return sorted(found)


# entries ----------------------------------------------------------------------------------
#: A float for JSON: NaN and infinities become None (:func:`mecbench.jsonsafe.json_float`).
clean_float = json_float


def make_entry_id(entry: Mapping[str, Any]) -> str:
    """12 hex digits from the entry's content and date (unique per run)."""
    doc = {k: v for k, v in entry.items() if k not in ("id", "score_file")}
    doc["_nonce"] = os.urandom(8).hex()
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def utc_now() -> str:
    """Current time, ISO 8601 UTC, seconds."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def validate_entry(entry: Any) -> dict:
    """Check an entry against the schema; raises :class:`DataError` naming the field."""
    if not isinstance(entry, dict):
        raise DataError(f"an entry must be a JSON object, got {type(entry).__name__}")
    schema = entry.get("schema")
    if isinstance(schema, bool) or schema not in SCHEMA_FIELDS:
        raise DataError(f"field 'schema' must be one of {sorted(SCHEMA_FIELDS)}, got {schema!r}")
    for name, types in {**FIELDS, **SCHEMA_FIELDS[schema]}.items():
        if name not in entry:
            raise DataError(f"missing field {name!r}")
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, types):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise DataError(f"field {name!r} must be {want}, got {value!r}")
    if schema >= 2 and not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in entry["data_fingerprint"]):
        raise DataError("field 'data_fingerprint' must be a list of numbers")
    for name in ("ci", "raw_ci"):
        ci = entry[name]
        if len(ci) != 2 or not all(v is None or isinstance(v, (int, float)) for v in ci):
            raise DataError(f"field {name!r} must be [lo, hi], got {ci!r}")
    if entry["n_cells"] < 0 or entry["n_cells_total"] < entry["n_cells"]:
        raise DataError(
            f"fields n_cells={entry['n_cells']} and n_cells_total={entry['n_cells_total']} "
            "are inconsistent"
        )
    _check_benchmark_name(entry["benchmark"])
    if not re.fullmatch(r"[0-9a-f]{12}", entry["id"]):
        raise DataError(f"field 'id' must be 12 hex digits, got {entry['id']!r}")
    for name, types in OPTIONAL_FIELDS.items():
        value = entry.get(name)
        # a bool is an int to isinstance: accepted only where bool is listed
        wrong_bool = isinstance(value, bool) and bool not in types
        if name in entry and (wrong_bool or not isinstance(value, types)):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise DataError(f"field {name!r} must be {want}, got {value!r}")
    return entry


def _encode_line(entry: Mapping[str, Any]) -> bytes:
    clean = {k: v for k, v in entry.items() if not k.startswith("_")}
    validate_entry(clean)
    text = json.dumps(clean, sort_keys=True, allow_nan=False, ensure_ascii=True)
    if "\n" in text:  # impossible with json.dumps, but the format depends on it
        raise DataError("an entry must encode to one line")
    return (text + "\n").encode()


def append_entry(directory: str | os.PathLike, entry: Mapping[str, Any]) -> Path:
    """Append one entry to ``<directory>/<benchmark>.jsonl``, locked and atomic.

    Parameters
    ----------
    directory : path
        Board directory (created if needed).
    entry : mapping
        A complete entry (see the module docstring); keys starting with ``_`` are dropped.

    Returns
    -------
    Path of the board file.
    """
    data = _encode_line(entry)
    path = board_path(directory, entry["benchmark"])
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # keep a torn last line on its own line
                written = os.write(fd, data)
                while written < len(data):  # only on exotic file systems
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            finally:
                os.close(fd)
    except Timeout:
        raise ConfigError(
            f"{path}: could not lock the leaderboard within {LOCK_TIMEOUT_S:g} s "
            f"(remove {path}.lock if no mecbench process is running)"
        ) from None
    return path


def load_board(directory: str | os.PathLike, benchmark: str) -> Board:
    """Read one board file; unreadable lines become :class:`LineProblem` entries."""
    board = Board(benchmark)
    _read_into(board, Path(directory), benchmark)
    return board


def load_boards(directories: Iterable[str | os.PathLike], benchmark: str) -> Board:
    """Entries of ``benchmark`` from several directories, in directory order."""
    board = Board(benchmark)
    for d in directories:
        _read_into(board, Path(d), benchmark)
    return board


def _read_into(board: Board, directory: Path, benchmark: str) -> None:
    path = board_path(directory, benchmark)
    if not path.is_file():
        return
    with open(path, "rb") as fh:
        raw_lines = fh.read().split(b"\n")
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw.decode("utf-8"))
            validate_entry(entry)
            if entry["benchmark"] != benchmark:
                raise DataError(f"entry of benchmark {entry['benchmark']!r} in the board of "
                                f"{benchmark!r}")
        except (UnicodeDecodeError, json.JSONDecodeError, DataError, ConfigError) as err:
            board.problems.append(LineProblem(str(path), number, _short(err)))
            continue
        entry["_dir"] = str(directory)
        entry["_line"] = number
        board.entries.append(entry)


def _short(err: Exception) -> str:
    text = str(err)
    if isinstance(err, json.JSONDecodeError):
        text = f"not valid JSON ({err.msg} at column {err.colno})"
    elif isinstance(err, UnicodeDecodeError):
        text = "not valid UTF-8"
    return text if len(text) < 200 else text[:197] + "..."


def entry_score_path(entry: Mapping[str, Any]) -> Path | None:
    """Absolute path of an entry's per-cell score file (None if it has none)."""
    if not entry.get("score_file"):
        return None
    return Path(entry["_dir"]) / entry["score_file"]


def entry_from_score(score, *, command: str, date: str | None = None) -> dict:
    """A leaderboard entry (without ``score_file``) from a :class:`mecbench.score.Score`
    produced by a :class:`~mecbench.benchmarks.Benchmark`."""
    attrs = score.attrs
    s = score.summary()

    def pair(lo: str, hi: str) -> list:
        return [clean_float(s.get(lo)), clean_float(s.get(hi))]

    for name in ("model", "benchmark", "benchmark_version", "layer", "data_id",
                 "data_fingerprint", "weights_hash", "mapping", "splits", "ceiling_method"):
        if name not in attrs:
            raise DataError(f"the score lacks the attribute {name!r}; was it produced by a "
                            "mecbench Benchmark?")
    entry = {
        "schema": SCHEMA_VERSION,
        "model": str(attrs["model"]),
        "benchmark": str(attrs["benchmark"]),
        "benchmark_version": int(attrs["benchmark_version"]),
        "layer": str(attrs["layer"]),
        "raw": clean_float(s.get("raw_median")),
        "ceiling": clean_float(s.get("ceiling_median")),
        "ceiled": clean_float(s.get("ceiled_median")),
        "ci": pair("ceiled_ci_low", "ceiled_ci_high"),
        "raw_ci": pair("raw_ci_low", "raw_ci_high"),
        "n_cells": int(s.get("n_cells_ceiled", s.get("n_cells_scored", 0))),
        "n_cells_total": int(s.get("n_cells", 0)),
        "ceiling_method": str(attrs["ceiling_method"]),
        "mapping": str(attrs["mapping"]),
        "splits": str(attrs["splits"]),
        "mecbench_version": str(attrs.get("mecbench_version", "")),
        "data_id": str(attrs["data_id"]),
        "data_fingerprint": [float(v) for v in json.loads(str(attrs["data_fingerprint"]))],
        "weights_hash": str(attrs["weights_hash"]),
        "seeds": {"model": int(attrs.get("model_seed", 0)),
                  "splits": int(_split_seed(str(attrs["splits"]))),
                  "bootstrap": int(attrs.get("bootstrap_seed", 0))},
        "command": command,
        "date": date or utc_now(),
        "score_file": None,
    }
    if entry["ceiled"] is None and entry["ceiling_method"] == "none":
        entry["n_cells"] = int(s.get("n_cells_scored", 0))
    if attrs.get("ceiling_reliable") is not None:
        entry["ceiling_reliable"] = bool(int(attrs["ceiling_reliable"]))
    if attrs.get("array_backend"):
        entry["array_backend"] = str(attrs["array_backend"])
    if attrs.get("benchmark_source"):
        entry["benchmark_source"] = json.loads(attrs["benchmark_source"])
    entry["id"] = make_entry_id(entry)
    return entry


def _split_seed(identifier: str) -> int:
    match = re.search(r"-s(\d+)$", identifier)
    return int(match.group(1)) if match else 0


#: Neuroid coordinates kept in board score files (the rest stay in the full Score).
BOARD_COORDS = ("neuroid_id", "animal", "arena", "recorded_id", "cell_id", "cell_type")


def board_score_dataset(score) -> Any:
    """The per-cell part of a :class:`~mecbench.score.Score` kept next to a board.

    Keeps the per-cell variables (``raw``, ``ceiling``, ``ceiled``, ``ceiling_ok``), every
    summary value and attribute, and the neuroid coordinates of :data:`BOARD_COORDS`; drops
    the per-split r and its bookkeeping (``n_train``, ``n_test``, ``undefined_reason``), which
    the result cache keeps. About 80 kB for 1200 cells instead of 1.6 MB.
    """
    ds = score.dataset if hasattr(score, "dataset") else score
    per_split = [v for v in ds.variables if "split" in ds[v].dims]
    extra = [c for c in ds.coords if c not in BOARD_COORDS and c not in per_split]
    out = ds.drop_vars([*per_split, *extra])
    if "ceiling_ok" in out:
        out["ceiling_ok"] = out["ceiling_ok"].astype("int8")
    return out


def write_board_score(path: str | os.PathLike, score) -> Path:
    """Write :func:`board_score_dataset` of ``score`` atomically, compressed, mode 0644."""
    ds = board_score_dataset(score)
    encoding = {}
    for name in ds.variables:
        if ds[name].dtype.kind == "U":
            encoding[name] = {"dtype": "S1", "zlib": True, "complevel": 6}
        elif ds[name].ndim:
            encoding[name] = {"zlib": True, "complevel": 6, "shuffle": True}
    path = Path(path)
    atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding))
    os.chmod(path, 0o644)
    return path


def load_board_score(path: str | os.PathLike) -> Any:
    """Read a board score file (or a full Score file) as an :class:`xarray.Dataset` with
    string coordinates and a boolean ``ceiling_ok``."""
    ds = read_score_dataset(path)
    if "raw" not in ds or "neuroid_id" not in ds.coords:
        raise DataError(f"{path}: not a mecbench score file (no per-cell 'raw' scores)")
    return ds


def save_entry(directory: str | os.PathLike, score, *, command: str) -> dict:
    """Save ``score``'s per-cell file under ``directory`` and append its entry to the board.

    The score file (:func:`write_board_score`) is written first, atomically, so an entry never
    points to a missing file. Returns the entry (with ``_dir`` set).
    """
    directory = Path(directory)
    entry = entry_from_score(score, command=command)
    path = score_file_path(directory, entry["benchmark"], entry["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_board_score(path, score)
    entry["score_file"] = path.relative_to(directory).as_posix()
    append_entry(directory, entry)
    entry["_dir"] = str(directory)
    return entry


# selecting entries and comparing data identities ------------------------------------------
def entry_identity(entry: Mapping[str, Any]) -> DataIdentity | None:
    """The data identity an entry was scored on, or None for an entry of schema 1 (whose
    ``data_hash`` depends on the CPU it was computed on)."""
    if entry.get("schema", SCHEMA_VERSION) < 2:
        return None
    return DataIdentity(str(entry["data_id"]), tuple(float(v) for v in entry["data_fingerprint"]))


def data_difference(entry: Mapping[str, Any], identity: DataIdentity) -> str | None:
    """Why ``entry`` was not scored on the data of ``identity``, or None when it was."""
    mine = entry_identity(entry)
    if mine is None:
        return ("the entry predates data identities (schema 1: its data hash depends on the "
                "CPU); score it again with --save")
    return mine.difference(identity)


def entries_on_same_data(entries: Iterable[Mapping[str, Any]]) -> str | None:
    """None when every entry was scored on the same benchmark version and the same data (on
    whichever machines); else why not, naming the entries."""
    entries = list(entries)
    versions = sorted({e["benchmark_version"] for e in entries})
    if len(versions) > 1:
        return f"the entries were scored on different benchmark versions {versions}"
    for entry in entries:
        if entry_identity(entry) is None:
            return (f"entry {entry['id']} ({entry['model']}@{entry['layer']}) predates data "
                    "identities (schema 1: its data hash depends on the CPU); score it again "
                    "with --save")
    first = entry_identity(entries[0])
    for other in entries[1:]:
        why = data_difference(other, first)
        if why is not None:
            return (f"entries {entries[0]['id']} and {other['id']} were not scored on the same "
                    f"data: {why}")
    return None


def model_label(entry: Mapping[str, Any]) -> str:
    """The entry's model, with its array backend in brackets when it was not the reference
    float64 engine (e.g. ``"rnn-relu-dos [torch:cuda:0:float32]"``)."""
    backend = entry.get("array_backend")
    return entry["model"] if not backend else f"{entry['model']} [{backend}]"


def backend_note(entries: Iterable[Mapping[str, Any]]) -> str | None:
    """A note when the entries were not all computed by the same array backend (None when
    they were): float32 and GPU scores agree with the reference engine's to about 1e-4 in r,
    far below the differences a comparison of models tests, but not bit for bit."""
    kinds = {e.get("array_backend") for e in entries}
    if len(kinds) < 2:
        return None
    named = ", ".join(f"{e['id']} on {e.get('array_backend') or 'the reference float64 engine'}"
                      for e in entries)
    return (f"note: the entries were computed by different array backends ({named}); their "
            "per-cell r agree with the reference engine's to about 1e-4")


def select_entry(board: Board, spec: str) -> dict:
    """The entry named by ``spec``: an entry id, ``MODEL@LAYER`` or ``MODEL`` (the newest
    entry; the model must then have entries for one layer only).

    Raises
    ------
    UnknownIdentifierError
        With the closest model names on the board.
    ConfigError
        When ``MODEL`` has entries for several layers.
    """
    by_id = [e for e in board.entries if e["id"] == spec]
    if by_id:
        return by_id[-1]
    model, _, layer = spec.partition("@")
    found = board.find(model, layer or None)
    if not found:
        known = sorted({e["model"] for e in board.entries}
                       | {f"{e['model']}@{e['layer']}" for e in board.entries})
        raise UnknownIdentifierError(f"model on the leaderboard of {board.benchmark}", spec,
                                     known)
    layers = sorted({e["layer"] for e in found})
    if len(layers) > 1:
        raise ConfigError(f"model {model!r} has entries for layers {', '.join(layers)} on "
                          f"{board.benchmark}; name one as {model}@LAYER")
    return found[-1]
