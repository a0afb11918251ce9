"""Package discovery for mecbench.

The built-in plugin folders ``models/`` and ``datasets/`` and the shipped ``leaderboards/``
are installed as ``mecbench.models``, ``mecbench.datasets`` and ``mecbench.leaderboards``
(never as top-level packages: ``datasets`` is a popular PyPI name). pyproject.toml
holds all metadata; this file only computes the package list so new sub-packages need no edit.
"""

from setuptools import find_packages, setup

ROOTS = {"mecbench": "mecbench", "mecbench.models": "models", "mecbench.datasets": "datasets"}


def _packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    found.append("mecbench.leaderboards")
    return found


setup(
    packages=_packages(),
    package_dir={**ROOTS, "mecbench.leaderboards": "leaderboards"},
)
