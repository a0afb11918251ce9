"""``--device``/``--dtype``: which fits they reach, how their scores are keyed, labelled,
compared and verified."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from benchkit import make_neural_data, write_plugin

from mecbench.benchmarks import get_benchmark
from mecbench.benchmarks.specs import MappingSpec
from mecbench.cli.main import main
from mecbench.mapping.backend import ENV_VARS
from mecbench.verify import _backend_difference


@pytest.fixture(autouse=True)
def _no_backend_env(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("device")
    plugin = write_plugin(root)
    data = make_neural_data(n_cells=5).save(root / "lab.nc")
    return {"root": root, "plugin": str(plugin), "data": str(data)}


def run(env, capsys, *args):
    code = main(["--plugin", env["plugin"], *args])
    out, err = capsys.readouterr()
    return code, out, err


def score_args(env, board, *extra):
    return ["score", "toy-fourier", env["data"], "--splits", "random:train_frac=0.5,n_splits=3",
            "--leaderboard-dir", str(board), *extra]


@pytest.mark.parametrize(("spec", "expected"), [
    (MappingSpec("ridge"), True),
    (MappingSpec("ridge", {"alpha": 10.0}), True),
    (MappingSpec("ridge", {"alpha": 0.0}), False),  # alpha = 0 runs numpy
    (MappingSpec("ridge", {"alpha": [1.0, 2.0]}), False),  # per-target penalties too
    (MappingSpec("ridgecv"), False),
    (MappingSpec("pls"), False),
    (MappingSpec("enet-cv"), False),
    (MappingSpec("one-to-one"), False),
])
def test_only_single_penalty_ridge_runs_on_the_array_backend(spec, expected):
    assert spec.uses_array_backend is expected


def test_benchmark_keys_a_float32_backend_only_where_its_mapping_uses_it(env, monkeypatch):
    ridge = get_benchmark(env["data"])
    pls = get_benchmark(env["data"], mapping="pls:n_components=2")
    assert ridge.array_backend is None and "backend" not in ridge.key_parts()
    monkeypatch.setenv("MECBENCH_DTYPE", "float32")
    assert ridge.array_backend == "numpy:cpu:float32"
    assert ridge.key_parts()["backend"] == "numpy:cpu:float32"
    # a float64 mapping is not labelled float32 because of the environment
    assert pls.array_backend is None and "backend" not in pls.key_parts()


def test_float32_entry_is_labelled_compared_with_a_note_and_verified_only_on_its_backend(
        env, capsys, tmp_path):
    board = tmp_path / "board"
    code, out, err = run(env, capsys, *score_args(env, board, "--save", "--json",
                                                  "--dtype", "float32"))
    assert code == 0, err
    assert json.loads(out)["array_backend"] == "numpy:cpu:float32"
    assert all(v not in os.environ for v in ENV_VARS)  # the option restores the environment
    code, _, err = run(env, capsys, *score_args(env, board, "--save"))
    assert code == 0, err
    first, second = (json.loads(x) for x in (board / "lab.ridge.jsonl").read_text().splitlines())
    assert first["array_backend"] == "numpy:cpu:float32"
    assert "array_backend" not in second
    assert first["id"] != second["id"]
    # float32 normal equations: agree with float64 to well within the documented 1e-4
    assert first["raw"] == pytest.approx(second["raw"], abs=1e-4)

    code, out, _ = run(env, capsys, "leaderboard", "show", "lab.ridge", "--all",
                       "--leaderboard-dir", str(board))
    assert code == 0 and "toy-fourier [numpy:cpu:float32]" in out

    code, out, _ = run(env, capsys, "compare", first["id"], second["id"], "-b", "lab.ridge",
                       "--n-boot", "200", "--leaderboard-dir", str(board))
    assert code == 0
    assert "different array backends" in out and "numpy:cpu:float32" in out

    code, out, _ = run(env, capsys, "leaderboard", "verify", "lab.ridge", "--json",
                       "--leaderboard-dir", str(board))
    results = {r["id"]: r for r in json.loads(out)["results"]}
    assert results[second["id"]]["status"] == "ok"
    assert results[first["id"]]["status"] == "error"
    assert "numpy:cpu:float32" in results[first["id"]]["message"]
    code, out, _ = run(env, capsys, "leaderboard", "verify", "lab.ridge", "--json",
                       "--dtype", "float32", "--leaderboard-dir", str(board))
    results = {r["id"]: r for r in json.loads(out)["results"]}
    assert results[first["id"]]["status"] == "ok"
    assert results[first["id"]]["max_abs_diff"] == 0.0  # same backend: same numbers
    assert results[second["id"]]["status"] == "error"
    assert "reference float64 engine" in results[second["id"]]["message"]


def test_backend_difference_messages():
    assert _backend_difference(None, None) is None
    assert _backend_difference("torch:cuda:float32", "torch:cuda:float32") is None
    msg = _backend_difference("torch:cuda:float32", None)
    assert "torch:cuda:float32" in msg and "--device/--dtype" in msg


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.mark.parametrize(("args", "needle"), [
    (["--device", "gpu"], "device 'gpu' is not cpu, cuda or cuda:N"),
    (["--device", "cuda:x"], "device 'cuda:x'"),
])
def test_bad_device_is_named(env, capsys, tmp_path, args, needle):
    code, _, err = run(env, capsys, *score_args(env, tmp_path / "b", *args))
    assert code == 2
    assert "--device/--dtype" in err and needle in err
    assert not (tmp_path / "b").exists()


@pytest.mark.skipif(_cuda_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(env, capsys, tmp_path):
    code, _, err = run(env, capsys, *score_args(env, tmp_path / "b", "--device", "cuda"))
    assert code == 2
    assert "CUDA is not available" in err or "needs PyTorch" in err


def test_device_cpu_float64_is_the_reference(env, capsys, tmp_path):
    board = tmp_path / "board"
    code, _, err = run(env, capsys, *score_args(env, board, "--save", "--device", "cpu",
                                                "--dtype", "float64"))
    assert code == 0, err
    (entry,) = (json.loads(x) for x in (board / "lab.ridge.jsonl").read_text().splitlines())
    assert "array_backend" not in entry
    assert np.isfinite(entry["raw"])
