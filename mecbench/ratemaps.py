"""Rate maps: the labelled array every part of mecbench exchanges.

A rate map array is an :class:`xarray.DataArray` with dims ``("x", "y", "neuroid")`` (the order
of Nayebi et al. 2021's ``resp``). Coordinates ``x`` and ``y`` are bin centres in metres of a box
centred on 0; ``neuroid`` carries ``neuroid_id`` (unique str) and ``animal`` (str) plus optional
``session``, ``cell_type`` and ``layer``. NaN marks an unvisited bin. Attributes:
``arena_width``, ``arena_height`` and ``bin_size``, all in metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from mecbench.errors import DataError

__all__ = [
    "DIMS",
    "Arena",
    "bin_centres",
    "grid_shape",
    "make_rate_maps",
    "validate_rate_maps",
    "check_same_grid",
    "flat_values",
    "arena_key",
    "parse_arena_key",
]

DIMS = ("x", "y", "neuroid")
_GRID_RTOL = 1e-6


def grid_shape(arena_width: float, arena_height: float, bin_size: float) -> tuple[int, int]:
    """Number of bins along x and y for a box of the given size.

    The box must be an integer number of bins wide, to within 1e-6 relative.
    """
    if not (bin_size > 0 and np.isfinite(bin_size)):
        raise DataError(f"bin_size must be a positive number of metres, got {bin_size!r}")
    shape = []
    for name, extent in (("arena_width", arena_width), ("arena_height", arena_height)):
        if not (extent > 0 and np.isfinite(extent)):
            raise DataError(f"{name} must be a positive number of metres, got {extent!r}")
        n = extent / bin_size
        if abs(n - round(n)) > _GRID_RTOL * max(1.0, n):
            raise DataError(
                f"{name}={extent} m is not a whole number of bins of bin_size={bin_size} m"
            )
        shape.append(int(round(n)))
    return shape[0], shape[1]


@dataclass(frozen=True)
class Arena:
    """A square-binned rectangular box centred on 0.

    Parameters
    ----------
    width, height : float
        Size in metres.
    bin_size : float
        Side of a square bin in metres (5 cm as in Nayebi et al. 2021).
    """

    width: float
    height: float
    bin_size: float = 0.05

    def __post_init__(self):
        grid_shape(self.width, self.height, self.bin_size)

    @property
    def shape(self) -> tuple[int, int]:
        """Number of bins along x and y."""
        return grid_shape(self.width, self.height, self.bin_size)

    @property
    def key(self) -> str:
        """Canonical arena name, e.g. ``"2.2x2.2m"``."""
        return arena_key(self.width, self.height)

    @property
    def x(self) -> np.ndarray:
        """Bin centres along x (m)."""
        return -self.width / 2 + self.bin_size * (np.arange(self.shape[0]) + 0.5)

    @property
    def y(self) -> np.ndarray:
        """Bin centres along y (m)."""
        return -self.height / 2 + self.bin_size * (np.arange(self.shape[1]) + 0.5)

    @classmethod
    def of(cls, rate_maps: xr.DataArray | xr.Dataset) -> Arena:
        """The arena of a rate-map array or NeuralData arena dataset."""
        a = rate_maps.attrs
        return cls(float(a["arena_width"]), float(a["arena_height"]), float(a["bin_size"]))


def bin_centres(extent: float, bin_size: float) -> np.ndarray:
    """Bin centres (m) of a box side of length ``extent`` centred on 0."""
    n, _ = grid_shape(extent, extent, bin_size)
    return -extent / 2 + bin_size * (np.arange(n) + 0.5)


def arena_key(arena_width: float, arena_height: float | None = None) -> str:
    """Canonical name of an arena: ``"1x1m"``, ``"2.2x2.2m"``."""
    arena_height = arena_width if arena_height is None else arena_height
    return f"{float(arena_width):g}x{float(arena_height):g}m"


def parse_arena_key(key: str | float | int) -> tuple[float, float]:
    """Inverse of :func:`arena_key`; also accepts a number or ``"WxH"`` without the ``m``."""
    if isinstance(key, (int, float, np.floating, np.integer)):
        return float(key), float(key)
    text = str(key).strip().lower().removesuffix("m")
    parts = text.split("x")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise DataError(
            f"cannot read an arena size from {key!r}; expected e.g. '1x1m' or 2.2"
        ) from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(v > 0 for v in values):
        raise DataError(f"cannot read an arena size from {key!r}; expected e.g. '1x1m' or 2.2")
    return values[0], values[1]


def make_rate_maps(
    values: np.ndarray,
    *,
    arena_width: float,
    arena_height: float | None = None,
    bin_size: float,
    neuroid_id: Sequence[str] | None = None,
    animal: Sequence[str] | str = "model",
    name: str = "rate",
    attrs: dict | None = None,
    **neuroid_coords: Sequence,
) -> xr.DataArray:
    """Build a validated rate-map array.

    Parameters
    ----------
    values : ndarray, shape (n_x, n_y, n_neuroid)
        Rates; NaN marks unvisited bins.
    arena_width, arena_height : float
        Size of the box in metres (height defaults to width). The box is centred on 0.
    bin_size : float
        Side of a square bin in metres.
    neuroid_id : sequence of str, optional
        Unique ids; default ``"n0", "n1", ...``.
    animal : str or sequence of str
        Animal of each neuroid (one string applies to all).
    name : str
        Name of the DataArray.
    attrs : dict, optional
        Extra attributes.
    **neuroid_coords
        More coordinates along ``neuroid`` (``session``, ``cell_type``, ``layer``...).

    Returns
    -------
    xarray.DataArray
    """
    arena_height = arena_width if arena_height is None else arena_height
    values = np.asarray(values)
    if values.ndim != 3:
        raise DataError(
            f"rate maps must have 3 dims (x, y, neuroid); got an array of shape {values.shape}"
        )
    nx, ny = grid_shape(arena_width, arena_height, bin_size)
    if values.shape[:2] != (nx, ny):
        raise DataError(
            f"rate maps of shape {values.shape[:2]} do not match the {nx}x{ny} grid of a "
            f"{arena_width}x{arena_height} m arena with {bin_size} m bins"
        )
    n = values.shape[2]
    if neuroid_id is None:
        neuroid_id = [f"n{i}" for i in range(n)]
    if isinstance(animal, str):
        animal = [animal] * n
    coords: dict = {
        "x": ("x", -arena_width / 2 + bin_size * (np.arange(nx) + 0.5)),
        "y": ("y", -arena_height / 2 + bin_size * (np.arange(ny) + 0.5)),
        "neuroid_id": ("neuroid", np.asarray(neuroid_id, dtype=str)),
        "animal": ("neuroid", np.asarray(animal, dtype=str)),
    }
    for key, val in neuroid_coords.items():
        coords[key] = ("neuroid", np.asarray(val))
    for key, (_, val) in coords.items():
        if key not in ("x", "y") and len(val) != n:
            raise DataError(f"coordinate {key!r} has {len(val)} entries for {n} neuroids")
    da = xr.DataArray(
        values.astype(np.float64, copy=False),
        dims=DIMS,
        coords=coords,
        name=name,
        attrs={
            "arena_width": float(arena_width),
            "arena_height": float(arena_height),
            "bin_size": float(bin_size),
            **(attrs or {}),
        },
    )
    return validate_rate_maps(da, name)


def validate_rate_maps(
    da: xr.DataArray,
    name: str = "rate maps",
    *,
    require_finite: bool = False,
) -> xr.DataArray:
    """Check that ``da`` is a well-formed rate-map array and return it (dims reordered).

    Raises
    ------
    DataError
        Naming ``name`` and the problem: missing dims or attributes, a grid that does not match
        the arena, duplicate neuroid ids, infinite values, or NaN when ``require_finite``.
    """
    if not isinstance(da, xr.DataArray):
        raise DataError(f"{name} must be an xarray.DataArray, got {type(da).__name__}")
    extra = set(da.dims) - set(DIMS)
    missing = set(DIMS) - set(da.dims)
    if missing or extra:
        raise DataError(
            f"{name} must have dims {DIMS}; got {tuple(da.dims)}"
            + (f" (missing {sorted(missing)})" if missing else "")
            + (f" (unexpected {sorted(extra)})" if extra else "")
        )
    if da.dims != DIMS:
        da = da.transpose(*DIMS)
    for attr in ("arena_width", "arena_height", "bin_size"):
        if attr not in da.attrs:
            raise DataError(f"{name} lacks the attribute {attr!r} (metres)")
    width, height, bin_size = (
        float(da.attrs[a]) for a in ("arena_width", "arena_height", "bin_size")
    )
    nx, ny = grid_shape(width, height, bin_size)
    if da.sizes["x"] != nx or da.sizes["y"] != ny:
        raise DataError(
            f"{name} has a {da.sizes['x']}x{da.sizes['y']} grid but its arena "
            f"{width}x{height} m with {bin_size} m bins needs {nx}x{ny}"
        )
    # coordinates read as Variables: indexing the DataArray would build a new one per access
    variables = da.coords.variables
    for axis, extent in (("x", width), ("y", height)):
        if axis in variables:
            expected = -extent / 2 + bin_size * (np.arange(da.sizes[axis]) + 0.5)
            if not np.allclose(variables[axis].values, expected, atol=1e-6 * bin_size + 1e-9):
                raise DataError(f"{name}: coordinate {axis!r} is not the bin centres of the arena")
    for coord in ("neuroid_id", "animal"):
        if coord not in variables:
            raise DataError(f"{name} lacks the neuroid coordinate {coord!r}")
    ids = np.asarray(variables["neuroid_id"].values).astype(str)
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][:5].tolist()
        raise DataError(f"{name} has duplicate neuroid ids: {dup}")
    values = np.asarray(da.values)
    if not np.issubdtype(values.dtype, np.number):
        raise DataError(f"{name} must hold numbers, got dtype {values.dtype}")
    if np.isinf(values).any():
        raise DataError(f"{name} contains infinite values")
    if require_finite and np.isnan(values).any():
        n_bad = int(np.isnan(values).any(axis=(0, 1)).sum())
        raise DataError(f"{name} contains NaN in {n_bad} neuroids; finite values are required")
    return da


def check_same_grid(a: xr.DataArray, b: xr.DataArray, names: tuple[str, str]) -> None:
    """Raise :class:`DataError` unless ``a`` and ``b`` share arena and bin grid."""
    for attr in ("arena_width", "arena_height", "bin_size"):
        va, vb = float(a.attrs[attr]), float(b.attrs[attr])
        if not np.isclose(va, vb, rtol=1e-6):
            raise DataError(
                f"{names[0]} and {names[1]} differ in {attr}: {va} vs {vb} m; "
                "rate maps must be on the same grid"
            )
    if a.sizes["x"] != b.sizes["x"] or a.sizes["y"] != b.sizes["y"]:
        raise DataError(
            f"{names[0]} ({a.sizes['x']}x{a.sizes['y']} bins) and {names[1]} "
            f"({b.sizes['x']}x{b.sizes['y']} bins) are on different grids"
        )


def flat_values(da: xr.DataArray) -> np.ndarray:
    """Values as a (n_bins, n_neuroid) float64 array, bins in C order over (x, y)."""
    da = da.transpose(*DIMS)
    return np.asarray(da.values, dtype=np.float64).reshape(-1, da.sizes["neuroid"])
