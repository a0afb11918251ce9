"""Average unit activity per spatial bin: one vectorised pass over all units (torch).

Model rate maps in Nayebi et al. (2021) are the mean activity of each unit over all visits of
a 5 cm bin along random-walk trajectories. :class:`RateMapAccumulator` keeps per-bin sums of
every unit (``index_add_`` over the bin index of each sample) and visit counts, batch by batch,
so the (samples × units) activity of a whole protocol (400 000 × 4096 floats) never has to
exist at once. Sums are kept in float64 whatever the activity's dtype.

Bins are those of :class:`~mecbench.ratemaps.Arena`: edges ``-W/2 + k·bin_size``; a sample
falls in bin ``k`` when ``edge[k] <= p < edge[k+1]``, and a sample on the far wall
(``p == W/2``) in the last bin — the convention of :func:`scipy.stats.binned_statistic_2d`.
"""

from __future__ import annotations

import numpy as np
import torch

from mecbench.errors import ConfigError, ModelError, UnknownIdentifierError
from mecbench.ratemaps import Arena

__all__ = ["UNVISITED_POLICIES", "RateMapAccumulator", "arena_edges", "bin_activity",
           "fill_unvisited"]

UNVISITED_POLICIES = ("error", "nearest", "nan")
_STAGE_BYTES = 16 * 2**20


def arena_edges(arena: Arena) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges (m, float64) along x and y of ``arena``: ``-W/2 + k·bin_size``."""
    nx, ny = arena.shape
    return (-arena.width / 2 + arena.bin_size * np.arange(nx + 1),
            -arena.height / 2 + arena.bin_size * np.arange(ny + 1))


def fill_unvisited(maps: np.ndarray, visited: np.ndarray) -> np.ndarray:
    """Give every unvisited bin the values of the nearest visited bin (Euclidean, on the grid).

    Parameters
    ----------
    maps : ndarray, shape (nx, ny, units)
    visited : ndarray of bool, shape (nx, ny)

    Returns
    -------
    ndarray, shape (nx, ny, units)
        A filled copy. Ties between equally near bins are broken by
        :func:`scipy.ndimage.distance_transform_edt` (deterministically).
    """
    from scipy.ndimage import distance_transform_edt

    if not visited.any():
        raise ModelError("no bin was visited; cannot fill unvisited bins")
    _, (ix, iy) = distance_transform_edt(~visited, return_indices=True)
    return maps[ix, iy]


class RateMapAccumulator:
    """Per-bin sums of activity and visit counts over an arena's grid.

    Parameters
    ----------
    arena : Arena
        The grid.
    n_units : int
        Number of units (columns of the activity).
    device : str or torch.device
        Where the sums live (the activity is moved there).

    Examples
    --------
    >>> acc = RateMapAccumulator(Arena(1.0, 1.0), n_units=3)          # doctest: +SKIP
    >>> for pos, act in batches:                                       # doctest: +SKIP
    ...     acc.add(pos, act)                                          # (..., 2), (..., 3)
    >>> maps = acc.rate_maps()                                         # doctest: +SKIP
    """

    def __init__(self, arena: Arena, n_units: int, *, device: str | torch.device = "cpu"):
        if not isinstance(arena, Arena):
            raise ConfigError(f"arena must be a mecbench.ratemaps.Arena, got {arena!r}")
        if isinstance(n_units, bool) or not isinstance(n_units, int) or n_units < 1:
            raise ConfigError(f"n_units must be a positive integer, got {n_units!r}")
        self.arena = arena
        self.n_units = n_units
        self.device = torch.device(device)
        nx, ny = arena.shape
        self._ny = ny
        self.n_bins = nx * ny
        x_edges, y_edges = arena_edges(arena)
        # inner edges only: bucketize(right=True) then counts how many edges are <= p
        self._x_inner = torch.as_tensor(x_edges[1:-1], device=self.device)
        self._y_inner = torch.as_tensor(y_edges[1:-1], device=self.device)
        self._half = (arena.width / 2, arena.height / 2)
        self.sums = torch.zeros(self.n_bins, n_units, dtype=torch.float64, device=self.device)
        self.counts = torch.zeros(self.n_bins, dtype=torch.int64, device=self.device)
        rows = max(1, _STAGE_BYTES // (8 * n_units))
        self._stage = torch.empty(rows, n_units, dtype=torch.float64, device=self.device)

    def bin_index(self, positions: torch.Tensor) -> torch.Tensor:
        """Flat bin index (C order over (x, y)) of each position, shape (N,).

        Raises
        ------
        ConfigError
            When a position lies outside the box (beyond a relative tolerance of 1e-6) or is
            not finite.
        """
        pos = torch.as_tensor(positions, device=self.device).reshape(-1, 2).to(torch.float64)
        hx, hy = self._half
        tol = 1e-6 * max(hx, hy)
        # written as "not inside" so that NaN positions count as outside
        outside = ~((pos[:, 0].abs() <= hx + tol) & (pos[:, 1].abs() <= hy + tol))
        if bool(outside.any()):
            n_out = int(outside.sum())
            raise ConfigError(
                f"{n_out} positions lie outside the {self.arena.key} box or are not finite; "
                "positions must be finite, in metres, in a box centred on 0"
            )
        ix = torch.bucketize(pos[:, 0].contiguous(), self._x_inner, right=True)
        iy = torch.bucketize(pos[:, 1].contiguous(), self._y_inner, right=True)
        return ix * self._ny + iy

    def add(self, positions: torch.Tensor, activity: torch.Tensor) -> None:
        """Accumulate samples: ``positions`` (..., 2) in metres, ``activity`` (..., n_units).

        The leading dims of both must match (e.g. (B, T)). One ``index_add_`` for all units.
        """
        positions = torch.as_tensor(positions)
        activity = torch.as_tensor(activity)
        if positions.shape[-1:] != (2,):
            raise ConfigError(
                f"positions must have a last dim of size 2, got {tuple(positions.shape)}"
            )
        if activity.shape[-1:] != (self.n_units,) or activity.shape[:-1] != positions.shape[:-1]:
            raise ConfigError(
                f"activity of shape {tuple(activity.shape)} does not match positions of shape "
                f"{tuple(positions.shape)} with {self.n_units} units"
            )
        idx = self.bin_index(positions)
        act = activity.reshape(-1, self.n_units)
        if act.dtype == torch.float64 and act.device == self.device:
            self.sums.index_add_(0, idx, act)
        else:
            # float64 copies go through one reused staging buffer: allocating a fresh
            # (N, units) float64 tensor per batch costs more than the binning itself
            rows = self._stage.shape[0]
            for start in range(0, act.shape[0], rows):
                part = act[start:start + rows]
                stage = self._stage[:part.shape[0]]
                stage.copy_(part)
                self.sums.index_add_(0, idx[start:start + rows], stage)
        self.counts += torch.bincount(idx, minlength=self.n_bins)

    @property
    def visited(self) -> np.ndarray:
        """Bins visited at least once, shape (nx, ny)."""
        return (self.counts > 0).cpu().numpy().reshape(self.arena.shape)

    def rate_maps(self, unvisited: str = "nan") -> np.ndarray:
        """Mean activity per bin, shape (nx, ny, n_units), float64.

        Parameters
        ----------
        unvisited : {"nan", "nearest", "error"}
            What unvisited bins hold: NaN, the values of the nearest visited bin
            (:func:`fill_unvisited`), or raise :class:`ModelError`.
        """
        if unvisited not in UNVISITED_POLICIES:
            raise UnknownIdentifierError("unvisited policy", unvisited, UNVISITED_POLICIES)
        counts = self.counts.to(torch.float64)
        mean = self.sums / counts.clamp(min=1)[:, None]
        mean[self.counts == 0] = torch.nan
        maps = mean.cpu().numpy().reshape(*self.arena.shape, self.n_units)
        visited = self.visited
        if visited.all() or unvisited == "nan":
            return maps
        n_empty = int((~visited).sum())
        if unvisited == "error":
            raise ModelError(
                f"{n_empty} of {visited.size} bins of the {self.arena.key} arena were never "
                "visited; simulate more trajectories or fill them from the nearest visited bin"
            )
        return fill_unvisited(maps, visited)


def bin_activity(
    positions: torch.Tensor | np.ndarray,
    activity: torch.Tensor | np.ndarray,
    arena: Arena,
    *,
    unvisited: str = "nan",
    chunk_size: int = 65536,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Rate maps (nx, ny, units) of activity sampled at positions, in one call.

    Parameters
    ----------
    positions : array, shape (N, 2)
        Metres, box centred on 0.
    activity : array, shape (N, units)
    arena : Arena
    unvisited : {"nan", "nearest", "error"}
        See :meth:`RateMapAccumulator.rate_maps`.
    chunk_size : int
        Samples per ``index_add_`` (bounds the float64 copy of the activity).
    device : str or torch.device

    Returns
    -------
    ndarray, shape (nx, ny, units), float64
    """
    positions = torch.as_tensor(positions)
    activity = torch.as_tensor(activity)
    if activity.ndim != 2 or positions.ndim != 2 or len(positions) != len(activity):
        raise ConfigError(
            f"positions (N, 2) and activity (N, units) expected, got {tuple(positions.shape)} "
            f"and {tuple(activity.shape)}"
        )
    acc = RateMapAccumulator(arena, int(activity.shape[1]), device=device)
    for start in range(0, len(positions), chunk_size):
        acc.add(positions[start:start + chunk_size], activity[start:start + chunk_size])
    return acc.rate_maps(unvisited)
