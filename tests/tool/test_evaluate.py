"""``beetles evaluate``: pixel distances, GPA / Procrustes distances and
centroid sizes between a manual and a predicted TPS file."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from beetles.cli import main
from beetles.core.errors import DataError
from beetles.core.frames import photo_frame
from beetles.core.procrustes import centroid_size
from beetles.core.specimen import Specimen
from beetles.formats.tps import write_tps
from beetles.tool.agreement import compare, read_pairs
from beetles.tool.evaluate import evaluate_files

FRAME = photo_frame(640, 480)
N, LM = 12, 6


def manual_shapes(seed=0):
    """``(N, LM, 2)`` y-down configurations: one base shape, varied, placed and sized."""
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0], [60, -10], [110, 20], [100, 80], [40, 95], [-10, 50]], float)
    shapes = base + rng.normal(0, 6, (N, LM, 2))
    scale = rng.uniform(0.8, 1.6, N)[:, None, None]
    return shapes * scale + rng.uniform([150, 150], [400, 300], (N, 1, 2))


def names(count=N, prefix="s"):
    return [f"{prefix}_{k:02d}.jpg" for k in range(count)]


def tps(path, shapes, image_names=None):
    image_names = image_names or names(len(shapes))
    write_tps(path, [Specimen(path.parent / n, s, FRAME) for n, s in zip(image_names, shapes)])
    return path


def rotate(shape, angle):
    c, s = np.cos(angle), np.sin(angle)
    return shape @ np.array([[c, -s], [s, c]]).T


# ---------------------------------------------------------------- files


def test_similarity_transform_gives_zero_procrustes_but_pixel_distances(tmp_path):
    manual = manual_shapes()
    rng = np.random.default_rng(1)
    predicted = []
    for shape in manual:
        centre = shape.mean(axis=0)
        moved = rotate(shape - centre, rng.uniform(-0.5, 0.5)) * rng.uniform(0.7, 1.3) + centre + rng.uniform(-20, 20, 2)
        predicted.append(moved)
    result = evaluate_files(tps(tmp_path / "a.tps", manual), tps(tmp_path / "b.tps", np.array(predicted)))
    distances = np.array([s["procrustes_distance"] for s in result["specimens"]])
    assert distances.shape == (N,) and distances.max() < 1e-6
    assert result["procrustes"]["max"] < 1e-6
    assert min(r["mean"] for r in result["landmarks"]) > 1.0  # pixel distances see the transforms
    assert result["mean_distance"] > 1.0


def test_pure_shift_recovers_known_distances_per_landmark(tmp_path):
    manual = manual_shapes()
    shift = np.array([[3, 4], [0, 1], [6, 8], [-5, 12], [0, 0], [2.5, 0]])  # 5, 1, 10, 13, 0, 2.5 px
    result = evaluate_files(tps(tmp_path / "a.tps", manual), tps(tmp_path / "b.tps", manual + shift))
    rows = result["landmarks"]
    assert [r["landmark"] for r in rows] == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose([r["mean"] for r in rows], [5, 1, 10, 13, 0, 2.5], atol=2e-5)
    np.testing.assert_allclose([r["max"] for r in rows], [5, 1, 10, 13, 0, 2.5], atol=2e-5)
    np.testing.assert_allclose([r["sd"] for r in rows], 0, atol=2e-5)
    assert [r["n"] for r in rows] == [N] * LM
    np.testing.assert_allclose(result["mean_distance"], np.mean([5, 1, 10, 13, 0, 2.5]), atol=2e-5)


def test_small_noise_keeps_centroid_sizes_correlated(tmp_path):
    manual = manual_shapes()
    predicted = manual + np.random.default_rng(2).normal(0, 0.5, manual.shape)
    result = evaluate_files(tps(tmp_path / "a.tps", manual), tps(tmp_path / "b.tps", predicted))
    size = result["centroid_size"]
    assert size["pearson_r"] > 0.99 and size["n_specimens"] == N
    assert abs(size["mean_ratio_predicted_manual"] - 1) < 0.02
    np.testing.assert_allclose(
        [s["centroid_size_manual"] for s in result["specimens"]], centroid_size(manual), rtol=1e-6
    )
    assert 0 < result["procrustes"]["mean"] < 0.05
    # more noise, worse shape agreement: the measure is not constant
    noisier = manual + np.random.default_rng(2).normal(0, 8, manual.shape)
    worse = evaluate_files(tmp_path / "a.tps", tps(tmp_path / "c.tps", noisier))
    assert worse["procrustes"]["mean"] > 5 * result["procrustes"]["mean"]


def test_pairs_by_name_and_reports_specimens_in_one_file_only(tmp_path):
    manual = manual_shapes()
    shift = np.array([1.0, 0.0])
    names_m = names() + ["only_manual.jpg"]
    names_p = list(reversed(names())) + ["only_pred.jpg"]
    extra = manual[:1] + 50
    a = tps(tmp_path / "a.tps", np.concatenate([manual, extra]), names_m)
    b = tps(tmp_path / "b.tps", np.concatenate([manual[::-1] + shift, extra + 99]), names_p)
    result = evaluate_files(a, b)
    assert result["pairing"] == "name" and result["n_specimens"] == N
    assert result["only_manual"] == {"count": 1, "first": ["only_manual.jpg"]}
    assert result["only_predicted"] == {"count": 1, "first": ["only_pred.jpg"]}
    np.testing.assert_allclose([r["mean"] for r in result["landmarks"]], 1.0, atol=2e-5)  # reversed order matched
    notes = " ".join(result["notes"])
    assert "only_manual.jpg" in notes and "only_pred.jpg" in notes


def test_pairs_by_order_without_names_and_says_so(tmp_path):
    manual = manual_shapes()
    a = tps(tmp_path / "a.tps", manual)
    b = tmp_path / "b.tps"
    text = tps(b, manual + [0, 2]).read_text()
    b.write_text("\n".join(line for line in text.splitlines() if not line.startswith("IMAGE=")) + "\n")
    pairs = read_pairs(a, b)
    assert pairs.pairing == "order" and len(pairs.names) == N
    result = evaluate_files(a, b)
    assert "order" in " ".join(result["notes"])
    np.testing.assert_allclose(result["mean_distance"], 2.0, atol=2e-5)


def test_different_landmark_count_names_both_files(tmp_path):
    a = tps(tmp_path / "manual.tps", manual_shapes())
    b = tps(tmp_path / "pred.tps", manual_shapes()[:, :5])
    with pytest.raises(DataError) as caught:
        evaluate_files(a, b)
    assert str(a) in str(caught.value) and str(b) in str(caught.value)
    assert "6" in str(caught.value) and "5" in str(caught.value)


def test_no_specimen_in_common_names_both_files(tmp_path):
    a = tps(tmp_path / "manual.tps", manual_shapes())
    b = tps(tmp_path / "pred.tps", manual_shapes(), names(prefix="other"))
    with pytest.raises(DataError, match="no specimen in common") as caught:
        evaluate_files(a, b)
    assert str(a) in str(caught.value) and str(b) in str(caught.value)


def test_missing_landmarks_left_out_of_distances_and_procrustes(tmp_path):
    manual = manual_shapes()
    predicted = manual + [3.0, 4.0]
    manual[0, 2] = np.nan  # manual misses landmark 3 of specimen 0
    predicted[5, 4] = np.nan  # prediction misses landmark 5 of specimen 5
    result = evaluate_files(tps(tmp_path / "a.tps", manual), tps(tmp_path / "b.tps", predicted))
    rows = result["landmarks"]
    assert [r["n"] for r in rows] == [N, N, N - 1, N, N - 1, N]
    np.testing.assert_allclose([r["mean"] for r in rows], 5.0, atol=2e-5)
    specimens = result["specimens"]
    assert np.isnan(specimens[0]["procrustes_distance"]) and np.isnan(specimens[5]["procrustes_distance"])
    assert np.isnan(specimens[0]["centroid_size_manual"])
    np.testing.assert_allclose(specimens[0]["mean_distance"], 5.0, atol=2e-5)
    assert result["procrustes"]["n_specimens"] == N - 2
    assert result["procrustes"]["max"] < 1e-6  # a shift is no change of shape
    assert any("missing landmarks" in n and "s_00.jpg" in n and "s_05.jpg" in n for n in result["notes"])


def test_compare_in_memory_matches_array_shapes():
    manual = manual_shapes()
    agreement = compare(manual, manual + 1.0)
    assert agreement.distances.shape == (N, LM) and agreement.procrustes.shape == (N,)
    assert agreement.mean_manual.shape == (LM, 2)
    with pytest.raises(ValueError):
        compare(manual, manual[:, :3])


# ---------------------------------------------------------------- command line


def test_cli_writes_all_four_files(tmp_path, capsys):
    manual = manual_shapes()
    predicted = manual + np.random.default_rng(5).normal(0, 2, manual.shape)
    a, b = tps(tmp_path / "a.tps", manual), tps(tmp_path / "b.tps", predicted)
    before = a.read_bytes(), b.read_bytes()
    out = tmp_path / "eval"
    assert main(["evaluate", "--manual", str(a), "--pred", str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"specimens: {N}" in printed and "mean distance" in printed and "Procrustes" in printed
    assert "centroid size: r = 0.9" in printed and printed.count("  s_") == 5  # worst five

    assert sorted(p.name for p in out.iterdir()) == ["landmarks.csv", "report.png", "specimens.csv", "summary.json"]
    with open(out / "landmarks.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["landmark", "mean", "sd", "median", "max", "n"] and len(rows) == LM
    with open(out / "specimens.csv", newline="") as handle:
        specimens = list(csv.DictReader(handle))
    assert list(specimens[0]) == [
        "image", "mean_distance", "procrustes_distance", "centroid_size_manual", "centroid_size_predicted"
    ]
    assert len(specimens) == N and float(specimens[0]["procrustes_distance"]) > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_specimens"] == N and summary["pairing"] == "name"
    with Image.open(out / "report.png") as image:
        assert image.format == "PNG" and image.size[0] > 800 and image.size[1] > 500
    assert (a.read_bytes(), b.read_bytes()) == before
    assert not list(out.glob(".*.tmp"))


def test_cli_without_out_prints_only_and_refuses_a_file_as_out(tmp_path, capsys):
    a = tps(tmp_path / "a.tps", manual_shapes())
    b = tps(tmp_path / "b.tps", manual_shapes() + 1)
    assert main(["evaluate", "--manual", str(a), "--pred", str(b)]) == 0
    assert "mean distance: 1.41 px" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tps", "b.tps"]
    assert main(["evaluate", "--manual", str(a), "--pred", str(b), "--out", str(b)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["evaluate", "--manual", str(a), "--pred", str(tmp_path / "nope.tps")]) == 2
    assert "not found" in capsys.readouterr().err
