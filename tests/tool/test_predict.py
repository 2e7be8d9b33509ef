"""``beetles predict``: a model folder's landmarks on new photos (:mod:`beetles.tool.predict`,
:mod:`beetles.tool.inputs`)."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from beetles.cli import main
from beetles.core.calibration import Calibration
from beetles.core.frames import Letterbox, normalise
from beetles.formats.landmark_csv import read_long_csv
from beetles.formats.tps import read_tps_records
from beetles.registry import build_model, model_info
from beetles.tool.inputs import expand_inputs
from beetles.tool.modelfolder import file_sha256
from tests.tool.discs import LANDMARKS, new_photos, read_csv


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
    assert len(rows) == LANDMARKS * len(truth)
    assert set(rows[0]) == {"image", "landmark", "x", "y_down", "spread_px", "radius90_px"}
    assert all(float(r["spread_px"]) > 0 for r in rows)
    # the 90 % radius is the model folder's calibration of the spread
    calibration = Calibration.read(model / "calibration.json")
    for r in rows:
        expected = calibration.radius(np.full((1, LANDMARKS), float(r["spread_px"])))[0, int(r["landmark"]) - 1]
        assert float(r["radius90_px"]) == pytest.approx(expected, rel=1e-3, abs=1e-3)
    # the CSV (y down) and the TPS (y up) hold the same points
    specimens = {s.name: s for s in read_long_csv(table, image_dir=tmp_path / "new")}
    for record in records:
        (width, height), _ = truth[record.image]
        down = specimens[record.image].landmarks
        np.testing.assert_allclose(record.landmarks_up[:, 1], height - down[:, 1], atol=1e-3)
    review = read_csv(tmp_path / "pred_review.csv")
    assert len(review) == len(rows)  # every radius exceeds 0 px
    assert "90 % radius over 0 px" in captured.out
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

    model = build_model("heatmap", 2, model_info("heatmap").schedule(epochs=1))  # answers the same for every photo
    monkeypatch.setattr(model, "predict_points", lambda photos: (
        np.repeat(normalise(network_point).reshape(1, 2, 2), len(photos), 0), np.repeat(spread_net[None], len(photos), 0)))
    monkeypatch.setattr("beetles.tool.modelfolder.load_folder", lambda folder, device="cpu": model)
    monkeypatch.setattr("beetles.tool.predict.read_settings", lambda folder: {})
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
    settings["weights_sha256"] = file_sha256(copy / "model.pt")  # relabelled on purpose, checksum and all
    (copy / "settings.json").write_text(json.dumps(settings))
    assert main(["predict", str(copy), str(tmp_path / "x.png"), "--out", str(tmp_path / "p.tps")]) == 2
    err = capsys.readouterr().err
    assert "model.pt" in err and "landmark count" in err, err


def test_predict_the_photos_a_tps_list_names(trained, tmp_path, capsys):
    """tpsUtil's list of photos still to landmark (LM=0 blocks, IMAGE= as tpsDig writes it on Windows)."""
    part, model = trained
    listing = part / "images" / "todo.tps"
    listing.write_text("LM=0\nIMAGE=C:\\lab\\d00.png\nID=0\nLM=0\nIMAGE=D03.PNG\nID=1\n")
    try:
        assert main(["predict", str(model), str(listing), "--out", str(tmp_path / "p.tps"), "--quiet"]) == 0
        records = read_tps_records(tmp_path / "p.tps")
        assert [r.image for r in records] == ["d00.png", "d03.png"] and records[0].landmarks_up.shape == (LANDMARKS, 2)
    finally:
        listing.unlink()


def test_photos_decode_ahead_in_order_bounded_with_errors_in_place():
    """decoded_ahead: the photos come back in order, a photo that cannot be
    read as its error, and never more than ``ahead`` photos are decoded
    beyond the one the caller is taking."""
    import threading

    from beetles.core.errors import DataError
    from beetles.tool.predict import decoded_ahead

    taken, started, lock = [], [], threading.Lock()

    class Model:
        def decode(self, path):
            with lock:
                started.append(path)
                assert len(started) - len(taken) <= 4 + 1, "decoded too far ahead"
            if path == 3:
                raise DataError("photo 3: not an image")
            return f"decoded {path}"

    for path, decoded in decoded_ahead(Model(), range(10), threads=2, ahead=4):
        with lock:
            taken.append(path)
        assert decoded == f"decoded {path}" if path != 3 else isinstance(decoded, DataError)
    assert taken == list(range(10))
