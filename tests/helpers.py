"""Helpers of the tests: small real photos and landmark files, and the
paper's models in miniature."""
from __future__ import annotations

import contextlib
import importlib.util
import sys

import numpy as np
from PIL import Image

from beetles.paper.networks import Conv, Dense, Dropout, ModelSpec, Output, Pool

#: Model 3 and model 1 in miniature: the same layers in the same order, 2
#: filters per convolution, 20 dense units.
MINI3 = ModelSpec("mini3", (Conv(2, 3), Pool(2), Dropout(0.1), Conv(2, 2), Pool(2), Dropout(0.2), Conv(2, 2), Pool(2),
                            Dropout(0.3), Dense(20), Dropout(0.5), Dense(20), Output()))
MINI1 = ModelSpec("mini1", (Conv(2, 3), Pool(2), Conv(2, 2), Pool(2), Conv(2, 2), Pool(2), Dense(20), Dense(20),
                            Output()))


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


#: The disc colours of :func:`coloured_part`, one per landmark.
COLOURS = [(200, 30, 30), (30, 30, 200), (30, 160, 30)]


def coloured_part(folder, count=40, landmarks=2, seed=0, size=(320, 240)):
    """A part folder: grey photos with one coloured disc per landmark (so
    landmark k is recognisable), TPS with y up."""
    rng = np.random.default_rng(seed)
    width, height = size
    images = folder / "images"
    images.mkdir(parents=True)
    yy, xx = np.mgrid[0:height, 0:width]
    blocks = []
    for k in range(count):
        points = rng.uniform([0.15 * width, 0.15 * height], [0.85 * width, 0.85 * height], size=(landmarks, 2))
        rgb = np.full((height, width, 3), 190, np.uint8)
        rgb += rng.integers(0, 20, size=rgb.shape, dtype=np.uint8)
        for (x, y), colour in zip(points, COLOURS):
            rgb[(xx - x) ** 2 + (yy - y) ** 2 < (0.03 * width) ** 2] = colour
        Image.fromarray(rgb).save(images / f"c{k:02d}.png")
        blocks.append("\n".join([f"LM={landmarks}", *(f"{x:.3f} {height - y:.3f}" for x, y in points),
                                 f"IMAGE=c{k:02d}.png"]))
    (folder / "landmarks.tps").write_text("\n".join(blocks) + "\n")
    return folder


def save_oriented(image, path, orientation, **options):
    """Save ``image`` with the EXIF ``Orientation`` tag ``orientation`` (1-8)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif, **options)


@contextlib.contextmanager
def script_module(path, name: str):
    """A script of ``benchmarks/`` imported as the module ``name`` for the
    block (registered in ``sys.modules``, which dataclasses look their module
    up in, and removed after)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(name, None)
