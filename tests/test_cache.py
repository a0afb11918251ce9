"""The result cache: keys cover every input, entries round-trip, writes are atomic."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from mecbench import __version__
from mecbench.cache import (
    KINDS,
    SOURCE_EXCLUDED,
    Cache,
    CachePolicy,
    cache_key,
    canonical_json,
    hash_source_files,
    source_hash,
)
from mecbench.errors import UnknownIdentifierError
from mecbench.ratemaps import make_rate_maps

PARTS = {"model": "m", "fingerprint": "abc", "arena": [1.0, 1.0, 0.05], "layer": "g", "seed": 0}


def _maps(seed=0):
    rng = np.random.default_rng(seed)
    return make_rate_maps(rng.random((4, 4, 3)), arena_width=0.2, bin_size=0.05,
                          neuroid_id=["a", "b", "c"], layer=["g", "g", "g"])


def test_key_is_sha256_of_canonical_document():
    key, doc = cache_key("ratemaps", PARTS)
    assert doc["mecbench_version"] == __version__
    assert doc["source_hash"] == source_hash()
    expected = hashlib.sha256(
        json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert key == expected


@pytest.mark.parametrize("field,value", [("model", "m2"), ("fingerprint", "abd"),
                                         ("arena", [2.2, 2.2, 0.05]), ("layer", "pre_g"),
                                         ("seed", 1)])
def test_every_part_changes_the_key(field, value):
    base, _ = cache_key("ratemaps", PARTS)
    changed, _ = cache_key("ratemaps", {**PARTS, field: value})
    assert changed != base


def test_kind_and_version_change_the_key(monkeypatch):
    base, _ = cache_key("ratemaps", PARTS)
    assert cache_key("score", PARTS)[0] != base
    import mecbench.cache

    monkeypatch.setattr(mecbench.cache, "__version__", "9.9.9")
    assert cache_key("ratemaps", PARTS)[0] != base


def test_key_ignores_dict_order_and_accepts_numpy_scalars():
    a, _ = cache_key("score", {"x": 1, "y": [1, 2]})
    b, _ = cache_key("score", {"y": np.array([1, 2]), "x": np.int64(1)})
    assert a == b
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_source_hash_changes_with_any_source_byte(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    (pkg / "data.txt").write_text("ignored")
    base = hash_source_files([("p", pkg)])
    (pkg / "data.txt").write_text("changed")
    assert hash_source_files([("p", pkg)]) == base
    (pkg / "sub" / "b.py").write_text("y = 3\n")
    assert hash_source_files([("p", pkg)]) != base
    (pkg / "sub" / "b.py").write_text("y = 2\n")
    assert hash_source_files([("p", pkg)]) == base
    (pkg / "sub" / "b.py").rename(pkg / "b.py")  # same bytes, other path
    assert hash_source_files([("p", pkg)]) != base


def test_source_hash_skips_excluded_paths(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "cli").mkdir(parents=True)
    (pkg / "core.py").write_text("x = 1\n")
    (pkg / "cli" / "tool.py").write_text("y = 1\n")
    base = hash_source_files([("p", pkg)], ("p/cli/",))
    (pkg / "cli" / "tool.py").write_text("y = 2\n")
    assert hash_source_files([("p", pkg)], ("p/cli/",)) == base
    (pkg / "core.py").write_text("x = 2\n")
    assert hash_source_files([("p", pkg)], ("p/cli/",)) != base


def test_source_hash_is_this_installation():
    import mecbench

    roots = [("mecbench", Path(mecbench.__file__).parent)] + [
        ("mecbench/models", Path(d))
        for d in importlib.util.find_spec("mecbench.models").submodule_search_locations]
    assert source_hash() == hash_source_files(roots, SOURCE_EXCLUDED)
    assert "mecbench/cli/" in SOURCE_EXCLUDED and "mecbench/predictivity.py" not in SOURCE_EXCLUDED


def test_array_round_trip_and_hit_counts(tmp_path):
    cache = Cache(tmp_path)
    maps = _maps()
    assert cache.get_array("ratemaps", PARTS) is None
    path = cache.put_array("ratemaps", PARTS, maps)
    assert path.is_file() and path.with_suffix(".json").is_file()
    back = cache.get_array("ratemaps", PARTS)
    xr.testing.assert_identical(back.reset_coords(drop=False), maps.reset_coords(drop=False))
    assert back["neuroid_id"].dtype.kind == "U"
    assert cache.hits == 1 and cache.misses == 1
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["layer"] == "g" and sidecar["kind"] == "ratemaps"


def test_other_parts_miss(tmp_path):
    cache = Cache(tmp_path)
    cache.put_array("ratemaps", PARTS, _maps())
    assert cache.get_array("ratemaps", {**PARTS, "seed": 1}) is None


def test_get_or_compute_computes_once(tmp_path):
    cache = Cache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return xr.Dataset({"v": ("i", np.arange(3.0))}, attrs={"flag": True, "d": {"a": 1}})

    first = cache.get_or_compute("score", PARTS, compute)
    second = cache.get_or_compute("score", PARTS, compute)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["v"].values, second["v"].values)
    assert json.loads(second.attrs["d"]) == {"a": 1}


def test_disabled_cache_neither_reads_nor_writes(tmp_path):
    cache = Cache(tmp_path, enabled=False)
    assert cache.put_array("ratemaps", PARTS, _maps()) is None
    assert not any(tmp_path.rglob("*.nc"))
    Cache(tmp_path).put_array("ratemaps", PARTS, _maps())
    assert cache.get_array("ratemaps", PARTS) is None


def test_damaged_entry_is_a_miss_and_gets_rewritten(tmp_path):
    cache = Cache(tmp_path)
    path = cache.put_array("ratemaps", PARTS, _maps())
    path.write_bytes(b"not netcdf")
    assert cache.get_array("ratemaps", PARTS) is None
    cache.put_array("ratemaps", PARTS, _maps())
    assert cache.get_array("ratemaps", PARTS) is not None


def test_failed_write_leaves_no_partial_entry(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    old = cache.put("score", PARTS, xr.Dataset({"v": ("i", np.arange(2.0))}))

    def half_write(self, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", half_write)
    with pytest.raises(OSError, match="disk full"):
        cache.put("score", PARTS, xr.Dataset({"v": ("i", np.arange(5.0))}))
    monkeypatch.undo()
    assert not list(tmp_path.rglob("*.tmp"))
    assert Cache(tmp_path).get("score", PARTS)["v"].size == 2  # the old entry is intact
    assert old.is_file()


def test_info_and_clear(tmp_path):
    cache = Cache(tmp_path)
    cache.put_array("ratemaps", PARTS, _maps())
    cache.put_array("ratemaps", {**PARTS, "seed": 2}, _maps())
    cache.put("score", PARTS, xr.Dataset({"v": ("i", np.arange(2.0))}))
    info = cache.info()
    assert info["kinds"]["ratemaps"]["entries"] == 2
    assert info["kinds"]["score"]["entries"] == 1
    assert info["entries"] == 3 and info["bytes"] > 0
    assert cache.clear("ratemaps") == 2
    assert cache.info()["entries"] == 1
    assert cache.clear() == 1
    assert cache.info()["entries"] == 0
    with pytest.raises(UnknownIdentifierError, match="ratemaps"):
        cache.clear("ratemap")


# policies ------------------------------------------------------------------------------------
CEILING_PARTS = {"what": "ceiling", "benchmark": "b", "data_id": "d"}


def _ceiling(seed=0):
    rng = np.random.default_rng(seed)
    return xr.DataArray(rng.random((5, 2)), dims=("neuroid", "split"), name="ceiling",
                        coords={"neuroid_id": ("neuroid", list("abcde"))},
                        attrs={"ceiling": "inter-animal", "n": 3})


def test_kinds_off_disk_are_neither_read_nor_written(tmp_path):
    Cache(tmp_path).put_array("ratemaps", PARTS, _maps())      # written by a plain cache
    cache = Cache(tmp_path, policy=CachePolicy(on_disk=("ceiling", "score")))
    assert cache.get_array("ratemaps", PARTS) is None
    assert cache.put_array("ratemaps", {**PARTS, "seed": 5}, _maps()) is None
    assert cache.store("ratemaps", {**PARTS, "seed": 6}, lambda tmp: None) is None
    assert cache.info()["kinds"]["ratemaps"]["entries"] == 1
    assert cache.put_array("ceiling", CEILING_PARTS, _ceiling()).is_file()


def test_memory_serves_what_was_put_even_when_disabled(tmp_path):
    cache = Cache(tmp_path, enabled=False, policy=CachePolicy(in_memory=("ceiling",)))
    value = _ceiling()
    assert cache.get_array("ceiling", CEILING_PARTS) is None
    assert cache.put_array("ceiling", CEILING_PARTS, value) is None
    assert not any(tmp_path.rglob("*.nc"))
    back = cache.get_array("ceiling", CEILING_PARTS)
    xr.testing.assert_identical(back, value)
    back.values[:] = -1.0                                     # a copy: the memory is intact
    xr.testing.assert_identical(cache.get_array("ceiling", CEILING_PARTS), value)
    assert cache.get_array("ceiling", {**CEILING_PARTS, "data_id": "e"}) is None
    assert cache.get_array("score", CEILING_PARTS) is None    # other kinds: no memory


def test_memory_remembers_what_was_read_from_disk(tmp_path):
    path = Cache(tmp_path).put_array("ceiling", CEILING_PARTS, _ceiling())
    cache = Cache(tmp_path).with_policy(CachePolicy(in_memory=("ceiling",)))
    first = cache.get_array("ceiling", CEILING_PARTS)
    path.unlink()
    xr.testing.assert_identical(cache.get_array("ceiling", CEILING_PARTS), first)
    assert Cache(tmp_path).get_array("ceiling", CEILING_PARTS) is None


def test_memory_travels_with_a_pickled_cache(tmp_path):
    cache = Cache(tmp_path, enabled=False).with_policy(CachePolicy(in_memory=["ceiling"]))
    cache.put_array("ceiling", CEILING_PARTS, _ceiling())
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.policy == cache.policy and not copy.enabled
    xr.testing.assert_identical(copy.get_array("ceiling", CEILING_PARTS), _ceiling())


def test_with_policy_keeps_directory_and_switch_and_starts_empty(tmp_path):
    base = Cache(tmp_path, enabled=False, policy=CachePolicy(in_memory=("ceiling",)))
    base.put_array("ceiling", CEILING_PARTS, _ceiling())
    other = base.with_policy(CachePolicy(in_memory=("ceiling",)))
    assert other.root == base.root and other.enabled is False
    assert other.get_array("ceiling", CEILING_PARTS) is None
    assert base.policy == CachePolicy(on_disk=set(KINDS), in_memory=["ceiling"])
    assert Cache(tmp_path).policy == CachePolicy(on_disk=KINDS, in_memory=())
    assert "policy=" in repr(other) and "policy=" not in repr(Cache(tmp_path))


def test_policy_names_an_unknown_kind(tmp_path):
    with pytest.raises(UnknownIdentifierError, match="CachePolicy.in_memory.*'ceilings'"):
        CachePolicy(in_memory=("ceilings",))
    with pytest.raises(UnknownIdentifierError, match="CachePolicy.on_disk"):
        CachePolicy(on_disk="rate maps")
    with pytest.raises(TypeError, match="CachePolicy"):
        Cache(tmp_path, policy={"on_disk": ()})
