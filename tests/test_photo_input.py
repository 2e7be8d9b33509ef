"""Photos as labs have them: EXIF-rotated, any colour mode, any aspect ratio."""
import struct
import zlib

import numpy as np
import pytest
from conftest import make_photo
from PIL import Image, PngImagePlugin

from beetles.errors import DataError
from beetles.frames import NETWORK, Letterbox, photo_frame, rescale
from beetles.images import image_size, load_rgb
from beetles.preprocess import compact_rgb, letterbox_rgb
from beetles.specimen import Specimen

BACKGROUND = (200, 180, 160)


def marked(size, corner_colour=(255, 0, 0), block=10):
    """A gray ``size`` (w, h) RGB image with a red block in its top-left corner."""
    w, h = size
    rgb = np.full((h, w, 3), 128, np.uint8)
    rgb[:block, :block] = corner_colour
    return Image.fromarray(rgb)


def save_oriented(image, path, orientation, **options):
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, exif=exif, **options)


def red_corner(rgb):
    """Which corner of ``rgb`` (h, w, 3) is red: 'top-left', 'top-right', ..."""
    h, w = rgb.shape[:2]
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    rows, cols = np.nonzero(red)
    return ("top" if rows.mean() < h / 2 else "bottom") + "-" + ("left" if cols.mean() < w / 2 else "right")


# --- EXIF orientation -------------------------------------------------------


@pytest.mark.parametrize("orientation, corner", [(1, "top-left"), (6, "top-right"), (8, "bottom-left"),
                                                 (3, "bottom-right")])
def test_exif_orientation_gives_upright_size_and_pixels(tmp_path, orientation, corner):
    # stored 120×80 with the red block at stored (0, 0); 6: turn 90° clockwise to display, 8: counter-clockwise
    path = tmp_path / f"o{orientation}.jpg"
    save_oriented(marked((120, 80)), path, orientation, quality=95)
    upright = (80, 120) if orientation in (6, 8) else (120, 80)
    assert image_size(path) == upright
    image = load_rgb(path)
    assert image.mode == "RGB" and image.size == upright
    assert red_corner(np.asarray(image)) == corner


def test_draft_size_is_asked_in_upright_pixels(tmp_path):
    path = tmp_path / "big.jpg"
    save_oriented(marked((800, 400), block=80), path, 6, quality=90)  # upright 400×800
    image = load_rgb(path, reduce_to=(100, 200))
    assert image.size == (100, 200)  # DCT-scaled by 4, then turned
    assert red_corner(np.asarray(image)) == "top-right"


def png_with_exif_after_pixels(path, image, orientation):
    """A PNG whose eXIf chunk follows the pixel data (allowed; Pillow must decode to reach it)."""
    image.save(path)
    data = path.read_bytes()
    exif = Image.Exif()
    exif[0x0112] = orientation
    body = exif.tobytes()[6:]  # without the b"Exif\0\0" JPEG prefix
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    end = data.rindex(b"IEND") - 4
    path.write_bytes(data[:end] + chunk + data[end:])


def test_png_orientation_is_read_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "late.png"
    png_with_exif_after_pixels(path, marked((60, 40)), 6)
    assert image_size(path) == (40, 60)
    assert red_corner(np.asarray(load_rgb(path))) == "top-right"

    def refuse(self):
        raise AssertionError("image_size decoded the pixels")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", refuse)
    assert image_size(path) == (40, 60)


def test_tiff_orientation(tmp_path):
    path = tmp_path / "o8.tif"
    save_oriented(marked((60, 40)), path, 8)
    assert image_size(path) == (40, 60)
    assert red_corner(np.asarray(load_rgb(path))) == "bottom-left"


# --- colour modes -----------------------------------------------------------


def pixels(path, **kwargs):
    image = load_rgb(path, **kwargs)
    assert image.mode == "RGB"
    return np.asarray(image).astype(int)


def test_grayscale_and_bilevel(tmp_path):
    gray = np.array([[0, 60, 200, 255]], np.uint8)
    Image.fromarray(gray, "L").save(tmp_path / "gray.png")
    np.testing.assert_array_equal(pixels(tmp_path / "gray.png"), np.repeat(gray[..., None], 3, axis=2))
    Image.fromarray(gray > 100).save(tmp_path / "bilevel.png")
    assert Image.open(tmp_path / "bilevel.png").mode == "1"
    np.testing.assert_array_equal(pixels(tmp_path / "bilevel.png")[0, :, 0], [0, 0, 255, 255])


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.array([[[255, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 128], [10, 20, 30, 255]]], np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_allclose(pixels(tmp_path / "rgba.png")[0],
                               [[255, 255, 255], [255, 0, 0], [127, 127, 255], [10, 20, 30]], atol=1)
    la = np.array([[[0, 0], [0, 255], [100, 128]]], np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    np.testing.assert_allclose(pixels(tmp_path / "la.png")[0, :, 0], [255, 0, 177], atol=1)


def test_palette_with_and_without_transparency(tmp_path):
    palette = Image.new("P", (3, 1))
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 128, 255] + [0] * 759)
    palette.putdata([0, 1, 2])
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(pixels(tmp_path / "p.png")[0], [[0, 0, 0], [255, 0, 0], [0, 128, 255]])
    palette.save(tmp_path / "p.gif", transparency=0)
    np.testing.assert_array_equal(pixels(tmp_path / "p.gif")[0], [[255, 255, 255], [255, 0, 0], [0, 128, 255]])


def test_sixteen_bit_and_float_gray_scale_to_eight_bits(tmp_path):
    deep = np.array([[0, 300, 32768, 65535]], np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    np.testing.assert_array_equal(pixels(tmp_path / "deep.png")[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(pixels(tmp_path / "deep.png")[0, :, 2], [0, 1, 128, 255])
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32)).save(tmp_path / "float.tif")
    assert Image.open(tmp_path / "float.tif").mode == "F"
    np.testing.assert_array_equal(pixels(tmp_path / "float.tif")[0, :, 1], [0, 128, 255])


def test_cmyk_jpeg(tmp_path):
    rgb = np.zeros((16, 32, 3), np.uint8)
    rgb[:, :16], rgb[:, 16:] = (200, 50, 30), (20, 120, 220)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    got = pixels(tmp_path / "cmyk.jpg")
    np.testing.assert_allclose(got[4:12, 4:12].mean(axis=(0, 1)), [200, 50, 30], atol=6)
    np.testing.assert_allclose(got[4:12, 20:28].mean(axis=(0, 1)), [20, 120, 220], atol=6)


# --- Letterbox ----------------------------------------------------------------


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
def test_letterbox_rgb_of_a_four_by_three_photo_is_compact_rgb(tmp_path, fine_scale):
    path = tmp_path / "four_by_three.jpg"
    make_photo(path, size=(640, 480), seed=4)
    specimen = Specimen(path, [[1.0, 1.0]], photo_frame(640, 480))
    network, fine, letterbox = letterbox_rgb(path, fine_scale=fine_scale)
    expected_network, expected_fine = compact_rgb(specimen, fine_scale)
    assert letterbox.content_size == (256, 192)
    assert np.abs(network.astype(int) - expected_network).max() <= 2
    if fine_scale:
        assert np.abs(fine.astype(int) - expected_fine).max() <= 2
    else:
        assert fine is None and expected_fine is None


# --- unusable files ------------------------------------------------------------


def test_truncated_and_non_image_files_name_the_file(tmp_path):
    path = tmp_path / "cut.jpg"
    make_photo(path, size=(320, 240))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    for call in (lambda: load_rgb(path, "specimen 3"), lambda: load_rgb(path, reduce_to=(64, 48)),
                 lambda: letterbox_rgb(path)):
        with pytest.raises(DataError, match=r"cut\.jpg.*truncated"):
            call()
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo")
    for call in (lambda: load_rgb(text), lambda: image_size(text), lambda: letterbox_rgb(text)):
        with pytest.raises(DataError, match=r"notes\.jpg: not an image"):
            call()
    with pytest.raises(DataError, match=r"gone\.png \(specimen 7\): image file not found"):
        load_rgb(tmp_path / "gone.png", "specimen 7")
