"""Synthetic datasets: layout, determinism, TPS validity, the default dataset
(:mod:`beetles.synth.dataset`)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from beetles.core.frames import NETWORK
from beetles.formats.dataset import load_dataset, load_part
from beetles.formats.tps import read_tps, read_tps_records
from beetles.paper.settings import PART_NAMES, PARTS
from beetles.synth import dataset
from beetles.synth.dataset import default_dataset, generate_dataset
from beetles.synth.difficulty import trivial_errors
from beetles.synth.render import render_specimen
from beetles.synth.specimens import sample_landmarks

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
        assert (folder / dataset.COMPLETE_MARKER).is_file()
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


def test_trivial_errors_from_files(small_dataset):
    out, _ = small_dataset
    from_files = trivial_errors(out)
    from_draws = trivial_errors({name: sample_landmarks(name, 3) for name in PART_NAMES})
    assert set(from_files) == set(PART_NAMES)
    for name in PART_NAMES:
        assert from_files[name] == pytest.approx(from_draws[name], abs=1e-3)


def test_size_is_checked():
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
    monkeypatch.setattr(dataset, "DEFAULT_SIZE", SMALL)
    monkeypatch.setattr(dataset, "_study_count", lambda name: 2)
    root = tmp_path / "synthetic"
    assert default_dataset(root, parts=["head"], progress=False) == root
    note = capsys.readouterr().err
    assert len(note.strip().splitlines()) == 1 and "synthetic" in note and "seed" in note
    assert load_part(root / "head").n_landmarks == 10
    stamp = (root / "head" / "landmarks.tps").stat().st_mtime_ns
    default_dataset(root, parts=["head"], progress=False)  # complete: reused
    assert (root / "head" / "landmarks.tps").stat().st_mtime_ns == stamp
    assert "synthetic" in capsys.readouterr().err
    (root / "head" / dataset.COMPLETE_MARKER).unlink()  # interrupted: redone
    os.utime(root / "head" / "landmarks.tps", ns=(0, 0))
    default_dataset(root, parts=["head"], progress=False)
    assert (root / "head" / "landmarks.tps").stat().st_mtime_ns != 0
    assert (root / "head" / dataset.COMPLETE_MARKER).is_file()


def test_default_root_is_the_checkouts_data_synthetic_or_the_users_data_folder(tmp_path, monkeypatch):
    import beetles
    from beetles.core import resources

    checkout = Path(beetles.__file__).resolve().parent.parent
    assert resources.checkout_root() == checkout
    assert dataset.default_root() == checkout / "data" / "synthetic"
    monkeypatch.setenv("BEETLES_DATA", str(tmp_path / "mine"))
    assert dataset.default_root() == tmp_path / "mine" / "synthetic"
    monkeypatch.delenv("BEETLES_DATA")
    monkeypatch.setattr(resources, "checkout_root", lambda: None)  # an installed package
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert dataset.default_root() == tmp_path / "xdg" / "beetles" / "synthetic"
