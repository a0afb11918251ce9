"""Text specifications of a benchmark's parts: mapping, splits and ceiling.

The same grammar serves the command line (``--mapping``, ``--splits``, ``--ceiling`` of an ad-hoc
benchmark) and the identifiers stored with every score.

Mapping: ``NAME[:KEY=VALUE[,KEY=VALUE...]]``
    ``NAME`` is any name :func:`mecbench.mapping.get_mapping` accepts (``ridge``, ``ridgecv``,
    ``pls``, ``enet``, ``enet-cv`` (per-cell elastic net tuned on each split's training bins,
    :mod:`mecbench.mapping.enet_cv`), ``lasso``, ``one-to-one``, ``sklinear``) or a
    similarity metric of :data:`mecbench.similarity.METRICS` (``cka``, ``rsa-spearman``,
    ``shape-procrustes``, ...; one value per animal, :mod:`mecbench.benchmarks.similarity`);
    values are read as JSON when possible (numbers, ``true``, lists) and as strings otherwise:
    ``ridge:alpha=10``, ``pls:n_components=25``.
Splits: ``random[:train_frac=0.2,n_splits=10,seed=0]``, ``blocked[:block_size=4,...]`` or a
    structured kind ``topbottom``, ``leftright``, ``diag1``, ``diag2``, ``quad``.
Ceiling: ``holdout`` (inter-animal, other animals concatenated), ``pairwise`` (inter-animal, each
    other animal alone, averaged), ``split-half`` (Spearman–Brown corrected split-half
    reliability), ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from mecbench.benchmarks._values import format_value, jsonable
from mecbench.benchmarks.similarity import SimilaritySpec, is_similarity_name
from mecbench.ceiling import interanimal_consistency, split_half_reliability
from mecbench.errors import ConfigError, UnknownIdentifierError
from mecbench.keyvalue import parse_key_values
from mecbench.predictivity import score_rate_maps
from mecbench.splits import SPLIT_KINDS, STRUCTURED_KINDS, SplitScheme

__all__ = [
    "CEILING_METHODS",
    "MappingSpec",
    "parse_mapping",
    "parse_splits",
    "parse_ceiling",
    "splits_text",
]

CEILING_METHODS = ("holdout", "pairwise", "split-half", "none")


def _parse_params(text: str, what: str) -> dict[str, Any]:
    """The ``KEY=VALUE,...`` part of a specification."""
    return parse_key_values(text.split(",") if text else [], option=what)


#: Mappings worth one work unit per animal when units run in parallel. The elastic nets: on
#: mec-sim the cross-validated one's two per-arena units take about 3 and 20 CPU-minutes. Not
#: PLS or RidgeCV: each unit rebuilds the layer's feature cache, which made `mec-sim.pls` 20 %
#: slower with animal units (`--jobs 2`, 256 units) than with one unit per arena.
PER_ANIMAL_UNITS = frozenset({"enet", "enet-cv", "lasso"})


@dataclass(frozen=True)
class MappingSpec:
    """A mapping by name and parameters, e.g. ``MappingSpec("ridge", {"alpha": 1.0})``.

    The mapping estimator is built on demand with :func:`mecbench.mapping.get_mapping`.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    #: What one value of a score is computed for (a similarity metric's is ``"animal"``,
    #: :class:`mecbench.benchmarks.similarity.SimilaritySpec`).
    unit: ClassVar[str] = "cell"
    kind: ClassVar[str] = "mapping"

    def __hash__(self) -> int:
        return hash(self.text)

    @property
    def text(self) -> str:
        """``name[:key=value,...]`` with sorted keys (round-trips through
        :func:`parse_mapping`)."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{k}={format_value(v)}"
                                          for k, v in sorted(self.params.items()))

    @property
    def uses_array_backend(self) -> bool:
        """True when the mapping's fits run on the selected array backend
        (:mod:`mecbench.mapping.backend`): ridge with one positive penalty. Every other
        mapping computes with numpy in float64 whatever backend is selected."""
        if self.name != "ridge":
            return False
        alpha = self.params.get("alpha", 1.0)
        return (isinstance(alpha, int | float) and not isinstance(alpha, bool)
                and float(alpha) > 0)

    def build(self):
        """A fresh, unfitted mapping estimator."""
        from mecbench import mapping as mp

        try:
            return mp.get_mapping(self.name, **self.params)
        except TypeError as err:
            raise ConfigError(f"--mapping {self.text}: {err}") from None

    # the comparison protocol of Benchmark (SimilaritySpec implements the same) -------------
    def score_maps(self, maps, neural, splits, *, per_animal: bool = True):
        """Per-(cell, split) Pearson r of the mapping's predictions
        (:func:`mecbench.predictivity.score_rate_maps`)."""
        return score_rate_maps(maps, neural, self.build(), splits, per_animal=per_animal)

    def interanimal(self, neural, splits, *, mode: str = "holdout", targets=None):
        """Per-(cell, split) inter-animal consistency
        (:func:`mecbench.ceiling.interanimal_consistency`; ``targets``: only these animals'
        cells)."""
        return interanimal_consistency(neural, self.build(), splits, mode=mode,
                                       targets=targets)

    @property
    def fits_animals_apart(self) -> bool:
        """True for the elastic nets (:data:`PER_ANIMAL_UNITS`): with per-animal fits each
        animal's fit shares no work with the others' and costs far more than what a work unit
        rebuilds (the layer's feature cache), so a benchmark running units in parallel gives
        each animal its own unit, with the same numbers."""
        return self.name in PER_ANIMAL_UNITS and getattr(
            self.build(), "_cross_predict_masked", None) is None

    def split_half(self, halves, splits=None):
        """Spearman-Brown corrected split-half reliability per cell
        (:func:`mecbench.ceiling.split_half_reliability`; ``splits`` is not used)."""
        return split_half_reliability(halves)

    def key(self) -> dict[str, Any]:
        """What identifies the fitted behaviour: the name and the explicit parameters.

        Defaults are not listed: they live in mecbench's source, whose hash is part of every
        cache key (:func:`mecbench.cache.source_hash`), and of the definitions pinned by
        :data:`mecbench.benchmarks.builtin.SPEC_HASHES` through :meth:`full_key`. Computing
        this key imports nothing (fast cache look-ups).
        """
        return {"name": self.name, "params": {k: jsonable(v)
                                              for k, v in sorted(self.params.items())}}

    def full_key(self) -> dict[str, Any]:
        """:meth:`key` plus the estimator's class and every parameter, defaults included
        (except an unset array ``backend``: where to compute is not what is computed, see
        :mod:`mecbench.mapping.backend`)."""
        est = self.build()
        params = est.get_params(deep=False) if hasattr(est, "get_params") else dict(self.params)
        if "backend" in params and params["backend"] is None:
            del params["backend"]
        return {**self.key(),
                "class": f"{type(est).__module__}.{type(est).__qualname__}",
                "all_params": {k: jsonable(v) for k, v in sorted(params.items())}}


def parse_mapping(text: str):
    """Parse ``NAME[:KEY=VALUE,...]`` (see the module docstring): a :class:`MappingSpec`, or a
    :class:`~mecbench.benchmarks.similarity.SimilaritySpec` when ``NAME`` is a similarity
    metric of :data:`mecbench.similarity.METRICS` (``cka``, ``rsa-spearman``, ...)."""
    if isinstance(text, (MappingSpec, SimilaritySpec)):
        return text
    name, _, rest = str(text).strip().partition(":")
    name = name.strip()
    if not name:
        raise ConfigError(f"--mapping: empty mapping name in {text!r}")
    params = _parse_params(rest, f"--mapping {text}")
    if is_similarity_name(name):
        return SimilaritySpec(name, params)
    return MappingSpec(name, params)


def parse_splits(text: str | SplitScheme) -> SplitScheme:
    """Parse a split specification (see the module docstring)."""
    if isinstance(text, SplitScheme):
        return text
    kind, _, rest = str(text).strip().partition(":")
    kind = kind.strip()
    if kind not in SPLIT_KINDS:
        raise UnknownIdentifierError("split kind", kind, SPLIT_KINDS)
    params = _parse_params(rest, f"--splits {text}")
    if kind in STRUCTURED_KINDS:
        if params:
            raise ConfigError(f"--splits {text}: structured splits take no parameters")
        return SplitScheme.structured(kind)
    allowed = {"train_frac", "n_splits", "seed"} | ({"block_size"} if kind == "blocked" else set())
    unknown = set(params) - allowed
    if unknown:
        raise ConfigError(f"--splits {text}: unknown parameter(s) {sorted(unknown)}; "
                          f"valid: {sorted(allowed)}")
    if kind == "random":
        return SplitScheme.random(**params)
    return SplitScheme.blocked(**params)


def splits_text(scheme: SplitScheme) -> str:
    """The specification that :func:`parse_splits` turns back into ``scheme``."""
    if scheme.kind in STRUCTURED_KINDS:
        return scheme.kind
    parts = [f"train_frac={scheme.train_frac:g}", f"n_splits={scheme.n_splits}",
             f"seed={scheme.seed}"]
    if scheme.kind == "blocked":
        parts.insert(0, f"block_size={scheme.block_size}")
    return f"{scheme.kind}:" + ",".join(parts)


def parse_ceiling(text: str) -> str:
    """Validate a ceiling method name."""
    text = str(text).strip()
    if text not in CEILING_METHODS:
        raise UnknownIdentifierError("ceiling method", text, CEILING_METHODS)
    return text
