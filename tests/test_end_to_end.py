"""End to end: `mecbench score <shipped model> ... --json --save` against `compat.get_fits`.

To stay fast, the unit test scores the shipped ``rnn-relu-dos`` checkpoint with a shorter
trajectory protocol (5 batches, 20 000 positions; registered by a plugin file as
``rnn-relu-dos-quick``) on a reduced copy of ``mec-sim`` (the 1 m arena, three animals) given
as an ad-hoc benchmark with the splits of ``mec-sim.ridge``. The full default run
(``mecbench score rnn-relu-dos mec-sim.ridge``) is ``tests/perf/bench_score_cli.py``.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from mecbench import registry
from mecbench.cli.main import main
from mecbench.leaderboard import load_board_score

pytestmark = pytest.mark.slow  # scores the shipped network on mec-sim (builds it)

PLUGIN = textwrap.dedent('''
    from pathlib import Path

    import mecbench.models.pathint as pathint
    from mecbench import register_model
    from mecbench.nets.zoo import checkpoint_provider


    @register_model("rnn-relu-dos-quick")
    def quick():
        """The shipped rnn-relu-dos checkpoint with 20 000 trajectory positions."""
        return checkpoint_provider(Path(pathint.__file__).parent / "rnn-relu-dos",
                                   "rnn-relu-dos-quick", n_batches=5)
''')


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    try:
        registry.load("model", "rnn-relu-dos")
        data = registry.load("dataset", "mec-sim")
    except Exception as err:  # the shipped checkpoint or dataset plugin is missing
        pytest.skip(f"shipped model or mec-sim unavailable: {err}")
    small = data.select(arenas=["1x1m"], animals=data.animals("1x1m")[:3])
    path = small.save(root / "mec-sim-small.nc")
    plugin = root / "quick.py"
    plugin.write_text(PLUGIN)
    return {"root": root, "data": small, "path": str(path), "plugin": str(plugin)}


def test_score_json_save_equals_get_fits(setup, capsys, tmp_path, monkeypatch):
    from mecbench.compat import get_fits

    monkeypatch.setenv("MECBENCH_CACHE_DIR", str(tmp_path / "cache"))
    board = tmp_path / "board"
    code = main(["--plugin", setup["plugin"], "score", "rnn-relu-dos-quick", setup["path"],
                 "--json", "--save", "--leaderboard-dir", str(board)])
    out = capsys.readouterr().out
    assert code == 0
    doc = json.loads(out)
    assert doc["splits"] == "random-tf0.2-n10-s0" and doc["mapping"] == "ridge:alpha=1.0"
    (layer,) = doc["layers"]
    assert layer["layer"] == "g" and layer["n_cells_total"] == setup["data"].n_neuroids
    score = load_board_score(layer["score_file"])

    provider = registry.load("model", "rnn-relu-dos-quick")
    from mecbench.ratemaps import Arena

    maps = provider.rate_maps(Arena(1.0, 1.0), "g", seed=0)
    dataset = setup["data"].to_nayebi_dict()
    fits = get_fits(dataset, model_resp={1.0: maps.values}, map_type="sklinear",
                    map_kwargs={"regression_type": "Ridge", "regression_kwargs": {"alpha": 1.0}},
                    train_frac=0.2, num_train_test_splits=10, split_start_seed=0)
    expected = {}
    rate = setup["data"].rate("1x1m")
    ids = rate["neuroid_id"].values.astype(str)
    cell_ids = rate["cell_id"].values.astype(str) if "cell_id" in rate.coords else ids
    animals = rate["animal"].values.astype(str)
    for animal, per in fits[1.0].items():
        for cid, value in zip(per["corr"]["units"].values.astype(str), per["corr"].values,
                              strict=True):
            pos = np.flatnonzero((animals == str(animal)) & (cell_ids == cid))
            assert pos.size == 1
            expected[f"1x1m/{ids[pos[0]]}"] = value
    got = dict(zip(score["neuroid_id"].values.astype(str), score["raw"].values, strict=True))
    assert set(got) == set(expected)
    keys = sorted(got)
    np.testing.assert_allclose([got[k] for k in keys], [expected[k] for k in keys], rtol=1e-9,
                               atol=1e-12)
    assert layer["raw"] == pytest.approx(float(np.nanmedian([got[k] for k in keys])))
    lines = (board / "mec-sim-small.ridge.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["id"] == layer["entry_id"]
