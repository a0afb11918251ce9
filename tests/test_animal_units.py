"""Work units per animal: the elastic nets, whose per-animal fits share no work, run one unit
per (layer, arena, animal) and per ceiling target animal when units run in parallel; the joined
result is the one a single unit gives, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from benchkit import load_plugin, make_neural_data

from mecbench import registry
from mecbench.benchmarks import Benchmark
from mecbench.benchmarks.specs import parse_mapping
from mecbench.cache import Cache
from mecbench.ceiling import interanimal_consistency
from mecbench.errors import DataError, UnknownIdentifierError
from mecbench.mapping import get_mapping
from mecbench.parallel import ParallelConfig
from mecbench.predictivity import merge_neuroid_parts, score_rate_maps
from mecbench.ratemaps import Arena
from mecbench.splits import SplitScheme

# ten splits: a reduction over splits that depends on the memory layout shows
SPLITS = SplitScheme.random(train_frac=0.5, n_splits=10, seed=0)


@pytest.fixture(scope="module")
def data():
    return make_neural_data(n_animals=3, n_cells=8)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    load_plugin(tmp_path_factory.mktemp("plugin"))
    return registry.load("model", "toy-fourier")


def _bench(data, mapping: str) -> Benchmark:
    return Benchmark("toy.m", 0, data, parse_mapping(mapping), SPLITS, ceiling="holdout",
                     n_boot=100, min_source_cells=0)


@pytest.mark.parametrize(("mapping", "apart"), [
    ("enet:alpha=0.1", True), ("lasso:alpha=0.1", True), ("enet-cv", True),
    ("pls:n_components=2", False), ("ridgecv", False), ("ridge:alpha=1.0", False),
    ("one-to-one", False)])
def test_which_mappings_fit_animals_apart(data, mapping, apart):
    bench = _bench(data, mapping)
    assert bench.mapping.fits_animals_apart is apart
    units = bench._unit_animals(ParallelConfig(jobs=2, backend="threading"))
    expected = {a: (data.animals(a) if apart else [None]) for a in data.arena_names}
    assert units == expected
    # serial runs keep one unit per arena
    assert bench._unit_animals(None) == {a: [None] for a in data.arena_names}


@pytest.mark.parametrize("mapping", ["lasso:alpha=0.05", "enet:alpha=0.1,l1_ratio=0.5"])
def test_animal_units_give_the_serial_numbers_bit_for_bit(data, toy, mapping):
    serial = _bench(data, mapping).score_layers(toy, ["low", "high"], cache=Cache(enabled=False))
    split = _bench(data, mapping).score_layers(
        toy, ["low", "high"], cache=Cache(enabled=False),
        parallel=ParallelConfig(jobs=3, backend="threading"))
    for layer in serial:
        xr.testing.assert_identical(serial[layer].dataset, split[layer].dataset)
        assert serial[layer].dataset.attrs == split[layer].dataset.attrs


def test_ceiling_by_target_animal_equals_the_whole(data):
    rate = data.rate(data.arena_names[0])
    mapping = get_mapping("pls", n_components=2)
    whole = interanimal_consistency(rate, mapping, SPLITS)
    animals = rate["animal"].values.astype(str)
    parts = [interanimal_consistency(rate, mapping, SPLITS, targets=[a])
             for a in sorted(set(animals))]
    for part, a in zip(parts, sorted(set(animals)), strict=True):
        xr.testing.assert_identical(part, whole.isel(neuroid=np.flatnonzero(animals == a)))
    merged = merge_neuroid_parts(parts[::-1], rate)  # any order of parts
    xr.testing.assert_identical(merged, whole)
    assert merged.attrs == whole.attrs
    with pytest.raises(UnknownIdentifierError, match="target animal"):
        interanimal_consistency(rate, mapping, SPLITS, targets=["nobody"])


def test_merge_refuses_parts_that_do_not_cover_the_cells_once(data, toy):
    arena = data.arena_names[0]
    rate = data.rate(arena)
    maps = toy.rate_maps(Arena.of(rate), "low")
    animals = rate["animal"].values.astype(str)
    parts = [score_rate_maps(maps, rate.isel(neuroid=np.flatnonzero(animals == a)),
                             get_mapping("pls", n_components=2), SPLITS)
             for a in sorted(set(animals))]
    whole = score_rate_maps(maps, rate, get_mapping("pls", n_components=2), SPLITS)
    xr.testing.assert_identical(merge_neuroid_parts(parts, rate), whole)
    with pytest.raises(DataError, match="expected each of the"):
        merge_neuroid_parts(parts[:-1], rate)
    with pytest.raises(DataError, match="expected each of the"):
        merge_neuroid_parts([*parts, parts[0]], rate)
    odd = parts[1].copy()
    odd.attrs["splits"] = "other"
    with pytest.raises(DataError, match="disagree on 'splits'"):
        merge_neuroid_parts([parts[0], odd, *parts[2:]], rate)
