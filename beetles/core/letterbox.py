"""Fitting a photo into the 256×192 network frame: its pixels.

Two ways, each decoding the upright photo once (EXIF orientation applied;
JPEG draft mode decodes large photos directly at a reduced size) and
resizing it with Pillow's Lanczos filter (:data:`RESAMPLE`, the paper's
choice: :data:`beetles.paper.settings.DOWNSAMPLE_FILTER`):

* :func:`scaled_rgb`: the paper's preprocessing, for 4:3 photos
  (:func:`check_aspect`): both axes scaled to the frame;
* :func:`letterbox_rgb`: any aspect ratio, one scale for both axes, the
  photo anchored top-left and padded (:class:`beetles.core.frames.Letterbox`
  maps its points).

Either can also give a ``fine`` copy at ``k`` × the frame's resolution (the
same field of view) for a model that reads one.  Arrays are ``(H, W, 3)``
uint8, rows × columns.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from beetles.core.errors import DataError
from beetles.core.frames import NETWORK, Letterbox
from beetles.core.images import image_size, load_rgb

#: The resampling filter of every resize to the network frame: Lanczos.
RESAMPLE = Image.Resampling.LANCZOS
#: Photos must be 4:3 within this relative tolerance to be scaled to 256×192
#: (:data:`beetles.paper.settings.ASPECT_TOLERANCE`).
ASPECT_TOLERANCE = 0.01


def check_aspect(size, where: str) -> None:
    """Raise :class:`DataError` unless ``size`` ``(width, height)`` is 4:3."""
    width, height = size
    if abs(width * 3 / (height * 4) - 1) > ASPECT_TOLERANCE:
        raise DataError(
            f"{where}: photo is {width}×{height}, not 4:3; the paper's preprocessing scales 4:3 photos "
            f"to {NETWORK.width:g}×{NETWORK.height:g}"
        )


def scaled_rgb(path, name: str | None = None, fine_scale: int | None = None):
    """A 4:3 photo scaled to the network frame: ``(192, 256, 3)`` uint8, and
    with ``fine_scale`` ``k`` also ``(192 k, 256 k, 3)`` (else ``None``);
    both resized from one decode (the larger first, the smaller from it).
    The caller checks the aspect ratio (:func:`check_aspect`)."""
    size = (int(NETWORK.width * (fine_scale or 1)), int(NETWORK.height * (fine_scale or 1)))
    image = load_rgb(path, name, reduce_to=size)
    with image:
        fine = image.resize(size, RESAMPLE) if fine_scale else None
        small = (fine or image).resize((int(NETWORK.width), int(NETWORK.height)), RESAMPLE)
    return np.asarray(small), (np.asarray(fine) if fine is not None else None)


def letterbox_rgb(path, name: str | None = None, fine_scale: int | None = None):
    """A photo of any aspect ratio fitted into the network frame, without distortion.

    Returns ``(network, fine, letterbox)``: ``network`` ``(192, 256, 3)``
    uint8; with ``fine_scale`` ``k``, ``fine`` ``(192 k, 256 k, 3)`` uint8
    (the same layout at ``k`` × the resolution), else ``None``; and the
    :class:`~beetles.core.frames.Letterbox` of the upright photo, which maps its
    landmarks (``to_network``; ``fine`` pixels are network pixels × ``k``).

    The upright photo (EXIF orientation applied) is decoded once (JPEG draft
    mode at the scaled size), resized with Lanczos by the letterbox's one
    ``scale`` (``fine`` first, ``network`` from ``fine`` when both are made)
    into the top-left corner, and the rest, right or bottom, is filled with
    the mean colour of the photo's border pixels.  The scaled photo covers
    ``floor(content_size)`` whole pixels, resampled so that photo point ``p``
    lands exactly at ``to_network(p)``; the fraction of a pixel left at the
    far edge is padding.  A 4:3 photo fills the frame as :func:`scaled_rgb`
    makes it (within 2 levels of 255).
    """
    letterbox = Letterbox.for_size(image_size(path, name))
    k = int(fine_scale) if fine_scale else 1
    if k < 1:
        raise ValueError(f"fine_scale must be a positive integer; got {fine_scale}")
    frame = (int(NETWORK.width) * k, int(NETWORK.height) * k)
    filter_ = RESAMPLE

    def covered(scale: int) -> tuple[int, int]:
        # whole pixels of the scaled photo; the tolerance absorbs float error at the frame's edge
        limits = (int(NETWORK.width) * scale, int(NETWORK.height) * scale)
        return tuple(max(1, min(limit, math.floor(v * scale + 1e-6))) for v, limit in zip(letterbox.content_size, limits))

    def clip_box(width: float, height: float, image: Image.Image):
        return (0, 0, min(width, image.width), min(height, image.height))

    content = covered(k)
    image = load_rgb(path, name, reduce_to=content)
    with image:
        # photo pixels per decoded pixel: the JPEG draft factor d (size ceil(w / d)), else the ratio
        w, h = letterbox.photo_width, letterbox.photo_height
        factor = next(((d, d) for d in (1, 2, 4, 8) if image.size == (math.ceil(w / d), math.ceil(h / d))),
                      (w / image.width, h / image.height))
        photo_px = (content[0] / (letterbox.scale * k), content[1] / (letterbox.scale * k))
        box = clip_box(photo_px[0] / factor[0], photo_px[1] / factor[1], image)
        scaled = image.resize(content, filter_, box=box)
        border = [image.crop(b) for b in ((0, 0, image.width, 1), (0, image.height - 1, image.width, image.height),
                                          (0, 0, 1, image.height), (image.width - 1, 0, image.width, image.height))]
    colour = tuple(int(v + 0.5) for v in np.concatenate([np.asarray(b).reshape(-1, 3) for b in border]).mean(axis=0))

    def padded(picture: Image.Image, size) -> np.ndarray:
        if picture.size == size:
            return np.asarray(picture)
        canvas = Image.new("RGB", size, colour)
        canvas.paste(picture, (0, 0))
        return np.asarray(canvas)

    if not fine_scale:
        return padded(scaled, frame), None, letterbox
    small = covered(1)
    network = scaled.resize(small, filter_, box=clip_box(small[0] * k, small[1] * k, scaled))
    return padded(network, (int(NETWORK.width), int(NETWORK.height))), padded(scaled, frame), letterbox
