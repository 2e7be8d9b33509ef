"""beetles train --from: retraining from an earlier model folder."""
import json

import numpy as np
import pytest
import torch

from beetles.cli import main
from beetles.model import FINE_TUNE_SHARE
from beetles.registry import DEFAULT_MODEL, build_model, model_info
from beetles.tool.modelfolder import load_folder
from tests.tool.discs import LANDMARKS, TRAIN_PHOTOS, disc_part


def test_retrain_starts_from_the_parent_and_records_it(tmp_path, trained, capsys):
    _, parent = trained
    part = disc_part(tmp_path / "few", photos=TRAIN_PHOTOS[:6], seed=3)  # a few photos of the same kind
    out = tmp_path / "again"
    assert main(["train", "--from", str(parent), "--data", str(part), "--out", str(out), "--epochs", "1",
                 "--quiet"]) == 0
    assert f"starting from {parent}" in capsys.readouterr().out
    settings = json.loads((out / "settings.json").read_text())
    assert settings["model"] == DEFAULT_MODEL
    assert settings["parent"]["folder"] == str(parent.resolve()) and settings["parent"]["model"] == DEFAULT_MODEL
    assert settings["epochs"]["done"] == len(model_info(DEFAULT_MODEL).stages)
    assert json.loads((parent / "settings.json").read_text())["parent"] is None
    # the earlier model is left as it was, and the new one moved on from it
    before, after = load_folder(parent).params(), load_folder(out).params()
    assert set(before) == set(after)
    assert any(not np.array_equal(before[k], after[k]) for k in before)


def test_start_from_takes_the_weights_and_a_third_of_the_budget(trained):
    _, parent = trained
    earlier = load_folder(parent)
    info = model_info(DEFAULT_MODEL)
    schedule = info.schedule()
    model = build_model(info, LANDMARKS, schedule)
    fresh = model.params()
    loaded = model.start_from(earlier, FINE_TUNE_SHARE)
    assert set(loaded) == set(fresh)
    for key, value in earlier.params().items():
        np.testing.assert_array_equal(model.params()[key], value)
    assert model.schedule.minutes == pytest.approx(schedule.minutes * FINE_TUNE_SHARE)
    assert model.schedule.learning_rate == schedule.learning_rate
    assert model.stage_epochs(0, 100, 100, schedule.batch_size) < build_model(info, LANDMARKS, schedule).stage_epochs(
        0, 100, 100, schedule.batch_size)
    cascade = build_model(model_info("cascade"), LANDMARKS, model_info("cascade").schedule())
    cascade.start_from(build_model(model_info("cascade"), LANDMARKS, model_info("cascade").schedule()), 1 / 3)
    assert cascade.schedule.epochs == 20  # a third of 60
    assert torch.is_tensor(next(iter(cascade.module.state_dict().values())))


def test_retrain_refuses_another_landmark_count_another_model_or_the_same_folder(tmp_path, trained, capsys):
    part, parent = trained
    other = disc_part(tmp_path / "other")
    text = (other / "landmarks.tps").read_text().replace("LM=3", "LM=2")
    lines = [line for line in text.splitlines()]
    kept, skip = [], 0
    for line in lines:  # drop the third landmark of every block
        if line.startswith("LM="):
            kept.append(line)
            skip = 3
            continue
        if skip:
            skip -= 1
            if skip == 0:
                continue
        kept.append(line)
    (other / "landmarks.tps").write_text("\n".join(kept) + "\n")
    assert main(["train", "--from", str(parent), "--data", str(other), "--out", str(tmp_path / "m"), "--epochs", "1",
                 "--quiet"]) == 2
    assert "places 3 landmarks, the photos have 2" in capsys.readouterr().err
    assert main(["train", "--from", str(parent), "--model", "cascade", "--data", str(part), "--out",
                 str(tmp_path / "c"), "--epochs", "1", "--quiet"]) == 2
    assert f"holds a '{DEFAULT_MODEL}' model" in capsys.readouterr().err
    assert main(["train", "--from", str(parent), "--data", str(part), "--out", str(parent), "--force", "--quiet"]) == 2
    assert "is the --from model folder" in capsys.readouterr().err
    assert main(["train", "--from", str(tmp_path / "nothing"), "--data", str(part), "--out", str(tmp_path / "n"),
                 "--quiet"]) == 2
    assert "model folder not found" in capsys.readouterr().err
