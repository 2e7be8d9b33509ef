"""benchmarks/vs_dlib.py: loading, pairing, frames, tables and the kept trained
rounds without dlib; end-to-end runs (training, then reusing) with dlib when it
is installed."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from beetles.core.errors import DataError
from beetles.core.frames import NETWORK
from beetles.core.metrics import trivial_predictor_distances
from beetles.formats.published import write_paired_csv
from beetles.paper.settings import part_rounds
from tests.helpers import blob_part, script_module

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "vs_dlib.py"


@pytest.fixture(scope="module")
def vs_dlib():
    with script_module(SCRIPT, "vs_dlib_under_test") as module:
        yield module


@pytest.fixture
def dataset(tmp_path):
    """A dataset root with a 12-photo ``pronotum`` part (320×240, 2 landmarks)."""
    blob_part(tmp_path / "data" / "pronotum", count=12, seed=3, landmarks=2)
    return tmp_path / "data"


def write_ours(folder, specimens, offset=(1.0, 0.0), manual_shift=0.0):
    """Our experiment's files for ``specimens``: predictions = manual + ``offset`` (256×192)."""
    manual = np.stack([s.in_frame(NETWORK).landmarks for s in specimens])
    write_paired_csv(folder / "predictions.csv", [s.name for s in specimens], manual + manual_shift,
                     manual + np.array(offset))
    (folder / "run.json").write_text(json.dumps({"experiment": "heatmap", "rounds_run": [1]}))
    return folder


def test_rounds_are_the_experiments(vs_dlib, dataset):
    data = vs_dlib.load_data(dataset, "pronotum", progress=False)
    assert len(data) == 12 and data[0].frame.size == (320, 240)
    expected = part_rounds("pronotum", 12)
    (first,) = vs_dlib.choose_rounds(data, "1")
    assert np.array_equal(first.test, expected[0].test) and np.array_equal(first.train, expected[0].train)
    assert [r.number for r in vs_dlib.choose_rounds(data, "1,3")] == [1, 3]
    assert [r.number for r in vs_dlib.choose_rounds(data, "2")] == [1, 2]


def test_frames_boxes_and_points(vs_dlib, dataset):
    data = vs_dlib.load_data(dataset, "pronotum", progress=False)
    specimens = [data[0], data[1]]
    photo = np.array([[[160.0, 120.0], [320.0, 0.0]]] * 2)
    network = vs_dlib.to_network(photo, specimens)
    assert np.allclose(network[0], [[128, 96], [256, 0]])
    assert np.allclose(vs_dlib.to_photo(network, specimens), photo)
    assert vs_dlib.whole_photo_box(data[0]) == (0, 0, 319, 239)
    assert vs_dlib.integer_points([[1.4, 2.6], [3.0, 0.2]]) == [(1, 3), (3, 0)]
    pixels = vs_dlib.gray_pixels(data[0].image)
    assert pixels.shape == (240, 320) and pixels.dtype == np.uint8


def test_trivial_predictor_in_both_frames(vs_dlib, dataset):
    data = vs_dlib.load_data(dataset, "pronotum", progress=False)
    round_ = vs_dlib.choose_rounds(data, "1")[0]
    train, test = [data[i] for i in round_.train], [data[i] for i in round_.test]
    photo_px, network_px = vs_dlib.score(test, vs_dlib.trivial_predictions(train, test))
    expected_256 = trivial_predictor_distances(vs_dlib.network_landmarks(train), vs_dlib.network_landmarks(test))
    expected_photo = trivial_predictor_distances(vs_dlib.photo_landmarks(train), vs_dlib.photo_landmarks(test))
    assert network_px == pytest.approx(float(np.mean(expected_256)))
    assert photo_px == pytest.approx(float(np.mean(expected_photo)))
    assert photo_px == pytest.approx(1.25 * network_px)  # 320×240 photos: 1.25 photo px per network px


def test_pairing_and_row(vs_dlib, dataset, tmp_path):
    data = vs_dlib.load_data(dataset, "pronotum", progress=False)
    round_ = vs_dlib.choose_rounds(data, "1")[0]
    train, test = [data[i] for i in round_.train], [data[i] for i in round_.test]
    # ours holds the second test photo and a photo of another round
    folder = write_ours(tmp_path / "ours", [test[1], data[int(round_.train[-1])]], offset=(3.0, 4.0))
    ours = vs_dlib.read_ours(folder)
    assert ours.run["rounds_run"] == [1]
    positions, predicted = vs_dlib.pair_ours(ours, test)
    assert positions == [1]
    assert np.allclose(predicted[0], test[1].landmarks + 1.25 * np.array([3.0, 4.0]), atol=1e-3)
    dlib_predicted = np.stack([s.landmarks for s in test]) + np.array([0.0, 2.0])  # 2 photo px off
    row = vs_dlib.compare("pronotum", 1, train, test, dlib_predicted, ours, {"train_s": 1.5, "predict_ms": 2.0})
    assert row["test_images"] == 1 and row["round_test_images"] == len(test)
    assert row["ours_px"] == pytest.approx(6.25, abs=1e-3) and row["ours_px_256"] == pytest.approx(5.0, abs=1e-3)
    assert row["dlib_px"] == pytest.approx(2.0) and row["dlib_px_256"] == pytest.approx(1.6)
    assert row["trivial_px"] == pytest.approx(1.25 * row["trivial_px_256"])
    assert row["dlib_train_s"] == 1.5 and row["dlib_predict_ms"] == 2.0
    alone = vs_dlib.compare("pronotum", 1, train, test, dlib_predicted, None)
    assert alone["test_images"] == len(test) and np.isnan(alone["ours_px"]) and alone["dlib_px"] == pytest.approx(2.0)


def test_other_manual_landmarks_are_refused(vs_dlib, dataset, tmp_path):
    data = vs_dlib.load_data(dataset, "pronotum", progress=False)
    test = [data[i] for i in vs_dlib.choose_rounds(data, "1")[0].test]
    ours = vs_dlib.read_ours(write_ours(tmp_path / "ours", test, manual_shift=0.5))
    with pytest.raises(DataError, match="not the dataset's"):
        vs_dlib.pair_ours(ours, test)


def test_missing_ours(vs_dlib, tmp_path):
    assert vs_dlib.read_ours(tmp_path / "nothing") is None
    assert vs_dlib.ours_folder("results/{part}/heatmap", "head") == Path("results/head/heatmap")
    assert vs_dlib.ours_command("head") == "python experiments/model_comparison.py --parts head"
    assert vs_dlib.ours_command("head", "lab") == "python experiments/model_comparison.py --parts head --data lab"


def test_results_files_and_table(vs_dlib, tmp_path):
    nan = float("nan")
    rows = [{"part": "pronotum", "round": 1, "test_images": 33, "dlib_px": 5.0, "ours_px": nan, "trivial_px": 40.0,
             "dlib_px_256": 1.25, "ours_px_256": nan, "trivial_px_256": 10.0, "dlib_train_s": 100.0,
             "dlib_predict_ms": 0.5, "dlib_predict_decode_ms": 20.0, "round_test_images": 33}]
    csv_path, json_path = vs_dlib.write_results(tmp_path / "out", rows, {"benchmark": "vs_dlib"})
    with open(csv_path, newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == vs_dlib.CSV_COLUMNS
    assert table[1] == ["pronotum", "1", "33", "5.0000", "", "40.0000", "1.2500", "", "10.0000", "100.0000", "0.5000"]
    record = json.loads(json_path.read_text())
    assert record["benchmark"] == "vs_dlib" and record["results"][0]["ours_px"] is None
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary files left
    text = vs_dlib.format_table(rows)
    assert "pronotum" in text and "5.00" in text and " - " in text


def test_without_dlib_exits_2(vs_dlib, monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    assert vs_dlib.main(["--parts", "pronotum", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "pip install dlib-bin" in err and "pip install dlib`" in err
    assert not (tmp_path / "out").exists()


def tiny_dlib_args(dataset, tmp_path, *extra):
    return ["--data", str(dataset), "--parts", "pronotum", "--rounds", "1", "--quiet",
            "--ours", str(tmp_path / "ours" / "{part}"), "--out", str(tmp_path / "out"),
            "--cascade-depth", "3", "--trees", "20", "--oversampling", "5", "--feature-pool-size", "50",
            "--threads", "1", *extra]


def test_end_to_end_with_dlib(vs_dlib, dataset, tmp_path, capsys):
    dlib = pytest.importorskip("dlib")
    data = vs_dlib.load_data(dataset, "pronotum", progress=False)
    test = [data[i] for i in vs_dlib.choose_rounds(data, "1")[0].test]
    write_ours(tmp_path / "ours" / "pronotum", test, offset=(0.0, 2.0))
    out = tmp_path / "out"
    assert vs_dlib.main(tiny_dlib_args(dataset, tmp_path)) == 0
    assert "reusing dlib" not in capsys.readouterr().out
    with open(out / "vs_dlib.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["part"] == "pronotum" and row["round"] == "1" and int(row["test_images"]) == len(test)
    assert float(row["ours_px_256"]) == pytest.approx(2.0, abs=1e-3)
    assert float(row["ours_px"]) == pytest.approx(2.5, abs=1e-3)
    assert 0 <= float(row["dlib_px"]) < 400 and float(row["dlib_train_s"]) > 0 and float(row["dlib_predict_ms"]) > 0
    record = json.loads((out / "run.json").read_text())
    assert record["versions"]["dlib"] and record["dlib_options"]["cascade_depth"] == 3
    assert record["dlib_options"]["tree_depth"] == 3 and record["dlib_options"]["nu"] == pytest.approx(0.08)
    assert record["ours"]["pronotum"]["rounds_run"] == [1]
    assert record["dlib_trained"] == {"pronotum": [1]} and record["dlib_reused"] == {}
    assert record["results"][0]["dlib_reused"] is False

    # the kept round: dlib's own predictor file predicts what the csv holds
    folder = out / "pronotum" / "round01"
    kept = json.loads((folder / "dlib.json").read_text())
    assert kept["test_images"] == [s.name for s in test] and kept["options"]["cascade_depth"] == 3
    assert kept["train_s"] == pytest.approx(float(row["dlib_train_s"]), abs=1e-4)  # the csv keeps 4 decimals
    assert kept["versions"]["dlib"] == record["versions"]["dlib"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    predictor = dlib.shape_predictor(str(folder / "predictor.dat"))
    shape = predictor(vs_dlib.gray_pixels(test[0].image), dlib.rectangle(*vs_dlib.whole_photo_box(test[0])))
    csv_points = vs_dlib.read_predictions(folder / "dlib_predictions.csv", kept["test_images"], 2)
    assert [(p.x, p.y) for p in shape.parts()] == [tuple(p) for p in csv_points[0]]

    # a second run reuses it (other thread count: the same predictor), with the recorded times
    assert vs_dlib.main(tiny_dlib_args(dataset, tmp_path, "--threads", "2")) == 0
    assert "reusing dlib round 1 of pronotum trained earlier" in capsys.readouterr().out
    with open(out / "vs_dlib.csv", newline="") as handle:
        (again,) = list(csv.DictReader(handle))
    assert again == row
    record = json.loads((out / "run.json").read_text())
    assert record["dlib_reused"] == {"pronotum": [1]} and record["dlib_trained"] == {}
    assert record["results"][0]["dlib_reused"] is True

    # --retrain, or other options, train again
    assert vs_dlib.main(tiny_dlib_args(dataset, tmp_path, "--retrain")) == 0
    assert "reusing dlib" not in capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["dlib_trained"] == {"pronotum": [1]}
    assert vs_dlib.main(tiny_dlib_args(dataset, tmp_path, "--trees", "10")) == 0
    printed = capsys.readouterr().out
    assert "reusing dlib" not in printed and "num_trees_per_cascade_level 20 recorded, 10 now" in printed
    assert json.loads((folder / "dlib.json").read_text())["options"]["num_trees_per_cascade_level"] == 10


# --- kept rounds, without dlib ---------------------------------------------------------

OPTIONS = {"tree_depth": 3, "cascade_depth": 20, "nu": 0.08, "num_threads": 2, "be_verbose": False}


class FakePredictor:
    def save(self, path):
        Path(path).write_bytes(b"predictor")


def split(vs_dlib, dataset):
    data = vs_dlib.load_data(dataset, "pronotum", progress=False)
    round_ = vs_dlib.choose_rounds(data, "1")[0]
    return [data[i] for i in round_.train], [data[i] for i in round_.test]


def test_cache_matching(vs_dlib, dataset):
    train, test = split(vs_dlib, dataset)
    key = vs_dlib.cache_key(OPTIONS, train, test)
    assert "num_threads" not in key["options"] and key["options"]["nu"] == 0.08
    assert key["train_images"] == [s.name for s in train] and key["test_images"] == [s.name for s in test]
    record = json.loads(json.dumps({**key, "options": {**OPTIONS, "num_threads": 8, "be_verbose": True}}))
    assert vs_dlib.cache_mismatch(record, key) is None  # threads and verbosity do not change the predictor
    assert "nu 0.1 recorded, 0.08 now" in vs_dlib.cache_mismatch({**record, "options": {**OPTIONS, "nu": 0.1}}, key)
    assert "oversampling_amount" in vs_dlib.cache_mismatch(
        {**record, "options": {**OPTIONS, "oversampling_amount": 200}}, key)
    assert "training photos: " in vs_dlib.cache_mismatch({**record, "train_images": key["train_images"][:-1]}, key)
    assert "test photos differ (#1" in vs_dlib.cache_mismatch(
        {**record, "test_images": key["test_images"][::-1]}, key)
    assert "test photos: no recorded" in vs_dlib.cache_mismatch({k: v for k, v in record.items()
                                                                 if k != "test_images"}, key)
    assert "landmarks differ" in vs_dlib.cache_mismatch({**record, "train_digest": "0" * 64}, key)
    # the digest follows the training photos' order and landmarks
    assert vs_dlib.training_digest(train) == key["train_digest"] != vs_dlib.training_digest(train[::-1])
    assert vs_dlib.round_folder("out", "head", 3) == Path("out/head/round03")


def test_kept_round_files(vs_dlib, dataset, tmp_path):
    train, test = split(vs_dlib, dataset)
    key = vs_dlib.cache_key(OPTIONS, train, test)
    folder = tmp_path / "pronotum" / "round01"
    assert vs_dlib.load_round(folder, key, 2) == (None, None, None)  # nothing kept
    points = np.stack([s.landmarks for s in test]) + 0.5
    vs_dlib.save_round(folder, FakePredictor(), {**key, "options": OPTIONS, "train_s": 12.5}, points)
    assert sorted(p.name for p in folder.iterdir()) == ["dlib.json", "dlib_predictions.csv", "predictor.dat"]
    assert (folder / "predictor.dat").read_bytes() == b"predictor"
    with open(folder / "dlib_predictions.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["image", "landmark", "x", "y"] and len(table) == 1 + 2 * len(test)
    assert table[2][:2] == [test[0].name, "2"]
    predictions, record, why = vs_dlib.load_round(folder, key, 2)
    assert why is None and record["train_s"] == 12.5 and np.array_equal(predictions, points)
    # other options, other photos: not reused, and why
    other = vs_dlib.cache_key({**OPTIONS, "nu": 0.1}, train, test)
    assert vs_dlib.load_round(folder, other, 2)[2].startswith("options differ")
    # damaged or incomplete files: not reused
    lines = (folder / "dlib_predictions.csv").read_text().splitlines()
    (folder / "dlib_predictions.csv").write_text("\n".join(lines[:-1]) + "\n")
    assert "missing" in vs_dlib.load_round(folder, key, 2)[2]
    (folder / "dlib_predictions.csv").write_text("\n".join(lines + [lines[-1]]) + "\n")
    assert "repeated" in vs_dlib.load_round(folder, key, 2)[2]
    (folder / "dlib.json").write_text("{")
    assert "cannot be read" in vs_dlib.load_round(folder, key, 2)[2]
    (folder / "predictor.dat").unlink()
    assert vs_dlib.load_round(folder, key, 2)[2] == "its files are incomplete"


def test_dlib_round_reuses_without_dlib(vs_dlib, dataset, tmp_path, monkeypatch, capsys):
    """The training and prediction calls replaced: which rounds train, which are reused."""
    train, test = split(vs_dlib, dataset)
    calls = []

    def fake_train(dlib, train, options, progress=True):
        calls.append(options.nu)
        return FakePredictor(), 7.0 + len(calls)

    def fake_predict(dlib, predictor, test, progress=True):
        return np.stack([s.landmarks for s in test]).round(), {"predict_ms": 0.5, "predict_decode_ms": 9.0}

    monkeypatch.setattr(vs_dlib, "train_dlib", fake_train)
    monkeypatch.setattr(vs_dlib, "predict_dlib", fake_predict)
    fake_dlib = SimpleNamespace(__version__="0.test")
    options = SimpleNamespace(**OPTIONS)
    out = tmp_path / "out"
    first, timing, reused = vs_dlib.dlib_round(fake_dlib, options, "pronotum", 1, train, test, out)
    assert not reused and timing["train_s"] == 8.0 and calls == [0.08]
    again, timing, reused = vs_dlib.dlib_round(fake_dlib, SimpleNamespace(**{**OPTIONS, "num_threads": 1}),
                                               "pronotum", 1, train, test, out)
    assert reused and calls == [0.08] and np.array_equal(again, first)
    assert timing == {"train_s": 8.0, "predict_ms": 0.5, "predict_decode_ms": 9.0}
    assert "reusing dlib round 1 of pronotum trained earlier" in capsys.readouterr().out
    vs_dlib.dlib_round(fake_dlib, options, "pronotum", 1, train, test, out, retrain=True)
    assert calls == [0.08, 0.08] and "--retrain" in capsys.readouterr().out
    vs_dlib.dlib_round(fake_dlib, SimpleNamespace(**{**OPTIONS, "nu": 0.1}), "pronotum", 1, train, test, out)
    assert calls == [0.08, 0.08, 0.1] and "options differ: nu" in capsys.readouterr().out
    # another round or part has its own folder
    vs_dlib.dlib_round(fake_dlib, options, "pronotum", 2, train, test, out)
    assert len(calls) == 4 and (out / "pronotum" / "round02" / "dlib.json").is_file()
    record = json.loads((out / "pronotum" / "round01" / "dlib.json").read_text())
    assert record["part"] == "pronotum" and record["round"] == 1 and record["versions"]["dlib"] == "0.test"
    assert record["train_s"] == 10.0 and record["predict_decode_ms"] == 9.0 and record["options"]["nu"] == 0.1
