"""The grammar of control-model identifiers.

::

    control/<family>-d<D>-s<SEED>[-<option><value>...]    family in fourier, bumps, relu, grid
    control/shuffle-<MODEL>-s<SEED>                       any registered model, bins permuted
    control/untrained-<ARCH>-d<D>-s<SEED>                 untrained/<ARCH> network with D units

``D`` is the number of units (>= 1) and ``SEED`` (>= 0) selects the random draw. Options, all
optional, with their defaults:

=========  ======  =======================================================  =========
family     option  meaning                                                  default
=========  ======  =======================================================  =========
fourier    bw      RBF kernel length scale of the random frequencies (m)    0.12
bumps      w       standard deviation of each Gaussian bump (m)             0.12
grid       m       number of modules                                        4
grid       sp      spacing of the smallest module (m)                       0.3
grid       r       ratio of successive module spacings                      1.4
grid       g       field sharpness (gain of the exponential)                0.5
grid       o       orientation of every module, degrees in [0, 60)          random
=========  ======  =======================================================  =========

By default each grid module has its own random orientation (drawn from the seed); ``o`` fixes
one orientation for all modules (modules of one animal often share their orientation to within
a few degrees, Stensola et al. 2012).

Examples: ``control/fourier-d64-s0``, ``control/fourier-d64-s0-bw0.2``, ``control/grid-d96-s1-m3``,
``control/shuffle-rnn-relu-dos-s0``, ``control/untrained-rnn-relu-d256-s0``. The canonical name
(:attr:`ControlSpec.name`) lists only options that differ from their defaults, in the order of
the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from mecbench.controls.features import check_dim
from mecbench.errors import ConfigError, UnknownIdentifierError

__all__ = [
    "PREFIX",
    "POSITION_FAMILIES",
    "FAMILIES",
    "OPTIONS",
    "RANDOM_BASES",
    "ControlSpec",
    "parse_control_name",
]

PREFIX = "control/"
#: Families that are functions of position, with their options: key -> (kwarg, default, type).
OPTIONS: dict[str, dict[str, tuple[str, float | None, type]]] = {
    "fourier": {"bw": ("bandwidth", 0.12, float)},
    "bumps": {"w": ("width", 0.12, float)},
    "relu": {},
    "grid": {"m": ("n_modules", 4, int), "sp": ("spacing", 0.3, float),
             "r": ("ratio", 1.4, float), "g": ("gain", 0.5, float),
             "o": ("orientation", None, float)},
}
POSITION_FAMILIES = tuple(OPTIONS)
FAMILIES = (*POSITION_FAMILIES, "shuffle", "untrained")
#: The structure-free random bases a model must beat at matched dimensionality.
RANDOM_BASES = ("fourier", "bumps", "relu")

_SEED = re.compile(r"^s(\d+)$")
_DIM = re.compile(r"^d(\d+)$")
_OPTION = re.compile(r"^([a-z]+)([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)$")


@dataclass(frozen=True)
class ControlSpec:
    """A parsed control identifier.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    dim : int or None
        Number of units (None for ``shuffle``, which keeps the model's units).
    seed : int
        Seed of the random draw.
    options : tuple of (str, float)
        ``(kwarg, value)`` for every option of the family, defaults filled in.
    base : str or None
        The wrapped model (``shuffle``) or architecture (``untrained``).
    """

    family: str
    dim: int | None
    seed: int
    options: tuple[tuple[str, float], ...] = ()
    base: str | None = None

    @property
    def kwargs(self) -> dict[str, float]:
        """Options as keyword arguments of the generator in :mod:`mecbench.controls.features`."""
        return dict(self.options)

    @property
    def name(self) -> str:
        """Canonical identifier, e.g. ``"control/fourier-d64-s0"``."""
        if self.family == "shuffle":
            return f"{PREFIX}shuffle-{self.base}-s{self.seed}"
        if self.family == "untrained":
            return f"{PREFIX}untrained-{self.base}-d{self.dim}-s{self.seed}"
        parts = [self.family, f"d{self.dim}", f"s{self.seed}"]
        values = self.kwargs
        for key, (kwarg, default, _) in OPTIONS[self.family].items():
            if values[kwarg] is not None and values[kwarg] != default:
                parts.append(f"{key}{values[kwarg]:g}")
        return PREFIX + "-".join(parts)

    def with_dim(self, dim: int) -> ControlSpec:
        """The same control with ``dim`` units (same seed, so a nested draw)."""
        if self.family == "shuffle":
            raise ConfigError("a shuffle control keeps its model's units; it has no dimension")
        return replace(self, dim=check_dim(dim))

    def with_seed(self, seed: int) -> ControlSpec:
        """The same control with another seed."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        return replace(self, seed=seed)

    @classmethod
    def make(cls, family: str, dim: int | None = None, seed: int = 0, *,
             base: str | None = None, **options: float) -> ControlSpec:
        """Build a spec from parts, validating them (unknown family/option -> error)."""
        if family not in FAMILIES:
            raise UnknownIdentifierError("control family", family, FAMILIES)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
        if family == "shuffle":
            if not base:
                raise ConfigError("a shuffle control needs the model to shuffle")
            if dim is not None:
                raise ConfigError("a shuffle control keeps its model's units; drop the dimension")
            return cls("shuffle", None, seed, (), base)
        dim = check_dim(dim)
        if family == "untrained":
            if not base:
                raise ConfigError("an untrained control needs an architecture")
            return cls("untrained", dim, seed, (), base)
        table = OPTIONS[family]
        by_kwarg = {kwarg: (key, typ) for key, (kwarg, _, typ) in table.items()}
        values = {kwarg: default for kwarg, default, _ in table.values()}
        for kwarg, value in options.items():
            if kwarg not in by_kwarg:
                raise UnknownIdentifierError(f"{family} control option", kwarg,
                                             list(by_kwarg))
            typ = by_kwarg[kwarg][1]
            if typ is int and float(value) != int(value):
                raise ConfigError(f"control option {kwarg} must be an integer, got {value!r}")
            values[kwarg] = typ(value)
            if kwarg == "orientation":
                if not 0 <= values[kwarg] < 60:
                    raise ConfigError(f"control option orientation must be in [0, 60) degrees, "
                                      f"got {value!r}")
            elif not values[kwarg] > 0:
                raise ConfigError(f"control option {kwarg} must be positive, got {value!r}")
        return cls(family, dim, seed, tuple((k, values[k]) for k in values), None)


def _pop_seed(tokens: list[str], name: str) -> int:
    if not tokens or not _SEED.match(tokens[-1]):
        raise ConfigError(f"control {name!r} must end with a seed, e.g. '-s0'")
    return int(_SEED.match(tokens.pop())[1])


def _pop_dim(tokens: list[str], name: str) -> int:
    if not tokens or not _DIM.match(tokens[-1]):
        raise ConfigError(f"control {name!r} needs a dimension '-d<D>' (D >= 1) before the seed")
    return check_dim(int(_DIM.match(tokens.pop())[1]), f"dimension D of {name!r}")


def parse_control_name(name: str) -> ControlSpec:
    """Parse a control identifier (with or without the ``control/`` prefix).

    Raises
    ------
    UnknownIdentifierError
        For an unknown family or option (with the closest names).
    ConfigError
        For a malformed name, D <= 0 or a bad option value.
    """
    text = str(name).strip()
    text = text[len(PREFIX):] if text.startswith(PREFIX) else text
    family, _, rest = text.partition("-")
    if family not in FAMILIES:
        raise UnknownIdentifierError("control family", family, FAMILIES)
    if family != "shuffle" and re.search(r"(^|-)d-\d", rest):
        raise ConfigError(f"control {name!r}: the dimension D must be a positive integer")
    tokens = rest.split("-") if rest else []
    if family == "shuffle":
        seed = _pop_seed(tokens, name)
        base = "-".join(tokens)
        if not base:
            raise ConfigError(
                f"control {name!r} must name a model: control/shuffle-<MODEL>-s<SEED>"
            )
        return ControlSpec.make("shuffle", None, seed, base=base)
    if family == "untrained":
        seed = _pop_seed(tokens, name)
        dim = _pop_dim(tokens, name)
        base = "-".join(tokens)
        if not base:
            raise ConfigError(
                f"control {name!r} must name an architecture: control/untrained-<ARCH>-d<D>-s<SEED>"
            )
        return ControlSpec.make("untrained", dim, seed, base=base)
    dim = seed = None
    options: dict[str, float] = {}
    table = OPTIONS[family]
    for token in tokens:
        if _DIM.match(token) and dim is None:
            dim = check_dim(int(_DIM.match(token)[1]), f"dimension D of {name!r}")
        elif _SEED.match(token) and seed is None:
            seed = int(_SEED.match(token)[1])
        else:
            match = _OPTION.match(token)
            if not match:
                raise ConfigError(f"control {name!r}: cannot read {token!r} "
                                  f"(expected d<D>, s<SEED> or an option like {_example(family)})")
            key, value = match[1], float(match[2])
            if key not in table:
                raise UnknownIdentifierError(f"{family} control option", key,
                                             list(table) or ["(none)"])
            kwarg = table[key][0]
            if kwarg in options:
                raise ConfigError(f"control {name!r}: option {key!r} given twice")
            options[kwarg] = value
    if dim is None:
        raise ConfigError(f"control {name!r} needs a dimension '-d<D>' (D >= 1)")
    if seed is None:
        raise ConfigError(f"control {name!r} needs a seed '-s<SEED>'")
    return ControlSpec.make(family, dim, seed, **options)


def _example(family: str) -> str:
    table = OPTIONS.get(family, {})
    if not table:
        return "(this family has no options)"
    key, (_, default, _) = next(iter(table.items()))
    return f"'{key}{default:g}'" if default is not None else f"'{key}<value>'"
