"""``beetles shapes``: Procrustes-aligned shapes and centroid sizes, written for
geomorph (TPS), MorphoJ (tab-separated) and spreadsheets (CSV)."""
import csv
import json

import numpy as np

from beetles.cli import main
from beetles.core.procrustes import centroid_size
from beetles.formats.tps import read_tps_records
from beetles.tool.shapes import procrustes_shapes, shapes_files

BASE = np.array([[0, 0], [60, -10], [110, 20], [100, 80], [40, 95], [-10, 50]], float)
N = len(BASE)


def configurations(count=8, seed=0):
    """``(count, N, 2)`` varied, sized, turned and placed copies of ``BASE``."""
    rng = np.random.default_rng(seed)
    shapes = BASE + rng.normal(0, 5, (count, N, 2))
    out = []
    for shape in shapes:
        out.append(similar(shape, rng.uniform(-0.6, 0.6), rng.uniform(0.7, 1.5), rng.uniform(100, 400, 2)))
    return np.array(out)


def similar(shape, angle, size, shift):
    c, s = np.cos(angle), np.sin(angle)
    return (shape - shape.mean(axis=0)) @ np.array([[c, s], [-s, c]]) * size + shift


def write_tps(path, shapes, images=True, ids=None, scales=None, missing=()):
    """A TPS file of ``shapes`` (y up, as written); ``missing``: (specimen, landmark) written NA."""
    blocks = []
    for k, shape in enumerate(shapes):
        lines = [f"LM={len(shape)}"]
        lines += ["NA NA" if (k, j) in missing else f"{x:.6f} {y:.6f}" for j, (x, y) in enumerate(shape)]
        if images:
            lines.append(f"IMAGE=beetle_{k:03d}.jpg")
        if ids is not None:
            lines.append(f"ID={ids[k]}")
        if scales is not None and scales[k] is not None:
            lines.append(f"SCALE={scales[k]}")
        blocks.append("\n".join(lines))
    path.write_text("\n".join(blocks) + "\n")
    return path


def read_back(path):
    """``read_tps_records`` as beetles reads any file: aligned.tps names no photos, so its
    negative coordinates (the shapes are centred) stay coordinates."""
    return read_tps_records(path)


# ---------------------------------------------------------------- the analysis


def test_similar_copy_aligns_to_the_same_shape_of_unit_size_and_zero_centroid():
    shapes = configurations()
    copy = similar(shapes[0], 1.1, 3.7, np.array([-250.0, 80.0]))
    result = procrustes_shapes(np.concatenate([shapes, copy[None]]))
    assert np.abs(result.aligned[-1] - result.aligned[0]).max() < 1e-9
    assert np.abs(result.aligned[1] - result.aligned[0]).max() > 1e-3  # the others do differ
    assert np.allclose(centroid_size(result.aligned), 1.0, atol=1e-12)
    assert np.abs(result.aligned.mean(axis=1)).max() < 1e-12
    assert np.allclose(result.centroid_sizes, centroid_size(np.concatenate([shapes, copy[None]])))
    assert result.converged and not result.scaled


def test_scale_on_every_specimen_gives_scaled_centroid_sizes(tmp_path):
    shapes = configurations()
    scales = [0.01 + 0.002 * k for k in range(len(shapes))]
    run = shapes_files([write_tps(tmp_path / "a.tps", shapes, scales=scales)], tmp_path / "out")
    expected = centroid_size(shapes) * np.array(scales)
    assert run.shapes.scaled and not run.warnings
    assert np.allclose(run.shapes.centroid_sizes, expected, rtol=1e-6)
    info = json.loads((tmp_path / "out" / "shapes.json").read_text())
    assert info["scaled"] is True and info["units"] == "scale units (SCALE=)"
    unscaled = shapes_files([tmp_path / "a.tps"], tmp_path / "raw", scale=False)
    assert not unscaled.shapes.scaled
    assert np.allclose(unscaled.shapes.centroid_sizes, centroid_size(shapes), rtol=1e-6)
    assert np.abs(unscaled.shapes.aligned - run.shapes.aligned).max() < 1e-6  # shapes do not depend on scale


def test_scale_on_only_some_specimens_is_not_used_and_warned(tmp_path, capsys):
    shapes = configurations()
    scales = [0.01] * 5 + [None] * 3
    path = write_tps(tmp_path / "a.tps", shapes, scales=scales)
    assert main(["shapes", str(path), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    warnings = [line for line in printed.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "3 of 8 specimens have no SCALE=" in warnings[0]
    assert "units: pixels" in printed
    info = json.loads((tmp_path / "out" / "shapes.json").read_text())
    assert info["scaled"] is False and info["units"] == "pixels" and len(info["warnings"]) == 1
    with open(tmp_path / "out" / "shapes.csv", newline="") as handle:
        sizes = [float(row["centroid_size"]) for row in csv.DictReader(handle)]
    assert np.allclose(sizes, centroid_size(shapes), rtol=1e-6)


# ---------------------------------------------------------------- the files


def test_aligned_tps_reads_back_with_beetles_py_tps_and_ktch(tmp_path):
    import py_tps
    from ktch.io import read_tps as ktch_read_tps

    shapes = configurations()
    run = shapes_files([write_tps(tmp_path / "a.tps", shapes, scales=[0.02] * len(shapes))], tmp_path / "out")
    aligned = tmp_path / "out" / "aligned.tps"
    text = aligned.read_text()
    assert "SCALE" not in text and text.count("ID=") == len(shapes) and "IMAGE=" not in text

    ours = read_back(aligned)
    assert np.abs(np.stack([r.landmarks_up for r in ours]) - run.shapes.aligned).max() < 1e-9
    assert [r.id for r in ours] == [str(k) for k in range(len(shapes))]  # no own ID: 0-based positions
    assert all(r.image is None for r in ours)  # shapes.csv names the photos

    theirs = py_tps.TPSFile.read_file(aligned).images
    assert len(theirs) == len(shapes)
    assert np.abs(np.stack([t.landmarks.points for t in theirs]) - run.shapes.aligned).max() < 1e-9
    assert [t.id_number for t in theirs] == list(range(len(shapes)))

    ktch = np.asarray(ktch_read_tps(aligned))
    assert ktch.shape == run.shapes.aligned.shape
    assert np.abs(ktch - run.shapes.aligned).max() < 1e-9


def test_own_ids_are_kept_and_repeated_ones_renumbered(tmp_path):
    shapes = configurations(4)
    kept = shapes_files([write_tps(tmp_path / "a.tps", shapes, ids=[7, 3, 12, 5])], tmp_path / "a")
    assert kept.ids == ["7", "3", "12", "5"] and not kept.notes
    names = shapes_files([write_tps(tmp_path / "b.tps", shapes, ids=["m1", "m2", "f1", "f2"])], tmp_path / "b")
    assert names.ids == ["m1", "m2", "f1", "f2"] and "py-tps reads only whole-number IDs" in names.notes[0]
    spaced = shapes_files([write_tps(tmp_path / "s.tps", shapes, ids=["m 1", "m2", "f1", "f2"])], tmp_path / "s")
    assert spaced.ids == ["0", "1", "2", "3"] and "hold a space" in spaced.notes[0]
    # two files numbered from 0 each: positions in the combined file
    both = shapes_files([tmp_path / "a.tps", write_tps(tmp_path / "c.tps", shapes, ids=[0, 1, 2, 3])], tmp_path / "c")
    assert both.ids == [str(k) for k in range(8)]


def test_shapes_csv_and_morphoj_files_agree_with_aligned_tps(tmp_path):
    shapes = configurations()
    run = shapes_files([write_tps(tmp_path / "a.tps", shapes)], tmp_path / "out")
    out = tmp_path / "out"
    with open(out / "shapes.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    xy = [f"{a}{k}" for k in range(1, N + 1) for a in "xy"]
    assert rows[0] == ["id", "image", "centroid_size", *xy]
    assert len(rows) == len(shapes) + 1
    records = read_back(out / "aligned.tps")
    for row, record in zip(rows[1:], records, strict=True):
        assert row[0] == record.id
        assert np.abs(np.array(row[3:], float).reshape(N, 2) - record.landmarks_up).max() < 1e-12
    assert [r[1] for r in rows[1:]] == [f"beetle_{k:03d}.jpg" for k in range(len(shapes))]
    assert np.allclose([float(r[2]) for r in rows[1:]], centroid_size(shapes), rtol=1e-6)
    # MorphoJ: tab-separated, identifier then coordinates only; the sizes as a covariate file
    morphoj = [line.split("\t") for line in (out / "shapes_morphoj.txt").read_text().splitlines()]
    assert morphoj[0] == ["ID", *xy] and [m[0] for m in morphoj[1:]] == [r[0] for r in rows[1:]]
    assert all(m[1:] == r[3:] for m, r in zip(morphoj[1:], rows[1:]))
    covariates = [line.split("\t") for line in (out / "covariates_morphoj.txt").read_text().splitlines()]
    assert covariates[0] == ["ID", "CS"] and covariates[1:] == [[r[0], r[2]] for r in rows[1:]]
    assert run.shapes.aligned.shape == (len(shapes), N, 2)


def test_long_csv_is_flipped_to_y_up_like_the_tps(tmp_path):
    shapes = configurations(5)
    tps = write_tps(tmp_path / "a.tps", shapes)
    long = tmp_path / "a.csv"
    lines = ["image,landmark,x,y_down"]
    lines += [f"beetle_{k:03d}.jpg,{j + 1},{x:.6f},{900 - y:.6f}"
              for k, s in enumerate(shapes) for j, (x, y) in enumerate(s)]
    long.write_text("\n".join(lines) + "\n")
    from_tps = shapes_files([tps], tmp_path / "t")
    from_csv = shapes_files([long], tmp_path / "c")
    assert np.abs(from_csv.shapes.aligned - from_tps.shapes.aligned).max() < 1e-9
    assert np.allclose(from_csv.shapes.centroid_sizes, from_tps.shapes.centroid_sizes)
    assert [c.image for c in from_csv.configurations] == [c.image for c in from_tps.configurations]


# ---------------------------------------------------------------- the command


def test_cli_writes_the_files(tmp_path, capsys):
    shapes = configurations()
    path = write_tps(tmp_path / "a.tps", shapes[:5])
    other = write_tps(tmp_path / "b.tps", shapes[5:], images=False)
    out = tmp_path / "out"
    assert main(["shapes", str(path), str(other), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "8 specimens, 6 landmarks" in printed and "units: pixels" in printed
    for name in ("aligned.tps", "shapes.csv", "shapes_morphoj.txt", "covariates_morphoj.txt", "shapes.json"):
        assert (out / name).is_file() and str(out / name) in printed
    info = json.loads((out / "shapes.json").read_text())
    assert info["specimens"] == 8 and info["landmarks"] == N and info["gpa"]["converged"] is True
    assert info["inputs"] == [str(path), str(other)]
    assert "IMAGE=" not in (out / "aligned.tps").read_text()  # not photo pixels


def test_cli_refuses_missing_landmarks_in_one_line_or_drops_them(tmp_path, capsys):
    path = write_tps(tmp_path / "a.tps", configurations(), missing={(2, 4)})
    out = tmp_path / "out"
    assert main(["shapes", str(path), "--out", str(out)]) != 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "missing landmarks" in lines[0] and "a.tps #3" in lines[0]
    assert "beetle_002.jpg" in lines[0] and not (out / "aligned.tps").exists()

    assert main(["shapes", str(path), "--out", str(out), "--drop-missing"]) == 0
    printed = capsys.readouterr().out
    assert "7 specimens" in printed and "1 specimen(s) with missing landmarks left out" in printed
    with open(out / "shapes.csv", newline="") as handle:
        assert [row[1] for row in csv.reader(handle)][3] == "beetle_003.jpg"  # the third specimen left: #4


def test_cli_refuses_different_landmark_counts(tmp_path, capsys):
    shapes = configurations()
    a = write_tps(tmp_path / "a.tps", shapes)
    b = write_tps(tmp_path / "b.tps", shapes[:, :5])
    assert main(["shapes", str(a), str(b), "--out", str(tmp_path / "out")]) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "different landmark counts" in lines[0] and "b.tps #1" in lines[0]
