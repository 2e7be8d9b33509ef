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
