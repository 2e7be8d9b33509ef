"""Photos of coloured discs, one per landmark, of several sizes, aspect ratios and modes,
and the default model trained on them: what the tool's tests train and predict on."""
import csv

import numpy as np
from PIL import Image

COLOURS = [(200, 30, 30), (30, 30, 200), (30, 160, 30)]
LANDMARKS = 3
#: (width, height, mode, suffix) of the training photos: mostly 4:3, some
#: wide, tall or square, one gray, one with an alpha channel.
TRAIN_PHOTOS = [(160, 120, "RGB", ".png")] * 10 + [(200, 100, "RGB", ".png"), (120, 160, "RGB", ".jpg"),
                                                    (150, 150, "RGB", ".png"), (160, 120, "L", ".png"),
                                                    (160, 120, "RGBA", ".png"), (180, 120, "RGB", ".jpg")]
NEW_PHOTOS = [(160, 120, "RGB", ".jpg"), (240, 120, "RGB", ".png"), (100, 150, "L", ".png"),
              (160, 120, "RGBA", ".png")]


def draw(path, size, mode, rng):
    """A gray photo with one coloured disc per landmark; returns the landmarks (y down)."""
    width, height = size
    points = rng.uniform([0.2 * width, 0.2 * height], [0.8 * width, 0.8 * height], size=(LANDMARKS, 2))
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.full((height, width, 3), 190, np.uint8) + rng.integers(0, 20, (height, width, 3), dtype=np.uint8)
    radius = 0.06 * min(width, height)
    for (x, y), colour in zip(points, COLOURS, strict=False):
        rgb[(xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 < radius**2] = colour
    image = Image.fromarray(rgb)
    if mode == "RGBA":
        image = image.convert("RGBA")
        image.putalpha(255)
    elif mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return points


def disc_part(folder, photos=TRAIN_PHOTOS, seed=0):
    """A part folder (images/ + landmarks.tps, y up) of ``photos``."""
    rng = np.random.default_rng(seed)
    blocks = []
    for k, (width, height, mode, suffix) in enumerate(photos):
        name = f"d{k:02d}{suffix}"
        points = draw(folder / "images" / name, (width, height), mode, rng)
        blocks.append("\n".join([f"LM={LANDMARKS}", *(f"{x:.3f} {height - y:.3f}" for x, y in points),
                                 f"IMAGE={name}"]))
    (folder / "landmarks.tps").write_text("\n".join(blocks) + "\n")
    return folder


def trained_part(root, photos=TRAIN_PHOTOS, epochs: int = 2, extra=()):
    """A disc part folder in ``root/part`` and the default model trained on it
    for ``epochs`` epochs of each stage in ``root/model`` (``extra``: more
    options of ``beetles train``): ``(part, model)``."""
    from beetles.cli import main

    part = disc_part(root / "part", photos=photos)
    model = root / "model"
    assert main(["train", "--data", str(part), "--out", str(model), "--epochs", str(epochs), "--quiet",
                 *extra]) == 0
    return part, model


def new_photos(folder, seed=5):
    """Photos to predict, with their true landmarks (y down), plus a corrupt JPEG."""
    rng = np.random.default_rng(seed)
    truth = {}
    for k, (width, height, mode, suffix) in enumerate(NEW_PHOTOS):
        name = f"new{k}{suffix}"
        truth[name] = ((width, height), draw(folder / name, (width, height), mode, rng))
    good = (folder / "new0.jpg").read_bytes()
    (folder / "broken.jpg").write_bytes(good[: len(good) // 3])  # truncated
    (folder / "notes.txt").write_text("not a photo")  # not expanded from the folder
    return truth


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


