"""Synthetic specimens' randomness, landmarks and photo sizes.

All randomness of specimen ``i`` of part ``p`` comes from generators seeded by
``(seed, p, i)`` (:func:`specimen_rng`): a specimen does not depend on how
many others are made, on the order, or on the number of worker processes.
Landmarks come from the part's shape model (:mod:`beetles.synth.shapes`), in
the 256×192 network frame, y down.
"""
from __future__ import annotations

import re

import numpy as np

from beetles.core.frames import NETWORK
from beetles.paper.settings import ASPECT_TOLERANCE, PART_NAMES
from beetles.paper.settings import part as paper_part
from beetles.synth.shapes import shape_model

#: Default photo size (width, height): 4:3 like the study's camera, larger
#: than 256×192 so that the downsampling path is exercised, and fast to draw.
DEFAULT_SIZE = (1024, 768)

#: Seed of the default dataset (:func:`beetles.synth.dataset.default_dataset`).
DEFAULT_SEED = 0

_PART_CODES = {name: code for code, name in enumerate(PART_NAMES)}


def check_part(name: str) -> str:
    """``name`` if it is one of the study's parts; a ``ValueError`` naming them otherwise."""
    paper_part(name)  # clear error for unknown names
    return name


def specimen_rng(seed: int, part: str, index: int, stream: int) -> np.random.Generator:
    """The generator of one specimen: ``stream`` 0 draws its landmarks, 1 its picture."""
    entropy = [int(seed) & 0xFFFFFFFF, _PART_CODES[check_part(part)], int(index), int(stream), 0x5EE7]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def specimen_landmarks(part: str, index: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Landmarks ``(n, 2)`` of specimen ``index`` (0-based) in the 256×192 frame, y down."""
    return shape_model(part).sample(specimen_rng(seed, part, index, 0))


def sample_landmarks(part: str, count: int | None = None, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The landmarks of specimens ``0 .. count-1`` as :func:`generate_dataset`
    draws them, without rendering: ``(count, n, 2)``, 256×192 frame, y down.

    ``count`` defaults to the study's number of specimens of the part.
    """
    count = paper_part(part).specimens if count is None else int(count)
    return np.stack([specimen_landmarks(part, i, seed) for i in range(count)])


def check_size(size) -> tuple[int, int]:
    """``size`` ``(width, height)`` as integers if 4:3 and at least 256×192; a ``ValueError`` otherwise."""
    width, height = (int(v) for v in size)
    if width < NETWORK.width or height < NETWORK.height:
        raise ValueError(f"photo size {width}×{height} is smaller than the network's {NETWORK.width:g}×{NETWORK.height:g}")
    if abs(width / height - 4 / 3) > ASPECT_TOLERANCE * 4 / 3:
        raise ValueError(f"photo size {width}×{height} is not 4:3 (the study's photos are 3264×2448)")
    return width, height


def parse_size(text: str) -> tuple[int, int]:
    """``"1024x768"`` (or ``1024×768``) → ``(1024, 768)``, checked: 4:3, at least 256×192."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×*,]\s*(\d+)\s*", str(text))
    if not match:
        raise ValueError(f"size must look like WIDTHxHEIGHT (e.g. 1024x768), not {text!r}")
    return check_size((int(match.group(1)), int(match.group(2))))
