"""The landmarking tool (beetles/landmarker.py): ``beetles train`` → a model
folder → ``beetles predict`` → TPS, CSV, review list and overlays, on small
generated photos of several sizes, aspect ratios and modes."""
import csv
import json
import shutil

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from beetles.cli import main  # noqa: E402
from beetles.formats.tables import read_long_csv  # noqa: E402
from beetles.formats.tps import read_tps_records  # noqa: E402
from beetles.frames import Letterbox, normalise  # noqa: E402
from beetles.landmarker import (  # noqa: E402
    Landmarker,
    _check_out,
    expand_inputs,
    load_training_data,
    split_specimens,
)

COLOURS = [(200, 30, 30), (30, 30, 200), (30, 160, 30)]
LANDMARKS = 3
#: (width, height, mode, suffix) of the training photos: mostly 4:3, some
#: wide, tall or square, one gray, one with an alpha channel.
TRAIN_PHOTOS = [(160, 120, "RGB", ".png")] * 10 + [(200, 100, "RGB", ".png"), (120, 160, "RGB", ".jpg"),
                                                    (150, 150, "RGB", ".png"), (160, 120, "L", ".png"),
                                                    (160, 120, "RGBA", ".png"), (180, 120, "RGB", ".jpg")]
NEW_PHOTOS = [(160, 120, "RGB", ".jpg"), (240, 120, "RGB", ".png"), (100, 150, "L", ".png"),
              (160, 120, "RGBA", ".png")]


def draw(path, size, mode, rng):
    """A gray photo with one coloured disc per landmark; returns the landmarks (y down)."""
    width, height = size
    points = rng.uniform([0.2 * width, 0.2 * height], [0.8 * width, 0.8 * height], size=(LANDMARKS, 2))
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.full((height, width, 3), 190, np.uint8) + rng.integers(0, 20, (height, width, 3), dtype=np.uint8)
    radius = 0.06 * min(width, height)
    for (x, y), colour in zip(points, COLOURS, strict=False):
        rgb[(xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 < radius**2] = colour
    image = Image.fromarray(rgb)
    if mode == "RGBA":
        image = image.convert("RGBA")
        image.putalpha(255)
    elif mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return points


def disc_part(folder, photos=TRAIN_PHOTOS, seed=0):
    """A part folder (images/ + landmarks.tps, y up) of ``photos``."""
    rng = np.random.default_rng(seed)
    blocks = []
    for k, (width, height, mode, suffix) in enumerate(photos):
        name = f"d{k:02d}{suffix}"
        points = draw(folder / "images" / name, (width, height), mode, rng)
        blocks.append("\n".join([f"LM={LANDMARKS}", *(f"{x:.3f} {height - y:.3f}" for x, y in points),
                                 f"IMAGE={name}"]))
    (folder / "landmarks.tps").write_text("\n".join(blocks) + "\n")
    return folder


def new_photos(folder, seed=5):
    """Photos to predict, with their true landmarks (y down), plus a corrupt JPEG."""
    rng = np.random.default_rng(seed)
    truth = {}
    for k, (width, height, mode, suffix) in enumerate(NEW_PHOTOS):
        name = f"new{k}{suffix}"
        truth[name] = ((width, height), draw(folder / name, (width, height), mode, rng))
    good = (folder / "new0.jpg").read_bytes()
    (folder / "broken.jpg").write_bytes(good[: len(good) // 3])  # truncated
    (folder / "notes.txt").write_text("not a photo")  # not expanded from the folder
    return truth


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A cascade model trained for 2 epochs (coarse + refiner) on 16 photos."""
    root = tmp_path_factory.mktemp("tool")
    part = disc_part(root / "part")
    model = root / "model"
    assert main(["train", "--data", str(part), "--out", str(model), "--epochs", "2", "--quiet"]) == 0
    return part, model


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# ---------------------------------------------------------------- training


def test_train_writes_the_model_folder(trained, capsys):
    part, model = trained
    for name in ("model.pt", "settings.json", "losses.csv", "fig_losses.png", "validation.csv", "validation.json"):
        assert (model / name).is_file(), name
    assert not (model / "params.npz").exists()
    settings = json.loads((model / "settings.json").read_text())
    assert settings["model"] == "cascade" and settings["landmarks"] == LANDMARKS
    assert settings["engine"] == "torch" and settings["device"] == "cpu"
    assert "keeping the aspect ratio" in settings["photo_fitting"]
    specimens = settings["specimens"]
    assert specimens["training"] + specimens["validation"] == len(TRAIN_PHOTOS)
    assert specimens["validation"] == 2  # 10 % of 16, rounded
    assert not set(specimens["training_names"]) & set(specimens["validation_names"])
    assert settings["epochs"]["done"] == 4  # 2 coarse + 2 refiner epochs
    assert len(read_csv(model / "losses.csv")) == 4
    rows = read_csv(model / "validation.csv")
    assert [int(r["landmark"]) for r in rows] == [1, 2, 3]
    summary = json.loads((model / "validation.json").read_text())
    assert summary["specimens"] == 2 and summary["names"] == specimens["validation_names"]
    for key in ("mean_error_photo_px", "mean_error_network_px", "trivial_error_photo_px", "mean_spread_photo_px"):
        assert np.isfinite(summary[key]) and summary[key] > 0, key
    assert "spread_error_spearman_landmarks" in summary and "spread_error_spearman_specimens" in summary


def test_train_refuses_a_folder_that_holds_a_model(trained, capsys):
    part, model = trained
    before = (model / "model.pt").stat().st_mtime_ns
    assert main(["train", "--data", str(part), "--out", str(model), "--epochs", "1", "--quiet"]) == 2
    assert "already holds a model" in capsys.readouterr().err
    assert (model / "model.pt").stat().st_mtime_ns == before
    _check_out(model, force=True)  # --force passes the check


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


# ---------------------------------------------------------------- prediction


def test_predict_a_folder(trained, tmp_path, capsys):
    _, model = trained
    truth = new_photos(tmp_path / "new")
    out, table, overlays = tmp_path / "pred.tps", tmp_path / "pred.csv", tmp_path / "overlays"
    status = main(["predict", str(model), str(tmp_path / "new"), "--out", str(out), "--csv", str(table),
                   "--overlays", str(overlays), "--review-threshold", "0", "--quiet"])
    captured = capsys.readouterr()
    assert status == 1  # one photo skipped, the others written
    assert "broken.jpg" in captured.err and "skipped" in captured.err
    records = read_tps_records(out)
    assert sorted(r.image for r in records) == sorted(truth)
    for record in records:
        (width, height), _ = truth[record.image]
        points = record.landmarks_up
        assert points.shape == (LANDMARKS, 2) and np.isfinite(points).all()
        assert (points >= -1).all() and (points[:, 0] <= width + 1).all() and (points[:, 1] <= height + 1).all()
    rows = read_csv(table)
    assert len(rows) == LANDMARKS * len(truth) and set(rows[0]) == {"image", "landmark", "x", "y", "spread_px"}
    assert all(float(r["spread_px"]) > 0 for r in rows)
    # the CSV (y down) and the TPS (y up) hold the same points
    specimens = {s.name: s for s in read_long_csv(table, image_dir=tmp_path / "new")}
    for record in records:
        (width, height), _ = truth[record.image]
        down = specimens[record.image].landmarks
        np.testing.assert_allclose(record.landmarks_up[:, 1], height - down[:, 1], atol=1e-3)
    review = read_csv(tmp_path / "pred_review.csv")
    assert len(review) == len(rows)  # every spread exceeds 0 px
    assert "review:" in captured.out and f"{len(rows)} landmark(s)" in captured.out
    written = sorted(p.name for p in overlays.iterdir())
    assert written == ["new0.jpg", "new1.png", "new2.png", "new3.png"]
    with Image.open(overlays / "new1.png") as image:
        assert image.size == (240, 120)


def test_predict_maps_network_points_back_to_each_photo(tmp_path, monkeypatch):
    """The network's answer comes back in each photo's own pixels, exactly:
    letterbox scale min(256/w, 192/h), top-left anchored, y up in the TPS;
    an answer in the padding moves to the photo's edge."""
    network_point, spread_net = np.array([[128.0, 60.0], [10.0, 150.0]]), np.array([2.0, 0.5])

    class Fixed:  # a stand-in for HeatmapNet: the same answer for every photo
        model, refiner = "heatmap", None

        def predict_with_spread(self, photos):
            m = len(photos)
            return np.repeat(normalise(network_point)[None], m, 0), np.repeat(spread_net[None], m, 0)

    monkeypatch.setattr(Landmarker, "load", classmethod(lambda cls, folder: cls("heatmap", 2, net=Fixed())))
    sizes = {"wide.png": (400, 200), "tall.jpg": (150, 300), "four_three.png": (320, 240)}
    for name, size in sizes.items():
        Image.new("RGB", size, (90, 90, 90)).save(tmp_path / name)
    out = tmp_path / "p.tps"
    assert main(["predict", str(tmp_path / "model"), str(tmp_path), "--out", str(out),
                 "--csv", str(tmp_path / "p.csv"), "--quiet"]) == 0
    rows = read_csv(tmp_path / "p.csv")
    for record in read_tps_records(out):
        width, height = sizes[record.image]
        scale = min(256 / width, 192 / height)
        expected = network_point / scale
        expected = np.minimum(expected, [width, height])  # (10, 150) lies below a wide photo
        np.testing.assert_allclose(record.landmarks_up[:, 0], expected[:, 0], atol=1e-4)
        np.testing.assert_allclose(record.landmarks_up[:, 1], height - expected[:, 1], atol=1e-4)
        spreads = [float(r["spread_px"]) for r in rows if r["image"] == record.image]
        np.testing.assert_allclose(spreads, spread_net / scale, atol=1e-4)
        if width > 2 * height:
            assert record.landmarks_up[1, 1] == 0  # on the bottom edge, not missing
    assert Letterbox(400, 200).scale == 0.64


def test_predict_errors(trained, tmp_path, capsys):
    _, model = trained
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(model), str(tmp_path / "empty"), "--out", str(tmp_path / "p.tps")]) == 2
    assert "no photos in this folder" in capsys.readouterr().err
    with pytest.raises(Exception, match="no such file or folder"):
        expand_inputs([tmp_path / "missing"])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    assert main(["predict", str(model), str(tmp_path / "bad"), "--out", str(tmp_path / "p.tps")]) == 2
    assert "none of the 1 photo(s) could be read" in capsys.readouterr().err
    assert not (tmp_path / "p.tps").exists()
    assert main(["predict", str(tmp_path), str(tmp_path / "bad"), "--out", str(tmp_path / "p.tps")]) == 2
    assert "not a model folder" in capsys.readouterr().err


def test_weights_that_do_not_fit_the_settings(trained, tmp_path, capsys):
    _, model = trained
    Image.new("RGB", (160, 120)).save(tmp_path / "x.png")
    for key, value in (("landmarks", LANDMARKS + 1), ("model", "heatmap")):
        copy = tmp_path / f"model_{key}"
        shutil.copytree(model, copy)
        settings = json.loads((copy / "settings.json").read_text())
        settings[key] = value
        (copy / "settings.json").write_text(json.dumps(settings))
        assert main(["predict", str(copy), str(tmp_path / "x.png"), "--out", str(tmp_path / "p.tps")]) == 2
        err = capsys.readouterr().err
        assert "model.pt" in err and str(copy) in err, err
    # the weights themselves, relabelled: the shapes do not fit 4 landmarks
    state = torch.load(model / "model.pt", weights_only=True)
    state["n_landmarks"] = LANDMARKS + 1
    copy = tmp_path / "model_relabelled"
    shutil.copytree(model, copy)
    torch.save(state, copy / "model.pt")
    settings = json.loads((copy / "settings.json").read_text())
    settings["landmarks"] = LANDMARKS + 1
    (copy / "settings.json").write_text(json.dumps(settings))
    assert main(["predict", str(copy), str(tmp_path / "x.png"), "--out", str(tmp_path / "p.tps")]) == 2
    err = capsys.readouterr().err
    assert "model.pt" in err and "landmark count" in err, err


# ---------------------------------------------------------------- the paper's models


def test_model3_monte_carlo_dropout(tmp_path, capsys, monkeypatch):
    """Model 3, one epoch on six 4:3 photos: params.npz; predict gives the
    mean of the dropout passes and a nonzero spread; --passes 1 none."""
    monkeypatch.setattr("beetles.torch_engine.COMPILE", False)  # seconds of compilation saved
    part = disc_part(tmp_path / "part", [(160, 120, "RGB", ".png")] * 6, seed=3)
    model = tmp_path / "m3"
    assert main(["train", "--data", str(part), "--out", str(model), "--model", "3", "--epochs", "1",
                 "--quiet"]) == 0
    assert (model / "params.npz").is_file() and not (model / "model.pt").exists()
    settings = json.loads((model / "settings.json").read_text())
    assert settings["model"] == "3" and "Monte-Carlo dropout" in settings["uncertainty"]
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


def test_paper_models_refuse_non_4_3_photos_and_need_a_budget(tmp_path, capsys):
    part = disc_part(tmp_path / "part", TRAIN_PHOTOS[-6:])
    assert main(["train", "--data", str(part), "--out", str(tmp_path / "m"), "--model", "1", "--epochs", "1",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "needs 4:3 photos" in err and "d01.jpg" in err
    assert main(["train", "--data", str(part), "--out", str(tmp_path / "m"), "--model", "2", "--quiet"]) == 2
    assert "--epochs N or --minutes M" in capsys.readouterr().err
