"""Shared fixtures: small real photos and landmark files made by the tests."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def make_photo(path, size=(320, 240), seed=0, mode="RGB", fmt=None):
    """Write a real photo (random smooth colours) of ``size`` (w, h); returns its RGB array."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack(
        [(128 + 100 * np.sin(xx / (7 + c) + seed) * np.cos(yy / (9 + c))).astype(np.uint8) for c in range(3)], axis=-1
    )
    rgb = np.clip(rgb.astype(int) + rng.integers(0, 20, rgb.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)
    return rgb


@pytest.fixture
def part_folder(tmp_path):
    """A valid part folder: 6 JPEG photos 320×240 and a TPS with 4 landmarks (y up)."""
    folder = tmp_path / "pronotum"
    rng = np.random.default_rng(1)
    blocks = []
    truth = []
    for k in range(6):
        name = f"p_{k:02d}.jpg"
        make_photo(folder / "images" / name, seed=k)
        points = rng.uniform([10, 10], [310, 230], size=(4, 2))  # y down
        truth.append(points)
        lines = [f"LM={len(points)}"] + [f"{x:.3f} {240 - y:.3f}" for x, y in points] + [f"IMAGE={name}", f"ID={k}"]
        blocks.append("\n".join(lines))
    (folder / "landmarks.tps").write_text("\n".join(blocks) + "\n")
    return folder, np.array(truth)


def blob_part(folder, count=10, seed=0, landmarks=2, region=((40, 40), (280, 200))):
    """A part folder of 320×240 JPEGs showing dark discs where the landmarks
    are, drawn uniformly in ``region`` ((x0, y0), (x1, y1); pixels, y down)."""
    rng = np.random.default_rng(seed)
    images = folder / "images"
    images.mkdir(parents=True)
    blocks = []
    yy, xx = np.mgrid[0:240, 0:320]
    for k in range(count):
        points = rng.uniform(*region, size=(landmarks, 2))
        rgb = np.full((240, 320, 3), 220, np.uint8)
        for x, y in points:
            rgb[(xx - x) ** 2 + (yy - y) ** 2 < 8**2] = 30
        Image.fromarray(rgb).save(images / f"b{k:02d}.jpg", quality=90)
        blocks.append("\n".join([f"LM={landmarks}", *(f"{x:.2f} {240 - y:.2f}" for x, y in points), f"IMAGE=b{k:02d}.jpg"]))
    (folder / "landmarks.tps").write_text("\n".join(blocks) + "\n")
    return folder
