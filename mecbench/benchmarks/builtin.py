"""The built-in benchmarks, declared as ``mecbench.benchmarks`` entry points in pyproject.toml.

Identifiers are ``<dataset>.<mapping>[-<splits>]``:

==================================  =========================================================
mapping part                        mapping (:func:`mecbench.mapping.get_mapping`)
==================================  =========================================================
``ridge``                           ``ridge``, alpha = 1 (Nayebi et al. 2021's ``sklinear``
                                    default ``Ridge(alpha=1)``)
``ridgecv``                         ``ridgecv`` with its default alpha grid, one alpha per cell
``pls``                             ``pls``, 25 components (the reference workload), no scaling
``enet``                            ``enet`` with per-cell (alpha, l1_ratio) from its CV over
                                    the reference's short grids on the training bins of each
                                    split (:mod:`mecbench.mapping.enet_cv`), the most
                                    regularised candidate among those whose certified
                                    validation error ties with the best (stable against
                                    solver noise), refitted to a duality gap of 1e-12 (the
                                    same predictions on any CPU); slow: 10-40 CPU-minutes
                                    per layer of 256 units on mec-sim
``one-to-one``                      ``one-to-one``: best-correlated model unit per cell
``cka``                             similarity ``cka``: linear CKA (biased HSIC) per animal
``rsa``                             similarity ``rsa-whitened-cosine``: whitened cosine of
                                    correlation-distance RDMs over bins, per animal
``shape``                           similarity ``shape-procrustes``: angular Procrustes shape
                                    distance (PCA to a common dimension), per animal
``soft-match``                      similarity ``soft-matching``: soft matching distance
                                    (optimal transport between units and cells), per animal
==================================  =========================================================

The similarity benchmarks (:mod:`mecbench.benchmarks.similarity`) score one value per
(arena, animal) on the metric's common similarity scale (1 = identical), cross-validated on
the same splits, with an inter-animal holdout ceiling computed with the same metric; they
exist on ``mec-sim`` only (``sargolini2006``'s pool rule replaces the inter-animal ceiling by
a split-half one, and with 1-5 cells per rat a population metric per animal is not
meaningful).

=================  ==============================================================================
splits part        split scheme (:class:`mecbench.splits.SplitScheme`)
=================  ==============================================================================
(none)             random bins: train on 20 %, test on 80 %, 10 splits, seeds 0..9 (reference)
``-blocked``       4 × 4-bin (20 cm) blocks, 20 % of blocks train, 10 splits, seeds 0..9
``-leftright``     the grid cut in two halves along y; two splits (each half trains once)
=================  ==============================================================================

``sargolini2006`` has no ``pls`` benchmark: its holdout sources can hold as few as two cells
(the shared sample has 10 cells in 3 rats), too few for 25 components.

Every benchmark uses the inter-animal ``holdout`` ceiling (same mapping and splits) and pools
cells over all arenas of its dataset (see :mod:`mecbench.benchmarks.base`). The pool rule
applies to all of them: an inter-animal ceiling whose smallest source pool is below
:data:`mecbench.ceiling.MIN_SOURCE_CELLS` cells is replaced by the split-half ceiling (or kept
and flagged unreliable without halves). It is part of the definition of the datasets whose
pools can fall below it (:data:`CEILING_RULES`: ``sargolini2006``, whose shared sample has
2-9 source cells per target and so uses the split-half ceiling); mec-sim's pools (500 cells)
never do, so its definitions and ceilings are unchanged.

Versions: :data:`VERSIONS` holds each benchmark's version and :data:`SPEC_HASHES` the hash of its
definition; the test suite fails when a definition changes without a version bump.
"""

from __future__ import annotations

import hashlib
import json

from mecbench import registry
from mecbench.benchmarks.base import Benchmark
from mecbench.benchmarks.similarity import SimilaritySpec
from mecbench.benchmarks.specs import MappingSpec, splits_text
from mecbench.ceiling import MIN_SOURCE_CELLS
from mecbench.errors import UnknownIdentifierError
from mecbench.splits import SplitScheme

__all__ = ["MAPPINGS", "SPLITS", "VERSIONS", "SIMILARITY_BENCHMARKS", "DATASETS",
           "CEILING_RULES", "definition", "build", "spec_hash"]

MAPPINGS: dict[str, MappingSpec | SimilaritySpec] = {
    "ridge": MappingSpec("ridge", {"alpha": 1.0}),
    "ridgecv": MappingSpec("ridgecv"),
    "pls": MappingSpec("pls", {"n_components": 25}),
    "enet": MappingSpec("enet-cv"),
    "one-to-one": MappingSpec("one-to-one"),
    "cka": SimilaritySpec("cka"),
    "rsa": SimilaritySpec("rsa-whitened-cosine"),
    "shape": SimilaritySpec("shape-procrustes"),
    "soft-match": SimilaritySpec("soft-matching"),
}

#: The similarity benchmarks (one value per animal), all on mec-sim.
SIMILARITY_BENCHMARKS = ("mec-sim.cka", "mec-sim.rsa", "mec-sim.shape", "mec-sim.soft-match")

SPLITS: dict[str, SplitScheme] = {
    "": SplitScheme.random(train_frac=0.2, n_splits=10, seed=0),
    "blocked": SplitScheme.blocked(block_size=4, train_frac=0.2, n_splits=10, seed=0),
    "leftright": SplitScheme.structured("leftright"),
}

#: dataset id -> (registry dataset name, keyword arguments of its loader, description)
DATASETS: dict[str, tuple[str, dict, str]] = {
    "mec-sim": ("mec-sim", {"seed": 0},
                "simulated MEC, 6 animals, 1 m and 2.2 m arenas"),
    "sargolini2006": ("sargolini2006", {},
                      "Sargolini et al. 2006 recordings (needs --data-dir or MECBENCH_DATA)"),
}

#: Current version of each built-in benchmark. Every mec-sim benchmark is at version 2 or
#: more: mec-sim's data version 2 (rates in float64, the same data on every CPU) changed the
#: data of all of them.
VERSIONS: dict[str, int] = {
    "mec-sim.ridge": 2,
    "mec-sim.ridgecv": 2,
    "mec-sim.pls": 2,
    "mec-sim.enet": 5,
    "mec-sim.one-to-one": 2,
    "mec-sim.ridge-blocked": 2,
    "mec-sim.ridge-leftright": 2,
    "mec-sim.cka": 1,
    "mec-sim.rsa": 1,
    "mec-sim.shape": 1,
    "mec-sim.soft-match": 1,
    "sargolini2006.ridge": 2,
    "sargolini2006.ridgecv": 2,
    "sargolini2006.enet": 4,
    "sargolini2006.one-to-one": 2,
}

#: Hash of each definition at its current version (see :func:`spec_hash`).
SPEC_HASHES: dict[str, str] = {
    "mec-sim.ridge": "820f19f51a9cdce4",
    "mec-sim.ridgecv": "7a40c496e50efeaa",
    "mec-sim.pls": "91f1c379b6e0ce17",
    "mec-sim.enet": "915b62a95f9fd0ce",
    "mec-sim.one-to-one": "77923bd27328db02",
    "mec-sim.ridge-blocked": "bc3fa3990011d7f4",
    "mec-sim.ridge-leftright": "82861c8bfeebe1cb",
    "mec-sim.cka": "c14b17d5337dfc3b",
    "mec-sim.rsa": "e80e50acfb0b7ca1",
    "mec-sim.shape": "c4ffc6cc38761b71",
    "mec-sim.soft-match": "de3cb02d3e47b8ca",
    "sargolini2006.ridge": "081efdecc91eeecd",
    "sargolini2006.ridgecv": "43234ef8c91c31d4",
    "sargolini2006.enet": "01b1dfad41a4e646",
    "sargolini2006.one-to-one": "c0d688cba6aba991",
}

CEILING = "holdout"

#: Datasets whose definition includes the ceiling's pool rule (see the module docstring).
CEILING_RULES: dict[str, dict] = {"sargolini2006": {"min_source_cells": MIN_SOURCE_CELLS}}


def _split_identifier(identifier: str) -> tuple[str, str, str]:
    dataset, _, rest = identifier.partition(".")
    for suffix in sorted((s for s in SPLITS if s), key=len, reverse=True):
        if rest.endswith("-" + suffix) and rest[: -len(suffix) - 1] in MAPPINGS:
            return dataset, rest[: -len(suffix) - 1], suffix
    return dataset, rest, ""


def definition(identifier: str) -> dict:
    """The definition of a built-in benchmark as plain data (what its version covers): the
    dataset and its loader arguments, the mapping with every parameter (defaults included),
    the splits and the ceiling. The data's content is checked separately: every score and
    leaderboard entry records its hash, and ``mecbench leaderboard verify`` reports entries
    whose data changed."""
    if identifier not in VERSIONS:
        raise UnknownIdentifierError("benchmark", identifier, VERSIONS)
    dataset, mapping, splits = _split_identifier(identifier)
    name, kwargs, _ = DATASETS[dataset]
    out = {"dataset": name, "dataset_kwargs": kwargs, "mapping": MAPPINGS[mapping].full_key(),
           "splits": splits_text(SPLITS[splits]), "ceiling": CEILING}
    if dataset in CEILING_RULES:
        out["ceiling_rule"] = dict(CEILING_RULES[dataset])
    return out


def spec_hash(identifier: str) -> str:
    """SHA-256 (16 hex digits) of :func:`definition`."""
    text = json.dumps(definition(identifier), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _description(identifier: str) -> str:
    """First line of the docstring of ``identifier``'s factory (``mec-sim.one-to-one`` →
    :func:`mec_sim_one_to_one`), the text ``mecbench benchmarks`` shows."""
    factory = globals()[identifier.replace(".", "_").replace("-", "_")]
    return factory.__doc__.strip().splitlines()[0]


def build(identifier: str) -> Benchmark:
    """Build the built-in benchmark ``identifier``."""
    if identifier not in VERSIONS:
        raise UnknownIdentifierError("benchmark", identifier, VERSIONS)
    dataset, mapping, splits = _split_identifier(identifier)
    name, kwargs, _ = DATASETS[dataset]
    return Benchmark(
        identifier,
        VERSIONS[identifier],
        lambda: registry.load("dataset", name, **kwargs),
        MAPPINGS[mapping],
        SPLITS[splits],
        ceiling=CEILING,
        min_source_cells=CEILING_RULES.get(dataset, {}).get("min_source_cells"),
        description=_description(identifier),
        dataset=name,
    )


# One factory per entry point: its docstring is the benchmark's description in
# `mecbench benchmarks`, which reads it from this source without importing the module.
def mec_sim_ridge() -> Benchmark:
    """mec-sim; ridge (alpha=1); 10 random splits, 20 % train; inter-animal holdout ceiling."""
    return build("mec-sim.ridge")


def mec_sim_ridgecv() -> Benchmark:
    """mec-sim; ridge with a per-cell alpha (RidgeCV); 10 random splits; holdout ceiling."""
    return build("mec-sim.ridgecv")


def mec_sim_pls() -> Benchmark:
    """mec-sim; PLS with 25 components; 10 random splits, 20 % train; holdout ceiling."""
    return build("mec-sim.pls")


def mec_sim_enet() -> Benchmark:
    """mec-sim; per-cell elastic net (CV on the training bins; slow); 10 random splits."""
    return build("mec-sim.enet")


def mec_sim_one_to_one() -> Benchmark:
    """mec-sim; one-to-one (best single model unit per cell); 10 random splits; holdout."""
    return build("mec-sim.one-to-one")


def mec_sim_ridge_blocked() -> Benchmark:
    """mec-sim; ridge (alpha=1); 10 spatially blocked splits (20 cm blocks); holdout ceiling."""
    return build("mec-sim.ridge-blocked")


def mec_sim_ridge_leftright() -> Benchmark:
    """mec-sim; ridge (alpha=1); left/right half splits; inter-animal holdout ceiling."""
    return build("mec-sim.ridge-leftright")


def mec_sim_cka() -> Benchmark:
    """mec-sim; linear CKA per animal on held-out bins; 10 random splits; holdout ceiling."""
    return build("mec-sim.cka")


def mec_sim_rsa() -> Benchmark:
    """mec-sim; RSA (whitened cosine of RDMs) per animal; 10 random splits; holdout ceiling."""
    return build("mec-sim.rsa")


def mec_sim_shape() -> Benchmark:
    """mec-sim; Procrustes shape similarity per animal; 10 random splits; holdout ceiling."""
    return build("mec-sim.shape")


def mec_sim_soft_match() -> Benchmark:
    """mec-sim; soft matching (optimal transport) per animal; 10 random splits; holdout."""
    return build("mec-sim.soft-match")


def sargolini2006_ridge() -> Benchmark:
    """Sargolini 2006 (--data-dir or MECBENCH_DATA); ridge (alpha=1); 10 random splits."""
    return build("sargolini2006.ridge")


def sargolini2006_ridgecv() -> Benchmark:
    """Sargolini 2006 (--data-dir or MECBENCH_DATA); RidgeCV; 10 random splits."""
    return build("sargolini2006.ridgecv")


def sargolini2006_enet() -> Benchmark:
    """Sargolini 2006 (--data-dir or MECBENCH_DATA); per-cell elastic net (slow); 10 splits."""
    return build("sargolini2006.enet")


def sargolini2006_one_to_one() -> Benchmark:
    """Sargolini 2006 (--data-dir or MECBENCH_DATA); one-to-one; 10 random splits."""
    return build("sargolini2006.one-to-one")
