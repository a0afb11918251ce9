"""Train/test splits of the bin grid.

A :class:`SplitScheme` turns a grid shape ``(n_x, n_y)`` into a list of ``(train, test)`` pairs of
flat bin indices, in C order over ``(x, y)`` — the order of :func:`mecbench.ratemaps.flat_values`
and of a Nayebi et al. (2021) ``resp`` array reshaped to ``(bins, cells)``.

Splits are always defined on the **full grid**; unvisited (NaN) bins are removed afterwards, per
target cell, by the scoring code (:mod:`mecbench.predictivity`). Building the splits after dropping
NaN bins (as the reference code does) changes their geometry and makes them depend on which bins
one animal happened to visit.

Kinds
-----
``random``
    Nayebi et al. (2021) semantics: split ``s`` (``s = 0 .. n_splits-1``) permutes all bins with
    ``numpy.random.RandomState(seed + s).permutation(N)``; the first ``ceil(train_frac * N)``
    bins train, the rest test. ``train_frac = 0.2`` therefore means *train on 20 %, test on
    80 %*. ``train_frac == 0`` gives one split with no training bin and every bin in test (only
    meaningful for parameter-free comparisons). A local ``RandomState`` is used, never the global
    RNG, so the splits are identical in any process.
``topbottom``, ``leftright``
    Two halves of the grid; two splits, first half → second half, then second → first. The names
    follow the reference code, which views ``resp`` as an image whose rows are the first axis:
    ``topbottom`` cuts across the **first axis (x)** — half 1 is ``x index < n_x // 2`` —
    and ``leftright`` across the **second axis (y)** — half 1 is ``y index < n_y // 2``.
``diag1``
    Half 1 = upper triangle including the diagonal (``j >= i`` for bin ``(i, j)``), half 2 = the
    strictly lower triangle; two splits as above.
``diag2``
    The same on the grid flipped along its second axis: half 1 = ``(n_y - 1 - j) >= i``.
``quad``
    Four splits; split ``q`` tests on one quadrant and trains on the other three. Quadrant order:
    (low x, low y), (low x, high y), (high x, low y), (high x, high y), with "low" meaning
    ``index < n // 2``.
``blocked``
    Spatially blocked random splits: the grid is tiled by contiguous ``block_size × block_size``
    bin blocks (blocks on the far edges may be smaller); split ``s`` permutes the blocks with
    ``RandomState(seed + s)`` and the first ``ceil(train_frac * n_blocks)`` blocks train, the
    rest test. Held-out bins are then never direct neighbours of most training bins, so smooth
    rate maps cannot leak across the split.

Within each returned pair, indices of structured and blocked splits are sorted; random splits
keep the permutation order (as the reference code does; order does not change any score).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mecbench.errors import ConfigError, UnknownIdentifierError

__all__ = [
    "SplitScheme",
    "STRUCTURED_KINDS",
    "SPLIT_KINDS",
    "Split",
    "random_splits",
    "structured_splits",
    "blocked_splits",
]

Split = tuple[np.ndarray, np.ndarray]

STRUCTURED_KINDS = ("topbottom", "leftright", "diag1", "diag2", "quad")
SPLIT_KINDS = ("random", *STRUCTURED_KINDS, "blocked")


def _check_train_frac(train_frac: float, *, allow_zero: bool) -> float:
    try:
        value = float(train_frac)
    except (TypeError, ValueError):
        raise ConfigError(
            f"train_frac must be a number in (0, 1) or one of {STRUCTURED_KINDS}; "
            f"got {train_frac!r}"
        ) from None
    if allow_zero and value == 0:
        return 0.0
    if not (0 < value < 1):
        lo = "[0" if allow_zero else "(0"
        raise ConfigError(
            f"train_frac must lie in {lo}, 1) (the fraction of bins used for TRAINING); "
            f"got {train_frac!r}"
        )
    return value


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_shape(shape: Sequence[int]) -> tuple[int, int]:
    try:
        nx, ny = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ConfigError(f"grid shape must be (n_x, n_y); got {shape!r}") from None
    if nx < 1 or ny < 1:
        raise ConfigError(f"grid shape must be positive; got {shape!r}")
    return nx, ny


def random_splits(n_bins: int, train_frac: float, n_splits: int = 10, seed: int = 0) -> list[Split]:
    """Random bin splits with the semantics of Nayebi et al. (2021).

    Parameters
    ----------
    n_bins : int
        Number of bins of the full grid.
    train_frac : float
        Fraction of bins used for training, in ``(0, 1)``; ``0`` gives one split with every bin
        in test.
    n_splits : int
        Number of splits.
    seed : int
        Split ``s`` uses ``numpy.random.RandomState(seed + s).permutation(n_bins)``.

    Returns
    -------
    list of (train, test) int arrays
    """
    train_frac = _check_train_frac(train_frac, allow_zero=True)
    n_splits = _check_int("n_splits", n_splits, 1)
    seed = _check_int("seed", seed, 0)
    if train_frac == 0:
        return [(np.array([], dtype=np.intp), np.arange(n_bins, dtype=np.intp))]
    n_train = int(math.ceil(train_frac * n_bins))
    out = []
    for s in range(n_splits):
        perm = np.random.RandomState(seed + s).permutation(n_bins).astype(np.intp)
        out.append((perm[:n_train], perm[n_train:]))
    return out


def structured_splits(shape: Sequence[int], kind: str) -> list[Split]:
    """Structured spatial splits (see the module docstring for the geometry of each kind)."""
    nx, ny = _check_shape(shape)
    if kind not in STRUCTURED_KINDS:
        raise UnknownIdentifierError("structured split", kind, STRUCTURED_KINDS)
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    hx, hy = nx // 2, ny // 2
    if kind == "quad":
        quads = [(i < hx) & (j < hy), (i < hx) & (j >= hy),
                 (i >= hx) & (j < hy), (i >= hx) & (j >= hy)]
        return [(np.flatnonzero(~q), np.flatnonzero(q)) for q in quads]
    if kind == "topbottom":
        first = i < hx
    elif kind == "leftright":
        first = j < hy
    elif kind == "diag1":
        first = j >= i
    else:  # diag2: diag1 on the grid flipped along its second axis
        first = (ny - 1 - j) >= i
    a, b = np.flatnonzero(first), np.flatnonzero(~first)
    return [(a, b), (b, a)]


def blocked_splits(shape: Sequence[int], block_size: int, train_frac: float,
                   n_splits: int = 10, seed: int = 0) -> list[Split]:
    """Spatially blocked random splits.

    Parameters
    ----------
    shape : (n_x, n_y)
        Grid shape.
    block_size : int
        Side of a square block in bins.
    train_frac : float
        Fraction of *blocks* used for training, in ``(0, 1)``.
    n_splits, seed : int
        Split ``s`` permutes the blocks with ``RandomState(seed + s)``.
    """
    nx, ny = _check_shape(shape)
    block_size = _check_int("block_size", block_size, 1)
    train_frac = _check_train_frac(train_frac, allow_zero=False)
    n_splits = _check_int("n_splits", n_splits, 1)
    seed = _check_int("seed", seed, 0)
    bx, by = -(-nx // block_size), -(-ny // block_size)
    n_blocks = bx * by
    if n_blocks < 2:
        raise ConfigError(
            f"block_size={block_size} leaves a single block on a {nx}x{ny} grid; "
            "use smaller blocks"
        )
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    block_of_bin = ((i // block_size) * by + (j // block_size)).ravel()
    n_train = int(math.ceil(train_frac * n_blocks))
    if n_train >= n_blocks:
        raise ConfigError(
            f"train_frac={train_frac} of {n_blocks} blocks leaves no test block"
        )
    out = []
    for s in range(n_splits):
        perm = np.random.RandomState(seed + s).permutation(n_blocks)
        is_train_block = np.zeros(n_blocks, dtype=bool)
        is_train_block[perm[:n_train]] = True
        train = is_train_block[block_of_bin]
        out.append((np.flatnonzero(train), np.flatnonzero(~train)))
    return out


@dataclass(frozen=True)
class SplitScheme:
    """How bins are split into training and test sets.

    Use the constructors :meth:`random`, :meth:`structured`, :meth:`blocked` or
    :meth:`from_train_frac` (the reference ``train_frac`` argument: a number or a string).

    Parameters
    ----------
    kind : str
        One of :data:`SPLIT_KINDS`.
    train_frac : float
        Fraction of bins (``random``) or blocks (``blocked``) used for training.
        Ignored by structured kinds.
    n_splits : int
        Number of splits for ``random`` and ``blocked``.
    seed : int
        ``split_start_seed``: split ``s`` is seeded with ``seed + s``.
    block_size : int
        Block side in bins (``blocked`` only).
    """

    kind: str = "random"
    train_frac: float = 0.2
    n_splits: int = 10
    seed: int = 0
    block_size: int = 4

    def __post_init__(self):
        if self.kind not in SPLIT_KINDS:
            raise UnknownIdentifierError("split kind", self.kind, SPLIT_KINDS)
        if self.kind == "random":
            _check_train_frac(self.train_frac, allow_zero=True)
        elif self.kind == "blocked":
            _check_train_frac(self.train_frac, allow_zero=False)
            _check_int("block_size", self.block_size, 1)
        _check_int("n_splits", self.n_splits, 1)
        _check_int("seed", self.seed, 0)

    # constructors -------------------------------------------------------------------------
    @classmethod
    def random(cls, train_frac: float = 0.2, n_splits: int = 10, seed: int = 0) -> SplitScheme:
        """Random bins (reference semantics): train on ``ceil(train_frac * N)`` bins."""
        return cls("random", float(_check_train_frac(train_frac, allow_zero=True)),
                   n_splits, seed)

    @classmethod
    def structured(cls, kind: str) -> SplitScheme:
        """One of ``topbottom``, ``leftright``, ``diag1``, ``diag2``, ``quad``."""
        if kind not in STRUCTURED_KINDS:
            raise UnknownIdentifierError("structured split", kind, STRUCTURED_KINDS)
        return cls(kind, 0.5, 4 if kind == "quad" else 2, 0)

    @classmethod
    def blocked(cls, block_size: int = 4, train_frac: float = 0.2, n_splits: int = 10,
                seed: int = 0) -> SplitScheme:
        """Contiguous ``block_size`` × ``block_size`` blocks; ``train_frac`` of blocks train."""
        return cls("blocked", float(_check_train_frac(train_frac, allow_zero=False)),
                   n_splits, seed, block_size)

    @classmethod
    def from_train_frac(cls, train_frac: float | str, n_splits: int = 10,
                        seed: int = 0) -> SplitScheme:
        """The reference ``train_frac`` argument: a number (random splits) or a string
        naming a structured split."""
        if isinstance(train_frac, str):
            return cls.structured(train_frac)
        return cls.random(train_frac, n_splits, seed)

    # use ----------------------------------------------------------------------------------
    @property
    def identifier(self) -> str:
        """A short stable string naming the scheme (part of cache keys and score attrs)."""
        if self.kind == "random":
            return f"random-tf{self.train_frac:g}-n{self.n_splits}-s{self.seed}"
        if self.kind == "blocked":
            return (f"blocked-b{self.block_size}-tf{self.train_frac:g}-n{self.n_splits}"
                    f"-s{self.seed}")
        return self.kind

    def count(self) -> int:
        """Number of splits this scheme yields."""
        if self.kind == "random":
            return 1 if self.train_frac == 0 else self.n_splits
        if self.kind == "blocked":
            return self.n_splits
        return 4 if self.kind == "quad" else 2

    def splits(self, shape: Sequence[int]) -> list[Split]:
        """``(train, test)`` flat bin indices (C order over x, y) for a grid of ``shape``."""
        nx, ny = _check_shape(shape)
        if self.kind == "random":
            return random_splits(nx * ny, self.train_frac, self.n_splits, self.seed)
        if self.kind == "blocked":
            return blocked_splits((nx, ny), self.block_size, self.train_frac, self.n_splits,
                                  self.seed)
        return structured_splits((nx, ny), self.kind)
