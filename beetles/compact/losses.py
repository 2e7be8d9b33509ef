"""Losses of the compact models, in network pixels.

:func:`landmark_loss`: the Euclidean distance between predicted and true
landmarks plus a cross-entropy pulling each heatmap towards a Gaussian of
one cell around the true landmark (as DSNT, Nibali et al. 2018);
:func:`patch_loss`: the same for the refiner's patches.  Both also return
the batch's mean squared error on normalised coordinates (the paper's loss),
for the learning curves.  Missing landmarks (``nan``) are left out.
"""
from __future__ import annotations

import torch

from beetles.compact.networks import FINE_SCALE, PATCH, cell_centres
from beetles.core.frames import NETWORK

#: Standard deviation of the target Gaussian, in heatmap cells.
TARGET_SIGMA = 1.0
#: Weight of the heatmap cross-entropy next to the distance (in pixels).
HEATMAP_WEIGHT = 1.0


def pixel_distances(pred: torch.Tensor, target: torch.Tensor, half=None) -> torch.Tensor:
    """Euclidean distances in pixels between normalised ``(B, n, 2)``
    points; ``(B, n)``.  ``half``: the frame's half width and height in
    pixels (default: the 256×192 network frame)."""
    half = torch.tensor(half or [NETWORK.width / 2, NETWORK.height / 2], device=pred.device)
    return (((pred - target) * half) ** 2).sum(-1).add(1e-6).sqrt()


def gaussian_targets(target: torch.Tensor, height: int, width: int, sigma: float = TARGET_SIGMA) -> torch.Tensor:
    """Normalised Gaussian maps ``(B, n, h, w)`` (each sums to 1) centred on
    ``target`` ``(B, n, 2)`` (normalised), ``sigma`` in cells."""
    xs, ys = cell_centres(height, width, target.device)
    cell_x, cell_y = 2.0 / width, 2.0 / height
    gx = torch.exp(-0.5 * ((xs[None, None, :] - target[..., 0:1]) / (sigma * cell_x)) ** 2)  # (B, n, w)
    gy = torch.exp(-0.5 * ((ys[None, None, :] - target[..., 1:2]) / (sigma * cell_y)) ** 2)  # (B, n, h)
    maps = gy[..., :, None] * gx[..., None, :]
    return maps / maps.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)


def landmark_loss(coords, logits, target, half=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss and the batch's mean squared error on normalised
    coordinates (the paper's loss, for the learning curves).

    ``coords``, ``target``: ``(B, n, 2)`` normalised; ``nan`` targets
    (missing landmarks) are left out; ``half``: the frame's half size in
    pixels (:func:`pixel_distances`)."""
    visible = torch.isfinite(target).all(-1)  # (B, n)
    safe = torch.where(visible[..., None], target, torch.zeros_like(target))
    weight = visible.float()
    count = weight.sum().clamp_min(1.0)
    loss = (pixel_distances(coords, safe, half) * weight).sum() / count
    if logits is not None:
        maps = gaussian_targets(safe, *logits.shape[-2:])
        log_prob = torch.log_softmax(logits.flatten(2).float(), dim=-1)
        cross_entropy = -(maps.flatten(2) * log_prob).sum(-1)  # (B, n)
        loss = loss + HEATMAP_WEIGHT * (cross_entropy * weight).sum() / count
    mse = (((coords - safe) ** 2).sum(-1) * weight).sum() / (2 * count)
    return loss, mse.detach()


def patch_loss(coords, logits, target, fine_scale: int = FINE_SCALE, half=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The refiner's loss: distance in frame pixels plus the heatmap
    cross-entropy (as :func:`landmark_loss`), for ``(B, 2)`` patch-normalised
    points and ``(B, h, w)`` logits; also the mean squared error in the
    frame's normalised coordinates.  The patches are cut at ``fine_scale`` ×
    the frame's resolution; ``half``: the frame's half size in pixels
    (default: the 256×192 network frame)."""
    scale = PATCH / 2 / fine_scale  # frame pixels per patch-normalised unit
    distance = (((coords - target) * scale) ** 2).sum(-1).add(1e-6).sqrt().mean()
    maps = gaussian_targets(target[:, None], *logits.shape[-2:])[:, 0]
    cross_entropy = -(maps.flatten(1) * torch.log_softmax(logits.flatten(1).float(), -1)).sum(-1).mean()
    half = torch.tensor(half or [NETWORK.width / 2, NETWORK.height / 2], device=coords.device)
    mse = ((((coords - target) * scale) / half) ** 2).mean()
    return distance + HEATMAP_WEIGHT * cross_entropy, mse.detach()
