"""From photos to the network's arrays, as in the paper.

A 4:3 photo (3264×2448 in the study) is downsampled with Pillow to 256×192
and its landmarks scaled with it (:mod:`beetles.frames`); the network sees
one gray channel with pixels in [0, 1] (float32, shape ``(1, 192, 256)``,
rows × columns) and targets normalised to [-1, 1].
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from tqdm import tqdm

from beetles.augment import luma, seven_versions
from beetles.errors import DataError
from beetles.frames import NETWORK, normalise
from beetles.images import load_rgb
from beetles.paper import ASPECT_TOLERANCE, DOWNSAMPLE_FILTER
from beetles.specimen import Specimen

_FILTERS = {"lanczos": Image.Resampling.LANCZOS, "bilinear": Image.Resampling.BILINEAR}


def check_aspect(size, where: str) -> None:
    """Raise :class:`DataError` unless ``size`` ``(width, height)`` is 4:3."""
    width, height = size
    if abs(width * 3 / (height * 4) - 1) > ASPECT_TOLERANCE:
        raise DataError(
            f"{where}: photo is {width}×{height}, not 4:3; the paper's preprocessing scales 4:3 photos "
            f"to {NETWORK.width:g}×{NETWORK.height:g}"
        )


def network_rgb(specimen: Specimen) -> np.ndarray:
    """The specimen's photo downsampled to the network frame: ``(192, 256, 3)`` uint8."""
    check_aspect(specimen.frame.size, f"{specimen.image}")
    image = load_rgb(specimen.image, specimen.name, reduce_to=NETWORK.size)
    with image:
        small = image.resize((int(NETWORK.width), int(NETWORK.height)), _FILTERS[DOWNSAMPLE_FILTER])
    return np.asarray(small)


def to_input(gray: np.ndarray) -> np.ndarray:
    """Gray uint8 ``(..., H, W)`` → float32 in [0, 1] (pixels / 255)."""
    return np.asarray(gray, dtype=np.float32) / np.float32(255.0)


def network_arrays(specimens, augment: bool = False, progress: bool = True, desc: str = "images"):
    """Inputs and targets of the network for ``specimens``.

    Returns ``X`` ``(M, 1, 192, 256)`` float32 in [0, 1], ``y`` ``(M, 2n)``
    float32 normalised targets (``x1, y1, …``; network frame, y down), and
    ``source`` ``(M,)`` the index of each row's specimen.  With
    ``augment=True`` every specimen gives its seven versions (M = 7 N), in
    specimen order; use it for training and validation images only.
    """
    specimens = list(specimens)
    per = 7 if augment else 1
    inputs, targets, source = [], [], []
    for index, specimen in enumerate(tqdm(specimens, desc=desc, unit="img", disable=not progress, leave=False)):
        rgb = network_rgb(specimen)
        versions = seven_versions(rgb) if augment else luma(rgb)[None]
        inputs.append(to_input(versions)[:, None])
        targets.append(np.repeat(normalise(specimen.in_frame(NETWORK).landmarks)[None], per, axis=0))
        source.extend([index] * per)
    if not specimens:
        raise DataError("no specimens to prepare")
    return np.concatenate(inputs), np.concatenate(targets), np.asarray(source)


class Photos:
    """The inputs of the compact models (:mod:`beetles.heatmap`): ``network``
    ``(N, 3, 192, 256)`` uint8 and, for ``cascade``, ``fine``
    ``(N, 3, 768, 1024)`` uint8: the same field of view at ``fine_scale`` ×
    the network's resolution."""

    def __init__(self, network, fine=None):
        self.network, self.fine = np.asarray(network), fine
        if fine is not None and len(fine) != len(self.network):
            raise ValueError(f"{len(self.network)} network images but {len(fine)} fine ones")

    def __len__(self) -> int:
        return len(self.network)

    def subset(self, index) -> "Photos":
        """The photos at ``index`` (an index array or a slice)."""
        return Photos(self.network[index], None if self.fine is None else self.fine[index])


def compact_rgb(specimen: Specimen, fine_scale: int | None = None):
    """The specimen's photo for the compact models: ``(192, 256, 3)`` uint8,
    and with ``fine_scale`` also ``(192 k, 256 k, 3)`` (else ``None``); both
    resized with Lanczos from one decode (JPEG draft mode for the larger)."""
    check_aspect(specimen.frame.size, f"{specimen.image}")
    size = (int(NETWORK.width * (fine_scale or 1)), int(NETWORK.height * (fine_scale or 1)))
    image = load_rgb(specimen.image, specimen.name, reduce_to=size)
    with image:
        fine = image.resize(size, _FILTERS[DOWNSAMPLE_FILTER]) if fine_scale else None
        small = (fine or image).resize((int(NETWORK.width), int(NETWORK.height)), _FILTERS[DOWNSAMPLE_FILTER])
    return np.asarray(small), (np.asarray(fine) if fine is not None else None)


def network_rgb_arrays(specimens, progress: bool = True, desc: str = "images", fine_scale: int | None = None):
    """RGB inputs and targets for the compact models (:mod:`beetles.heatmap`).

    Returns ``X`` :class:`Photos` (channels first, not augmented: those models
    augment while they train; ``fine`` only with ``fine_scale``), ``y``
    ``(N, 2n)`` float32 normalised targets (network frame, y down; ``nan``
    for a missing landmark) and ``source`` ``(N,)``, as :func:`network_arrays`.
    """
    specimens = list(specimens)
    if not specimens:
        raise DataError("no specimens to prepare")
    small, large, targets = [], [], []
    for specimen in tqdm(specimens, desc=desc, unit="img", disable=not progress, leave=False):
        network, fine = compact_rgb(specimen, fine_scale)
        small.append(network.transpose(2, 0, 1))
        if fine is not None:
            large.append(fine.transpose(2, 0, 1))
        targets.append(normalise(specimen.in_frame(NETWORK).landmarks))
    photos = Photos(np.stack(small), np.stack(large) if large else None)
    return photos, np.stack(targets), np.arange(len(specimens))


def round_rgb_arrays(specimens, round_, progress: bool = True, fine_scale: int | None = None):
    """:func:`round_arrays` for the compact models: RGB :class:`Photos`, no augmented copies."""
    specimens = list(specimens)
    train = network_rgb_arrays([specimens[i] for i in round_.train], progress=progress, desc="train images",
                               fine_scale=fine_scale)
    test = network_rgb_arrays([specimens[i] for i in round_.test], progress=progress, desc="test images",
                              fine_scale=fine_scale)
    return (
        (train[0], train[1], np.asarray(round_.train)[train[2]]),
        (test[0], test[1], np.asarray(round_.test)[test[2]]),
    )


def round_arrays(specimens, round_, progress: bool = True):
    """The arrays of one cross-validation round.

    Training and validation specimens (``round_.train``) are augmented
    seven-fold; the round's test specimens (``round_.test``) are not.
    Returns ``(X_train, y_train, source_train), (X_test, y_test, source_test)``
    as :func:`network_arrays`, with ``source`` holding indices into
    ``specimens``.
    """
    specimens = list(specimens)
    train = network_arrays([specimens[i] for i in round_.train], augment=True, progress=progress, desc="train images")
    test = network_arrays([specimens[i] for i in round_.test], augment=False, progress=progress, desc="test images")
    return (
        (train[0], train[1], np.asarray(round_.train)[train[2]]),
        (test[0], test[1], np.asarray(round_.test)[test[2]]),
    )


def letterbox_rgb(path, name: str | None = None, fine_scale: int | None = None):
    """A photo of any aspect ratio fitted into the network frame, without distortion.

    Returns ``(network, fine, letterbox)``: ``network`` ``(192, 256, 3)``
    uint8; with ``fine_scale`` ``k``, ``fine`` ``(192 k, 256 k, 3)`` uint8
    (the same layout at ``k`` × the resolution), else ``None``; and the
    :class:`~beetles.frames.Letterbox` of the upright photo, which maps its
    landmarks (``to_network``; ``fine`` pixels are network pixels × ``k``).

    The upright photo (EXIF orientation applied) is decoded once (JPEG draft
    mode at the scaled size), resized with Lanczos by the letterbox's one
    ``scale`` (``fine`` first, ``network`` from ``fine`` when both are made)
    into the top-left corner, and the rest, right or bottom, is filled with
    the mean colour of the photo's border pixels.  The scaled photo covers
    ``floor(content_size)`` whole pixels, resampled so that photo point ``p``
    lands exactly at ``to_network(p)``; the fraction of a pixel left at the
    far edge is padding.  A 4:3 photo fills the frame as :func:`compact_rgb`
    makes it.
    """
    import math

    from beetles.frames import Letterbox
    from beetles.images import image_size

    letterbox = Letterbox.for_size(image_size(path, name))
    k = int(fine_scale) if fine_scale else 1
    if k < 1:
        raise ValueError(f"fine_scale must be a positive integer; got {fine_scale}")
    frame = (int(NETWORK.width) * k, int(NETWORK.height) * k)
    filter_ = _FILTERS[DOWNSAMPLE_FILTER]

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
