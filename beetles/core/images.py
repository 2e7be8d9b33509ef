"""Opening photos with Pillow, with clear errors for unusable files.

Every decode goes through here, so a missing, truncated or non-image file is
reported once, naming the file (and the specimen when known), instead of as a
traceback from deep inside Pillow.

**Upright photos.**  Landmark coordinates in beetles always refer to the
upright photo as a viewer displays it: a camera that stores its pixels
sideways and records how to turn them in the EXIF ``Orientation`` tag
(values 2–8) is turned first.  :func:`load_rgb` returns the upright pixels
(:func:`PIL.ImageOps.exif_transpose`) and :func:`image_size` the upright
``(width, height)``, read from the header without decoding the pixels
(width and height swap for orientations 5–8).

**Colours.**  :func:`load_rgb` returns 8-bit RGB for every Pillow mode:
gray (``L``, bilevel ``1``), palette (``P``), ``CMYK``, ``YCbCr``, …
convert as Pillow does; anything transparent (``RGBA``, ``LA``, ``PA``,
``P`` or ``L``/``RGB`` with a transparency entry) is composited on white;
16-bit, 32-bit integer and float gray (``I;16*``, ``I``, ``F``) are scaled
to 8 bits (see :func:`to_8bit`).
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from beetles.core.errors import DataError, shorten
from beetles.core.files import probe

#: EXIF orientations that turn the photo by a quarter turn: width and height swap.
SWAPPING_ORIENTATIONS = (5, 6, 7, 8)
_GRAY_DEEP = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


#: The most characters of a photo's path that a message shows (a landmark
#: file may name one longer than any system allows).
PATH_SHOWN = 200


def _where(path: Path, specimen: str | None) -> str:
    shown = shorten(path, PATH_SHOWN)
    shown = shown if shown.isprintable() else repr(shown)
    return f"{shown} ({specimen})" if specimen else shown


def open_image(path, specimen: str | None = None) -> Image.Image:
    """Open ``path`` lazily (header only); :class:`DataError` if unusable."""
    path = Path(path)
    if probe(path, _where(path, specimen)) != "file":  # a name too long for the system: a DataError
        raise DataError(f"{_where(path, specimen)}: image file not found")
    try:
        return Image.open(path)
    except UnidentifiedImageError:
        raise DataError(f"{_where(path, specimen)}: not an image Pillow can read") from None
    except Image.DecompressionBombError as error:
        raise DataError(f"{_where(path, specimen)}: image too large: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{_where(path, specimen)}: cannot open image: {error}") from None


def _png_metadata(path) -> dict:
    """The chunks of a PNG that may carry its orientation (``eXIf``, XMP,
    ImageMagick's raw EXIF profile), from anywhere in the file, read without
    decoding the pixels (Pillow decodes them to reach chunks after the data)."""
    found: dict = {}
    with open(path, "rb") as file:
        if file.read(8) != b"\x89PNG\r\n\x1a\n":
            return found
        while True:
            head = file.read(8)
            if len(head) < 8:
                break
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IEND":
                break
            if kind not in (b"eXIf", b"iTXt", b"tEXt", b"zTXt") or length > 1 << 24:
                file.seek(length + 4, 1)
                continue
            data = file.read(length)
            file.seek(4, 1)
            try:
                if kind == b"eXIf":
                    found["exif"] = data
                    continue
                keyword, _, rest = data.partition(b"\0")
                keyword = keyword.decode("latin-1")
                if kind == b"tEXt" and keyword == "Raw profile type exif":
                    found[keyword] = rest.decode("latin-1")
                elif kind == b"zTXt" and keyword == "Raw profile type exif":
                    found[keyword] = zlib.decompress(rest[1:]).decode("latin-1")
                elif kind == b"iTXt" and keyword == "XML:com.adobe.xmp":
                    compressed, text = rest[0], rest[2:].split(b"\0", 2)[2]
                    found[keyword] = (zlib.decompress(text) if compressed else text).decode("utf-8")
            except (IndexError, UnicodeDecodeError, zlib.error):
                continue  # a damaged metadata chunk: as if absent
    return found


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1–8; 1 upright) of an opened ``image``, from its
    header: EXIF, else XMP ``tiff:Orientation``, as
    :func:`PIL.ImageOps.exif_transpose` reads it.  Any other value is 1."""
    if image.format == "PNG" and "exif" not in image.info and getattr(image, "filename", None):
        # Pillow's PNG getexif() decodes the whole image; read the chunks instead.
        holder = Image.new("L", (1, 1))
        holder.info = {**image.info, **_png_metadata(image.filename)}
        exif = holder.getexif()
    else:
        exif = image.getexif()
    value = exif.get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def image_size(path, specimen: str | None = None) -> tuple[int, int]:
    """Upright ``(width, height)`` of the photo at ``path``, as a viewer
    displays it (EXIF orientation applied), from its header only."""
    with open_image(path, specimen) as image:
        try:
            turned = orientation(image) in SWAPPING_ORIENTATIONS
        except (OSError, SyntaxError, ValueError, struct.error):
            turned = False  # unreadable EXIF: load_rgb reports a corrupt file, if it is one
        width, height = _stored_size(image)
        return (height, width) if turned else (width, height)


def _stored_size(image: Image.Image) -> tuple[int, int]:
    """``(width, height)`` of the pixels as stored, before any EXIF turn
    (Pillow's TIFF reader reports, and decodes to, the upright size itself)."""
    if image.format == "TIFF":
        tags = getattr(image, "tag_v2", {})
        width, height = tags.get(256), tags.get(257)
        if isinstance(width, int) and isinstance(height, int):
            return width, height
    return image.size


def resolve_frame(image, size, label: str | None = None, problems: list | None = None):
    """The frame of ``image``'s landmarks: ``size`` ``(w, h)`` if given, else
    the photo's own (upright) size read from its header.

    When the photo cannot be opened: raise :class:`DataError`, or, if a
    ``problems`` list is given, append the message to it and return ``None``.
    """
    from beetles.core.frames import frame_for_size, photo_frame

    if size is not None:
        return frame_for_size(size)
    try:
        return photo_frame(*image_size(image, label))
    except DataError as error:
        if problems is None:
            raise
        problems.append(str(error))
        return None


def to_8bit(values, floating: bool = False) -> np.ndarray:
    """Gray values of any depth → uint8, on the scale of their depth.

    The top of the scale is 1.0 for ``floating`` values that do not exceed 1,
    else 255 for values that do not exceed 255, 65535 for 16-bit values, and
    the maximum beyond; negative values and ``nan`` become 0.
    """
    array = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(array.max()) if array.size else 0.0
    if floating and peak <= 1.0:
        top = 1.0
    elif peak <= 255:
        top = 255.0
    elif peak <= 65535:
        top = 65535.0
    else:
        top = peak
    return np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_rgb(image: Image.Image) -> Image.Image:
    """A new 8-bit RGB image of any-mode ``image`` (see the module's notes)."""
    if image.mode in _GRAY_DEEP:
        return Image.fromarray(to_8bit(np.asarray(image), floating=image.mode == "F"), "L").convert("RGB")
    if image.mode in _ALPHA or (image.mode in ("P", "L", "RGB") and "transparency" in image.info):
        rgba = image.convert("LA").convert("RGBA") if image.mode == "La" else image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def load_rgb(path, specimen: str | None = None, reduce_to=None) -> Image.Image:
    """Decode ``path`` fully as an upright RGB :class:`PIL.Image.Image`.

    The EXIF orientation is applied (the size is :func:`image_size`'s) and
    every mode converted to 8-bit RGB (:func:`to_rgb`).
    ``reduce_to=(w, h)`` (upright) lets JPEG decoding use Pillow's draft mode
    (DCT scaling), which decodes directly at a reduced size no smaller than
    ``(w, h)``; the caller still resizes exactly.  A truncated or corrupt
    file raises :class:`DataError` naming it.
    """
    path = Path(path)
    image = open_image(path, specimen)
    try:
        with image:
            image.getexif()  # read (and cache) it now: some formats close the file once decoded
            if reduce_to is not None and image.format == "JPEG":
                width, height = (max(1, math.ceil(v)) for v in reduce_to)
                if orientation(image) in SWAPPING_ORIENTATIONS:
                    width, height = height, width  # the draft size is in stored pixels
                image.draft("RGB", (width, height))
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            return to_rgb(image)
    except (OSError, SyntaxError, ValueError, struct.error) as error:
        raise DataError(f"{_where(path, specimen)}: cannot decode image (truncated or corrupt?): {error}") from None
