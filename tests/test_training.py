"""Training: losses fall, runs are reproducible, resume is exact, checkpoints are safe."""

from __future__ import annotations

import json

import pytest
import torch

from mecbench.cli.main import main
from mecbench.errors import ConfigError, ModelError, UnknownIdentifierError
from mecbench.nets import PathIntegratorConfig, SSLGridConfig, build_network, load_network
from mecbench.training import (
    apply_overrides,
    batch_seed,
    parse_overrides,
    preset_config,
    preset_names,
    train,
)
from mecbench.training.state import STATE_JSON, STATE_TENSORS
from mecbench.training.trainer import task_for

TINY = dict(n_hidden=24, n_place=32, batch_size=24, seq_len=5, seed=1)
TINY_SSL = SSLGridConfig(n_units=12, mlp_hidden=8, seq_len=6, n_permutations=8, seed=1,
                         sigma_x=0.1, w_conformal=0.01)


def _eval_loss(model, config, n=3) -> float:
    """Loss on batches the training never sees (stream 7)."""
    task = task_for(config)
    with torch.no_grad():
        return sum(float(task.losses(model, task.batch(batch_seed(99, k, stream=7)))["loss"])
                   for k in range(n)) / n


def _states_equal(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.slow
@pytest.mark.parametrize("arch,activation", [
    ("rnn", "relu"), ("rnn", "tanh"), ("ugrnn", "relu"), ("lstm", "tanh"), ("gru", "tanh"),
    ("ssl", None),
])
def test_each_architecture_learns(tmp_path, arch, activation):
    if arch == "ssl":
        config = TINY_SSL.replace(lr=3e-3)
    else:
        config = PathIntegratorConfig(arch=arch, activation=activation, readout="gaussian",
                                      lr=1e-2, recurrent_init="orthogonal", **TINY)
    before = _eval_loss(build_network(config), config)
    result = train(config, tmp_path / "run", 40, progress=False, log_every=10)
    after = _eval_loss(result.model, config)
    assert after < before - 0.02 * abs(before), (before, after)
    assert result.step == 40 and len(result.history) == 4
    assert all(h["decoding_error_m"] >= 0 for h in result.history)


@pytest.mark.slow
@pytest.mark.parametrize("readout", ["dos", "multifield", "cartesian", "polar"])
def test_each_readout_learns(tmp_path, readout):
    config = PathIntegratorConfig(arch="rnn", readout=readout, lr=1e-2, **TINY)
    before = _eval_loss(build_network(config), config)
    result = train(config, tmp_path / "run", 30, progress=False, log_every=30)
    assert _eval_loss(result.model, config) < before


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    config = PathIntegratorConfig(arch="ugrnn", **TINY)
    a = train(config, tmp_path / "a", 8, progress=False).model
    b = train(config, tmp_path / "b", 8, progress=False).model
    c = train(config.replace(seed=2), tmp_path / "c", 8, progress=False).model
    assert _states_equal(a, b)
    assert not _states_equal(a, c)
    # what is on disk is what was trained
    assert _states_equal(load_network(tmp_path / "a"), a)


@pytest.mark.parametrize("config", [PathIntegratorConfig(arch="lstm", **TINY), TINY_SSL],
                         ids=["lstm", "ssl"])
def test_resume_equals_uninterrupted_run(tmp_path, config):
    straight = train(config, tmp_path / "straight", 12, progress=False, log_every=3)
    train(config, tmp_path / "split", 5, progress=False, log_every=3)
    resumed = train(None, tmp_path / "split", 12, resume=True, progress=False, log_every=3)
    assert _states_equal(straight.model, resumed.model)
    # the first leg also recorded its last step (5); every common record is identical
    assert [h["step"] for h in resumed.history] == [3, 5, 6, 9, 12]
    common = {h["step"]: h["loss"] for h in straight.history}
    assert all(h["loss"] == common[h["step"]] for h in resumed.history if h["step"] != 5)
    # the optimizer state on disk agrees too
    from safetensors.torch import load_file

    s1 = load_file(tmp_path / "straight" / STATE_TENSORS)
    s2 = load_file(tmp_path / "split" / STATE_TENSORS)
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)


def test_periodic_checkpoints_resume_exactly(tmp_path):
    config = PathIntegratorConfig(arch="gru", **TINY)
    straight = train(config, tmp_path / "a", 9, progress=False)
    train(config, tmp_path / "b", 9, checkpoint_every=4, progress=False)
    state = json.loads((tmp_path / "b" / STATE_JSON).read_text())
    assert state["step"] == 9
    # simulate a crash after step 4 by training 4 steps then resuming
    train(config, tmp_path / "c", 4, progress=False)
    resumed = train(config, tmp_path / "c", 9, resume=True, progress=False)
    assert _states_equal(straight.model, resumed.model)


def test_refuses_to_overwrite_or_resume_inconsistently(tmp_path):
    config = PathIntegratorConfig(arch="rnn", **TINY)
    train(config, tmp_path / "r", 2, progress=False)
    with pytest.raises(ConfigError, match="already holds a checkpoint"):
        train(config, tmp_path / "r", 2, progress=False)
    with pytest.raises(ConfigError, match="different configuration.*n_hidden"):
        train(config.replace(n_hidden=25), tmp_path / "r", 4, resume=True, progress=False)
    with pytest.raises(ConfigError, match="already at step"):
        train(None, tmp_path / "r", 1, resume=True, progress=False)
    # a checkpoint whose files come from different steps is refused
    state = json.loads((tmp_path / "r" / STATE_JSON).read_text())
    state["step"] = 7
    (tmp_path / "r" / STATE_JSON).write_text(json.dumps(state))
    with pytest.raises(ModelError, match="inconsistent"):
        train(None, tmp_path / "r", 9, resume=True, progress=False)
    with pytest.raises(ModelError, match="missing"):
        train(None, tmp_path / "nothing-here", 9, resume=True, progress=False)


def test_presets_and_overrides():
    assert {"rnn-relu-dos", "rnn-relu-cartesian", "rnn-relu-gaussian", "ugrnn-relu-dos",
            "lstm-dos", "ssl-grid"} <= set(preset_names())
    c = preset_config("ugrnn-relu-dos")
    assert (c.arch, c.activation, c.readout) == ("ugrnn", "relu", "dos")
    s = preset_config("ssl-grid")
    assert (s.n_units, s.seq_len, s.n_permutations, s.sigma_x, s.sigma_g) == \
        (128, 60, 130, 0.05, 0.4)
    assert (s.w_separation, s.w_invariance, s.w_capacity) == (1.0, 0.1, 0.5)
    over = parse_overrides(["n_hidden=64", "readout=gaussian", "multifield_sigma_range=[0.1,0.2]"])
    assert over == {"n_hidden": 64, "readout": "gaussian", "multifield_sigma_range": [0.1, 0.2]}
    c2 = apply_overrides(c, over)
    assert c2.n_hidden == 64 and c2.multifield_sigma_range == (0.1, 0.2)
    with pytest.raises(UnknownIdentifierError) as info:
        preset_config("rnn-relu-dog")
    assert "rnn-relu-dos" in str(info.value)
    with pytest.raises(ConfigError, match="unknown config field"):
        apply_overrides(c, {"hidden": 3})
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["n_hidden"])


def test_cli_train_and_resume(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["train", "rnn-relu-gaussian", "--out", str(out), "--steps", "3", "--seed", "4",
            "--batch-size", "8", "--lr", "0.002", "--set", "n_hidden=10", "--set", "n_place=12",
            "--set", "seq_len=3", "--log-every", "1"]
    assert main(args) == 0
    assert "step 3" in capsys.readouterr().out
    saved = json.loads((out / "config.json").read_text())
    assert (saved["seed"], saved["batch_size"], saved["lr"], saved["n_hidden"]) == \
        (4, 8, 0.002, 10)
    state = json.loads((out / STATE_JSON).read_text())
    assert state["commands"][0].startswith("mecbench train rnn-relu-gaussian --out")
    assert main(args) == 2  # refuses to overwrite
    assert "already holds a checkpoint" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--steps", "5", "--resume"]) == 0
    assert json.loads((out / STATE_JSON).read_text())["step"] == 5
    assert main(["train", "rnn-relu-dog", "--out", str(tmp_path / "x")]) == 2
    assert "rnn-relu-dos" in capsys.readouterr().err
    assert main(["train", "rnn-relu-dos", "--out", str(tmp_path / "y"), "--set",
                 "activation=relux"]) == 2
    assert "relu" in capsys.readouterr().err
    assert main(["train", "--list"]) == 0
    assert "ssl-grid" in capsys.readouterr().out
    assert main(["train", "rnn-relu-gaussian", "--out", str(tmp_path / "zero"), "--steps", "0",
                 "--set", "n_hidden=10", "--set", "n_place=12"]) == 0
    assert "initial (untrained) weights" in capsys.readouterr().err
    assert json.loads((tmp_path / "zero" / STATE_JSON).read_text())["step"] == 0


def test_cli_config_file_and_ssl_batch_size(tmp_path):
    cfg = TINY_SSL.replace(seq_len=4)
    path = tmp_path / "my.json"
    path.write_text(cfg.to_json())
    out = tmp_path / "ssl"
    assert main(["train", str(path), "--out", str(out), "--steps", "2", "--batch-size",
                 "5"]) == 0
    assert load_network(out).config == cfg.replace(n_permutations=5)


def test_measure_checkpoint_agrees_with_analysis(tmp_path):
    from mecbench.analysis import fraction_grid
    from mecbench.providers import NetworkProvider
    from mecbench.ratemaps import Arena
    from mecbench.training.measure import measure_checkpoint, readme_text

    config = PathIntegratorConfig(arch="ugrnn", **TINY)
    result = train(config, tmp_path / "m", 3, progress=False)
    out = measure_checkpoint(tmp_path / "m", arena_width=0.5, n_batches=2, decode_batches=2)
    assert set(out["layers"]) == {"pre_g", "g", "dc"} and out["step"] == 3
    provider = NetworkProvider(result.model, "m", n_batches=2, progress=False)
    for layer, entry in out["layers"].items():
        maps = provider.rate_maps(Arena(0.5, 0.5, 0.05), layer, seed=0)
        assert entry["fraction_grid_sargolini"] == fraction_grid(maps, 0.3, "sargolini")
        assert entry["n_units"] == maps.sizes["neuroid"]
    assert 0 <= out["decoding_error_m"] < 1.0
    assert "untrained" in out and set(out["untrained"]["layers"]) == {"pre_g", "g", "dc"}
    text = readme_text(tmp_path / "m", out)
    assert "mecbench train" not in text  # no command was recorded for a library call
    assert "| g |" in text and "steps: 3" in text


def test_batches_do_not_depend_on_the_device(monkeypatch):
    """A --device cuda run trains on the CPU run's batches: they are drawn on the CPU and moved.

    Without a GPU, ``Tensor.to`` is replaced by a recorder, so the test checks what is drawn
    and where it is sent."""
    config = PathIntegratorConfig(arch="rnn", **TINY)
    on_cpu = task_for(config, "cpu").batch(batch_seed(3, 0))
    sent_to = []

    def fake_to(self, device, *args, **kwargs):
        sent_to.append(torch.device(device).type)
        return self

    monkeypatch.setattr(torch.Tensor, "to", fake_to)
    task = task_for(config, "cpu")
    task.device = torch.device("cuda")
    moved = task.batch(batch_seed(3, 0))
    monkeypatch.undo()
    assert sent_to and set(sent_to) == {"cuda"}
    assert moved.keys() == on_cpu.keys()
    assert all(torch.equal(moved[k], on_cpu[k]) for k in on_cpu)


def test_random_walk_on_missing_cuda_is_a_config_error(monkeypatch):
    from mecbench.trajectories import random_walk

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available"):
        random_walk(2, 3, arena_width=1.0, seed=0, device="cuda")
    with pytest.raises(ConfigError, match="not a torch device"):
        random_walk(2, 3, arena_width=1.0, seed=0, device="gpu0")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_matches_cpu(tmp_path):
    config = PathIntegratorConfig(arch="rnn", **TINY)
    cpu = train(config, tmp_path / "cpu", 3, progress=False, device="cpu").model
    gpu = train(config, tmp_path / "gpu", 3, progress=False, device="cuda").model.cpu()
    for (name, a), b in zip(cpu.state_dict().items(), gpu.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_progress_bar_shows_loss_and_decoding_error(tmp_path, monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    train(PathIntegratorConfig(arch="rnn", **TINY), tmp_path / "bar", 4, log_every=2,
          progress=True)
    text = err.getvalue()
    assert "train rnn" in text and "4/4" in text
    assert "loss=" in text and "err=" in text and "cm" in text


def test_stay_at_start_baseline_matches_direct_computation():
    """The baseline is the mean distance from the start over the evaluation batches, which
    grows with the sequence length (a random walk moves away from where it began)."""
    from mecbench.training import stay_at_start_error
    from mecbench.trajectories import random_walk

    config = PathIntegratorConfig(arch="rnn", **TINY)
    got = stay_at_start_error(config, n_batches=3, seed=7)
    direct = []
    for k in range(3):
        tr = random_walk(config.batch_size, config.seq_len, arena_width=config.arena_width,
                         seed=batch_seed(7, k, stream=1))
        direct.append(float((tr.positions[:, 1:] - tr.start[:, None]).norm(dim=-1).mean()))
    assert got == pytest.approx(sum(direct) / 3, rel=1e-12)
    longer = stay_at_start_error(config, n_batches=3, seed=7, seq_len=4 * config.seq_len)
    assert longer > got


def test_evaluate_decoding_at_another_sequence_length():
    from mecbench.training import evaluate_decoding

    config = PathIntegratorConfig(arch="rnn", **TINY)
    model = build_network(config)
    short = evaluate_decoding(model, n_batches=2)
    assert evaluate_decoding(model, n_batches=2, seq_len=config.seq_len) == short
    assert evaluate_decoding(model, n_batches=2, seq_len=3 * config.seq_len) != short
