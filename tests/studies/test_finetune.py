"""Pooled pre-training and fine-tuning (paper section 7; :mod:`beetles.studies.finetune`)."""
import json
from dataclasses import replace

import numpy as np
import pytest

from beetles.core.errors import DataError
from beetles.formats.dataset import load_part
from beetles.paper.nolearn import build_nolearn, freeze_layers, load_params
from beetles.paper.schedule import fit
from beetles.paper.weights import net_params, save_params
from beetles.registry import model_info
from beetles.studies.crossval import Experiment
from beetles.studies.experiment import run
from beetles.studies.finetune import (
    FINETUNE_LEARNING_RATE,
    FINETUNE_MOMENTUM,
    POOLED_PARTS,
    compare_with_scratch,
    drop_landmarks,
    pooled_specimens,
    pretrain,
)
from tests.helpers import MINI1, blob_part

COUNTS = {"pronotum": 8, "elytra": 11, "head": 10}


def test_drop_landmarks_is_the_papers():
    elytra = np.arange(11 * 2).reshape(11, 2)
    kept = drop_landmarks(elytra, "elytra")
    assert kept.shape == (8, 2)
    assert [int(v) for v in kept[:, 0] // 2 + 1] == [2, 3, 4, 5, 7, 8, 10, 11]  # 1, 6, 9 dropped
    head = drop_landmarks(np.arange(10 * 2).reshape(1, 10, 2), "head")
    assert [int(v) for v in head[0, :, 0] // 2 + 1] == [1, 2, 3, 4, 7, 8, 9, 10]  # 5, 6 dropped
    assert drop_landmarks(np.zeros((8, 2)), "pronotum").shape == (8, 2)


@pytest.fixture(scope="module")
def pooled_parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("pooled")
    return {
        name: load_part(blob_part(root / name, count=6, seed=k, landmarks=COUNTS[name]), name=name)
        for k, name in enumerate(POOLED_PARTS)
    }


def test_pooled_specimens_have_eight_landmarks_and_first_round_only(pooled_parts):
    pooled = pooled_specimens(pooled_parts)
    assert all(s.n_landmarks == 8 for s in pooled)
    assert len(pooled) == 3 * 5  # 6 specimens, 9 rounds → round 1 tests 1, trains on 5
    assert pooled[0].image == pooled_parts["pronotum"][1].image
    np.testing.assert_array_equal(pooled[5].landmarks, np.delete(pooled_parts["elytra"][1].landmarks, [0, 5, 8], axis=0))
    broken = dict(pooled_parts, head=pooled_parts["elytra"])  # 11 landmarks minus head's 2 = 9
    with pytest.raises(DataError, match="9 landmarks after dropping"):
        pooled_specimens(broken)


def test_output_layer_replaced_and_others_loaded(tmp_path):
    pretrained = build_nolearn(MINI1, 8, max_epochs=1)
    pretrained.initialize()
    path = save_params(net_params(pretrained), tmp_path / "pre.npz")
    tuned = build_nolearn(MINI1, 11, max_epochs=1)
    loaded = load_params(tuned, path, skip_layers=("output",))
    assert "output" not in loaded and "hidden5" in loaded
    before, after = net_params(pretrained), net_params(tuned)
    for key in before:
        if key.startswith("output"):
            assert after[key].shape != before[key].shape
        else:
            np.testing.assert_array_equal(after[key], before[key])
    assert after["output/0"].shape == (20, 22)


def test_frozen_layers_do_not_change(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((16, 1, 192, 256), dtype=np.float32)
    y = rng.uniform(-0.5, 0.5, (16, 4)).astype(np.float32)
    net = build_nolearn(MINI1, 2, max_epochs=2, learning_rate=(0.05, 0.05), seed=0)  # seeded: no dead filters
    assert freeze_layers(net, 2) == ["conv1", "pool1"]
    net.initialize()
    before = net_params(net)
    fit(net, X, y)
    after = net_params(net)
    for key in ("conv1/0", "conv1/1"):
        np.testing.assert_array_equal(after[key], before[key])
    assert not np.array_equal(after["conv2/0"], before["conv2/0"])
    assert not np.array_equal(after["output/0"], before["output/0"])
    with pytest.raises(RuntimeError, match="before the network is compiled"):
        freeze_layers(net, 1)


@pytest.mark.parametrize("model", ["mini3", pytest.param("3", marks=pytest.mark.slow)])
def test_tiny_pretrain_then_finetune(tmp_path, pooled_parts, mini_models, model):
    two_epochs = model_info(model).schedule(epochs=2)
    record = pretrain(pooled_parts, tmp_path / "pre", two_epochs, progress=False)
    assert (tmp_path / "pre" / "pretrained.pkl").stat().st_size > 0
    assert record["pooled_specimens"] == 15 and record["train_samples"] == 15 * 7
    again = pretrain(pooled_parts, tmp_path / "pre", two_epochs, progress=False)  # finished: skipped
    assert again["seconds"] == record["seconds"]

    head = pooled_parts["head"]
    scratch = Experiment("head_scratch", head, tmp_path / "scratch", two_epochs, rounds=[1], progress=False,
                         engine="torch")  # the scratch results to compare with: any engine
    run(scratch)
    schedule = replace(two_epochs, learning_rate=FINETUNE_LEARNING_RATE, momentum=FINETUNE_MOMENTUM)
    tuned = Experiment("head_finetune", head, tmp_path / "tuned", schedule, rounds=[1], progress=False,
                       weights=tmp_path / "pre" / "pretrained.pkl", freeze=1)
    summary = run(tuned)
    assert summary.weights.endswith("pretrained.pkl") and summary.frozen_layers == 1
    losses = np.genfromtxt(tmp_path / "tuned" / "rounds" / "round01" / "losses.csv", delimiter=",", names=True)
    np.testing.assert_allclose(losses["learning_rate"], 0.01, rtol=1e-6)
    np.testing.assert_allclose(losses["momentum"], 0.9, rtol=1e-6)
    comparison = compare_with_scratch(tmp_path / "tuned", tmp_path / "scratch", "head")
    rows = (tmp_path / "tuned" / "comparison.csv").read_text().splitlines()
    assert rows[0] == "landmark,from_scratch,fine_tune" and len(rows) == 1 + 10
    assert (tmp_path / "tuned" / "fig15.png").stat().st_size > 0
    assert set(comparison) == {"from_scratch_px", "fine_tune_px", "improvement_percent", "scratch_results"}
    assert compare_with_scratch(tmp_path / "tuned", tmp_path / "nothing", "head") is None
    round_record = json.loads((tmp_path / "tuned" / "rounds" / "round01" / "round.json").read_text())
    assert round_record["epochs"] == 2
