"""One plugin mechanism: entry points, plus runtime registration and plugin files.

Groups: ``mecbench.models``, ``mecbench.datasets``, ``mecbench.benchmarks``. Built-ins declare
themselves in our own pyproject.toml exactly as third-party packages do. An entry point names a
*factory*: a callable returning the object (a response provider, a dataset, a benchmark).
A name ending in ``/*`` declares a family: ``control/*`` answers ``control/fourier-64`` by calling
the factory with the rest of the name (``"fourier-64"``).

Listing reads entry-point names only; loading imports one module.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from mecbench.errors import ConfigError, MecbenchError, ModelError, UnknownIdentifierError

__all__ = [
    "KINDS",
    "register",
    "register_model",
    "names",
    "get_factory",
    "load",
    "load_model",
    "describe",
    "load_plugin_file",
]

KINDS = {"model": "mecbench.models", "dataset": "mecbench.datasets",
         "benchmark": "mecbench.benchmarks"}
_RUNTIME: dict[str, dict[str, Callable[..., Any]]] = {kind: {} for kind in KINDS}


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UnknownIdentifierError("plugin kind", kind, KINDS)
    return kind


def _entry_points(kind: str) -> dict:
    return {ep.name: ep for ep in entry_points(group=KINDS[_check_kind(kind)])}


def register(kind: str, name: str, factory: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``factory`` under ``name`` for this process (overrides nothing built in)."""
    _check_kind(kind)
    if not name or any(c.isspace() for c in name):
        raise ConfigError(f"invalid {kind} name {name!r}: it must be non-empty without spaces")
    if name in _entry_points(kind):
        raise ConfigError(f"{kind} {name!r} is already provided by an installed package")
    _RUNTIME[kind][name] = factory
    return factory


def register_model(name: str | Callable | None = None, factory: Callable | None = None):
    """Register a model factory; use as ``@register_model("my-model")`` or as a call.

    Parameters
    ----------
    name : str, optional
        Model identifier; default the factory's ``__name__`` with ``_`` replaced by ``-``.
    factory : callable, optional
        Returns a :class:`~mecbench.providers.ResponseProvider`. When omitted this works as a
        decorator.

    Examples
    --------
    >>> @register_model("tiny-model")        # doctest: +SKIP
    ... def tiny():
    ...     return FunctionProvider(...)
    """
    if callable(name) and factory is None:  # bare @register_model
        fn = name
        return register("model", fn.__name__.replace("_", "-"), fn)
    if factory is not None:
        return register("model", name or factory.__name__.replace("_", "-"), factory)

    def decorator(fn: Callable) -> Callable:
        register("model", name or fn.__name__.replace("_", "-"), fn)
        return fn

    return decorator


def names(kind: str) -> list[str]:
    """All identifiers of one kind (entry points and runtime registrations), sorted."""
    return sorted(set(_entry_points(kind)) | set(_RUNTIME[_check_kind(kind)]))


def get_factory(kind: str, name: str) -> tuple[Callable[..., Any], tuple]:
    """Find the factory for ``name`` and the positional arguments a family adds.

    Raises
    ------
    UnknownIdentifierError
        With the closest known names.
    """
    runtime = _RUNTIME[_check_kind(kind)]
    if name in runtime:
        return runtime[name], ()
    eps = _entry_points(kind)
    if name in eps:
        return eps[name].load(), ()
    for family in sorted({n for n in [*eps, *runtime] if n.endswith("/*")}, key=len, reverse=True):
        prefix = family[:-1]
        if name.startswith(prefix) and len(name) > len(prefix):
            factory = runtime[family] if family in runtime else eps[family].load()
            return factory, (name[len(prefix):],)
    raise UnknownIdentifierError(kind, name, names(kind))


def load(kind: str, name: str, **kwargs: Any) -> Any:
    """Build the object registered as ``name``."""
    factory, args = get_factory(kind, name)
    return factory(*args, **kwargs)


def load_model(name: str) -> Any:
    """Build the response provider registered as model ``name``.

    Raises
    ------
    UnknownIdentifierError
        With the closest model names.
    ModelError
        When the plugin fails in any other way (its error is named and chained).
    """
    try:
        return load("model", name)
    except MecbenchError:
        raise
    except Exception as err:
        raise ModelError(f"model {name!r} failed to load: {type(err).__name__}: {err}") from err


def describe(kind: str, name: str) -> str:
    """First line of the factory's docstring (imports the plugin's module)."""
    factory, _ = get_factory(kind, name)
    doc = (getattr(factory, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def load_plugin_file(path: str | Path) -> None:
    """Execute a Python file so that its ``register_model`` calls take effect."""
    path = Path(path)
    if not path.is_file() or path.suffix != ".py":
        raise ConfigError(f"--plugin {path}: not a Python file")
    module_name = f"mecbench_plugin_{abs(hash(str(path.resolve())))}"
    if module_name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[module_name]
        raise ConfigError(
            f"--plugin {path}: failed to import ({type(err).__name__}: {err})"
        ) from err
