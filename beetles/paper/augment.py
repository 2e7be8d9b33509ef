"""The paper's seven versions of each photo (section 4).

From one RGB photo: the original; three copies with a constant ``c`` added
to one of R, G, B (capped at 255); and the R, G and B channels each taken as
a gray image.  The network sees one gray channel, so the original and the
"+c" copies are converted to gray with Pillow's luma (the published code read
every image as gray-scale).  Landmarks are the same in all seven.  See
:data:`beetles.paper.settings.AUGMENT_CONSTANT` and :data:`beetles.paper.settings.GRAY_CONVERSION`.
Augmented copies are made for training and validation images only, never for
a round's test images (:func:`beetles.paper.preprocess.network_arrays`).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from beetles.paper.settings import AUGMENT_CONSTANT, AUGMENTED_VERSIONS


def luma(rgb: np.ndarray) -> np.ndarray:
    """Gray ``(H, W)`` uint8 from RGB ``(H, W, 3)`` uint8 (Pillow's ITU-R 601-2 luma)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").convert("L"))


def seven_versions(rgb: np.ndarray, constant: int = AUGMENT_CONSTANT) -> np.ndarray:
    """The seven gray versions of an RGB image.

    ``rgb``: ``(H, W, 3)`` uint8.  Returns ``(7, H, W)`` uint8 in the order of
    :data:`beetles.paper.settings.AUGMENTED_VERSIONS`: original, +c on R, G, B, then R,
    G, B alone.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    versions = [luma(rgb)]
    for channel in range(3):
        brighter = rgb.astype(np.int16)
        brighter[..., channel] += constant
        versions.append(luma(np.minimum(brighter, 255).astype(np.uint8)))
    versions.extend(rgb[..., channel] for channel in range(3))
    out = np.stack(versions)
    assert len(out) == len(AUGMENTED_VERSIONS)
    return out
