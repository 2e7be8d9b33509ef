"""Square crops of a photo around its specimen, at the resolution a stage needs.

The ``zoom`` model (:mod:`beetles.compact.zoom`) finds the specimen on the
whole photo, then reads a square **region** of the photo around it: centred
on the landmarks' bounding box, :data:`MARGIN` × the box's longer side
(:func:`specimen_square`), so a portrait and a landscape specimen fill the
region alike.  A region is ``(centre, side)`` in the photo's own pixels
(x, y; y down; pixel ``i`` covers ``[i, i + 1)``).  Inside it, points are
*crop-normalised*: ``u = (p - centre) / (side / 2)``, in [-1, 1] across the
region, y down (:func:`to_crop`, :func:`from_crop`).

:class:`PhotoSource` is one decoded photo (a Pillow image, possibly decoded
at a reduced size by JPEG draft mode) that any region can be cut from,
resampled to any size (:meth:`PhotoSource.crop`): box-filtered down by an
integer factor first (no aliasing), then bilinear; outside the photo, the
mean colour of its border.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

from beetles.core.images import image_size, load_rgb

#: Region side / the longer side of the landmarks' bounding box.
MARGIN = 1.5
#: The smallest region, as a fraction of the photo's longer side (landmarks
#: that collapse onto one point would otherwise give an empty region).
MIN_SIDE = 0.05
#: Decode photos no smaller than this (longer side, JPEG draft mode: a
#: 3264×2448 or 2000×2600 JPEG is decoded at half size, four times faster):
#: the 896-pixel fine crop of a specimen filling the photo then stays at
#: about the decoded photo's own resolution.
DECODE_LONG_SIDE = 1024


def specimen_square(points, photo_size, margin: float = MARGIN) -> tuple[np.ndarray, float]:
    """The region around ``points`` ``(n, 2)`` (photo pixels, y down; ``nan``
    ignored) in a photo of ``photo_size`` ``(width, height)``: ``(centre (2,),
    side)``, the side ``margin`` × the points' extent; the whole photo when
    no point is finite."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    finite = points[np.isfinite(points).all(-1)]
    width, height = photo_size
    if not len(finite):
        return np.array([width / 2, height / 2]), float(max(width, height))
    low, high = finite.min(0), finite.max(0)
    side = max(float((high - low).max()) * margin, MIN_SIDE * max(width, height), 4.0)
    return (low + high) / 2, side


def to_crop(points, centre, side) -> np.ndarray:
    """Photo pixels ``(..., 2)`` → crop-normalised coordinates of the region."""
    return (np.asarray(points, np.float64) - centre) / (side / 2)


def from_crop(points, centre, side) -> np.ndarray:
    """Crop-normalised coordinates ``(..., 2)`` → photo pixels (the inverse of :func:`to_crop`)."""
    return np.asarray(points, np.float64) * (side / 2) + centre


class PhotoSource:
    """One decoded upright photo that regions are cut from.

    ``image``: the RGB Pillow image; ``factor``: its pixels per photo pixel
    (1, or 1/d after JPEG draft mode at 1/d); ``size``: the photo's own
    ``(width, height)``."""

    def __init__(self, image: Image.Image, factor: float, size):
        self.image, self.factor, self.size = image, float(factor), (int(size[0]), int(size[1]))
        border = np.concatenate([np.asarray(image.crop(b)).reshape(-1, 3) for b in (
            (0, 0, image.width, 1), (0, image.height - 1, image.width, image.height),
            (0, 0, 1, image.height), (image.width - 1, 0, image.width, image.height))])
        self.fill = tuple(int(v + 0.5) for v in border.mean(0))

    @classmethod
    def open(cls, path, name: str | None = None, long_side: int = DECODE_LONG_SIDE) -> "PhotoSource":
        """Decode ``path`` once, upright, no smaller than ``long_side`` on its
        longer side where JPEG draft mode can reduce it (else at full size)."""
        width, height = image_size(path, name)
        ratio = min(1.0, long_side / max(width, height))
        image = load_rgb(path, name, reduce_to=(width * ratio, height * ratio))
        return cls(image, image.width / width, (width, height))

    def crop(self, centre, side: float, size: int) -> np.ndarray:
        """The region ``(centre, side)`` (photo pixels) resampled to ``size`` ×
        ``size``: ``(size, size, 3)`` uint8."""
        cx, cy = (float(v) * self.factor for v in centre)
        half = side * self.factor / 2
        x0, y0, x1, y1 = cx - half, cy - half, cx + half, cy + half
        reduce = max(1, int(math.floor(2 * half / size)))
        box = (max(0, math.floor(x0)), max(0, math.floor(y0)),
               min(self.image.width, math.ceil(x1)), min(self.image.height, math.ceil(y1)))
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:  # the region lies outside the photo
            return np.full((size, size, 3), self.fill, np.uint8)
        part = self.image.reduce(reduce, box=box) if reduce > 1 else self.image.crop(box)
        sx, sy = part.width / (box[2] - box[0]), part.height / (box[3] - box[1])
        extent = ((x0 - box[0]) * sx, (y0 - box[1]) * sy, (x1 - box[0]) * sx, (y1 - box[1]) * sy)
        out = part.transform((size, size), Image.Transform.EXTENT, extent, Image.Resampling.BILINEAR,
                             fillcolor=self.fill)
        return np.asarray(out)
