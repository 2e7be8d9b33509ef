"""Photos as labs have them: EXIF-rotated, any colour mode, truncated or not images at all
(:mod:`beetles.core.images`)."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from beetles.core.errors import DataError
from beetles.core.images import image_size, load_rgb
from beetles.core.letterbox import letterbox_rgb
from tests.helpers import make_photo, save_oriented


def marked(size, corner_colour=(255, 0, 0), block=10):
    """A gray ``size`` (w, h) RGB image with a red block in its top-left corner."""
    w, h = size
    rgb = np.full((h, w, 3), 128, np.uint8)
    rgb[:block, :block] = corner_colour
    return Image.fromarray(rgb)


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
