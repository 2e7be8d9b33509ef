"""The zoom model: square regions cut from the decoded photo, and its three stages."""
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from beetles.compact.crops import MARGIN, PhotoSource, from_crop, specimen_square, to_crop
from beetles.compact.zoom import STEP_LIMITS, decode_photo, stage_steps
from beetles.formats.dataset import load_part
from beetles.registry import build_model, model_info
from tests.tool.discs import disc_part


def test_region_around_the_landmarks_and_its_frame():
    points = np.array([[100.0, 50.0], [300.0, 150.0], [np.nan, np.nan]])
    centre, side = specimen_square(points, (640, 480))
    np.testing.assert_allclose(centre, [200, 100])
    assert side == pytest.approx(200 * MARGIN)  # the longer extent, portrait or landscape alike
    u = to_crop(points[:2], centre, side)
    assert np.all(np.abs(u) <= 1 / MARGIN + 1e-9)
    np.testing.assert_allclose(from_crop(u, centre, side), points[:2])
    centre, side = specimen_square(np.array([[10.0, 10.0]] * 3), (640, 480))  # coincident landmarks
    assert side >= 0.05 * 640
    centre, side = specimen_square(np.full((3, 2), np.nan), (640, 480))
    np.testing.assert_allclose(centre, [320, 240]) and side == 640


@pytest.mark.parametrize("size", [(400, 300), (3264, 2448)])
def test_a_crop_shows_the_photo_where_the_region_says(tmp_path, size):
    """A white square at a known place appears where the crop's frame puts it,
    from a JPEG decoded in draft mode too (3264×2448 is decoded at 1/2)."""
    width, height = size
    rgb = np.zeros((height, width, 3), np.uint8)
    x0, y0, w = int(width * 0.6), int(height * 0.3), int(width * 0.05)
    rgb[y0:y0 + w, x0:x0 + w] = 255
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    source = PhotoSource.open(path)
    assert source.size == (width, height) and source.factor == (0.5 if width > 2048 else 1.0)
    centre, side = np.array([x0 + w / 2, y0 + w / 2]), 4.0 * w
    crop = source.crop(centre, side, 64).mean(-1)
    bright = np.argwhere(crop > 128)
    np.testing.assert_allclose(bright.mean(0), [31.5, 31.5], atol=1.0)  # centred
    assert 14 <= bright[:, 0].ptp() + 1 <= 18  # a quarter of the crop
    outside = source.crop(np.array([-5.0 * width, 0.0]), side, 16)  # entirely outside: the border colour
    assert outside.shape == (16, 16, 3) and np.all(outside == outside[0, 0])


def test_the_default_budget_grows_with_the_data_within_limits():
    assert stage_steps(1, 10) == STEP_LIMITS[1][0] and stage_steps(1, 10_000) == STEP_LIMITS[1][1]
    assert stage_steps(1, 100) < stage_steps(1, 150)


def test_zoom_learns_and_places_landmarks_in_photo_pixels(tmp_path):
    """Trained briefly on disc photos of several sizes, the locating and the
    landing stages' losses fall (the refiner trains for its epochs too), and
    the landmarks come back in each photo's pixels, nearer the truth than
    the mean shape."""
    part = load_part(disc_part(tmp_path / "part"))
    info = model_info("zoom")
    schedule = replace(info.schedule(epochs=16, seed=1), batch_size=4)
    model = build_model(info, part.n_landmarks, schedule)
    train = model.prepare(part.specimens, progress=False)
    model.fit(train, None)
    losses = np.array([e.train_loss for e in model.history]).reshape(3, 16)
    assert np.all(losses[:2, -3:].mean(1) < 0.7 * losses[:2, :3].mean(1)) and np.isfinite(losses[2]).all()
    decoded = [decode_photo(s.image) for s in part.specimens]
    prediction = model.predict_photos(decoded)
    truth = np.stack([s.landmarks for s in part.specimens])
    assert prediction.frame == "photo" and prediction.points.shape == truth.shape
    errors = np.linalg.norm(prediction.points - truth, axis=-1)
    trivial = np.linalg.norm(truth.mean(0, keepdims=True) - truth, axis=-1)
    assert errors.mean() < 0.7 * trivial.mean()
    assert np.all(prediction.spread > 0)
