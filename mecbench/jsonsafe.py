"""Values ready for strict JSON: the one converter every JSON writer of mecbench uses."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["json_safe", "json_float"]


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats as None, numpy scalars as Python numbers, tuples as
    lists and dict keys as strings; keys starting with ``_`` (private fields) are left out.
    The result passes ``json.dumps(..., allow_nan=False)``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return json_safe(obj.item())
    return obj


def json_float(value: Any) -> float | None:
    """One number for strict JSON: ``float(value)``, or None for None, NaN and infinities."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
