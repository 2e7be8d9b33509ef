"""From photos to the network's arrays, as in the paper.

A 4:3 photo (3264×2448 in the study) is downsampled with Pillow to 256×192
and its landmarks scaled with it (:mod:`beetles.core.frames`); the network sees
one gray channel with pixels in [0, 1] (float32, shape ``(1, 192, 256)``,
rows × columns) and targets normalised to [-1, 1].
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from beetles.core.errors import DataError
from beetles.core.frames import NETWORK, normalise
from beetles.core.letterbox import check_aspect, scaled_rgb
from beetles.core.specimen import Specimen
from beetles.paper.augment import luma, seven_versions


def network_rgb(specimen: Specimen) -> np.ndarray:
    """The specimen's 4:3 photo downsampled to the network frame: ``(192,
    256, 3)`` uint8 (:func:`beetles.core.letterbox.scaled_rgb`); a
    :class:`DataError` for another aspect ratio."""
    check_aspect(specimen.frame.size, f"{specimen.image}")
    return scaled_rgb(specimen.image, specimen.name)[0]


def gray_input(rgb) -> np.ndarray:
    """RGB ``(B, 192, 256, 3)`` uint8 → the paper's input ``(B, 1, 192, 256)``
    float32 in [0, 1] (Pillow's luma, :data:`beetles.paper.settings.GRAY_CONVERSION`)."""
    return to_input(np.stack([luma(image) for image in rgb]))[:, None]


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
