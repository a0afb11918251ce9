"""Networks of the model zoo: readout codes, cell equations, configs and checkpoints.

References are independent: numpy re-implementations of the published formulas, PyTorch's own
LSTMCell/GRUCell, explicit loops over pairs, and ground-truth positions.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from mecbench.errors import ConfigError, ModelError, UnknownIdentifierError
from mecbench.nets import (
    PathIntegrator,
    PathIntegratorConfig,
    SSLGridConfig,
    SSLGridNet,
    build_network,
    config_from_dict,
    config_from_json,
    load_network,
    save_network,
)
from mecbench.nets.checkpoint import CONFIG_FILE, WEIGHTS_FILE
from mecbench.nets.readouts import (
    CartesianReadout,
    DoSPlaceCells,
    GaussianPlaceCells,
    MultiFieldPlaceCells,
    PolarReadout,
)
from mecbench.nets.ssl import nearest_neighbour_error, ssl_batch, ssl_losses

RNG = np.random.default_rng(7)


def _positions(n: int, half: float = 1.1) -> torch.Tensor:
    return torch.tensor(RNG.uniform(-half, half, size=(n, 2)), dtype=torch.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


# -- place-cell codes ---------------------------------------------------------------------------

def test_dos_code_matches_formula_and_is_a_distribution():
    gen = torch.Generator().manual_seed(3)
    pc = DoSPlaceCells(64, 0.12, 2.2, 2.2, surround_scale=2.0, generator=gen)
    pos = _positions(50)
    code = pc.targets(pos).double().numpy()
    c = pc.centres.double().numpy()
    d2 = ((pos.double().numpy()[:, None, :] - c[None]) ** 2).sum(-1)
    sigma = 0.12
    # Sorscher et al.: surround variance = s * sigma^2 (s = 2)
    ref = _softmax(-d2 / (2 * sigma**2)) - _softmax(-d2 / (2 * 2.0 * sigma**2))
    ref = ref - ref.min(-1, keepdims=True)
    ref = ref / ref.sum(-1, keepdims=True)
    np.testing.assert_allclose(code, ref, atol=2e-6)
    assert (code >= 0).all()
    np.testing.assert_allclose(code.sum(-1), 1.0, atol=1e-5)
    # the No-Free-Lunch convention (surround std s*sigma) gives a different code
    nfl = _softmax(-d2 / (2 * sigma**2)) - _softmax(-d2 / (2 * (2.0 * sigma) ** 2))
    nfl = nfl - nfl.min(-1, keepdims=True)
    nfl = nfl / nfl.sum(-1, keepdims=True)
    assert np.abs(code - nfl).max() > 1e-3


@pytest.mark.parametrize("kind", ["gaussian", "multifield"])
def test_place_codes_are_distributions(kind):
    gen = torch.Generator().manual_seed(5)
    if kind == "gaussian":
        pc = GaussianPlaceCells(80, 0.12, 1.0, 1.5, generator=gen)
    else:
        pc = MultiFieldPlaceCells(80, 1.0, 1.5, mean_fields=3.0, generator=gen)
    pos = torch.stack([_positions(40, 0.5)[:, 0], _positions(40, 0.75)[:, 1]], 1)
    code = pc.targets(pos).double().numpy()
    assert (code >= 0).all()
    np.testing.assert_allclose(code.sum(-1), 1.0, atol=1e-5)


def test_multifield_code_is_normalised_sum_of_gaussian_fields():
    gen = torch.Generator().manual_seed(11)
    pc = MultiFieldPlaceCells(30, 2.0, 2.0, mean_fields=3.0, sigma_range=(0.1, 0.3),
                              generator=gen)
    counts = pc.field_mask.sum(1).numpy()
    assert counts.min() >= 1 and counts.max() > 1  # heterogeneous numbers of fields
    sig = pc.field_sigmas.numpy()[pc.field_mask.numpy()]
    assert sig.min() >= 0.1 - 1e-6 and sig.max() <= 0.3 + 1e-6 and sig.std() > 0.01
    pos = _positions(10, 1.0).double().numpy()
    act = np.zeros((10, 30))
    for i in range(30):  # explicit loop over cells and their fields
        for f in range(int(counts[i])):
            c = pc.field_centres[i, f].double().numpy()
            s = float(pc.field_sigmas[i, f])
            act[:, i] += np.exp(-((pos - c) ** 2).sum(-1) / (2 * s**2))
    ref = act / act.sum(-1, keepdims=True)
    np.testing.assert_allclose(pc.targets(torch.tensor(pos, dtype=torch.float32)).numpy(), ref,
                               rtol=1e-4, atol=1e-7)


def test_periodic_place_cells_wrap_distances():
    gen = torch.Generator().manual_seed(0)
    pc = GaussianPlaceCells(16, 0.2, 1.0, 1.0, periodic=True, generator=gen)
    pos = _positions(8, 0.5)
    shifted = pos + torch.tensor([1.0, -1.0])  # one box period away
    np.testing.assert_allclose(pc.targets(pos).numpy(), pc.targets(shifted).numpy(), atol=1e-5)


@pytest.mark.slow
def test_place_cell_decoding_recovers_position():
    gen = torch.Generator().manual_seed(1)
    pc = GaussianPlaceCells(512, 0.12, 2.2, 2.2, top_k=3, generator=gen)
    pos = _positions(200, 1.0)
    logits = torch.log(pc.targets(pos))  # a perfect network's output
    err = (pc.decode(logits) - pos).norm(dim=-1)
    assert float(err.mean()) < 0.06  # ~ spacing of 512 centres in a 2.2 m box is ~0.1 m
    mf = MultiFieldPlaceCells(256, 2.2, 2.2, generator=torch.Generator().manual_seed(2))
    err = (mf.decode(torch.log(mf.targets(pos))) - pos).norm(dim=-1)
    assert float(err.max()) < 0.02  # template grid of 2 cm


def test_metric_readouts_round_trip():
    pos = _positions(100)
    for readout in (CartesianReadout(), PolarReadout()):
        target = readout.targets(pos)
        np.testing.assert_allclose(readout.decode(target).numpy(), pos.numpy(), atol=1e-5)
        assert float(readout.loss(target, target)) < 1e-10
    polar = PolarReadout().targets(pos)
    np.testing.assert_allclose(polar[:, 0].numpy(), np.hypot(*pos.numpy().T), rtol=1e-6)
    # angles are compared on the circle: theta + 2*pi is no error
    wrapped = polar + torch.tensor([0.0, 2 * np.pi])
    assert float(PolarReadout().loss(wrapped, polar)) < 1e-9


# -- cell equations ---------------------------------------------------------------------------

def _small(arch, readout="dos", **kw):
    base = dict(arch=arch, readout=readout, n_hidden=12, n_place=20, seed=4,
                recurrent_init="orthogonal")
    base.update(kw)
    return PathIntegratorConfig(**base)


def _inputs(b=3, t=4):
    start = _positions(b, 1.0)
    vel = torch.tensor(RNG.normal(0, 0.02, size=(b, t, 2)), dtype=torch.float32)
    return start, vel


def test_vanilla_rnn_equation_and_no_bias():
    net = PathIntegrator(_small("rnn", activation="relu"))
    names = {n for n, _ in net.named_parameters()}
    assert names == {"encoder", "w_in", "w_rec", "w_out"}  # no bias anywhere
    start, vel = _inputs()
    out = net.layer_activity(start, vel)
    assert net.layer_names == ("g", "dc") and net.default_layer == "g"
    w = {k: v.double().numpy() for k, v in net.state_dict().items()}
    h = net.readout.targets(start).double().numpy() @ w["encoder"].T
    for t in range(vel.shape[1]):
        h = np.maximum(0, h @ w["w_rec"].T + vel[:, t].double().numpy() @ w["w_in"].T)
        np.testing.assert_allclose(out["g"][:, t].numpy(), h, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["dc"][:, -1].numpy(), h @ w["w_out"].T, rtol=1e-4, atol=1e-6)


def test_ugrnn_equation():
    net = PathIntegrator(_small("ugrnn", activation="relu"))
    assert net.layer_names == ("pre_g", "g", "dc")
    start, vel = _inputs()
    out = net.layer_activity(start, vel)
    w = {k: v.double().numpy() for k, v in net.state_dict().items()}
    n = 12
    # W_u [x, h] and W_c [x, h] assembled from the stored input and recurrent blocks
    wu = np.concatenate([w["w_in"][:n], w["w_rec"][:n]], 1)
    wc = np.concatenate([w["w_in"][n:], w["w_rec"][n:]], 1)
    bu, bc = w["b"][:n], w["b"][n:]
    h = net.readout.targets(start).double().numpy() @ w["encoder"].T
    for t in range(vel.shape[1]):
        xh = np.concatenate([vel[:, t].double().numpy(), h], 1)
        u = 1 / (1 + np.exp(-(xh @ wu.T + bu + 1.0)))
        c = np.maximum(0, xh @ wc.T + bc)
        h = u * h + (1 - u) * c
        np.testing.assert_allclose(out["pre_g"][:, t].numpy(), h, rtol=1e-4, atol=1e-6)
    g = np.maximum(0, h @ w["w_g"].T + w["b_g"])
    np.testing.assert_allclose(out["g"][:, -1].numpy(), g, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out["dc"][:, -1].numpy(), g @ w["w_out"].T, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_gated_cells_match_torch_cells(arch):
    net = PathIntegrator(_small(arch, activation="tanh"))
    start, vel = _inputs()
    out = net.layer_activity(start, vel)
    ref_cell = (torch.nn.LSTMCell if arch == "lstm" else torch.nn.GRUCell)(2, 12)
    with torch.no_grad():
        ref_cell.weight_ih.copy_(net.w_in)
        ref_cell.weight_hh.copy_(net.w_rec)
        if arch == "lstm":  # one bias in our cell, two in torch's
            ref_cell.bias_ih.copy_(net.b)
            ref_cell.bias_hh.zero_()
        else:
            ref_cell.bias_ih.copy_(net.b)
            ref_cell.bias_hh.copy_(net.b_rec)
        code = net.readout.targets(start)
        h = code @ net.encoder.T
        state = (h, code @ net.encoder_c.T) if arch == "lstm" else h
        for t in range(vel.shape[1]):
            state = ref_cell(vel[:, t], state)
            h = state[0] if arch == "lstm" else state
            np.testing.assert_allclose(out["pre_g"][:, t].numpy(), h.numpy(), rtol=1e-5,
                                       atol=1e-6)


def test_metric_readouts_start_from_a_place_code():
    net = PathIntegrator(_small("rnn", readout="cartesian"))
    assert net.start_code is net.start_cells and net.start_code.is_place_code
    start, vel = _inputs()
    assert net.layer_activity(start, vel)["dc"].shape == (3, 4, 2)


def test_same_seed_same_network_different_seed_different():
    a = build_network(_small("lstm"))
    b = build_network(_small("lstm"))
    c = build_network(_small("lstm", seed=5))
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
    assert not torch.equal(a.w_rec, c.w_rec)


def test_recurrent_inits():
    ident = PathIntegrator(_small("rnn", recurrent_init="identity"))
    assert torch.equal(ident.w_rec, torch.eye(12))
    orth = PathIntegrator(_small("rnn", recurrent_init="orthogonal")).w_rec.detach().double()
    np.testing.assert_allclose((orth @ orth.T).numpy(), np.eye(12), atol=1e-5)


def test_bad_inputs_raise_model_error():
    net = PathIntegrator(_small("rnn"))
    with pytest.raises(ModelError, match="velocities"):
        net.layer_activity(torch.zeros(3, 2), torch.zeros(2, 4, 2))


# -- configuration -------------------------------------------------------------------------------

# The valid names as the README lists them, written out here on purpose.
_VALID = {
    "arch": ("rnn", "ugrnn", "lstm", "gru"),
    "activation": ("relu", "tanh", "sigmoid", "linear"),
    "readout": ("dos", "gaussian", "multifield", "cartesian", "polar"),
    "recurrent_init": ("identity", "orthogonal", "uniform"),
}


@pytest.mark.parametrize("field,value,kind,suggested", [
    ("arch", "lstmm", "architecture", "lstm"),
    ("arch", "transformer", "architecture", None),
    ("activation", "relux", "activation", "relu"),
    ("activation", "elu", "activation", "relu"),
    ("readout", "doss", "readout", "dos"),
    ("readout", "xyz", "readout", None),
    ("recurrent_init", "eye", "recurrent initialisation", None),
])
def test_unknown_names_list_valid_choices(field, value, kind, suggested):
    """The message names the close match (if any) and lists every valid choice."""
    for make in (lambda: PathIntegratorConfig(**{field: value}),
                 lambda: config_from_dict({field: value})):
        with pytest.raises(UnknownIdentifierError) as info:
            make()
        message = str(info.value)
        assert info.value.kind == kind and f"unknown {kind} {value!r}" in message
        if suggested is not None:
            assert f"did you mean {suggested!r}" in message
        for name in _VALID[field]:
            assert name in message, (name, message)


def test_unknown_arch_message_lists_all_choices():
    with pytest.raises(UnknownIdentifierError) as info:
        config_from_dict({"arch": "transformer"})
    assert set(info.value.known) == {"rnn", "ugrnn", "lstm", "gru", "ssl"}
    for name in ("rnn", "ugrnn", "lstm", "gru", "ssl"):
        assert name in str(info.value)


def test_config_json_round_trip_and_validation():
    for cfg in (PathIntegratorConfig(arch="gru", readout="multifield", n_hidden=33),
                SSLGridConfig(n_units=16, sigma_g=0.3)):
        assert config_from_json(cfg.to_json()) == cfg
        assert json.loads(cfg.to_json())["arch"] == cfg.arch
    with pytest.raises(ConfigError, match="n_hidden"):
        PathIntegratorConfig(n_hidden=0)
    with pytest.raises(ConfigError, match="unknown config field"):
        config_from_dict({"arch": "rnn", "hidden": 3})
    with pytest.raises(ConfigError, match="sigma_g"):
        SSLGridConfig(sigma_g=-1.0)


# -- checkpoints ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", [
    _small("ugrnn", readout="multifield"),
    _small("rnn", readout="polar"),
    SSLGridConfig(n_units=8, mlp_hidden=4, seed=3),
], ids=["ugrnn-multifield", "rnn-polar", "ssl"])
def test_checkpoint_round_trip_is_bit_exact(tmp_path, cfg):
    net = build_network(cfg)
    with torch.no_grad():  # make sure trained-looking weights, not just the init, survive
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)) * 0.01)
    save_network(net, tmp_path)
    loaded = load_network(tmp_path)
    assert loaded.config == cfg
    for k, v in net.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    start, vel = _inputs()
    a, b = net.layer_activity(start, vel), loaded.layer_activity(start, vel)
    for layer in net.layer_names:
        assert torch.equal(a[layer], b[layer])


def test_mismatched_shapes_name_the_tensor(tmp_path):
    save_network(build_network(_small("rnn")), tmp_path)
    cfg = json.loads((tmp_path / CONFIG_FILE).read_text())
    cfg["n_hidden"] = 13
    (tmp_path / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="'encoder'.*shape"):
        load_network(tmp_path)
    cfg["n_hidden"], cfg["arch"] = 12, "gru"
    (tmp_path / CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="arch"):
        load_network(tmp_path)


def test_missing_and_extra_tensors_are_named(tmp_path):
    from safetensors.torch import load_file, save_file

    save_network(build_network(_small("rnn")), tmp_path)
    tensors = load_file(tmp_path / WEIGHTS_FILE)
    del tensors["w_rec"]
    save_file(tensors, tmp_path / WEIGHTS_FILE, metadata={"arch": "rnn"})
    with pytest.raises(ModelError, match="'w_rec' is missing"):
        load_network(tmp_path)
    tensors["w_rec"] = torch.zeros(12, 12)
    tensors["bogus"] = torch.zeros(1)
    save_file(tensors, tmp_path / WEIGHTS_FILE)
    with pytest.raises(ModelError, match="'bogus'"):
        load_network(tmp_path)
    tensors.pop("bogus")
    tensors["w_rec"] = torch.full((12, 12), float("nan"))
    save_file(tensors, tmp_path / WEIGHTS_FILE)
    with pytest.raises(ModelError, match="'w_rec'.*non-finite"):
        load_network(tmp_path)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    save_network(build_network(_small("lstm")), tmp_path)
    raw = (tmp_path / WEIGHTS_FILE).read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])  # a safetensors file: JSON header + raw bytes
    assert "w_rec" in header and header["__metadata__"]["format"].startswith("mecbench")

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint loader unpickled something")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    loaded = load_network(tmp_path)
    assert loaded.config.arch == "lstm"


def test_pickle_file_is_rejected(tmp_path):
    save_network(build_network(_small("rnn")), tmp_path)
    torch.save(build_network(_small("rnn")).state_dict(), tmp_path / WEIGHTS_FILE)
    with pytest.raises(ModelError, match="safetensors"):
        load_network(tmp_path)


# -- self-supervised grid model -----------------------------------------------------------------

def test_ssl_batch_permutations_share_endpoints():
    cfg = SSLGridConfig(seq_len=7, n_permutations=5, max_step=0.15)
    steps, perms = ssl_batch(cfg, seed=3)
    assert steps.abs().max() <= 0.15 and steps.shape == (7, 2)
    assert sorted(perms[2].tolist()) == list(range(7))
    pos = steps[perms].cumsum(1)
    np.testing.assert_allclose(pos[:, -1].numpy(), np.tile(steps.sum(0).numpy(), (5, 1)),
                               atol=1e-6)


def test_ssl_dynamics_are_normalised_relu():
    net = SSLGridNet(SSLGridConfig(n_units=10, mlp_hidden=6, seed=2))
    vel = torch.tensor(RNG.uniform(-0.1, 0.1, size=(3, 4, 2)), dtype=torch.float32)
    g = net(vel)
    np.testing.assert_allclose(g.norm(dim=-1).detach().numpy(), 1.0, atol=1e-5)
    assert (g >= 0).all()
    # explicit recurrence with W(v) from the MLP
    state = net.g0.expand(3, -1)
    with torch.no_grad():
        for t in range(4):
            w = net.transition(vel[:, t])
            z = torch.relu(torch.einsum("bij,bj->bi", w, state))
            state = z / z.norm(dim=-1, keepdim=True)
            np.testing.assert_allclose(g[:, t].detach().numpy(), state.numpy(), atol=1e-5)
    # permutation batches: the same states as integrating the permuted velocities directly
    steps, perms = ssl_batch(SSLGridConfig(seq_len=4, n_permutations=3), seed=0)
    np.testing.assert_allclose(net.integrate_permutations(steps, perms).detach().numpy(),
                               net(steps[perms]).detach().numpy(), atol=1e-6)


def test_ssl_layer_activity_homes_from_the_centre():
    net = SSLGridNet(SSLGridConfig(n_units=10, mlp_hidden=6, seed=2, max_step=0.15))
    start = torch.tensor([[0.4, -0.2], [0.0, 0.0]])
    vel = torch.zeros(2, 3, 2)
    vel[:, :, 0] = 0.01
    act = net.layer_activity(start, vel)["g"]
    assert act.shape == (2, 3, 10)
    # 0.4 m needs ceil(0.4 / 0.15) = 3 homing steps of start / 3; the centre needs none
    home = (start[:1] / 3).unsqueeze(1).expand(-1, 3, -1)
    ref = net(torch.cat([home, vel[:1]], 1))[:, 3:]
    np.testing.assert_allclose(act[:1].numpy(), ref.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(act[1:].numpy(), net(vel[1:]).detach().numpy(), atol=1e-6)
    # a trajectory's activity does not depend on the other trajectories of its batch
    alone = net.layer_activity(start[1:], vel[1:])["g"]
    np.testing.assert_allclose(alone.numpy(), act[1:].numpy(), atol=1e-6)
    assert net.layer_names == ("g",) and net.default_layer == "g"


def test_ssl_losses_match_explicit_pair_loops():
    cfg = SSLGridConfig(n_units=5, sigma_x=0.2, sigma_g=0.5, w_separation=1.0,
                        w_invariance=0.1, w_capacity=0.5, w_conformal=0.3)
    rng = np.random.default_rng(0)
    b, t = 3, 4
    g = rng.random((b, t, 5))
    g /= np.linalg.norm(g, axis=-1, keepdims=True)
    g0 = rng.random(5)
    g0 /= np.linalg.norm(g0)
    vel = rng.uniform(-0.15, 0.15, size=(b, t, 2))
    pos = vel.cumsum(1)
    gp = np.concatenate([np.tile(g0, (b, 1, 1)), g[:, :-1]], 1)
    pts = [(i, k) for i in range(b) for k in range(t)]
    sep, n_far, inv, n_near = 0.0, 0, 0.0, 0
    for p in pts:
        for q in pts:
            dx = np.linalg.norm(pos[p] - pos[q])
            dg2 = ((g[p] - g[q]) ** 2).sum()
            if dx > 0.2:
                sep += np.exp(-dg2 / (2 * 0.5**2))
                n_far += 1
            elif dx < 0.2 and p != q:
                inv += dg2
                n_near += 1
    cap = -(g.reshape(-1, 5).mean(0) ** 2).sum()
    speed = np.linalg.norm(vel, axis=-1)
    ok = (speed > 0) & (speed < 0.2)
    ratio = np.linalg.norm(g - gp, axis=-1)[ok] / speed[ok]
    conf = ratio.var()
    as_t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    out = ssl_losses(as_t(g), as_t(pos), as_t(vel), as_t(gp), cfg)
    assert n_far > 0 and n_near > 0 and ok.sum() >= 2
    np.testing.assert_allclose(float(out["separation"]), sep / n_far, rtol=1e-10)
    np.testing.assert_allclose(float(out["invariance"]), inv / n_near, rtol=1e-8)
    np.testing.assert_allclose(float(out["capacity"]), cap, rtol=1e-10)
    np.testing.assert_allclose(float(out["conformal"]), conf, rtol=1e-8)
    total = sep / n_far + 0.1 * inv / n_near + 0.5 * cap + 0.3 * conf
    np.testing.assert_allclose(float(out["loss"]), total, rtol=1e-8)


def test_nearest_neighbour_error_is_zero_for_a_position_code():
    # a code that is an injective function of position decodes perfectly when the positions
    # recur across trajectories, and not when they do not
    pos = torch.tensor(RNG.uniform(-1, 1, size=(1, 6, 2)), dtype=torch.float32).repeat(2, 1, 1)
    code = torch.cat([pos, pos**2], -1)
    assert nearest_neighbour_error(code, pos) == 0.0
    pos2 = pos.clone()
    pos2[1] = pos2[1].flip(0) + 5.0
    assert nearest_neighbour_error(torch.cat([pos2, pos2**2], -1), pos2) > 1.0
