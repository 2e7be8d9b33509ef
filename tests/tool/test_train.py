"""``beetles train``: a folder of landmarked photos → a model folder (:mod:`beetles.tool.train`,
:mod:`beetles.tool.modelfolder`, :mod:`beetles.tool.validate`)."""
import json

import numpy as np
import pytest
from PIL import Image

from beetles.cli import main
from beetles.registry import DEFAULT_MODEL, model_info
from beetles.tool.inputs import load_training_data, split_specimens
from beetles.tool.modelfolder import check_out
from tests.tool.discs import LANDMARKS, TRAIN_PHOTOS, disc_part, read_csv


def test_train_writes_the_model_folder(trained, capsys):
    part, model = trained
    for name in ("model.pt", "settings.json", "losses.csv", "fig_losses.png", "validation.csv", "validation.json",
                 "calibration.json"):
        assert (model / name).is_file(), name
    assert not (model / "params.npz").exists()
    settings = json.loads((model / "settings.json").read_text())
    info = model_info(DEFAULT_MODEL)
    assert settings["model"] == DEFAULT_MODEL and settings["landmarks"] == LANDMARKS
    assert settings["engine"] == "torch" and settings["device"] == "cpu"
    assert settings["photo_fitting"] == info.fitting
    specimens = settings["specimens"]
    assert specimens["training"] + specimens["validation"] == len(TRAIN_PHOTOS)
    assert specimens["validation"] == 2  # 10 % of 16, rounded
    assert not set(specimens["training_names"]) & set(specimens["validation_names"])
    assert settings["epochs"]["done"] == 2 * len(info.stages)  # 2 epochs of every stage
    assert len(read_csv(model / "losses.csv")) == 2 * len(info.stages)
    rows = read_csv(model / "validation.csv")
    assert [int(r["landmark"]) for r in rows] == [1, 2, 3]
    summary = json.loads((model / "validation.json").read_text())
    assert summary["specimens"] == 2 and summary["names"] == specimens["validation_names"]
    for key in ("mean_error_photo_px", "mean_error_network_px", "trivial_error_photo_px", "mean_spread_photo_px"):
        assert np.isfinite(summary[key]) and summary[key] > 0, key
    assert "spread_error_spearman_landmarks" in summary and "spread_error_spearman_specimens" in summary
    radius = summary["radius90"]
    assert radius["level"] == 0.9 and radius["calibration_scores"] == 2 * LANDMARKS
    assert radius["coverage"] is None  # two held-out specimens are too few to check it on halves


def test_train_refuses_a_folder_that_holds_a_model(trained, capsys):
    part, model = trained
    before = (model / "model.pt").stat().st_mtime_ns
    assert main(["train", "--data", str(part), "--out", str(model), "--epochs", "1", "--quiet"]) == 2
    assert "already holds a model" in capsys.readouterr().err
    assert (model / "model.pt").stat().st_mtime_ns == before
    check_out(model, force=True)  # --force passes the check


def test_validation_split_is_seeded_and_holds_one_out_from_five():
    train, valid = split_specimens(5, 0.1, seed=1)
    assert len(valid) == 1 and len(train) == 4 and sorted([*train, *valid]) == list(range(5))
    assert np.array_equal(split_specimens(30, 0.1, 7)[1], split_specimens(30, 0.1, 7)[1])
    assert not np.array_equal(split_specimens(30, 0.1, 7)[1], split_specimens(30, 0.1, 8)[1])
    assert len(split_specimens(4, 0.1)[1]) == 0
    assert len(split_specimens(30, 0.5)[1]) == 15


def test_a_long_csv_names_the_photos(tmp_path):
    part = disc_part(tmp_path / "part", TRAIN_PHOTOS[-6:])
    from_tps = load_training_data(part)
    rows = ["image,landmark,x,y"] + [f"{s.name},{k + 1},{x},{y}" for s in from_tps
                                     for k, (x, y) in enumerate(s.landmarks)]
    rows[2] = rows[2].rsplit(",", 2)[0] + ",,"  # a missing landmark is allowed
    (tmp_path / "long.csv").write_text("\n".join(rows) + "\n")
    from_csv = load_training_data(part, tmp_path / "long.csv")
    assert [s.name for s in from_csv] == [s.name for s in from_tps]
    assert np.isnan(from_csv[0].landmarks[1]).all()
    np.testing.assert_allclose(from_csv[1].landmarks, from_tps[1].landmarks)




@pytest.mark.parametrize("name", ["mini3", pytest.param("3", marks=pytest.mark.slow)])
def test_model3_monte_carlo_dropout(tmp_path, capsys, mini_models, name):
    """Model 3, one epoch on six 4:3 photos: params.npz; predict gives the
    mean of the dropout passes and a nonzero spread; --passes 1 none."""
    part = disc_part(tmp_path / "part", [(160, 120, "RGB", ".png")] * 6, seed=3)
    model = tmp_path / "m3"
    assert main(["train", "--data", str(part), "--out", str(model), "--model", name, "--epochs", "1",
                 "--quiet"]) == 0
    assert (model / "params.npz").is_file() and not (model / "model.pt").exists()
    settings = json.loads((model / "settings.json").read_text())
    assert settings["model"] == name and "Monte-Carlo dropout" in settings["uncertainty"]
    assert settings["engine"] == "theano"  # the paper's stack stays the default for models 1-3
    assert json.loads((model / "validation.json").read_text())["specimens"] == 1
    photos = tmp_path / "part" / "images"
    table = tmp_path / "p.csv"
    assert main(["predict", str(model), str(photos), "--out", str(tmp_path / "p.tps"), "--csv", str(table),
                 "--passes", "4", "--quiet"]) == 0
    spreads = [float(r["spread_px"]) for r in read_csv(table)]
    assert len(spreads) == 6 * LANDMARKS and min(spreads) > 0
    # one deterministic pass: no spread; a non-4:3 photo is reported and skipped by the paper's models
    Image.new("RGB", (200, 100)).save(tmp_path / "wide.png")
    assert main(["predict", str(model), str(tmp_path / "wide.png"), str(photos / "d00.png"), "--out",
                 str(tmp_path / "p1.tps"), "--csv", str(tmp_path / "p1.csv"), "--passes", "1", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "wide.png" in err and "not 4:3" in err
    rows = read_csv(tmp_path / "p1.csv")
    assert {r["image"] for r in rows} == {"d00.png"} and all(r["spread_px"] == "" for r in rows)


def test_paper_models_refuse_non_4_3_photos_and_need_a_budget(tmp_path, capsys, mini_models):
    part = disc_part(tmp_path / "part", TRAIN_PHOTOS[-6:])
    assert main(["train", "--data", str(part), "--out", str(tmp_path / "m"), "--model", "mini1", "--epochs", "1",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "needs 4:3 photos" in err and "d01.jpg" in err
    assert not (tmp_path / "m").exists()  # refused before anything was written
    assert main(["train", "--data", str(part), "--out", str(tmp_path / "m"), "--model", "2", "--quiet"]) == 2
    assert "--epochs N or --minutes M" in capsys.readouterr().err


def test_training_data_says_when_photos_were_found_by_file_name(tmp_path):
    part = disc_part(tmp_path / "part", photos=TRAIN_PHOTOS[:4])
    tps = part / "landmarks.tps"
    tps.write_text(tps.read_text().replace("IMAGE=d00.png", "IMAGE=D:\\photos\\d00.png")
                   .replace("IMAGE=d01.png", "IMAGE=D01.PNG"))
    notes = []
    data = load_training_data(part, log=notes.append)
    assert len(data) == 4 and data[0].image.name == "d00.png" and data[1].image.name == "d01.png"
    assert any("matched by their file name in" in n for n in notes)
    assert any("matched by their file name in another case" in n for n in notes)
