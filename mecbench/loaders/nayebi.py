"""The dict format of Nayebi et al. 2021, stored without pickle as ``.npz``.

In memory the format is ``dataset[arena_size][animal] = {"resp": array, "cell_ids": array}``
(see :meth:`mecbench.neural_data.NeuralData.from_nayebi_dict`). Their code keeps it in a pickle;
mecbench never unpickles files (a pickle can run arbitrary code). Convert your own pickle once, in
your own Python session, with :func:`save_nayebi_npz`::

    import pickle
    from mecbench.loaders import save_nayebi_npz
    with open("my_dataset.pkl", "rb") as fh:          # your own file, your decision
        save_nayebi_npz(pickle.load(fh), "my_dataset.npz")

The ``.npz`` holds one array per entry, named ``"<arena_size>/<animal>/resp"`` and
``"<arena_size>/<animal>/cell_ids"`` (cell ids as strings), and is read with
``allow_pickle=False``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mecbench.errors import DataError
from mecbench.neural_data import NeuralData, atomic_write

__all__ = ["read_nayebi_npz", "save_nayebi_npz", "load_nayebi_npz"]


def save_nayebi_npz(dataset: Mapping, path: str | os.PathLike) -> Path:
    """Write a Nayebi dict to ``path`` (``.npz``, atomically)."""
    if not isinstance(dataset, Mapping) or not dataset:
        raise DataError("the Nayebi dict must be a non-empty dict keyed by arena size")
    arrays: dict[str, np.ndarray] = {}
    for size, animals in dataset.items():
        if not isinstance(animals, Mapping):
            raise DataError(f"dataset[{size!r}] must be a dict of animals")
        for animal, entry in animals.items():
            if "/" in str(animal) or "/" in str(size):
                raise DataError(f"arena {size!r} / animal {animal!r}: names may not hold '/'")
            if not isinstance(entry, Mapping) or "resp" not in entry:
                raise DataError(f"dataset[{size!r}][{animal!r}] must hold 'resp'")
            arrays[f"{size}/{animal}/resp"] = np.asarray(entry["resp"], dtype=np.float64)
            ids = entry.get("cell_ids")
            if ids is not None:
                arrays[f"{size}/{animal}/cell_ids"] = np.asarray(ids).astype(str)
    path = Path(path)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    atomic_write(path, write)
    return path


def read_nayebi_npz(path: str | os.PathLike) -> dict:
    """Read an ``.npz`` written by :func:`save_nayebi_npz` back into the nested dict.

    Raises
    ------
    DataError
        If the file is not a readable ``.npz`` of that layout (names the file and the entry).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    out: dict = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            for name in names:
                parts = name.split("/")
                if len(parts) != 3 or parts[2] not in ("resp", "cell_ids"):
                    raise DataError(
                        f"{path}: entry {name!r} is not '<arena_size>/<animal>/resp' or "
                        "'.../cell_ids'"
                    )
                size, animal, field = parts
                try:
                    key: float | str = float(size)
                except ValueError:
                    key = size
                try:
                    value = npz[name]
                except ValueError as err:  # object arrays need pickle: refused
                    raise DataError(f"{path}: entry {name!r} cannot be read without "
                                    f"unpickling ({err})") from None
                out.setdefault(key, {}).setdefault(animal, {})[field] = value
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - zip/zlib/numpy raise many types on bad bytes
        raise DataError(
            f"{path}: not a readable .npz file ({type(err).__name__}: {err})"
        ) from None
    for size, animals in out.items():
        for animal, entry in animals.items():
            if "resp" not in entry:
                raise DataError(f"{path}: {size}/{animal} has 'cell_ids' but no 'resp'")
    if not out:
        raise DataError(f"{path}: empty .npz file")
    return out


def load_nayebi_npz(path: str | os.PathLike, *, bin_size: float | None = None) -> NeuralData:
    """NeuralData from a Nayebi-dict ``.npz`` (see the module docstring)."""
    dataset = read_nayebi_npz(path)
    try:
        return NeuralData.from_nayebi_dict(
            dataset, bin_size=bin_size, attrs={"source": "nayebi-dict", "file": str(path)}
        )
    except DataError as err:
        raise DataError(f"{path}: {err}") from None
