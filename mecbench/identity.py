"""Data identity: when two datasets are the same data, on any machine.

The bits of computed data differ between machines: numpy's transcendental functions, BLAS
and SIMD reductions round differently on other CPUs and builds, so a hash of the exact float64
values (``NeuralData.content_hash``) changes from one machine to the next although nothing
that matters changed. A :class:`DataIdentity` separates the two kinds of content:

- **structure**, compared exactly: arena names, grid (arena size, bin size), variable names,
  dimensions and shapes, every string label on the neuroids (ids, animals, sessions...), the
  names of the numeric labels, which values are NaN, and which cells are all zero;
- **values**, compared with a tolerance: for every variable (and for the numeric neuroid
  labels, and the bin-centre coordinates) a *fingerprint* of two numbers,
  ``Σ_j c_j log P_j`` and ``Σ_j c_j log N_j``, where ``P_j`` (``N_j``) is the weighted sum of the
  positive (negative) finite values of neuroid ``j`` with fixed weights in [1, 2) that differ
  between bins, and ``c_j`` in [1, 2) differ between neuroids.

The logarithm makes the fingerprint sensitive to a *relative* change of any one cell however
small its share of the total: scaling one cell by ``1 + ε`` moves a fingerprint by about ``ε``.
Last-bit differences move each ``log P_j`` by ~1e-15 and a fingerprint by ~1e-13 at most, so
two identities *match* when their structures are equal and every fingerprint agrees within
:data:`FINGERPRINT_ATOL` (1e-10): one cell changed by 1e-9 relative or more, or a bin holding
5 % of a cell's activity changed by 1e-7 or more, is a different dataset; another CPU is not.

:attr:`DataIdentity.id` is a short string for cache keys and display: the SHA-256 of the
structure and of the fingerprints rounded to 4 decimals (a last-bit difference crosses a
rounding boundary with probability ~1e-8 per number). Equal ids are necessary, not sufficient:
whoever stores a result under an id also stores the fingerprints and checks them on reading
(:class:`mecbench.cache.Cache` does).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import xarray as xr

__all__ = ["DataIdentity", "FINGERPRINT_ATOL", "data_identity"]

FINGERPRINT_ATOL = 1e-10
"""Largest difference between two fingerprints of the same data (see the module docstring)."""

_ID_DECIMALS = 4
_GRID_ATTRS = ("arena_width", "arena_height", "bin_size")
_BIN_STEP = math.sqrt(2.0) - 1.0
_NEUROID_STEP = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class DataIdentity:
    """What identifies a dataset across machines.

    Attributes
    ----------
    id : str
        64 hex digits: structure and coarsely rounded fingerprints (cache keys, display).
    fingerprint : tuple of float
        Two numbers per variable (see the module docstring), compared with a tolerance.
    """

    id: str
    fingerprint: tuple[float, ...]

    def difference(self, other: DataIdentity) -> str | None:
        """Why ``other`` is different data, or None when it is the same data."""
        if len(self.fingerprint) != len(other.fingerprint):
            return "their variables differ"
        a = np.asarray(self.fingerprint, dtype=float)
        b = np.asarray(other.fingerprint, dtype=float)
        gap = float(np.max(np.abs(a - b), initial=0.0))
        if not gap <= FINGERPRINT_ATOL:
            return f"their values differ (fingerprint difference {gap:.1e} > {FINGERPRINT_ATOL:g})"
        if self.id != other.id:
            return "their labels, shapes, grids or missing bins differ"
        return None

    def matches(self, other: DataIdentity) -> bool:
        """True when ``other`` is the same data (equal structure, fingerprints within
        :data:`FINGERPRINT_ATOL`)."""
        return self.difference(other) is None

    def to_dict(self) -> dict:
        """``{"id": str, "fingerprint": [float, ...]}`` (JSON-safe)."""
        return {"id": self.id, "fingerprint": [float(v) for v in self.fingerprint]}

    @classmethod
    def from_dict(cls, doc: Mapping) -> DataIdentity:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        ValueError
            When ``doc`` lacks ``id`` or ``fingerprint`` or they have the wrong types.
        """
        try:
            ident, values = doc["id"], doc["fingerprint"]
        except (KeyError, TypeError):
            raise ValueError("a data identity needs 'id' and 'fingerprint'") from None
        if not isinstance(ident, str) or not isinstance(values, (list, tuple)):
            raise ValueError("a data identity's 'id' must be a string and its 'fingerprint' "
                             "a list of numbers")
        try:
            fingerprint = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            raise ValueError("a data identity's 'fingerprint' must hold numbers") from None
        return cls(ident, fingerprint)

    def to_json(self) -> str:
        """Compact JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":"))


def data_identity(arenas: Mapping[str, xr.Dataset]) -> DataIdentity:
    """The identity of a dataset given as ``{arena name: Dataset}`` (NeuralData's groups).

    Each dataset has a ``neuroid`` dimension and the grid attributes ``arena_width``,
    ``arena_height``, ``bin_size``; provenance attributes are not part of the identity.
    """
    structure = hashlib.sha256()
    fingerprint: list[float] = []

    def add(*parts) -> None:
        for part in parts:
            structure.update(part if isinstance(part, bytes) else str(part).encode())
            structure.update(b"\x00")

    for key in sorted(arenas):
        ds = arenas[key]
        add("arena", key, *(f"{float(ds.attrs[a]):.9g}" for a in _GRID_ATTRS if a in ds.attrs))
        for name in sorted(map(str, ds.data_vars)):
            fingerprint.extend(_variable(ds[name], name, add))
        numeric = []
        for name in sorted(map(str, ds.coords)):
            coord = ds[name]
            if coord.dims == ("neuroid",) and coord.dtype.kind in "biuf":
                numeric.append(name)
            elif coord.dims == ("neuroid",):
                add("label", name, "\x1f".join(coord.values.astype(str).tolist()))
            elif coord.dtype.kind in "biuf":
                fingerprint.extend(_variable(coord, f"coord:{name}", add))
        if numeric:
            stacked = np.stack([np.asarray(ds[n].values, dtype=np.float64) for n in numeric])
            fingerprint.extend(_variable(
                xr.DataArray(stacked, dims=("label", "neuroid")), "labels:" + ",".join(numeric),
                add))
    structure.update(" ".join(f"{v:.{_ID_DECIMALS}f}" for v in fingerprint).encode())
    return DataIdentity(structure.hexdigest(), tuple(fingerprint))


def _variable(da: xr.DataArray, name: str, add) -> list[float]:
    """Add the structure of one variable; return its two fingerprint numbers."""
    values = np.asarray(da.values, dtype=np.float64)
    dims = tuple(map(str, da.dims))
    if "neuroid" in dims:
        values = np.moveaxis(values, dims.index("neuroid"), -1)
        table = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values[None]
    else:
        table = values.reshape(-1, 1)
    finite = np.isfinite(table)
    add("var", name, *dims, *da.shape, np.packbits(~finite).tobytes())
    clean = np.where(finite, table, 0.0)
    weights = _weights(table.shape[0], _BIN_STEP)
    positive = weights @ np.maximum(clean, 0.0)
    negative = weights @ np.maximum(-clean, 0.0)
    add("zeros", np.packbits(positive == 0).tobytes(), np.packbits(negative == 0).tobytes())
    columns = _weights(table.shape[1], _NEUROID_STEP)
    return [_log_sum(positive, columns), _log_sum(negative, columns)]


def _weights(n: int, step: float) -> np.ndarray:
    """Weights in [1, 2) that differ between positions (exact in IEEE arithmetic)."""
    return 1.0 + np.fmod(np.arange(n, dtype=np.float64) * step, 1.0)


def _log_sum(totals: np.ndarray, weights: np.ndarray) -> float:
    used = totals > 0
    return float(np.sum(weights[used] * np.log(totals[used])))
