"""Read the numeric variables of a MATLAB ``.mat`` file (v4/v5/v7 via scipy, v7.3 via h5py).

Only what the Moser-lab releases hold is needed: numeric arrays. Everything a damaged or foreign
file can make the readers raise becomes :class:`~mecbench.errors.DataError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mecbench.errors import DataError

__all__ = ["read_mat", "numeric_vector", "is_mat_file"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_mat_file(path: str | os.PathLike) -> bool:
    """True when the file starts with a MATLAB v5/v7/v7.3 text header."""
    try:
        with open(path, "rb") as fh:
            return fh.read(6) == b"MATLAB"
    except OSError:
        return False


def _read_v73(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as fh:
        for name, obj in fh.items():
            if name.startswith("#") or not isinstance(obj, h5py.Dataset):
                continue
            cls = obj.attrs.get("MATLAB_class", b"")
            cls = cls.decode() if isinstance(cls, bytes) else str(cls)
            if obj.attrs.get("MATLAB_empty", 0):
                out[name] = np.zeros((0, 0))
                continue
            if obj.dtype.kind not in "fiub" or cls in ("char", "cell", "struct"):
                out[name] = np.asarray(obj[()]).astype(object)
                continue
            out[name] = np.asarray(obj[()]).T  # MATLAB stores column-major
    return out


def read_mat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All variables of a ``.mat`` file, keyed by name (``__header__`` etc. removed).

    Raises
    ------
    DataError
        If the file is missing, truncated, or not a MATLAB file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(520)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err})") from None
    if not head:
        raise DataError(f"{path}: empty file, not a MATLAB .mat file")
    v73 = head.startswith(b"MATLAB 7.3") or head[512:520] == _HDF5_SIGNATURE \
        or head.startswith(_HDF5_SIGNATURE)
    try:
        if v73:
            data = _read_v73(path)
        else:
            from scipy.io import loadmat

            data = loadmat(path, appendmat=False, squeeze_me=False, mat_dtype=False)
    except NotImplementedError:  # scipy: "Please use HDF reader for matlab v7.3 files"
        try:
            data = _read_v73(path)
        except Exception as err:  # noqa: BLE001 - any failure of a foreign file
            raise DataError(
                f"{path}: not a readable MATLAB v7.3 file ({type(err).__name__}: {err})"
            ) from None
    except Exception as err:  # noqa: BLE001 - readers raise many unrelated types on bad bytes
        raise DataError(
            f"{path}: not a readable MATLAB .mat file, or truncated "
            f"({type(err).__name__}: {str(err)[:200]})"
        ) from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def numeric_vector(data: dict, key: str, path, *, allow_empty: bool = False) -> np.ndarray:
    """Variable ``key`` of ``data`` as a 1-D float64 vector (row or column vectors accepted).

    Raises
    ------
    DataError
        Naming the file and the field when the variable is not a numeric vector.
    """
    value = data[key]
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{path}: field {key!r} is not numeric (MATLAB class {arr.dtype})")
    arr = arr.astype(np.float64)
    if arr.size == 0:
        if allow_empty:
            return np.zeros(0)
        raise DataError(f"{path}: field {key!r} is empty")
    if sum(s > 1 for s in arr.shape) > 1:
        raise DataError(f"{path}: field {key!r} must be a vector, got shape {arr.shape}")
    return arr.reshape(-1)
