"""Landmark names and the millimetre scale, from the training files to every
prediction: ``beetles train --names``, ``SCALE=`` carried, ``--scale``,
``predict --format``, and ``LM=0`` lists refused for training."""
import csv
import json

import numpy as np
import pytest

from beetles.cli import main
from beetles.formats.tps import read_tps_records
from tests.tool.discs import LANDMARKS, disc_part, new_photos

NAMES = ["tip of rostrum", "left eye", "tail"]


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """A model trained on disc photos whose TPS has SCALE=0.02 on every specimen, with --names."""
    root = tmp_path_factory.mktemp("named")
    part = disc_part(root / "part")
    tps = part / "landmarks.tps"
    tps.write_text(tps.read_text().replace(".png\n", ".png\nSCALE=0.02\n").replace(".jpg\n", ".jpg\nSCALE=0.02\n"))
    (root / "names.txt").write_text("\n".join(NAMES) + "\n\n")
    model = root / "model"
    assert main(["train", "--data", str(part), "--out", str(model), "--epochs", "1", "--quiet",
                 "--names", str(root / "names.txt")]) == 0
    return root, model


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_names_are_kept_in_the_model_folder_and_written_beside_the_numbers(named, tmp_path, capsys):
    root, model = named
    settings = json.loads((model / "settings.json").read_text())
    assert settings["landmark_names"] == NAMES and settings["scale"] == 0.02
    new_photos(tmp_path / "new")
    (tmp_path / "new" / "broken.jpg").unlink()
    out = tmp_path / "p.tps"
    assert main(["predict", str(model), str(tmp_path / "new"), "--out", str(out), "--csv", str(tmp_path / "p.csv"),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    table = rows(tmp_path / "p.csv")
    assert list(table[0]) == ["image", "landmark", "name", "x", "y_down", "spread_px", "radius90_px"]
    assert [r["name"] for r in table[:LANDMARKS]] == NAMES
    # the scale every training photo had, said once
    assert [r.scale for r in read_tps_records(out)] == [0.02] * 4 and "SCALE=0.02 written for 4 photo(s)" in printed
    assert main(["predict", str(model), str(tmp_path / "new"), "--out", str(out), "--scale", "0.5", "--quiet"]) == 0
    assert [r.scale for r in read_tps_records(out)] == [0.5] * 4
    # predictions as the long CSV itself
    assert main(["predict", str(model), str(tmp_path / "new"), "--out", str(tmp_path / "only.csv"), "--quiet"]) == 0
    assert [r["name"] for r in rows(tmp_path / "only.csv")][:LANDMARKS] == NAMES


def test_a_listing_tps_gives_each_photo_its_scale_and_id_and_ktch_and_py_tps_read_the_result(named, tmp_path):
    ktch_tps = pytest.importorskip("ktch.io._tps")
    py_tps = pytest.importorskip("py_tps")
    _, model = named
    truth = new_photos(tmp_path)
    listing = tmp_path / "todo.tps"
    listing.write_text("LM=0\nIMAGE=new0.jpg\nID=12\nSCALE=0.0125\nLM=0\nIMAGE=new1.png\nID=13\n")
    out = tmp_path / "pred.tps"
    assert main(["predict", str(model), str(listing), "--out", str(out), "--quiet"]) == 0
    records = read_tps_records(out)
    assert [(r.image, r.id, r.scale) for r in records] == [("new0.jpg", "12", 0.0125), ("new1.png", "13", 0.02)]
    theirs = ktch_tps._read_tps(out)
    assert [(t.image_path, str(t.idx), float(t.scale)) for t in theirs] == [(r.image, r.id, r.scale) for r in records]
    mine = np.stack([r.landmarks_up for r in records])
    np.testing.assert_allclose(np.stack([np.asarray(t.landmarks, float) for t in theirs]), mine)
    images = py_tps.TPSFile.read_file(out).images
    assert [(i.image, i.id_number, i.scale) for i in images] == [("new0.jpg", 12, 0.0125), ("new1.png", 13, 0.02)]
    np.testing.assert_allclose(np.stack([i.landmarks.points for i in images]), mine)
    assert truth  # the photos were there to be placed


def test_predict_refuses_the_same_file_for_out_and_csv_and_an_unknown_suffix(named, tmp_path, capsys):
    _, model = named
    new_photos(tmp_path)
    assert main(["predict", str(model), str(tmp_path / "new0.jpg"), "--out", str(tmp_path / "a.csv"),
                 "--csv", str(tmp_path / "a.csv"), "--quiet"]) != 0
    assert "is the --out file" in capsys.readouterr().err
    assert main(["predict", str(model), str(tmp_path / "new0.jpg"), "--out", str(tmp_path / "a.txt"), "--quiet"]) != 0
    assert "give a file name ending in .tps, .csv, .slp, .json" in capsys.readouterr().err


def test_training_on_a_list_of_photos_still_to_landmark_is_a_clear_error(tmp_path, capsys):
    part = disc_part(tmp_path / "part", photos=[(64, 48, "RGB", ".png")] * 3)
    lines = [f"LM=0\nIMAGE=d{k:02d}.png" for k in range(3)]
    (tmp_path / "todo.tps").write_text("\n".join(lines) + "\n")
    assert main(["train", "--data", str(part), "--landmarks", str(tmp_path / "todo.tps"), "--out",
                 str(tmp_path / "m"), "--epochs", "1", "--quiet"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "every specimen has LM=0" in err[0] and "beetles predict" in err[0]
    assert not (tmp_path / "m").exists()
    # one LM=0 block among landmarked ones: named
    text = (part / "landmarks.tps").read_text() + "LM=0\nIMAGE=d00.png\n"
    (tmp_path / "some.tps").write_text(text)
    assert main(["train", "--data", str(part), "--landmarks", str(tmp_path / "some.tps"), "--out",
                 str(tmp_path / "m"), "--epochs", "1", "--quiet"]) != 0
    assert "specimen 4 (d00.png): LM=0, no landmarks to learn from" in capsys.readouterr().err


def test_names_that_do_not_fit_are_refused(tmp_path, capsys):
    part = disc_part(tmp_path / "part", photos=[(64, 48, "RGB", ".png")] * 3)
    (tmp_path / "names.txt").write_text("a\nb\n")
    assert main(["train", "--data", str(part), "--out", str(tmp_path / "m"), "--epochs", "1", "--quiet",
                 "--names", str(tmp_path / "names.txt")]) != 0
    assert "2 landmark name(s), but the landmarks number 3" in capsys.readouterr().err
    (tmp_path / "names.txt").write_text("a\nb\na\n")
    assert main(["train", "--data", str(part), "--out", str(tmp_path / "m"), "--epochs", "1", "--quiet",
                 "--names", str(tmp_path / "names.txt")]) != 0
    assert "given twice: a" in capsys.readouterr().err


def test_predict_writes_sleap_and_coco_directly_with_the_names(named, tmp_path):
    sio = pytest.importorskip("sleap_io")
    _, model = named
    new_photos(tmp_path / "new")
    (tmp_path / "new" / "broken.jpg").unlink()
    assert main(["predict", str(model), str(tmp_path / "new"), "--out", str(tmp_path / "p.tps"), "--quiet"]) == 0
    want = {r.image: r.landmarks_up for r in read_tps_records(tmp_path / "p.tps")}
    for name, kind in (("p.slp", []), ("p.json", []), ("coco.out", ["--format", "coco"])):
        assert main(["predict", str(model), str(tmp_path / "new"), "--out", str(tmp_path / name), "--quiet",
                     *kind]) == 0
        labels = sio.load_slp(str(tmp_path / name)) if name.endswith(".slp") else sio.load_coco(str(tmp_path / name))
        assert [node.name for node in labels.skeletons[0].nodes] == NAMES
        assert len(labels.labeled_frames) == len(want)
    from beetles.formats.pose import read_pose

    specimens, names = read_pose(tmp_path / "p.slp", "slp")
    assert names == NAMES
    for s in specimens:  # the same points as the TPS (y up there), to float rounding
        np.testing.assert_allclose(s.frame.height - s.landmarks[:, 1], want[s.image.name][:, 1], atol=1e-4)
