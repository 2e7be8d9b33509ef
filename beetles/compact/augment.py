"""Training augmentation of the compact models: every batch moved by a random
affine map, landmarks with the pixels, plus brightness, contrast and colour
jitter.  No left-right flip: a flip would need to know which landmarks swap,
which a landmark file does not say.  Points are normalised network
coordinates (``nan`` for a missing landmark, kept).
"""
from __future__ import annotations

import torch

from beetles.core.warp import random_affine, warp

#: Augmentation: rotation (degrees), scale range, shift (fraction of the frame).
ROTATION, SCALE, SHIFT = 15.0, (0.9, 1.1), 0.08


def augment_batch(images: torch.Tensor, points: torch.Tensor, generator: torch.Generator):
    """Augment a batch: ``images`` ``(B, 3, H, W)`` float in [0, 1] and
    ``points`` ``(B, n, 2)`` normalised (``nan`` kept); returns both moved by
    the same random affine map, plus photometric jitter on the images."""
    theta = random_affine(len(images), generator, images.device, ROTATION, SCALE, SHIFT)
    images = warp(images, theta)
    a, t = theta[:, :, :2], theta[:, :, 2]
    # p_out = A^-1 (p_in - t)
    points = torch.linalg.solve(a[:, None], (points - t[:, None])[..., None])[..., 0]
    return jitter_colours(images, generator), points


def jitter_colours(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Brightness, contrast and colour jitter of ``(B, 3, H, W)`` images in [0, 1]."""
    b = len(images)
    contrast = 0.7 + 0.6 * torch.rand(b, 1, 1, 1, generator=generator)
    brightness = (torch.rand(b, 1, 1, 1, generator=generator) - 0.5) * 0.2
    colour = (torch.rand(b, 3, 1, 1, generator=generator) - 0.5) * 0.1
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    shift = (brightness + colour).to(images.device)
    return ((images - mean) * contrast.to(images.device) + mean + shift).clamp(0, 1)
