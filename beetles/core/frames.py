"""Coordinate frames and the conversions between them, all in one place.

Conventions used throughout beetles:

* In memory, landmarks are an ``(n, 2)`` float array of ``(x, y)`` in pixels,
  **y pointing down** (image rows), origin at the top-left corner of the
  image, in a named :class:`Frame` (the photo's own pixel frame, or the
  256×192 network frame).  A missing landmark is ``nan``.
* TPS files store **y pointing up**: ``y_tps = height - y``
  (:func:`flip_y`, its own inverse).  Only the TPS reader and writer call it.
* The network's targets are **normalised** to [-1, 1]:
  ``x_n = (x - 128) / 128``, ``y_n = (y - 96) / 96`` in the 256×192 frame,
  flattened as ``x1, y1, x2, y2, ...`` (:func:`normalise`, :func:`denormalise`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The network's input frame (width, height) in pixels: the paper's 256×192
#: (its photos, 3264×2448, downsampled by 12.75), which every model shares.
NETWORK_SIZE = (256, 192)


@dataclass(frozen=True)
class Frame:
    """A named pixel frame: ``width`` × ``height``, x right, y down."""

    name: str
    width: float
    height: float

    @property
    def size(self) -> tuple[float, float]:
        """``(width, height)``."""
        return (self.width, self.height)


#: The network's 256×192 input frame (y down).
NETWORK = Frame("network", *NETWORK_SIZE)


def photo_frame(width: float, height: float) -> Frame:
    """The pixel frame of a photo of ``width`` × ``height`` (y down)."""
    return Frame("photo", width, height)


def frame_for_size(size) -> Frame:
    """:data:`NETWORK` for a 256×192 ``size`` ``(width, height)``, else a photo frame."""
    width, height = size
    return NETWORK if (width, height) == NETWORK.size else photo_frame(width, height)


def as_points(points, what: str = "landmarks") -> np.ndarray:
    """``points`` as a float64 ``(n, 2)`` array; a clear error otherwise."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{what} must be an (n, 2) array of x, y; got shape {array.shape}")
    return array


def flip_y(points, height: float) -> np.ndarray:
    """Convert between y-down (image rows) and y-up (TPS): ``y -> height - y``.

    ``points``: ``(..., 2)``; returns a new array of the same shape.
    """
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 1] = height - out[..., 1]
    return out


def rescale(points, source: Frame, target: Frame) -> np.ndarray:
    """Map y-down ``points`` ``(..., 2)`` from ``source`` to ``target``.

    Both frames cover the same field of view (a resize of the whole image):
    x scales by ``target.width / source.width``, y by the heights' ratio.
    """
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 0] *= target.width / source.width
    out[..., 1] *= target.height / source.height
    return out


def normalise(points) -> np.ndarray:
    """Network-frame points ``(..., n, 2)`` (y down) → targets ``(..., 2n)`` in [-1, 1].

    Returns float32, ordered ``x1, y1, x2, y2, ...`` as the paper's code.
    """
    points = np.asarray(points, dtype=np.float64)
    half = np.array([NETWORK.width / 2, NETWORK.height / 2])
    scaled = (points - half) / half
    return scaled.reshape(*points.shape[:-2], -1).astype(np.float32)


def denormalise(targets) -> np.ndarray:
    """Inverse of :func:`normalise`: ``(..., 2n)`` → network-frame ``(..., n, 2)``, y down."""
    targets = np.asarray(targets, dtype=np.float64)
    half = np.array([NETWORK.width / 2, NETWORK.height / 2])
    points = targets.reshape(*targets.shape[:-1], -1, 2)
    return points * half + half


@dataclass(frozen=True)
class Letterbox:
    """How a photo of any aspect ratio is fitted into the 256×192 :data:`NETWORK` frame.

    The upright photo (as a viewer displays it, EXIF orientation applied;
    see :mod:`beetles.core.images`), ``photo_width`` × ``photo_height`` pixels, is
    scaled by one factor ``scale = min(256 / photo_width, 192 / photo_height)``
    (the same along x and y, so shapes keep their proportions), anchored at
    the top-left corner: the photo's origin is the network's origin.  It
    covers :attr:`content_size` of the frame; the rest, on the right or at the
    bottom, is padding.  Points are ``(..., 2)`` arrays of ``(x, y)`` in
    pixels, y down, in both frames, and map by ``network = photo * scale``;
    a 4:3 photo fills the frame exactly and maps as
    :func:`rescale` ``(points, photo_frame(w, h), NETWORK)``.

    :meth:`to_photo` divides by the same ``scale``: the exact inverse up to
    float64 rounding (1e-13 px for photo-sized coordinates).
    """

    photo_width: float
    photo_height: float

    def __post_init__(self):
        if not (self.photo_width > 0 and self.photo_height > 0):
            raise ValueError(f"photo size must be positive; got {self.photo_width}×{self.photo_height}")

    @classmethod
    def for_size(cls, size) -> Letterbox:
        """The letterbox of a photo of ``size`` ``(width, height)`` (upright)."""
        width, height = size
        return cls(width, height)

    @property
    def scale(self) -> float:
        """Network pixels per photo pixel: ``min(256 / photo_width, 192 / photo_height)``."""
        return min(NETWORK.width / self.photo_width, NETWORK.height / self.photo_height)

    @property
    def content_size(self) -> tuple[float, float]:
        """``(width, height)`` of the scaled photo in network pixels; the rest of the frame is padding."""
        return (self.photo_width * self.scale, self.photo_height * self.scale)

    def to_network(self, points) -> np.ndarray:
        """Photo pixels → network pixels (y down, ``(..., 2)``): ``points * scale``."""
        return np.asarray(points, dtype=np.float64) * self.scale

    def to_photo(self, points) -> np.ndarray:
        """Network pixels → photo pixels (y down, ``(..., 2)``): the inverse of :meth:`to_network`."""
        return np.asarray(points, dtype=np.float64) / self.scale
