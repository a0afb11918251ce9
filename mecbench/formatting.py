"""Numbers and p-values as text: one set of rules for the tables, verdicts and plot titles of
the command line, the report and the controls (fixed-width and signed layouts, such as an OLS
table's ``+0.104``, stay with their tables).

- :func:`format_number`: ``digits`` decimals; ``"–"`` for a missing value (None); ``"nan"``,
  ``"inf"`` or ``"-inf"`` for a non-finite one; a negative value that rounds to zero prints
  without its sign (``-0.0004`` at 3 digits is ``"0.000"``, never ``"-0.000"``); anything that
  is not a number is printed as ``str(x)``.
- :func:`format_ci`: ``"[low, high]"`` with :func:`format_number`, ``"–"`` when either end is
  missing.
- :func:`format_p`: ``"–"`` for None, ``"nan"`` for a non-finite p, three decimals from 0.001
  up (``"0.042"``), scientific notation with two significant digits below (``"4.6e-158"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["MISSING", "format_number", "format_ci", "format_p"]

#: The text of a missing value.
MISSING = "–"


def format_number(x: Any, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals (see the module docstring for the rules).

    Parameters
    ----------
    x : float, int, numpy scalar, None or any object
        The value.
    digits : int
        Decimals.

    Returns
    -------
    str
    """
    if x is None:
        return MISSING
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(value):
        return "nan"
    text = f"{value:.{digits}f}"
    if text.startswith("-") and not text.strip("-0."):
        return text[1:]
    return text


def format_ci(ci: Sequence[Any] | None, digits: int = 3) -> str:
    """``"[low, high]"`` for a confidence interval, ``"–"`` when it or either end is missing."""
    if not ci or ci[0] is None or ci[1] is None:
        return MISSING
    return f"[{format_number(ci[0], digits)}, {format_number(ci[1], digits)}]"


def format_p(p: Any) -> str:
    """A p-value: ``"0.042"`` from 0.001 up, ``"4.6e-158"`` below, ``"nan"`` when not finite,
    ``"–"`` for None."""
    if p is None:
        return MISSING
    p = float(p)
    if not math.isfinite(p):
        return "nan"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"
