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
