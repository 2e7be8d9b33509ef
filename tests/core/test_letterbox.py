"""A photo of any aspect ratio fitted into the network frame, pixels and points
together (:mod:`beetles.core.letterbox`)."""
import numpy as np
import pytest
from PIL import Image

from beetles.core.frames import Letterbox, photo_frame
from beetles.core.letterbox import letterbox_rgb, scaled_rgb
from tests.helpers import make_photo, save_oriented

BACKGROUND = (200, 180, 160)


# --- letterbox_rgb --------------------------------------------------------------


def disc_photo(path, size, centre, radius, orientation=None, **options):
    """A flat ``BACKGROUND`` photo with one dark disc at ``centre`` (x, y down, upright)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[:] = BACKGROUND
    rgb[(xx + 0.5 - centre[0]) ** 2 + (yy + 0.5 - centre[1]) ** 2 <= radius**2] = (20, 30, 40)
    image = Image.fromarray(rgb)
    if orientation == 6:  # store it turned back: the viewer turns it 90° clockwise
        save_oriented(image.transpose(Image.Transpose.ROTATE_90), path, 6, **options)
    else:
        image.save(path, **options)


def dark_centre(rgb):
    """Centroid (x, y; pixel centres at +0.5) of how much darker than the background each pixel is."""
    weight = np.clip(np.mean(BACKGROUND) - rgb.astype(float).mean(axis=2) - 20, 0, None)
    rows, cols = np.mgrid[0:rgb.shape[0], 0:rgb.shape[1]]
    return np.array([(weight * (cols + 0.5)).sum(), (weight * (rows + 0.5)).sum()]) / weight.sum()


@pytest.mark.parametrize("size, marker, name, orientation", [
    ((600, 900), (430.0, 610.0), "portrait.jpg", None),
    ((1000, 300), (870.0, 95.0), "panorama.jpg", None),
    ((1000, 300), (130.0, 220.0), "panorama.png", None),
    ((601, 899), (400.0, 700.0), "odd.jpg", None),  # sizes the JPEG draft factor does not divide
    ((600, 900), (150.0, 700.0), "turned.jpg", 6),
])
def test_letterbox_rgb_puts_the_marker_where_the_letterbox_maps_it(tmp_path, size, marker, name, orientation):
    path = tmp_path / name
    disc_photo(path, size, marker, radius=max(size) / 30, orientation=orientation,
               **({"quality": 95} if name.endswith(".jpg") else {}))
    network, fine, letterbox = letterbox_rgb(path, name)
    assert letterbox == Letterbox(*size) and fine is None
    assert network.shape == (192, 256, 3) and network.dtype == np.uint8
    expected = letterbox.to_network([marker])[0]
    assert np.abs(dark_centre(network) - expected).max() <= 1.0
    # the padding, right or bottom, is the border's colour
    width, height = (int(np.floor(v + 1e-6)) for v in letterbox.content_size)
    assert (width, height) in {(128, 192), (256, 76)}
    padding = np.concatenate([network[:, width:].reshape(-1, 3), network[height:, :].reshape(-1, 3)])
    assert len(padding) > 0 and np.abs(padding.astype(int) - BACKGROUND).max() <= 3
    assert np.abs(network[:height, :width].astype(int) - BACKGROUND).max() > 100  # the marker is inside
    # the fine version: the same layout at twice the resolution, made from the same decode
    network2, fine2, _ = letterbox_rgb(path, name, fine_scale=2)
    assert fine2.shape == (384, 512, 3) and fine2.dtype == np.uint8
    assert np.abs(dark_centre(fine2) - 2 * expected).max() <= 2.0
    assert np.abs(dark_centre(network2) - expected).max() <= 1.0


@pytest.mark.parametrize("size, name", [((1000, 300), "edge.png"), ((1003, 301), "edge.jpg"), ((299, 1001), "tall.jpg")])
def test_letterbox_rgb_placement_is_exact_up_to_the_far_edge(tmp_path, size, name):
    # near the far corner a resize that ignored the fraction of a pixel left as padding errs by ~0.7 px
    marker = (0.88 * size[0], 0.87 * size[1])
    disc_photo(tmp_path / name, size, marker, radius=min(size) / 12, **({"quality": 95} if name.endswith(".jpg") else {}))
    network, fine, letterbox = letterbox_rgb(tmp_path / name, fine_scale=3)
    expected = letterbox.to_network([marker])[0]
    assert np.abs(dark_centre(network) - expected).max() <= 0.1
    assert np.abs(dark_centre(fine) - 3 * expected).max() <= 0.3


@pytest.mark.parametrize("fine_scale", [None, 2])
def test_letterbox_rgb_of_a_four_by_three_photo_is_scaled_rgb(tmp_path, fine_scale):
    path = tmp_path / "four_by_three.jpg"
    make_photo(path, size=(640, 480), seed=4)
    network, fine, letterbox = letterbox_rgb(path, fine_scale=fine_scale)
    assert letterbox == Letterbox.for_size(photo_frame(640, 480).size)
    expected_network, expected_fine = scaled_rgb(path, fine_scale=fine_scale)
    assert letterbox.content_size == (256, 192)
    assert np.abs(network.astype(int) - expected_network).max() <= 2
    if fine_scale:
        assert np.abs(fine.astype(int) - expected_fine).max() <= 2
    else:
        assert fine is None and expected_fine is None
