"""The real-photo benchmark end to end on tiny data: folds, contenders, tables, resume."""
import csv

import numpy as np
import pytest

from beetles.cli import main
from beetles.core.errors import DataError
from beetles.studies.realphotos import make_folds
from tests.tool.discs import disc_part


def test_folds_test_every_specimen_once_and_are_seeded():
    names = [f"s{i:02d}" for i in range(23)]
    folds = make_folds(names, 5, seed=3)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(23)) and len(folds) == 5
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 23
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, make_folds(names, 5, seed=3), strict=True))
    assert not np.array_equal(folds[0][1], make_folds(names, 5, seed=4)[0][1])
    (train, test), = make_folds(list(reversed(names)), first=20)
    assert sorted(names[::-1][i] for i in test) == ["s20", "s21", "s22"]  # the first 20 by name train
    with pytest.raises(DataError, match="--folds 30"):
        make_folds(names, 30)


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_benchmark_runs_every_contender_on_the_same_folds_and_resumes(tmp_path):
    part = disc_part(tmp_path / "part")
    out = tmp_path / "bench"
    args = ["benchmark", "--data", str(part), "--out", str(out), "--models", "zoom", "--folds", "3", "--only", "1",
            "2", "--epochs", "2", "--no-dlib", "--quiet"]
    assert main(args) == 0
    summary = {r["contender"]: r for r in read(out / "summary.csv")}
    assert set(summary) == {"trivial", "zoom"}
    for row in summary.values():
        assert row["folds"] == "2" and int(row["test_specimens"]) == 11  # 16 photos: folds of 6, 5, 5
        assert float(row["median_px"]) <= float(row["p90_px"])
    assert summary["trivial"]["coverage90"] == "" and 0 <= float(summary["zoom"]["coverage90"]) <= 1
    assert float(summary["zoom"]["train_s_per_fold"]) > 0
    per_landmark = read(out / "per_landmark.csv")
    assert len(per_landmark) == 2 * 3 and {r["landmark"] for r in per_landmark} == {"1", "2", "3"}
    assert {(r["contender"], r["fold"]) for r in read(out / "per_fold.csv")} == {
        (c, f) for c in ("trivial", "zoom") for f in ("1", "2")}
    assert (out / "fig_errors.png").stat().st_size > 1000
    predictions = read(out / "fold1" / "zoom" / "predictions.csv")
    assert set(predictions[0]) == {"image", "landmark", "x", "y", "radius90_px"}
    assert (out / "fold1" / "zoom" / "model" / "calibration.json").is_file()
    # a second run reuses every finished fold and writes the same tables
    stamp = (out / "fold1" / "zoom" / "timing.json").stat().st_mtime_ns
    before = (out / "summary.csv").read_text()
    assert main(args) == 0
    assert (out / "fold1" / "zoom" / "timing.json").stat().st_mtime_ns == stamp
    assert (out / "summary.csv").read_text() == before
