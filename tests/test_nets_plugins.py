"""Built-in network plugins: shipped checkpoints and untrained/<arch> networks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mecbench import registry
from mecbench.errors import ModelError, UnknownIdentifierError
from mecbench.nets import load_network
from mecbench.nets.checkpoint import read_config, weights_fingerprint
from mecbench.nets.zoo import checkpoint_provider, parse_untrained_name, untrained_config
from mecbench.ratemaps import Arena

MODELS = Path(__file__).resolve().parents[1] / "models"
SHIPPED = {"rnn-relu-dos": "pathint", "rnn-relu-cartesian": "pathint",
           "rnn-relu-gaussian": "pathint", "ugrnn-relu-dos": "pathint", "lstm-dos": "pathint",
           "ssl-grid": "ssl_grid"}
SMALL = dict(n_batches=3, batch_size=100, n_steps=10)
ARENA = Arena(0.5, 0.5, 0.05)


def test_names_are_registered():
    names = set(registry.names("model"))
    assert set(SHIPPED) <= names
    assert {"untrained/*", "untrained/rnn-relu", "untrained/ugrnn", "untrained/lstm",
            "untrained/gru", "untrained/ssl-grid"} <= names
    for name in SHIPPED:
        assert registry.describe("model", name)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_checkpoint(name):
    directory = MODELS / SHIPPED[name] / name
    model = load_network(directory)
    provider = registry.load("model", name, **SMALL)
    assert provider.identifier == name
    assert provider.default_layer == "g" and "g" in provider.layers
    assert provider.fingerprint() == registry.load("model", name, **SMALL).fingerprint()
    maps = provider.rate_maps(ARENA, "g", seed=1)
    assert maps.sizes["x"] == 10 and np.isfinite(maps.values).all()
    units = model.config.n_units if model.config.arch == "ssl" else model.config.n_hidden
    assert maps.sizes["neuroid"] == units
    # the README records how the checkpoint was made and what mecbench measured
    readme = (directory / "README.md").read_text()
    assert f"mecbench train {name}" in readme
    for field in ("seed", "steps", "wall time", "decoding error", "grid score > 0.3"):
        assert field in readme.lower(), field
    assert re.search(weights_fingerprint(directory)[:16], readme)


def test_shipped_checkpoints_fit_the_size_budget():
    total = sum(p.stat().st_size for p in MODELS.rglob("*.safetensors"))
    assert total <= 20 * 2**20, total


def test_untrained_networks_from_a_seed():
    a = registry.load("model", "untrained/rnn-relu-n16-seed2", **SMALL)
    assert a.identifier == "untrained/rnn-relu-n16-seed2" and a.layers == ("g", "dc")
    b = registry.load("model", "untrained/rnn-relu", n_units=16, seed=2, **SMALL)
    c = registry.load("model", "untrained/rnn-relu", n_units=16, seed=3, **SMALL)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    ma, mb = a.rate_maps(ARENA, "g"), b.rate_maps(ARENA, "g")
    assert ma.sizes["neuroid"] == 16 and np.array_equal(ma.values, mb.values)
    # the interface the controls family uses: factory(arch, n_units=, seed=)
    factory, args = registry.get_factory("model", "untrained/gru")
    p = factory(*args, n_units=8, seed=1, **SMALL)
    assert p.layers == ("pre_g", "g", "dc")
    assert p.rate_maps(ARENA, "pre_g").sizes["neuroid"] == 8
    ssl = registry.load("model", "untrained/ssl-grid-n12", **SMALL)
    assert ssl.rate_maps(ARENA, "g").sizes["neuroid"] == 12


def test_untrained_copies_the_trained_configuration():
    for arch, trained in (("rnn-relu", "rnn-relu-dos"), ("lstm", "lstm-dos"),
                          ("ssl-grid", "ssl-grid")):
        shipped = read_config(MODELS / SHIPPED[trained] / trained)
        assert untrained_config(arch, seed=5) == shipped.replace(seed=5)
    net = registry.load("model", "untrained/lstm-seed1").module
    trained = load_network(MODELS / "pathint" / "lstm-dos")
    assert not torch.equal(net.w_rec, trained.w_rec)


def test_untrained_names():
    assert parse_untrained_name("rnn-relu") == ("rnn-relu", None, 0)
    assert parse_untrained_name("ssl-grid-n64-seed12") == ("ssl-grid", 64, 12)
    with pytest.raises(UnknownIdentifierError) as info:
        registry.load("model", "untrained/rnn-reluu")
    assert "rnn-relu" in str(info.value)


def test_missing_checkpoint_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="mecbench train my-net"):
        checkpoint_provider(tmp_path, "my-net")
