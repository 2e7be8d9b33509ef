"""The compact models' inputs: RGB photos in the network frame, and a fine copy.

:class:`Photos` holds ``network`` ``(N, 3, 192, 256)`` uint8 (channels
first) and, for a model with a fine scale ``k`` (``cascade``: 4), ``fine``
``(N, 3, 192 k, 256 k)``: the same field of view at ``k`` × the
resolution.  :func:`photo_inputs` makes them from specimens, with
normalised targets; the models augment while they train, so nothing is
augmented here.
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from beetles.core.errors import DataError
from beetles.core.frames import NETWORK, normalise
from beetles.core.letterbox import check_aspect, letterbox_rgb, scaled_rgb
from beetles.model import Inputs


class Photos:
    """Network photos ``(N, 3, 192, 256)`` uint8 and, optionally, their fine
    copies ``(N, 3, 192 k, 256 k)`` (see the module docstring)."""

    def __init__(self, network, fine=None):
        self.network, self.fine = np.asarray(network), fine
        if fine is not None and len(fine) != len(self.network):
            raise ValueError(f"{len(self.network)} network images but {len(fine)} fine ones")

    def __len__(self) -> int:
        return len(self.network)

    def subset(self, index) -> "Photos":
        """The photos at ``index`` (an index array or a slice)."""
        return Photos(self.network[index], None if self.fine is None else self.fine[index])

    @classmethod
    def from_rgb(cls, networks, fines=None) -> "Photos":
        """From channels-last arrays ``(N, 192, 256, 3)`` (and ``(N, 192 k, 256 k, 3)``)."""
        fine = None if fines is None else np.ascontiguousarray(np.asarray(fines).transpose(0, 3, 1, 2))
        return cls(np.asarray(networks).transpose(0, 3, 1, 2), fine)


def photo_inputs(specimens, fine_scale: int | None = None, letterbox: bool = False, progress: bool = True,
                 desc: str = "photos") -> Inputs:
    """:class:`~beetles.model.Inputs` of ``specimens``: :class:`Photos` and
    ``(N, 2n)`` float32 normalised targets (network frame, y down; ``nan``
    for a missing landmark).

    ``letterbox``: photos of any aspect ratio, letterboxed
    (:func:`beetles.core.letterbox.letterbox_rgb`; targets through the same
    :class:`~beetles.core.frames.Letterbox`), as ``beetles train`` reads
    them; a :class:`DataError` when a photo's size is not its landmarks'
    frame.  Otherwise 4:3 photos scaled as the paper did
    (:func:`beetles.core.letterbox.scaled_rgb`), as the experiments read them.
    """
    specimens = list(specimens)
    if not specimens:
        raise DataError("no specimens to prepare")
    network, fine, targets, problems = None, None, [], []
    for index, specimen in enumerate(tqdm(specimens, desc=desc, unit="img", disable=not progress, leave=False)):
        if letterbox:
            small, large, box = letterbox_rgb(specimen.image, specimen.name, fine_scale=fine_scale)
            if (box.photo_width, box.photo_height) != tuple(specimen.frame.size):
                problems.append(f"{specimen.image}: decoded as {box.photo_width}×{box.photo_height}, but its "
                                f"landmarks are in a {specimen.frame.width:g}×{specimen.frame.height:g} frame")
            targets.append(normalise(box.to_network(specimen.landmarks)))
        else:
            check_aspect(specimen.frame.size, f"{specimen.image}")
            small, large = scaled_rgb(specimen.image, specimen.name, fine_scale)
            targets.append(normalise(specimen.in_frame(NETWORK).landmarks))
        if network is None:  # preallocated: a cascade's fine photos are large
            network = np.empty((len(specimens), *small.transpose(2, 0, 1).shape), np.uint8)
            if large is not None:
                fine = np.empty((len(specimens), *large.transpose(2, 0, 1).shape), np.uint8)
        network[index] = small.transpose(2, 0, 1)
        if fine is not None:
            fine[index] = large.transpose(2, 0, 1)
    if problems:
        raise DataError("photos whose size does not match their landmarks:\n  " + "\n  ".join(problems[:10]))
    return Inputs(Photos(network, fine), np.stack(targets), np.arange(len(specimens)))
