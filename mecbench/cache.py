"""On-disk cache of model rate maps, ceilings and scores.

Every entry is stored under a key that is the SHA-256 of a canonical JSON document holding
*everything* that determines the result, so an entry computed from other inputs can never be
returned:

- always: the mecbench version and a hash of mecbench's own source code (the ``.py`` files of
  ``mecbench`` and ``mecbench.models``, except the units of :data:`SOURCE_NEUTRAL`, which
  cannot change a cached value: the command line, report and results layers, and the loaders
  and training code whose outputs are hashed into the keys), so that editing the code
  invalidates every entry;
- model rate maps (kind ``"ratemaps"``): model identifier, provider fingerprint (weights and
  configuration), arena (width, height, bin size), layer, seed;
- ceilings (kind ``"ceiling"``): benchmark identifier and version, data identity
  (:attr:`mecbench.identity.DataIdentity.id`), mapping parameters, split identifier, ceiling
  method, seeds;
- scores (kind ``"score"``): everything of the ceiling plus model identifier, fingerprint and
  layer.

Data identities are the same on every machine for the same data, so a cache filled on one
machine serves another. Their ids are necessary, not sufficient, for equal data: ceilings and
scores are stored with a *guard*, the full identity of the data they were computed from, as a
netCDF attribute written with the entry (atomically), and an entry whose guard does not match
the data at hand (:meth:`~mecbench.identity.DataIdentity.matches`) is a miss. So an entry is
never served for other data, whichever machine wrote it.

A :class:`CachePolicy` says which kinds a :class:`Cache` keeps on disk and which it also keeps in
memory for the process; the controls sweep, for instance, stores no rate maps and computes each
ceiling once (:data:`mecbench.controls.runner.SWEEP_POLICY`).

Layout: ``<cache_dir>/<kind>/<key[:2]>/<key>.nc`` (netCDF) with a sidecar ``<key>.json`` holding
the key document, for ``mecbench cache info``. Writes are atomic (temporary file then
``os.replace``), so concurrent processes and interrupted runs never leave a half-written
entry; an unreadable entry is treated as a miss and rewritten.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from mecbench._version import __version__
from mecbench.errors import UnknownIdentifierError
from mecbench.identity import DataIdentity
from mecbench.netcdf_attrs import netcdf_attrs
from mecbench.neural_data import atomic_write
from mecbench.paths import cache_dir

__all__ = ["KINDS", "SOURCE_NEUTRAL", "Cache", "CachePolicy", "cache_key", "source_hash",
           "hash_source_files", "canonical_json"]

KINDS = ("ratemaps", "ceiling", "score")
GUARD_ATTR = "_mecbench_data_identity"


def canonical_json(doc: Any) -> str:
    """JSON with sorted keys and no whitespace; numpy scalars and arrays become plain lists."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=_json_default,
                      allow_nan=True)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot put a {type(obj).__name__} in a cache key")


#: The parts of mecbench whose code cannot change a cached value, as units of the layers of
#: docs/architecture.md (a package or a module, by dotted name), by reason; every other ``.py``
#: file of ``mecbench`` and ``mecbench.models`` is hashed (:func:`source_hash`), so that editing
#: it invalidates the cache. ``tests/test_cache_source.py`` checks them against the layers and
#: the import graph.
SOURCE_NEUTRAL: dict[str, tuple[str, ...]] = {
    # the layers 'cli', 'report' and 'results', ``python -m mecbench``, and the text and HTML
    # helpers of the utilities layer: they read, format, store and compare results, and no code
    # that computes a cached value imports them
    "presentation": ("mecbench.__main__", "mecbench.cli", "mecbench.report",
                     "mecbench.leaderboard", "mecbench.verify", "mecbench.run",
                     "mecbench.compare", "mecbench.tables", "mecbench.htmlkit"),
    # inputs whose output enters every key by content: recordings (their data identity) and
    # trained weights (the model's fingerprint)
    "hashed inputs": ("mecbench.loaders", "mecbench.training"),
}


def _unit_prefixes(unit: str) -> tuple[str, str]:
    """The source paths of a unit: its package directory or its module file."""
    path = unit.replace(".", "/")
    return f"{path}/", f"{path}.py"


#: Path prefixes (``mecbench/cli/``, ``mecbench/cli.py``...) of :data:`SOURCE_NEUTRAL`, as
#: :func:`hash_source_files` skips them.
SOURCE_EXCLUDED: tuple[str, ...] = tuple(
    prefix for units in SOURCE_NEUTRAL.values() for unit in units
    for prefix in _unit_prefixes(unit))


def hash_source_files(roots: list[tuple[str, Path]],
                      exclude: tuple[str, ...] = ()) -> str:
    """SHA-256 over every ``.py`` file under each ``(label, directory)``, in path order;
    the relative path (``label/sub/file.py``) and the bytes of each file are hashed. Paths
    starting with an entry of ``exclude`` are skipped."""
    h = hashlib.sha256()
    for label, root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            name = f"{label}/{path.relative_to(root).as_posix()}"
            if name.startswith(exclude):
                continue
            h.update(f"{name}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 of the mecbench source that can change a result: every ``.py`` file of the
    ``mecbench`` and ``mecbench.models`` packages except :data:`SOURCE_NEUTRAL` (computed once
    per process). Datasets are not hashed as code: their content hash is part of every key."""
    roots = []
    for package, label in (("mecbench", "mecbench"), ("mecbench.models", "mecbench/models")):
        try:
            spec = importlib.util.find_spec(package)
        except ModuleNotFoundError:
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in sorted(spec.submodule_search_locations):
            roots.append((label, Path(root)))
    return hash_source_files(roots, SOURCE_EXCLUDED)


def cache_key(kind: str, parts: Mapping[str, Any]) -> tuple[str, dict]:
    """The key of an entry and the full document it hashes.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    parts : mapping
        JSON-serialisable description of everything else that determines the result.

    Returns
    -------
    key : str
        64 hex digits.
    doc : dict
        ``{"kind", "mecbench_version", "source_hash", **parts}``.
    """
    if kind not in KINDS:
        raise UnknownIdentifierError("cache kind", kind, KINDS)
    doc = {"kind": kind, "mecbench_version": __version__, "source_hash": source_hash(),
           **dict(parts)}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest(), doc


def _kinds(kinds: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(kinds, str):
        kinds = (kinds,)
    out = frozenset(kinds)
    for kind in sorted(out):
        if kind not in KINDS:
            raise UnknownIdentifierError(f"cache kind in {what}", kind, KINDS)
    return out


@dataclass(frozen=True)
class CachePolicy:
    """Which kinds of entries (:data:`KINDS`) a :class:`Cache` keeps, and where.

    Parameters
    ----------
    on_disk : iterable of str
        Kinds read from and written to the cache directory (when the cache is enabled); the
        other kinds are never looked up there nor stored (every lookup is a miss).
    in_memory : iterable of str
        Kinds whose datasets and arrays (:meth:`Cache.get`, :meth:`Cache.put` and their
        ``_array`` forms) are also kept in the cache object for the life of the process,
        enabled or not: a value put or read once is returned again (as a copy) without a
        disk read or a recomputation. The memory travels with the object when it is pickled
        (to parallel workers).
    """

    on_disk: frozenset[str] = frozenset(KINDS)
    in_memory: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "on_disk", _kinds(self.on_disk, "CachePolicy.on_disk"))
        object.__setattr__(self, "in_memory", _kinds(self.in_memory, "CachePolicy.in_memory"))


class Cache:
    """A directory of cached results.

    Parameters
    ----------
    root : path, optional
        Default :func:`mecbench.paths.cache_dir` (``$MECBENCH_CACHE_DIR`` or
        ``~/.cache/mecbench``).
    enabled : bool
        When False nothing is read from or written to disk (``--no-cache``).
    policy : CachePolicy, optional
        Which kinds are kept on disk and in memory; default every kind on disk, none in
        memory.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, enabled: bool = True,
                 policy: CachePolicy | None = None):
        if root is None:
            root = cache_dir()
        if policy is not None and not isinstance(policy, CachePolicy):
            raise TypeError(f"policy must be a CachePolicy, got {type(policy).__name__}")
        self.root = Path(root)
        self.enabled = enabled
        self.policy = policy if policy is not None else CachePolicy()
        self.hits = 0
        self.misses = 0
        self._memory: dict[tuple[str, str], xr.Dataset] = {}

    def __repr__(self) -> str:
        extra = "" if self.policy == CachePolicy() else f", policy={self.policy!r}"
        return f"Cache({str(self.root)!r}, enabled={self.enabled}{extra})"

    def with_policy(self, policy: CachePolicy) -> Cache:
        """A cache on the same directory, enabled or not as this one, with ``policy`` and an
        empty memory (counters at zero)."""
        return Cache(self.root, enabled=self.enabled, policy=policy)

    def _on_disk(self, kind: str) -> bool:
        return self.enabled and kind in self.policy.on_disk

    # paths --------------------------------------------------------------------------------
    def path(self, kind: str, key: str) -> Path:
        """Where the entry ``key`` of ``kind`` lives (whether or not it exists)."""
        return self.root / kind / key[:2] / f"{key}.nc"

    # entries ------------------------------------------------------------------------------
    def fetch(self, kind: str, parts: Mapping[str, Any], read: Callable[[Path], Any], *,
              guard: DataIdentity | None = None) -> Any:
        """``read(path)`` of the entry for ``parts``, or None (miss, disabled, ``read``
        failed on a damaged entry, or the entry's stored identity does not match ``guard``).
        Nothing is read for a kind the policy keeps off disk."""
        if not self._on_disk(kind):
            return None
        key, _ = cache_key(kind, parts)
        path = self.path(kind, key)
        if not path.is_file() or (guard is not None and not _guard_holds(path, guard)):
            self.misses += 1
            return None
        try:
            value = read(path)
        except Exception:  # a damaged entry is a miss; the next store() rewrites it
            self.misses += 1
            return None
        attrs = getattr(value, "attrs", None)
        if isinstance(attrs, dict):  # the guard is the cache's, not part of the value
            attrs.pop(GUARD_ATTR, None)
        self.hits += 1
        return value

    def store(self, kind: str, parts: Mapping[str, Any], write: Callable[[str], None], *,
              guard: DataIdentity | None = None) -> Path | None:
        """Create the entry for ``parts`` atomically with ``write(tmp_path)`` (a netCDF file);
        returns its path (None when disabled or for a kind the policy keeps off disk).
        ``guard``, the identity of the data the value was computed from, is stored in the same
        file. A sidecar ``.json`` records the key document."""
        if not self._on_disk(kind):
            return None

        key, doc = cache_key(kind, parts)
        path = self.path(kind, key)

        def write_guarded(tmp: str) -> None:
            write(tmp)
            if guard is not None:
                _stamp_guard(tmp, guard)

        atomic_write(path, write_guarded)
        sidecar = path.with_suffix(".json")
        atomic_write(sidecar, lambda tmp: Path(tmp).write_text(
            json.dumps(doc, sort_keys=True, indent=1, default=_json_default)))
        return path

    def get(self, kind: str, parts: Mapping[str, Any], *, guard: DataIdentity | None = None
            ) -> xr.Dataset | None:
        """The cached dataset for ``parts``, or None (miss, disabled, unreadable, or stored
        for data other than ``guard``). A kind the policy keeps in memory is served from
        memory when it is there (a copy), and remembered when it is read from disk."""
        if kind not in self.policy.in_memory:
            return self.fetch(kind, parts, _read_dataset, guard=guard)
        key = (kind, cache_key(kind, parts)[0])
        if key in self._memory:
            return self._memory[key].copy(deep=True)
        found = self.fetch(kind, parts, _read_dataset, guard=guard)
        if found is not None:
            self._memory[key] = found
        return found

    def put(self, kind: str, parts: Mapping[str, Any], value: xr.Dataset, *,
            guard: DataIdentity | None = None) -> Path | None:
        """Store ``value`` atomically under the key of ``parts`` (with ``guard``, see
        :meth:`store`); returns its path (None when nothing was written). A kind the policy
        keeps in memory is remembered (a copy of ``value``), enabled or not."""
        if kind in self.policy.in_memory:
            self._memory[(kind, cache_key(kind, parts)[0])] = value.copy(deep=True)
        if not self._on_disk(kind):
            return None
        ds = value.copy()
        ds.attrs = netcdf_attrs(ds.attrs)
        for name in list(ds.variables):
            ds[name].attrs = netcdf_attrs(ds[name].attrs)
        return self.store(kind, parts, lambda tmp: ds.to_netcdf(tmp, engine="netcdf4"),
                          guard=guard)

    def get_or_compute(self, kind: str, parts: Mapping[str, Any],
                       compute: Callable[[], xr.Dataset]) -> xr.Dataset:
        """Return the cached value for ``parts`` or compute, store and return it."""
        found = self.get(kind, parts)
        if found is not None:
            return found
        value = compute()
        self.put(kind, parts, value)
        return value

    def get_array(self, kind: str, parts: Mapping[str, Any], *,
                  guard: DataIdentity | None = None) -> xr.DataArray | None:
        """Like :meth:`get` for an entry stored with :meth:`put_array`."""
        ds = self.get(kind, parts, guard=guard)
        if ds is None:
            return None
        name = ds.attrs.get("_array_name", "value")
        da = ds[name]
        da.attrs = {k: v for k, v in ds[name].attrs.items()}
        return da

    def put_array(self, kind: str, parts: Mapping[str, Any], value: xr.DataArray, *,
                  guard: DataIdentity | None = None) -> Path | None:
        """Store one DataArray (its attrs kept on the variable)."""
        name = value.name if isinstance(value.name, str) and value.name else "value"
        ds = value.to_dataset(name=name)
        ds.attrs["_array_name"] = name
        return self.put(kind, parts, ds, guard=guard)

    # maintenance --------------------------------------------------------------------------
    def info(self) -> dict:
        """Number of entries and bytes per kind, and the root directory."""
        kinds = {}
        for kind in KINDS:
            files = list((self.root / kind).rglob("*.nc")) if (self.root / kind).is_dir() else []
            kinds[kind] = {"entries": len(files),
                           "bytes": int(sum(f.stat().st_size for f in files))}
        return {"path": str(self.root), "kinds": kinds,
                "entries": sum(k["entries"] for k in kinds.values()),
                "bytes": sum(k["bytes"] for k in kinds.values())}

    def clear(self, kind: str | None = None) -> int:
        """Delete every entry (or those of one kind); returns how many were removed."""
        if kind is not None and kind not in KINDS:
            raise UnknownIdentifierError("cache kind", kind, KINDS)
        removed = 0
        for k in [kind] if kind else list(KINDS):
            folder = self.root / k
            if folder.is_dir():
                removed += sum(1 for _ in folder.rglob("*.nc"))
                shutil.rmtree(folder)
        return removed


def _stamp_guard(path: str, guard: DataIdentity) -> None:
    """Write ``guard`` into the netCDF file at ``path`` as a global attribute."""
    import netCDF4

    with netCDF4.Dataset(path, "a") as nc:
        nc.setncattr(GUARD_ATTR, guard.to_json())


def _guard_holds(path: Path, guard: DataIdentity) -> bool:
    """True when the entry at ``path`` was stored for data that match ``guard``."""
    import netCDF4

    try:
        with netCDF4.Dataset(path, "r") as nc:
            stored = DataIdentity.from_dict(json.loads(nc.getncattr(GUARD_ATTR)))
    except Exception:  # no guard, damaged file, unreadable attribute: not provably the same
        return False
    return guard.matches(stored)


def _read_dataset(path: Path) -> xr.Dataset:
    return _restore_strings(xr.load_dataset(path, engine="netcdf4"))


def _restore_strings(ds: xr.Dataset) -> xr.Dataset:
    """netCDF returns string coordinates as object arrays; make them numpy str."""
    for name in list(ds.coords):
        if ds[name].dtype == object:
            ds.coords[name] = ds[name].astype(str)
    for name in list(ds.data_vars):
        if ds[name].dtype == object:
            ds[name] = ds[name].astype(str)
    return ds
