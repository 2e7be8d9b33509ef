"""The paper's preprocessing: 4:3 photos to gray 256×192 inputs, and its seven versions
(:mod:`beetles.paper.preprocess`, :mod:`beetles.paper.augment`)."""
import numpy as np
import pytest
from PIL import Image

from beetles.core.errors import DataError
from beetles.core.frames import NETWORK, denormalise, photo_frame
from beetles.core.rounds import make_rounds
from beetles.core.specimen import Specimen
from beetles.paper.augment import seven_versions
from beetles.paper.preprocess import gray_input, network_arrays, network_rgb
from tests.helpers import make_photo


def dot_photo(path, size, point, radius):
    """A black photo with one white disc centred on ``point`` (x, y down)."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[(xx + 0.5 - point[0]) ** 2 + (yy + 0.5 - point[1]) ** 2 <= radius**2] = 255
    Image.fromarray(rgb).save(path, quality=95)


@pytest.mark.parametrize("size", [(1024, 768), (3264, 2448)])
def test_downsampled_photo_and_scaled_landmark_agree(tmp_path, size):
    point = (0.3 * size[0], 0.65 * size[1])
    dot_photo(tmp_path / "dot.jpg", size, point, radius=size[0] / 40)
    specimen = Specimen(tmp_path / "dot.jpg", [point], photo_frame(*size))
    gray = network_rgb(specimen).mean(axis=2)
    assert gray.shape == (192, 256)
    rows, cols = np.nonzero(gray > 128)
    centre = (cols.mean() + 0.5, rows.mean() + 0.5)
    scaled = specimen.in_frame(NETWORK).landmarks[0]
    np.testing.assert_allclose(scaled, [0.3 * 256, 0.65 * 192])
    np.testing.assert_allclose(centre, scaled, atol=0.75)


def test_non_four_by_three_photo_is_refused(tmp_path):
    make_photo(tmp_path / "wide.png", size=(400, 200))
    specimen = Specimen(tmp_path / "wide.png", [[1, 1]], photo_frame(400, 200))
    with pytest.raises(DataError, match=r"wide.png: photo is 400×200, not 4:3"):
        network_rgb(specimen)


def test_seven_versions():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 250, 100, 20
    versions = seven_versions(rgb, constant=10)
    assert versions.shape == (7, 2, 3) and versions.dtype == np.uint8
    luma = lambda r, g, b: round((r * 299 + g * 587 + b * 114) / 1000)  # noqa: E731  ITU-R 601-2
    expected = [luma(250, 100, 20), luma(255, 100, 20), luma(250, 110, 20), luma(250, 100, 30), 250, 100, 20]
    assert [int(v[0, 0]) for v in versions] == pytest.approx(expected, abs=1)
    assert int(versions[1, 0, 0]) - int(versions[0, 0, 0]) < 10 * 0.299 + 1  # red capped at 255


def test_network_arrays_and_round_arrays(tmp_path):
    specimens = []
    for k in range(5):
        make_photo(tmp_path / f"s{k}.jpg", size=(320, 240), seed=k)
        specimens.append(Specimen(tmp_path / f"s{k}.jpg", [[32.0 * k, 24.0], [160, 120]], photo_frame(320, 240)))
    X, y, source = network_arrays(specimens, progress=False)
    assert X.shape == (5, 1, 192, 256) and X.dtype == np.float32 and y.shape == (5, 4)
    assert 0.0 <= X.min() and X.max() <= 1.0 and X.max() > 0.5
    np.testing.assert_allclose(denormalise(y[2]), [[25.6 * 2, 19.2], [128, 96]], atol=1e-4)
    round_ = make_rounds(5, test_block=2)[1]
    Xtr, ytr, src_tr = network_arrays([specimens[i] for i in round_.train], augment=True, progress=False)
    Xte, yte, src_te = network_arrays([specimens[i] for i in round_.test], progress=False)
    src_tr, src_te = round_.train[src_tr], round_.test[src_te]
    assert Xtr.shape[0] == 3 * 7 and Xte.shape[0] == 2  # test images are never augmented
    assert sorted(set(src_tr)) == [0, 1, 4] and list(src_te) == [2, 3]
    np.testing.assert_allclose(Xte[0], X[2])
    np.testing.assert_allclose(ytr[src_tr == 4], np.repeat(y[4:5], 7, axis=0))
    np.testing.assert_allclose(Xtr[src_tr == 4][0], X[4])  # version 0 is the original
    # the tool's photos, decoded as RGB, become the same gray input
    np.testing.assert_allclose(gray_input(np.stack([network_rgb(s) for s in specimens])), X)
