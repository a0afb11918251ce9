"""Input checks shared by every mapping (check_array style, errors name the argument)."""

from __future__ import annotations

import numbers

import numpy as np

from mecbench.errors import ConfigError, DataError

__all__ = ["check_X", "check_Y", "check_XY", "check_nonneg", "check_fraction", "per_target"]


def check_X(X, name: str = "X") -> np.ndarray:
    """Return ``X`` as a C-contiguous finite float64 array of shape (n_samples, n_features)."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be a numeric array: {err}") from None
    if arr.ndim != 2:
        raise DataError(f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise DataError(f"{name} must have at least one sample and one feature; got {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise DataError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return np.ascontiguousarray(arr)


def check_Y(Y, name: str = "Y") -> tuple[np.ndarray, bool]:
    """Return (Y as finite float64 2-D array, whether it was 1-D)."""
    try:
        arr = np.asarray(Y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name} must be a numeric array: {err}") from None
    was_1d = arr.ndim == 1
    if was_1d:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"{name} must be 1-D or 2-D (n_samples, n_targets); got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise DataError(f"{name} has no target column; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise DataError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return np.ascontiguousarray(arr), was_1d


def check_XY(X, Y, min_samples: int = 2) -> tuple[np.ndarray, np.ndarray, bool]:
    """Check ``X`` and ``Y`` together (same number of rows, at least ``min_samples``)."""
    X = check_X(X)
    Y, was_1d = check_Y(Y)
    if X.shape[0] != Y.shape[0]:
        raise DataError(f"X and Y have different numbers of samples: {X.shape[0]} != {Y.shape[0]}")
    if X.shape[0] < min_samples:
        raise DataError(f"X needs at least {min_samples} samples to fit; got {X.shape[0]}")
    return X, Y, was_1d


def _as_float_array(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number or array of numbers; got {value!r}") from None
    if arr.ndim > 1:
        raise ConfigError(f"{name} must be a scalar or 1-D; got shape {arr.shape}")
    if arr.size == 0:
        raise ConfigError(f"{name} is empty")
    if not np.isfinite(arr).all():
        raise ConfigError(f"{name} must be finite; got {value!r}")
    return arr


def check_nonneg(value, name: str) -> np.ndarray:
    """``value`` (scalar or 1-D) as a float array, every entry >= 0, else ConfigError."""
    arr = _as_float_array(value, name)
    if (arr < 0).any():
        raise ConfigError(f"{name} must be >= 0; got {value!r}")
    return arr


def check_fraction(value, name: str) -> np.ndarray:
    """``value`` (scalar or 1-D) as a float array, every entry in [0, 1], else ConfigError."""
    arr = _as_float_array(value, name)
    if ((arr < 0) | (arr > 1)).any():
        raise ConfigError(f"{name} must be in [0, 1]; got {value!r}")
    return arr


def per_target(arr: np.ndarray, n_targets: int, name: str) -> np.ndarray:
    """Broadcast a scalar (or length-1) parameter to ``n_targets`` values."""
    arr = np.asarray(arr, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        return np.full(n_targets, float(arr[0]))
    if arr.size != n_targets:
        raise ConfigError(f"{name} has {arr.size} values but Y has {n_targets} targets")
    return arr


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (bools refused), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)
