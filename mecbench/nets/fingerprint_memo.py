"""A per-machine memo of network fingerprints that take torch to compute.

An untrained network's fingerprint hashes its weights, which exist only once torch has built
the network from its seed. The memo keeps the fingerprint under a key made of everything that
decides those weights and what the fingerprint hashes besides them: the provider's identity
document (class, configuration with the seed, layers, trajectory protocol), the installed
torch version, the machine architecture and the hash of mecbench's source
(:func:`mecbench.cache.source_hash`, which covers the network code and its initialisation).
A fully cached score of an untrained network then imports no torch.

A memo entry is one small text file in ``<cache>/fingerprints/``, written atomically; an
unreadable or malformed entry is ignored and recomputed, and a cache directory that cannot be
written only costs the recomputation.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from mecbench.cache import canonical_json, source_hash
from mecbench.paths import cache_dir

__all__ = ["memo_key", "memoised_fingerprint"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _torch_version() -> str:
    """The installed torch's version, read from its metadata (torch is not imported)."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def memo_key(identity_document: dict) -> str:
    """The memo's key (64 hex digits) for a provider's identity document."""
    doc = {"identity": identity_document, "torch": _torch_version(),
           "machine": platform.machine(), "source_hash": source_hash()}
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def _memo_dir() -> Path | None:
    try:
        return cache_dir("fingerprints")
    except OSError:
        return None


def _read(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if _HEX64.match(text) else None


def _write(path: Path, fingerprint: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".txt")
        with os.fdopen(fd, "w") as handle:
            handle.write(fingerprint + "\n")
        os.replace(tmp, path)
    except OSError:
        return


def memoised_fingerprint(identity_document: dict, compute: Callable[[], str]) -> str:
    """The memoised fingerprint for ``identity_document``, else ``compute()`` (then stored).

    Parameters
    ----------
    identity_document : dict
        What the fingerprint hashes besides the weights
        (:meth:`mecbench.providers.NetworkProvider.identity_document`).
    compute : callable
        Computes the fingerprint (builds the network).
    """
    directory = _memo_dir()
    path = directory / f"{memo_key(identity_document)}.txt" if directory else None
    if path is not None:
        found = _read(path)
        if found is not None:
            return found
    fingerprint = compute()
    if path is not None and _HEX64.match(fingerprint):
        _write(path, fingerprint)
    return fingerprint
