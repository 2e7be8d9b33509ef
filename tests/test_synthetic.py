"""The synthetic beetle generator: layout, determinism, TPS validity, anatomy
under the landmarks, and difficulty matched to the real landmarks."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from beetles import synthetic
from beetles.dataset import load_dataset, load_part
from beetles.formats.tps import read_tps, read_tps_records
from beetles.frames import NETWORK
from beetles.paper import PART_NAMES, PARTS
from beetles.shapes import real_landmarks, shape_model
from beetles.synthetic import (
    REAL_TRIVIAL_ERRORS,
    TRIVIAL_TOLERANCE,
    default_dataset,
    generate_dataset,
    parse_size,
    real_trivial_errors,
    render_specimen,
    sample_landmarks,
    trivial_errors,
    trivial_report,
)

SMALL = (320, 240)
BODY_PARTS = ("pronotum", "elytra", "head")


def digests(root) -> dict[str, str]:
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    result = generate_dataset(out, specimens=3, size=SMALL, preview=True, progress=False, workers=1)
    return out, result


def test_layout_is_the_real_data_layout(small_dataset):
    out, result = small_dataset
    assert set(result) == set(PART_NAMES) and result.root == out
    for name in PART_NAMES:
        folder = out / name
        assert result[name] == folder
        images = sorted(p.name for p in (folder / "images").iterdir())
        assert images == [f"{name}_{k:04d}.jpg" for k in (1, 2, 3)]
        for image in images:
            with Image.open(folder / "images" / image) as photo:
                assert photo.format == "JPEG" and photo.mode == "RGB" and photo.size == SMALL
        records = read_tps_records(folder / "landmarks.tps")
        assert [r.image for r in records] == images
        assert all(len(r.landmarks_up) == PARTS[name].landmarks for r in records)
        assert (folder / synthetic.COMPLETE_MARKER).is_file()
    # The loader accepts it as it would real data.
    data = load_dataset(out)
    assert set(data) == set(PART_NAMES)
    assert all(len(data[name]) == 3 and data[name].n_landmarks == PARTS[name].landmarks for name in PART_NAMES)


def test_preview_contact_sheet(small_dataset):
    out, result = small_dataset
    assert result.preview == out / "preview.png"
    with Image.open(result.preview) as sheet:
        assert sheet.format == "PNG"
        width, height = sheet.size
    assert width >= 3 * 100 and height >= len(PART_NAMES) * 100


def test_tps_is_y_up_in_the_photo_frame(small_dataset):
    out, _ = small_dataset
    for name in PART_NAMES:
        records = read_tps_records(out / name / "landmarks.tps")
        for index, record in enumerate(records):
            _, drawn, _ = render_specimen(name, index, size=SMALL)  # y down, photo frame
            np.testing.assert_allclose(record.landmarks_up[:, 0], drawn[:, 0], atol=1e-4)
            np.testing.assert_allclose(record.landmarks_up[:, 1], SMALL[1] - drawn[:, 1], atol=1e-4)
        # The network-frame landmarks are the shape model's draws, scaled.
        part = load_part(out / name)
        np.testing.assert_allclose(part.landmarks(NETWORK), sample_landmarks(name, 3), atol=1e-4)


def test_every_landmark_lies_inside_its_image(small_dataset):
    out, _ = small_dataset
    for name in PART_NAMES:
        for specimen in read_tps(out / name / "landmarks.tps", image_dir=out / name / "images"):
            points = specimen.landmarks
            assert np.isfinite(points).all()
            assert (points[:, 0] > 0).all() and (points[:, 0] < specimen.frame.width).all()
            assert (points[:, 1] > 0).all() and (points[:, 1] < specimen.frame.height).all()
    # and for every specimen of a full-size draw (landmarks only)
    for name in PART_NAMES:
        points = sample_landmarks(name)
        assert (points > 0).all() and (points[..., 0] < NETWORK.width).all() and (points[..., 1] < NETWORK.height).all()


def test_same_seed_gives_identical_files_whatever_the_workers(tmp_path, small_dataset):
    out, _ = small_dataset
    again = generate_dataset(tmp_path / "again", specimens=3, size=SMALL, preview=True, progress=False, workers=2)
    assert digests(out) == digests(again.root)


def test_different_seeds_give_different_specimens(tmp_path, small_dataset):
    out, _ = small_dataset
    other = generate_dataset(tmp_path / "other", parts=["pronotum", "left_mandible"], specimens=3, size=SMALL, seed=7, progress=False)
    for name in ("pronotum", "left_mandible"):
        for k in (1, 2, 3):
            image = f"{name}/images/{name}_{k:04d}.jpg"
            assert (out / image).read_bytes() != (other.root / image).read_bytes()
        a = load_part(out / name).landmarks(NETWORK)
        b = load_part(other.root / name).landmarks(NETWORK)
        assert np.abs(a - b).max() > 1.0


def test_a_specimen_does_not_depend_on_the_dataset_size():
    few = sample_landmarks("head", 2, seed=3)
    many = sample_landmarks("head", 5, seed=3)
    np.testing.assert_array_equal(few, many[:2])


def _gray(path) -> np.ndarray:
    with Image.open(path) as photo:
        return np.asarray(photo.convert("L"), dtype=np.float64)


def test_anatomy_passes_through_the_landmarks(tmp_path):
    """Around every landmark there is dark cuticle, and the neighbourhood is
    much darker than the background; the same test on landmarks moved away
    from the specimen fails, so it does test the drawing."""
    size = (640, 480)
    out = tmp_path / "anatomy"
    generate_dataset(out, specimens=4, size=size, progress=False, workers=1)
    for name in PART_NAMES:
        for specimen in read_tps(out / name / "landmarks.tps", image_dir=out / name / "images"):
            gray = _gray(specimen.image)
            background = np.percentile(gray, 97)
            radius = 2.5 * size[0] / NETWORK.width  # 2.5 px of the 256×192 frame
            yy, xx = np.mgrid[0 : size[1], 0 : size[0]]

            def near(points):
                means, darkest = [], []
                for x, y in points:
                    disk = gray[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2]
                    means.append(disk.mean())
                    darkest.append(disk.min())
                return np.array(means), np.array(darkest)

            means, darkest = near(specimen.landmarks)
            assert (darkest < background - 80).all(), (name, specimen.name, darkest, background)
            assert means.mean() < background - 60, (name, specimen.name, means, background)
            # Control: the same configuration shifted well off the specimen is on background.
            shifted = specimen.landmarks.copy()
            shifted[:, 0] = np.where(shifted[:, 0] > size[0] / 2, 3, size[0] - 3)
            shifted[:, 1] = np.clip(shifted[:, 1], 3, size[1] - 3)
            if name not in BODY_PARTS:  # mandibles: nothing else in the photo
                control, _ = near(shifted)
                assert control.mean() > background - 60


def test_trivial_predictor_matches_the_real_difficulty():
    """The trivial predictor (mean training landmarks) errs on the synthetic
    landmarks (full study counts, cross-validation rounds) within ±25% of what
    it does on the real beetles."""
    synthetic_errors = trivial_errors({name: sample_landmarks(name) for name in PART_NAMES})
    report = trivial_report(synthetic_errors)
    print(report)
    for name in PART_NAMES:
        ratio = synthetic_errors[name] / REAL_TRIVIAL_ERRORS[name]
        assert abs(ratio - 1) <= TRIVIAL_TOLERANCE, report
    assert "NO" not in report


def test_trivial_predictor_definition_reproduces_the_real_figures():
    real = real_trivial_errors()
    for name in PART_NAMES:
        assert real[name] == pytest.approx(REAL_TRIVIAL_ERRORS[name], rel=0.03)
    # Without the pose variation the task would be far easier: the test can fail.
    model = shape_model("pronotum")
    rng = np.random.default_rng(0)
    no_pose = np.stack([model.place(model.sample_shape(rng), model.pose_mean) for _ in range(293)])
    assert trivial_errors({"pronotum": no_pose})["pronotum"] < 0.75 * REAL_TRIVIAL_ERRORS["pronotum"]


def test_trivial_errors_from_files(small_dataset):
    out, _ = small_dataset
    from_files = trivial_errors(out)
    from_draws = trivial_errors({name: sample_landmarks(name, 3) for name in PART_NAMES})
    assert set(from_files) == set(PART_NAMES)
    for name in PART_NAMES:
        assert from_files[name] == pytest.approx(from_draws[name], abs=1e-3)


def test_shape_model_reproduces_the_real_mean_shape():
    for name in PART_NAMES:
        real = real_landmarks(name)
        drawn = sample_landmarks(name)
        assert drawn.shape == (PARTS[name].specimens, PARTS[name].landmarks, 2)
        assert np.abs(drawn.mean(axis=0) - real.mean(axis=0)).max() < 6.0


def test_full_camera_size_works():
    image, landmarks, quality = render_specimen("right_mandible", 0, size=(3264, 2448))
    assert image.size == (3264, 2448) and 75 <= quality <= 95
    np.testing.assert_allclose(landmarks / 12.75, sample_landmarks("right_mandible", 1)[0], atol=1e-9)


def test_size_checks():
    assert parse_size("1024x768") == (1024, 768)
    assert parse_size("3264×2448") == (3264, 2448)
    for bad in ("1024x1024", "200x150", "big"):
        with pytest.raises(ValueError):
            parse_size(bad)
    with pytest.raises(ValueError):
        generate_dataset("unused", size=(100, 75), progress=False)


def test_refuses_to_overwrite_real_landmarks(tmp_path):
    folder = tmp_path / "pronotum"
    folder.mkdir()
    (folder / "landmarks.tps").write_text("LM=1\n1 1\nIMAGE=a.jpg\n")
    with pytest.raises(FileExistsError):
        generate_dataset(tmp_path, parts=["pronotum"], specimens=1, size=SMALL, progress=False)
    assert (folder / "landmarks.tps").read_text() == "LM=1\n1 1\nIMAGE=a.jpg\n"


def test_default_dataset_is_generated_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(synthetic, "DEFAULT_SIZE", SMALL)
    monkeypatch.setattr(synthetic, "_study_count", lambda name: 2)
    root = tmp_path / "synthetic"
    assert default_dataset(root, parts=["head"], progress=False) == root
    note = capsys.readouterr().err
    assert len(note.strip().splitlines()) == 1 and "synthetic" in note and "seed" in note
    assert load_part(root / "head").n_landmarks == 10
    stamp = (root / "head" / "landmarks.tps").stat().st_mtime_ns
    default_dataset(root, parts=["head"], progress=False)  # complete: reused
    assert (root / "head" / "landmarks.tps").stat().st_mtime_ns == stamp
    assert "synthetic" in capsys.readouterr().err
    (root / "head" / synthetic.COMPLETE_MARKER).unlink()  # interrupted: redone
    os.utime(root / "head" / "landmarks.tps", ns=(0, 0))
    default_dataset(root, parts=["head"], progress=False)
    assert (root / "head" / "landmarks.tps").stat().st_mtime_ns != 0
    assert (root / "head" / synthetic.COMPLETE_MARKER).is_file()


def test_default_root_is_the_checkouts_data_synthetic():
    import beetles

    assert synthetic.default_root() == Path(beetles.__file__).resolve().parent.parent / "data" / "synthetic"
