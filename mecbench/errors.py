"""The one error hierarchy of mecbench.

Every error a user can cause by bad input derives from :class:`MecbenchError`; the CLI turns
these into one line on stderr and exit code 2. Errors also derive from the matching builtin
(``ValueError``, ``KeyError``) so generic ``except`` clauses keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "MecbenchError",
    "DataError",
    "ConfigError",
    "ModelError",
    "UnknownIdentifierError",
    "ConvergenceWarning",
    "closest_names",
]


class MecbenchError(Exception):
    """Base class of all errors raised by mecbench on bad input or state."""


class DataError(MecbenchError, ValueError):
    """Recorded or model data is malformed: wrong dims, non-finite values, unreadable files."""


class ConfigError(MecbenchError, ValueError):
    """A parameter is out of range or inconsistent (``train_frac``, alphas, seeds, ...)."""


class ModelError(MecbenchError, ValueError):
    """A model or response provider misbehaved (wrong shape, missing layer, bad checkpoint)."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration limit before its tolerance was met (the
    result is returned, as scikit-learn does; the message says how far from converged)."""


def closest_names(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` entries of ``known`` that look most like ``name``."""
    known = sorted(set(map(str, known)))
    found = difflib.get_close_matches(str(name), known, n=n, cutoff=0.4)
    if not found:
        found = [k for k in known if str(name).lower() in k.lower()][:n]
    return found


class UnknownIdentifierError(MecbenchError, KeyError):
    """An identifier (model, benchmark, map type, layer, ...) is not known.

    The message names the closest known identifiers and lists the valid ones (the first 20
    when there are more).

    Parameters
    ----------
    kind : str
        What was looked up, e.g. ``"model"`` or ``"map_type"``.
    name : str
        The identifier the user gave.
    known : iterable of str
        All valid identifiers.
    """

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind = kind
        self.name = name
        self.known = sorted(set(map(str, known)))
        self.suggestions = closest_names(name, self.known)
        super().__init__(self._message())

    def _message(self) -> str:
        msg = f"unknown {self.kind} {self.name!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        if self.known:
            shown = ", ".join(self.known[:20])
            more = f" ... ({len(self.known)} in all)" if len(self.known) > 20 else ""
            msg += f" (valid choices: {shown}{more})" if self.suggestions else \
                f"; valid choices: {shown}{more}"
        return msg

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self._message()
