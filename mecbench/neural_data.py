"""NeuralData: recorded MEC rate maps, one group per arena, with netCDF4 and Nayebi-dict I/O.

Each arena is an :class:`xarray.Dataset` holding

- ``rate`` (x, y, neuroid): the rate maps (Hz), NaN in unvisited bins;
- ``rate_halves`` (half, x, y, neuroid), optional: maps from the first and second half of each
  session, for split-half reliability;
- ``occupancy`` (x, y, neuroid), optional: seconds spent in each bin by the animal that
  recorded the neuroid.

Dataset attributes carry ``arena_width``, ``arena_height`` and ``bin_size`` (metres); the
NeuralData attributes carry provenance (``source``, ``citation``, ``licence``...).
On disk it is one netCDF4 file with one group per arena (an :class:`xarray.DataTree`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from mecbench.errors import DataError, UnknownIdentifierError
from mecbench.identity import DataIdentity, data_identity
from mecbench.netcdf_attrs import netcdf_attrs
from mecbench.ratemaps import (
    DIMS,
    arena_key,
    grid_shape,
    make_rate_maps,
    parse_arena_key,
    validate_rate_maps,
)

__all__ = ["NeuralData", "load_neural_data", "atomic_write"]

_GRID_ATTRS = ("arena_width", "arena_height", "bin_size")


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp_path)`` then move the result onto ``path`` in one step.

    A failure leaves any existing file at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _validate_arena(name: str, ds: xr.Dataset, where: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise DataError(f"{where}: arena {name!r} must be an xarray.Dataset")
    if "rate" not in ds:
        raise DataError(f"{where}: arena {name!r} has no 'rate' variable")
    for attr in _GRID_ATTRS:
        if attr not in ds.attrs:
            raise DataError(f"{where}: arena {name!r} lacks the attribute {attr!r}")
    rate = ds["rate"].copy()
    rate.attrs.update({a: ds.attrs[a] for a in _GRID_ATTRS})
    rate = validate_rate_maps(rate, f"{where}: arena {name!r} 'rate'")
    out = ds.copy()
    out["rate"] = rate
    if "rate_halves" in ds:
        halves = ds["rate_halves"]
        if set(halves.dims) != {"half", *DIMS} or halves.sizes.get("half") != 2:
            raise DataError(
                f"{where}: arena {name!r} 'rate_halves' must have dims (half=2, x, y, neuroid); "
                f"got {dict(halves.sizes)}"
            )
        if np.isinf(halves.values).any():
            raise DataError(f"{where}: arena {name!r} 'rate_halves' contains infinite values")
        out["rate_halves"] = halves.transpose("half", *DIMS)
    if "occupancy" in ds:
        occ = ds["occupancy"]
        if set(occ.dims) != set(DIMS):
            raise DataError(
                f"{where}: arena {name!r} 'occupancy' must have dims {DIMS}; got {occ.dims}"
            )
        vals = occ.values
        if np.isnan(vals).any() or (vals < 0).any():
            raise DataError(f"{where}: arena {name!r} 'occupancy' must be finite and >= 0")
        out["occupancy"] = occ.transpose(*DIMS)
    for cell in _all_nan_cells(rate):
        raise DataError(f"{where}: arena {name!r} neuroid {cell!r} has no finite bin")
    return out


def _all_nan_cells(rate: xr.DataArray) -> list[str]:
    empty = np.isnan(rate.values).all(axis=(0, 1))
    return rate["neuroid_id"].values[empty].astype(str).tolist()


class NeuralData:
    """Recorded rate maps of one or more arenas.

    Parameters
    ----------
    arenas : mapping of str to xarray.Dataset
        One dataset per arena (see the module docstring); keys are arena names such as
        ``"1x1m"`` (see :func:`mecbench.ratemaps.arena_key`).
    attrs : dict, optional
        Provenance: ``source``, ``citation``, ``licence``, ...
    """

    def __init__(self, arenas: Mapping[str, xr.Dataset], attrs: dict | None = None, *,
                 where: str = "NeuralData"):
        if not arenas:
            raise DataError(f"{where}: no arena")
        self._arenas = {str(k): _validate_arena(str(k), v, where) for k, v in arenas.items()}
        self.attrs = dict(attrs or {})

    # construction ---------------------------------------------------------------------------
    @classmethod
    def from_rate_maps(
        cls,
        rates: xr.DataArray | Sequence[xr.DataArray],
        *,
        halves: xr.DataArray | Sequence[xr.DataArray | None] | None = None,
        occupancy: xr.DataArray | Sequence[xr.DataArray | None] | None = None,
        attrs: dict | None = None,
    ) -> NeuralData:
        """Build NeuralData from rate-map arrays, one per arena (or several for one arena,
        which are concatenated along ``neuroid``)."""
        rates = [rates] if isinstance(rates, xr.DataArray) else list(rates)
        halves_list = _as_list(halves, len(rates), "halves")
        occ_list = _as_list(occupancy, len(rates), "occupancy")
        groups: dict[str, list[xr.Dataset]] = {}
        for i, rate in enumerate(rates):
            rate = validate_rate_maps(rate, f"rates[{i}]")
            ds = xr.Dataset({"rate": rate.rename(None).drop_attrs()})
            if halves_list[i] is not None:
                ds["rate_halves"] = halves_list[i].transpose("half", *DIMS).drop_attrs()
            if occ_list[i] is not None:
                ds["occupancy"] = occ_list[i].transpose(*DIMS).drop_attrs()
            ds.attrs = {a: float(rate.attrs[a]) for a in _GRID_ATTRS}
            key = arena_key(ds.attrs["arena_width"], ds.attrs["arena_height"])
            groups.setdefault(key, []).append(ds)
        arenas = {}
        for key, parts in groups.items():
            bins = {p.attrs["bin_size"] for p in parts}
            if len(bins) > 1:
                raise DataError(f"arena {key}: rate maps with different bin sizes {sorted(bins)}")
            if len({("rate_halves" in p) for p in parts}) > 1:
                raise DataError(f"arena {key}: 'halves' given for some recordings but not others")
            if len({("occupancy" in p) for p in parts}) > 1:
                raise DataError(f"arena {key}: 'occupancy' given for some recordings only")
            arenas[key] = xr.concat(parts, dim="neuroid", combine_attrs="override") \
                if len(parts) > 1 else parts[0]
        return cls(arenas, attrs)

    @classmethod
    def from_nayebi_dict(
        cls,
        dataset: Mapping,
        *,
        bin_size: float | None = None,
        attrs: dict | None = None,
    ) -> NeuralData:
        """Read the dict format of Nayebi et al. 2021.

        ``dataset[arena_size][animal] = {"resp": array, "cell_ids": array}``, where
        ``arena_size`` is the side of a square box in metres and ``resp`` has shape
        ``(x_bins, y_bins, cells)`` or ``(bins, cells)`` (a square grid, C order).
        The bin size is the arena size over the number of bins unless given.
        """
        if not isinstance(dataset, Mapping) or not dataset:
            raise DataError("the Nayebi dict must be a non-empty dict keyed by arena size")
        rates = []
        for size, animals in dataset.items():
            width, height = parse_arena_key(size)
            if not isinstance(animals, Mapping) or not animals:
                raise DataError(f"arena {size!r}: expected a non-empty dict of animals")
            for animal, entry in animals.items():
                where = f"dataset[{size!r}][{animal!r}]"
                if not isinstance(entry, Mapping) or "resp" not in entry:
                    raise DataError(f"{where} must be a dict with 'resp' and 'cell_ids'")
                resp = np.asarray(entry["resp"], dtype=np.float64)
                if resp.ndim == 2:
                    side = int(round(np.sqrt(resp.shape[0])))
                    if side * side != resp.shape[0]:
                        raise DataError(
                            f"{where}['resp'] has {resp.shape[0]} bins, not a square grid; "
                            "give it as (x_bins, y_bins, cells)"
                        )
                    resp = resp.reshape(side, side, resp.shape[1])
                if resp.ndim != 3:
                    raise DataError(f"{where}['resp'] must be 2-D or 3-D, got shape {resp.shape}")
                ids = entry.get("cell_ids")
                ids = (np.arange(resp.shape[2]) if ids is None else np.asarray(ids)).astype(str)
                if len(ids) != resp.shape[2]:
                    raise DataError(
                        f"{where}: {len(ids)} cell_ids for {resp.shape[2]} cells in 'resp'"
                    )
                bs = width / resp.shape[0] if bin_size is None else bin_size
                try:
                    grid_shape(width, height, bs)
                except DataError as err:
                    raise DataError(f"{where}: {err}") from None
                rates.append(
                    make_rate_maps(resp, arena_width=width, arena_height=height, bin_size=bs,
                                   neuroid_id=[f"{animal}/{i}" for i in ids],
                                   animal=str(animal), cell_id=ids)
                )
        return cls.from_rate_maps(rates, attrs={"source": "nayebi-dict", **(attrs or {})})

    def to_nayebi_dict(self) -> dict:
        """Export as ``dataset[arena_size][animal] = {"resp", "cell_ids"}``.

        ``arena_size`` is the width in metres (a float, as in the reference code);
        ``cell_ids`` are the ``cell_id`` coordinate when present, else the neuroid ids.
        """
        out: dict = {}
        for name in self.arena_names:
            rate = self.rate(name)
            size = float(rate.attrs["arena_width"])
            per_animal = out.setdefault(size, {})
            for animal in self.animals(name):
                sub = rate.isel(neuroid=np.flatnonzero(rate["animal"].values == animal))
                ids = sub["cell_id"].values if "cell_id" in sub.coords else sub["neuroid_id"].values
                per_animal[animal] = {"resp": sub.values.copy(), "cell_ids": np.asarray(ids)}
        return out

    # access -------------------------------------------------------------------------------
    @property
    def arena_names(self) -> list[str]:
        """Names of the arenas, in insertion order."""
        return list(self._arenas)

    def _key(self, arena: str | float) -> str:
        if isinstance(arena, str) and arena in self._arenas:
            return arena
        try:
            key = arena_key(*parse_arena_key(arena))
        except DataError:
            key = None
        if key in self._arenas:
            return key
        raise UnknownIdentifierError("arena", str(arena), self._arenas)

    def arena(self, arena: str | float) -> xr.Dataset:
        """The dataset of one arena (by name, ``"WxH"`` or side length in m)."""
        return self._arenas[self._key(arena)]

    def rate(self, arena: str | float) -> xr.DataArray:
        """Rate maps of one arena, with the grid attributes attached."""
        ds = self.arena(arena)
        da = ds["rate"].copy()
        da.attrs.update({a: ds.attrs[a] for a in _GRID_ATTRS})
        da.name = "rate"
        return da

    def halves(self, arena: str | float) -> xr.DataArray | None:
        """Split-half rate maps (half, x, y, neuroid) of one arena, or None."""
        ds = self.arena(arena)
        if "rate_halves" not in ds:
            return None
        da = ds["rate_halves"].copy()
        da.attrs.update({a: ds.attrs[a] for a in _GRID_ATTRS})
        return da

    def animals(self, arena: str | float) -> list[str]:
        """Animals recorded in an arena, sorted (deterministic order)."""
        return sorted(set(self.arena(arena)["animal"].values.astype(str).tolist()))

    def select(self, *, arenas: Iterable[str | float] | None = None,
               animals: Iterable[str] | None = None) -> NeuralData:
        """A subset by arenas and/or animals."""
        keys = self.arena_names if arenas is None else [self._key(a) for a in arenas]
        out = {}
        for key in keys:
            ds = self._arenas[key]
            if animals is not None:
                wanted = set(map(str, animals))
                mask = np.isin(ds["animal"].values.astype(str), list(wanted))
                if not mask.any():
                    continue
                ds = ds.isel(neuroid=np.flatnonzero(mask))
            out[key] = ds
        if not out:
            raise DataError(f"no neuroid left after selecting animals {sorted(animals or [])}")
        return NeuralData(out, self.attrs)

    @property
    def n_neuroids(self) -> int:
        """Total number of neuroids over arenas."""
        return sum(ds.sizes["neuroid"] for ds in self._arenas.values())

    def identity(self) -> DataIdentity:
        """The data's identity on any machine: structure compared exactly, values through a
        fingerprint that tolerates last-bit differences (:mod:`mecbench.identity`)."""
        return data_identity(self._arenas)

    def content_hash(self) -> str:
        """SHA-256 of the exact bits of every value and label (not of provenance text).

        Equal only for bit-identical data: computed data (generated, binned) can differ in the
        last bits on another CPU. Use :meth:`identity` to recognise the same data anywhere.
        """
        h = hashlib.sha256()
        for key in self.arena_names:
            ds = self._arenas[key]
            h.update(key.encode())
            for attr in _GRID_ATTRS:
                h.update(repr(float(ds.attrs[attr])).encode())
            for var in sorted(ds.data_vars):
                h.update(var.encode())
                h.update(np.ascontiguousarray(ds[var].values, dtype=np.float64).tobytes())
            for coord in sorted(ds["rate"].coords):
                if "neuroid" in ds[coord].dims:
                    h.update(coord.encode())
                    h.update("\x00".join(ds[coord].values.astype(str).tolist()).encode())
        return h.hexdigest()

    def __repr__(self) -> str:
        parts = [
            f"{k}: {ds.sizes['neuroid']} neuroids, {len(self.animals(k))} animals, "
            f"{ds.sizes['x']}x{ds.sizes['y']} bins" for k, ds in self._arenas.items()
        ]
        return "NeuralData(" + "; ".join(parts) + ")"

    # I/O ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write one netCDF4 file, one group per arena, atomically."""
        tree = xr.DataTree.from_dict({f"/{k}": ds for k, ds in self._arenas.items()})
        tree.attrs = netcdf_attrs(self.attrs)
        atomic_write(path, lambda tmp: tree.to_netcdf(tmp, engine="netcdf4"))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NeuralData:
        """Read a file written by :meth:`save`, validating it.

        Raises
        ------
        DataError
            If the file is missing, not netCDF, or not a valid NeuralData file.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        try:
            with xr.open_datatree(path, engine="netcdf4") as tree:
                tree = tree.load()
        except Exception as err:  # netCDF4/HDF5 raise many unrelated types on bad files
            raise DataError(
                f"{path}: not a readable netCDF4 file ({type(err).__name__}: {err})"
            ) from None
        arenas = {}
        for name, node in tree.children.items():
            ds = node.to_dataset()
            if "rate" in ds:
                arenas[name] = ds
        if not arenas:
            raise DataError(f"{path}: no arena group with a 'rate' variable")
        for ds in arenas.values():
            for coord in ("neuroid_id", "animal"):
                if coord in ds.coords:
                    ds.coords[coord] = ds[coord].astype(str)
        return cls(arenas, dict(tree.attrs), where=str(path))


def load_neural_data(path: str | os.PathLike) -> NeuralData:
    """Read a NeuralData netCDF file (see :meth:`NeuralData.load`)."""
    return NeuralData.load(path)


def _as_list(value, n: int, name: str) -> list:
    if value is None:
        return [None] * n
    if isinstance(value, xr.DataArray):
        value = [value]
    value = list(value)
    if len(value) != n:
        raise DataError(f"{name}: {len(value)} entries for {n} rate-map arrays")
    return value
