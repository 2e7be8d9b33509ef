"""Opening photos with Pillow, with clear errors for unusable files.

Every decode goes through here, so a missing, truncated or non-image file is
reported once, naming the file (and the specimen when known), instead of as a
traceback from deep inside Pillow.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from beetles.errors import DataError


def _where(path: Path, specimen: str | None) -> str:
    return f"{path} ({specimen})" if specimen else str(path)


def open_image(path, specimen: str | None = None) -> Image.Image:
    """Open ``path`` lazily (header only); :class:`DataError` if unusable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{_where(path, specimen)}: image file not found")
    try:
        return Image.open(path)
    except UnidentifiedImageError:
        raise DataError(f"{_where(path, specimen)}: not an image Pillow can read") from None
    except OSError as error:
        raise DataError(f"{_where(path, specimen)}: cannot open image: {error}") from None


def image_size(path, specimen: str | None = None) -> tuple[int, int]:
    """``(width, height)`` of the photo at ``path``, from its header only."""
    with open_image(path, specimen) as image:
        return image.size


def resolve_frame(image, size, label: str | None = None, problems: list | None = None):
    """The frame of ``image``'s landmarks: ``size`` ``(w, h)`` if given, else
    the photo's own size read from its header.

    When the photo cannot be opened: raise :class:`DataError`, or, if a
    ``problems`` list is given, append the message to it and return ``None``.
    """
    from beetles.frames import frame_for_size, photo_frame

    if size is not None:
        return frame_for_size(size)
    try:
        return photo_frame(*image_size(image, label))
    except DataError as error:
        if problems is None:
            raise
        problems.append(str(error))
        return None


def load_rgb(path, specimen: str | None = None, reduce_to=None) -> Image.Image:
    """Decode ``path`` fully as an RGB :class:`PIL.Image.Image`.

    ``reduce_to=(w, h)`` lets JPEG decoding use Pillow's draft mode (DCT
    scaling), which decodes directly at a reduced size no smaller than
    ``(w, h)``; the caller still resizes exactly.  A truncated or corrupt
    file raises :class:`DataError` naming it.
    """
    path = Path(path)
    image = open_image(path, specimen)
    try:
        with image:
            if reduce_to is not None and image.format == "JPEG":
                image.draft("RGB", tuple(int(v) for v in reduce_to))
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                # 16-bit gray: scale to 8 bits before RGB conversion.
                array = np.asarray(image, dtype=np.float64)
                top = 65535.0 if array.max() > 255 else 255.0
                image = Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
            return image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{_where(path, specimen)}: cannot decode image (truncated or corrupt?): {error}") from None
