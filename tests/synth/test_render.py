"""Synthetic photos: the anatomy passes through the landmarks, any camera size
(:mod:`beetles.synth.render`, :mod:`beetles.synth.anatomy`)."""
import numpy as np
from PIL import Image

from beetles.core.frames import NETWORK
from beetles.formats.tps import read_tps
from beetles.paper.settings import PART_NAMES
from beetles.synth.dataset import generate_dataset
from beetles.synth.render import render_specimen
from beetles.synth.specimens import sample_landmarks

BODY_PARTS = ("pronotum", "elytra", "head")


def _gray(path) -> np.ndarray:
    with Image.open(path) as photo:
        return np.asarray(photo.convert("L"), dtype=np.float64)


def test_anatomy_passes_through_the_landmarks(tmp_path):
    """Around every landmark there is dark cuticle, and the neighbourhood is
    much darker than the background; the same test on landmarks moved away
    from the specimen fails, so it does test the drawing."""
    size = (640, 480)
    out = tmp_path / "anatomy"
    generate_dataset(out, specimens=2, size=size, progress=False, workers=1)
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


def test_full_camera_size_works():
    image, landmarks, quality = render_specimen("right_mandible", 0, size=(3264, 2448))
    assert image.size == (3264, 2448) and 75 <= quality <= 95
    np.testing.assert_allclose(landmarks / 12.75, sample_landmarks("right_mandible", 1)[0], atol=1e-9)
