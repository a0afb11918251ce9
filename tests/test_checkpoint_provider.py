"""The checkpoint provider knows its identity without building its network (nor importing
torch), and that identity is the one of a NetworkProvider over the loaded network."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mecbench import registry
from mecbench.errors import ModelError
from mecbench.nets import zoo
from mecbench.nets.checkpoint import build_network, load_network, save_network, weights_fingerprint
from mecbench.providers import NetworkProvider
from mecbench.providers.network import DT
from mecbench.trajectories import DT as TRAJECTORY_DT

MODELS = Path(__file__).resolve().parents[1] / "models"
SHIPPED = {p.parent.name: p.parent for p in MODELS.glob("*/*/config.json")}
BOARD = Path(__file__).resolve().parents[1] / "leaderboards"
SMALL = {"n_batches": 2, "batch_size": 50, "n_steps": 10, "unvisited": "nearest"}


def eager(directory: Path, identifier: str, **kwargs) -> NetworkProvider:
    """What the checkpoint provider stands for: the loaded network, hashed by its files."""
    return NetworkProvider(load_network(directory), identifier,
                           weights_fingerprint=weights_fingerprint(directory), **kwargs)


def test_default_time_step_is_the_trajectories_one():
    assert DT == TRAJECTORY_DT


def test_every_shipped_checkpoint_is_found_on_the_shipped_board():
    hashes = {}
    for board in BOARD.glob("*.jsonl"):
        for line in board.read_text().splitlines():
            entry = json.loads(line)
            hashes.setdefault(entry["model"], set()).add(entry["weights_hash"])
    assert set(SHIPPED) <= set(hashes)
    for name in SHIPPED:
        # the board's entries were scored with the default protocol: the same cache keys
        assert hashes[name] == {registry.load("model", name).fingerprint()}, name


@pytest.mark.parametrize("name", sorted(SHIPPED))
@pytest.mark.parametrize("kwargs", [{}, {**SMALL, "periodic": True, "dt": 0.01}],
                         ids=["default", "custom"])
def test_shipped_checkpoint_identity_is_the_loaded_networks(name, kwargs):
    lazy = zoo.checkpoint_provider(SHIPPED[name], name, **kwargs)
    assert lazy._module is None               # nothing built yet
    ref = eager(SHIPPED[name], name, **kwargs)
    assert (lazy.identifier, lazy.layers, lazy.default_layer, lazy.n_positions) == \
        (ref.identifier, ref.layers, ref.default_layer, ref.n_positions)
    assert lazy.fingerprint() == ref.fingerprint()
    assert lazy._module is None


@pytest.mark.parametrize("arch", sorted(zoo.UNTRAINED_ARCHS))
def test_every_architecture_builds_as_announced(arch, tmp_path):
    config = zoo.untrained_config(arch, seed=2, n_units=16 if arch == "ssl-grid" else 24)
    directory = save_network(build_network(config), tmp_path / arch)
    lazy = zoo.checkpoint_provider(directory, arch, **SMALL)
    ref = eager(directory, arch, **SMALL)
    assert (lazy.layers, lazy.default_layer, lazy.fingerprint()) == \
        (ref.layers, ref.default_layer, ref.fingerprint())
    assert zoo.network_layout(config)[0] == type(ref.module).__qualname__
    for layer in lazy.layers:
        maps = lazy.rate_maps("1x1m", layer, seed=4)
        assert np.array_equal(maps.values, ref.rate_maps("1x1m", layer, seed=4).values)
    assert type(lazy.module) is type(ref.module) and not lazy.module.training
    assert lazy.fingerprint() == ref.fingerprint()   # building the network changes nothing


def test_a_pickled_provider_computes_the_same_maps(tmp_path):
    directory = save_network(build_network(zoo.untrained_config("rnn-relu", n_units=12)),
                             tmp_path / "net")
    lazy = zoo.checkpoint_provider(directory, "net", **SMALL)
    copy = pickle.loads(pickle.dumps(lazy))
    assert copy.fingerprint() == lazy.fingerprint()
    assert np.array_equal(copy.rate_maps(1.0, "g").values, lazy.rate_maps(1.0, "g").values)


def test_a_checkpoint_changed_after_loading_is_not_run(tmp_path):
    directory = save_network(build_network(zoo.untrained_config("rnn-relu", n_units=12)),
                             tmp_path / "net")
    lazy = zoo.checkpoint_provider(directory, "my-net", **SMALL)
    save_network(build_network(zoo.untrained_config("rnn-relu", n_units=12, seed=1)), directory)
    with pytest.raises(ModelError, match="'my-net'.*changed"):
        lazy.rate_maps(1.0, "g")


def test_a_wrong_layout_is_caught_when_the_network_is_built(tmp_path, monkeypatch):
    directory = save_network(build_network(zoo.untrained_config("ugrnn", n_units=12)),
                             tmp_path / "net")
    monkeypatch.setattr(zoo, "network_layout", lambda config: ("PathIntegrator", ("g", "dc"), "g"))
    lazy = zoo.checkpoint_provider(directory, "my-net", **SMALL)
    with pytest.raises(ModelError, match=r"layers \('pre_g', 'g', 'dc'\).*network_layout"):
        lazy.rate_maps(1.0, "g")


def test_making_a_checkpoint_provider_imports_no_torch(tmp_path):
    probe = ("import sys; from mecbench import registry; p = registry.load('model', "
             "'rnn-relu-dos'); p.fingerprint(); p.layers; p.default_layer; "
             "print(sorted(m for m in ('torch', 'safetensors.torch') if m in sys.modules))")
    # outside the source folder: the installed mecbench holds the model plugins
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


UNTRAINED_SMALL = {"rnn-relu": 12, "rnn-tanh": 12, "ugrnn": 12, "lstm": 12, "gru": 12,
                   "ssl-grid": 16}


@pytest.mark.parametrize("arch", sorted(zoo.UNTRAINED_ARCHS))
def test_an_untrained_provider_is_the_eager_network_built_late(arch, tmp_path, monkeypatch):
    monkeypatch.setenv("MECBENCH_CACHE_DIR", str(tmp_path))
    units = UNTRAINED_SMALL[arch]
    lazy = zoo.untrained_provider(f"{arch}-n{units}-seed3", **SMALL)
    ref = NetworkProvider(zoo.untrained_network(arch, seed=3, n_units=units),
                          f"untrained/{arch}-n{units}-seed3", **SMALL)
    assert (lazy.identifier, lazy.layers, lazy.default_layer) == \
        (ref.identifier, ref.layers, ref.default_layer)
    assert lazy._module is None
    assert lazy.fingerprint() == ref.fingerprint()        # computed: builds the network
    again = zoo.untrained_provider(f"{arch}-n{units}-seed3", **SMALL)
    assert again.fingerprint() == ref.fingerprint()       # memoised: builds nothing
    assert again._module is None
    layer = lazy.default_layer
    assert np.array_equal(again.rate_maps(1.0, layer, seed=1).values,
                          ref.rate_maps(1.0, layer, seed=1).values)


def test_every_untrained_model_on_the_board_keeps_its_board_fingerprint(tmp_path, monkeypatch):
    monkeypatch.setenv("MECBENCH_CACHE_DIR", str(tmp_path))
    hashes: dict[str, set[str]] = {}
    for board in BOARD.glob("*.jsonl"):
        for line in board.read_text().splitlines():
            entry = json.loads(line)
            if entry["model"].startswith("untrained/"):
                hashes.setdefault(entry["model"], set()).add(entry["weights_hash"])
    assert {f"untrained/{arch}" for arch in zoo.UNTRAINED_ARCHS} <= set(hashes)
    for name, board_hashes in sorted(hashes.items()):
        fresh = registry.load("model", name).fingerprint()       # weights built and hashed
        assert board_hashes == {fresh}, name
        assert registry.load("model", name).fingerprint() == fresh   # from the memo


def test_the_fingerprint_memo_ignores_a_bad_entry_and_other_torch_versions(tmp_path,
                                                                           monkeypatch):
    from mecbench.nets import fingerprint_memo

    monkeypatch.setenv("MECBENCH_CACHE_DIR", str(tmp_path))
    truth = zoo.untrained_provider("rnn-relu-n12", **SMALL).fingerprint()
    doc = zoo.untrained_provider("rnn-relu-n12", **SMALL).identity_document()
    (entry,) = (tmp_path / "fingerprints").glob("*.txt")
    assert entry.name == f"{fingerprint_memo.memo_key(doc)}.txt"
    entry.write_text("not a fingerprint\n")
    assert zoo.untrained_provider("rnn-relu-n12", **SMALL).fingerprint() == truth
    assert entry.read_text().strip() == truth                   # rewritten
    calls = []
    monkeypatch.setattr(fingerprint_memo, "_torch_version", lambda: "0.0.0")
    assert fingerprint_memo.memoised_fingerprint(doc, lambda: calls.append(1) or truth) == truth
    assert calls == [1]                                         # another key: recomputed
    other = zoo.untrained_provider("rnn-relu-n12-seed1", **SMALL)
    assert fingerprint_memo.memo_key(other.identity_document()) != \
        fingerprint_memo.memo_key(doc)


def test_an_unwritable_cache_only_costs_the_recomputation(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MECBENCH_CACHE_DIR", str(blocker / "cache"))   # cannot be created
    lazy = zoo.untrained_provider("rnn-relu-n12", **SMALL)
    ref = NetworkProvider(zoo.untrained_network("rnn-relu", n_units=12), "untrained/rnn-relu-n12",
                          **SMALL)
    assert lazy.fingerprint() == ref.fingerprint()
