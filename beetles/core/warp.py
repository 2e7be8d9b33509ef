"""Geometric augmentation of network-frame images together with their landmarks (PyTorch).

:func:`random_affine` draws affine maps of the 256×192 frame (rotation,
zoom, shift, drawn in pixels so that a rotation is not a shear);
:func:`warp` resamples images through them; :func:`tta_runs` is test-time
augmentation: predictions on slightly moved copies of the images, mapped
back, whose spread measures a model's uncertainty (``regress``, and the
paper's models 1 and 2 in the tool).  Points are normalised network
coordinates (:func:`beetles.core.frames.normalise`: x, y in [-1, 1], y down).
"""
from __future__ import annotations

import math

import numpy as np

from beetles.core.frames import NETWORK
from beetles.core.torchutil import torch_module

torch = torch_module("image augmentation")
from torch.nn import functional as F  # noqa: E402

#: Test-time augmentation: rotation (degrees), zoom range and shift (fraction of the frame).
TTA_ROTATION, TTA_SCALE, TTA_SHIFT = 5.0, (0.95, 1.05), 0.03


def random_affine(batch: int, generator: torch.Generator, device, rotation: float, scale, shift: float):
    """Random affine maps in normalised coordinates, for ``grid_sample``:
    a rotation up to ``rotation`` degrees either way, a zoom in ``scale``
    ``(low, high)`` and a shift up to ``shift`` of the frame.

    Returns ``theta`` ``(B, 2, 3)`` mapping *output* points to *input*
    points (``p_in = A p_out + t``), drawn in pixel space (so a rotation is
    a rotation on the 4:3 frame, not a shear) and converted."""
    angle = (torch.rand(batch, generator=generator) * 2 - 1) * math.radians(rotation)
    zoom = scale[0] + torch.rand(batch, generator=generator) * (scale[1] - scale[0])
    move = (torch.rand(batch, 2, generator=generator) * 2 - 1) * shift * 2  # normalised units
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    half = torch.tensor([NETWORK.width / 2, NETWORK.height / 2])
    # A_pix = [[cos, -sin], [sin, cos]]; A_norm = D^-1 A_pix D with D = diag(half)
    a = torch.stack([
        torch.stack([cos, -sin * half[1] / half[0]], -1),
        torch.stack([sin * half[0] / half[1], cos], -1),
    ], 1)
    return torch.cat([a, move[..., None]], dim=2).to(device)


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``images`` ``(B, C, H, W)`` resampled through the affine maps ``theta``
    (:func:`random_affine`; bilinear, borders repeated)."""
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def tta_runs(forward, images: torch.Tensor, passes: int = 8) -> np.ndarray:
    """Test-time augmentation: ``forward`` (images → ``(B, n, 2)`` normalised
    points) on ``passes`` slightly shifted, rotated and scaled copies of
    ``images`` ``(B, C, H, W)``, each mapped back to the original image;
    returns ``(passes, B, n, 2)`` normalised points (seeded: reproducible)."""
    generator = torch.Generator().manual_seed(0)
    runs = []
    with torch.no_grad():
        for _ in range(passes):
            theta = random_affine(len(images), generator, images.device, TTA_ROTATION, TTA_SCALE, TTA_SHIFT)
            coords = forward(warp(images, theta))
            runs.append((torch.einsum("bij,bnj->bni", theta[:, :, :2], coords) + theta[:, None, :, 2]).cpu().numpy())
    return np.stack(runs)
