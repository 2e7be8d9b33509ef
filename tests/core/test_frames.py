"""Coordinate frames: the network frame, normalised targets, the letterbox (:mod:`beetles.core.frames`)."""
import numpy as np
import pytest

from beetles.core.frames import NETWORK, Letterbox, denormalise, normalise, photo_frame, rescale


@pytest.mark.parametrize("size", [(3264, 2448), (1024, 768), (640, 480), (4000, 3000)])
def test_letterbox_of_a_four_by_three_photo_is_rescale(size):
    points = np.random.default_rng(0).uniform(0, 1, (50, 2)) * size
    letterbox = Letterbox.for_size(size)
    np.testing.assert_array_equal(letterbox.to_network(points), rescale(points, photo_frame(*size), NETWORK))
    np.testing.assert_allclose(letterbox.content_size, NETWORK.size)


def test_letterbox_scale_content_and_inverse():
    portrait, panorama = Letterbox(600, 900), Letterbox.for_size((1000, 300))
    assert portrait.scale == 192 / 900 and panorama.scale == 256 / 1000
    np.testing.assert_allclose(portrait.content_size, (128, 192))
    np.testing.assert_allclose(panorama.content_size, (256, 76.8))
    np.testing.assert_allclose(portrait.to_network([[600, 900], [300, 0]]), [[128, 192], [64, 0]])
    rng = np.random.default_rng(3)
    for letterbox in (portrait, panorama, Letterbox(3264, 2448), Letterbox(5472, 3648), Letterbox(100, 75)):
        # the inverse, to float64 rounding
        points = rng.uniform(0, 6000, (4000, 2))
        np.testing.assert_allclose(letterbox.to_photo(letterbox.to_network(points)), points, rtol=0, atol=1e-9)
        np.testing.assert_allclose(letterbox.to_photo([[256, 192]]), [[256 / letterbox.scale, 192 / letterbox.scale]])
    assert letterbox.to_photo(np.zeros((3, 5, 2))).shape == (3, 5, 2)
    with pytest.raises(ValueError):
        Letterbox(0, 10)


def test_normalisation_is_the_papers_and_inverts():
    points = np.array([[0.0, 0.0], [128.0, 96.0], [256.0, 192.0], [64.0, 144.0]])
    targets = normalise(points)
    assert targets.dtype == np.float32
    np.testing.assert_allclose(targets, [-1, -1, 0, 0, 1, 1, -0.5, 0.5])
    np.testing.assert_allclose(denormalise(targets), points)
