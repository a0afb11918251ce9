"""Benchmarks: recorded data + mapping + splits + ceiling (see :mod:`mecbench.benchmarks.base`).

Use :func:`get_benchmark` for a registered identifier (``mec-sim.ridge``) or for a path to the
user's own recordings (an *ad-hoc* benchmark, with ``mapping``, ``splits`` and ``ceiling``
chosen freely); :func:`benchmark_names` lists the registered ones.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mecbench import registry
from mecbench.benchmarks.base import Benchmark, pool_arenas
from mecbench.benchmarks.specs import (
    CEILING_METHODS,
    MappingSpec,
    parse_ceiling,
    parse_mapping,
    parse_splits,
    splits_text,
)
from mecbench.errors import ConfigError, DataError
from mecbench.loaders import load_recordings

__all__ = [
    "Benchmark",
    "MappingSpec",
    "CEILING_METHODS",
    "get_benchmark",
    "adhoc_benchmark",
    "benchmark_for_entry",
    "benchmark_names",
    "is_path_like",
    "parse_mapping",
    "parse_splits",
    "parse_ceiling",
    "pool_arenas",
]

DEFAULT_ADHOC_MAPPING = "ridge:alpha=1.0"
DEFAULT_ADHOC_SPLITS = "random:train_frac=0.2,n_splits=10,seed=0"
DEFAULT_ADHOC_CEILING = "holdout"


def benchmark_names() -> list[str]:
    """Registered benchmark identifiers (entry points and runtime registrations)."""
    return registry.names("benchmark")


def is_path_like(identifier: str) -> bool:
    """True when ``identifier`` names a file rather than a registered benchmark."""
    text = str(identifier)
    return (os.sep in text or text.endswith((".nc", ".nc4", ".npz", ".nwb", ".mat"))
            or Path(text).exists())


def _safe(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "data"


def adhoc_benchmark(path: str | os.PathLike, *, mapping: str | MappingSpec | None = None,
                    splits: str | None = None, ceiling: str | None = None) -> Benchmark:
    """A benchmark on the user's own recordings.

    Parameters
    ----------
    path : path
        A NeuralData netCDF file (or any format :func:`mecbench.loaders.load_recordings`
        reads).
    mapping, splits, ceiling : str, optional
        Specifications (:mod:`mecbench.benchmarks.specs`); defaults ``ridge:alpha=1.0``,
        random 20 % train × 10 splits, ``holdout`` (the split-half ceiling when an arena has a
        single animal).

    Returns
    -------
    Benchmark
        Named ``<file stem>.<mapping>[-<split kind>]``, version 0.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file (expected a registered benchmark or a path to "
                        "a NeuralData .nc file)")
    mapping_spec = parse_mapping(mapping or DEFAULT_ADHOC_MAPPING)
    mapping_spec.build()  # fail now, not after loading data, on a bad name or parameter
    scheme = parse_splits(splits or DEFAULT_ADHOC_SPLITS)
    method = parse_ceiling(ceiling or DEFAULT_ADHOC_CEILING)
    name = f"{_safe(path.stem)}.{_safe(mapping_spec.name)}"
    if scheme.kind != "random":
        name += f"-{scheme.kind}"

    def load():
        return load_recordings(path)

    bench = Benchmark(name, 0, load, mapping_spec, scheme, ceiling=method,
                      description=f"ad-hoc benchmark on {path}", dataset=str(path))
    bench.source = {"path": str(path.resolve()), "mapping": mapping_spec.text,
                    "splits": splits_text(scheme), "ceiling": method}
    return bench


def benchmark_for_entry(entry) -> Benchmark:
    """The benchmark a leaderboard entry was scored on (registered, or ad-hoc from the
    ``benchmark_source`` the entry recorded)."""
    source = entry.get("benchmark_source")
    if source:
        return adhoc_benchmark(source["path"], mapping=source["mapping"],
                               splits=source["splits"], ceiling=source["ceiling"])
    return get_benchmark(entry["benchmark"])


def get_benchmark(identifier: str, *, mapping: str | None = None, splits: str | None = None,
                  ceiling: str | None = None) -> Benchmark:
    """A registered benchmark by identifier, or an ad-hoc one when ``identifier`` is a path.

    ``mapping``, ``splits`` and ``ceiling`` apply to ad-hoc benchmarks only; a registered
    benchmark's definition is fixed by its version.

    Raises
    ------
    UnknownIdentifierError
        With the closest registered names.
    """
    if is_path_like(identifier):
        return adhoc_benchmark(identifier, mapping=mapping, splits=splits, ceiling=ceiling)
    given = [f"--{k}" for k, v in (("mapping", mapping), ("splits", splits),
                                   ("ceiling", ceiling)) if v is not None]
    if given:
        raise ConfigError(
            f"{', '.join(given)} only apply to an ad-hoc benchmark (a path to recordings); "
            f"the registered benchmark {identifier!r} has a fixed definition"
        )
    bench = registry.load("benchmark", identifier)
    if not isinstance(bench, Benchmark):
        raise ConfigError(f"the plugin for benchmark {identifier!r} returned "
                          f"{type(bench).__name__}, not a mecbench Benchmark")
    return bench
