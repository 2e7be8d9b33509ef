"""The compact networks, in PyTorch.

``heatmap`` (:class:`CompactNet`, ``head=HEATMAPS``)
    A compact encoder (five stride-2 stages, 16→128 channels, batch norm,
    ReLU) with a feature-pyramid decoder back to 1/8 of the input; two
    coordinate channels (CoordConv) before the last 3×3 convolution; one
    heatmap per landmark (24×32 cells for the 192×256 input).  A spatial
    softmax turns each heatmap into a probability map, and the landmark is
    its expected position (:func:`soft_argmax`: differentiable, sub-cell
    precise); the map's spread around it (:func:`heatmap_spread`) is the
    model's uncertainty.
``regress`` (``head=COORDINATES``)
    The same encoder, global average pooling and a linear layer giving the
    coordinates directly.
The refiner of ``cascade`` (:class:`RefineNet`)
    A small convolutional network on :data:`PATCH`-pixel patches of the
    photo at :data:`FINE_SCALE` × the network's resolution (1024×768), one
    heatmap per landmark, whose soft-argmax moves a coarse estimate
    (:func:`crop_patches`, :func:`to_patch`, :func:`from_patch`).

Coordinates: the networks take RGB images with pixels / 255 and give
normalised network coordinates (``(B, n, 2)``, x, y in [-1, 1], y down;
:func:`beetles.core.frames.normalise`); the refiner works in *fine* pixels
(:data:`FINE_SCALE` × network pixels, same field of view, y down) and
converts (:func:`fine_to_normalised`, :func:`normalised_to_fine`).
"""
from __future__ import annotations

import numpy as np

from beetles.core.frames import NETWORK
from beetles.core.torchutil import torch_module

torch = torch_module("the compact models")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

#: Channels of the five encoder stages.
WIDTHS = (16, 32, 64, 128, 128)
#: Channels of the decoder (feature pyramid).
PYRAMID = 64
#: Heatmap cells per network pixel: 1/8, so 24×32 cells for 192×256.
STRIDE = 8
#: The heads: one heatmap per landmark (soft-argmax), or the coordinates
#: regressed directly from the pooled features.
HEATMAPS, COORDINATES = "heatmaps", "coordinates"
HEADS = (HEATMAPS, COORDINATES)
#: The refinement stage of ``cascade``: the photo at FINE_SCALE × the network
#: frame (1024×768), square patches of PATCH fine pixels around each coarse
#: estimate.
FINE_SCALE, PATCH = 4, 64


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def cell_centres(height: int, width: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised x and y of the cell centres of an ``height`` × ``width`` map:
    ``(width,)`` and ``(height,)`` in (-1, 1), matching ``align_corners=False``."""
    xs = (torch.arange(width, device=device, dtype=torch.float32) * 2 + 1) / width - 1
    ys = (torch.arange(height, device=device, dtype=torch.float32) * 2 + 1) / height - 1
    return xs, ys


class CompactNet(nn.Module):
    """The compact network: ``forward(x)`` with ``x`` ``(B, 3, 192, 256)``
    float in [0, 1] returns ``(coords, logits)``: coordinates ``(B, n, 2)``
    normalised (x, y; y down) and, for ``head=HEATMAPS``, the heatmap logits
    ``(B, n, 24, 32)`` (``None`` for ``COORDINATES``)."""

    def __init__(self, n_landmarks: int, head: str = HEATMAPS, widths=WIDTHS):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, not {head!r}")
        self.n_landmarks, self.head = int(n_landmarks), head
        w = widths
        self.stem = _conv(3, w[0], 2)
        self.stage2 = nn.Sequential(_conv(w[0], w[1], 2), _conv(w[1], w[1]))
        self.stage3 = nn.Sequential(_conv(w[1], w[2], 2), _conv(w[2], w[2]))
        self.stage4 = nn.Sequential(_conv(w[2], w[3], 2), _conv(w[3], w[3]))
        self.stage5 = nn.Sequential(_conv(w[3], w[4], 2), _conv(w[4], w[4]))
        if head == HEATMAPS:
            self.top = nn.Conv2d(w[4], PYRAMID, 1)
            self.lateral4 = nn.Conv2d(w[3], PYRAMID, 1)
            self.lateral3 = nn.Conv2d(w[2], PYRAMID, 1)
            self.smooth = _conv(PYRAMID + 2, PYRAMID)
            self.out = nn.Conv2d(PYRAMID, self.n_landmarks, 1)
        else:
            self.out = nn.Linear(w[4], 2 * self.n_landmarks)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x):
        x = (x - 0.5) / 0.25
        c3 = self.stage3(self.stage2(self.stem(x)))
        c4 = self.stage4(c3)
        c5 = self.stage5(c4)
        if self.head == COORDINATES:
            coords = self.out(c5.mean(dim=(2, 3)))
            return coords.view(-1, self.n_landmarks, 2), None
        p4 = self.lateral4(c4) + F.interpolate(self.top(c5), size=c4.shape[-2:], mode="nearest")
        p3 = self.lateral3(c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        height, width = p3.shape[-2:]
        xs, ys = cell_centres(height, width, p3.device)
        grid = torch.stack(torch.broadcast_tensors(xs[None, :], ys[:, None]))  # (2, h, w)
        p3 = torch.cat([p3, grid[None].expand(len(p3), -1, -1, -1).to(p3.dtype)], dim=1)
        logits = self.out(self.smooth(p3))
        return soft_argmax(logits), logits


class RefineNet(nn.Module):
    """The refinement stage: ``forward(patches, which)`` with ``patches``
    ``(B, 3, 64, 64)`` float in [0, 1] (fine pixels) and ``which`` ``(B,)``
    the landmark of each patch returns the landmark's position in the patch
    ``(B, 2)`` (normalised to the patch, [-1, 1], y down) and its heatmap
    logits ``(B, 16, 16)``; one heatmap per landmark, so each landmark has
    its own detector on shared features."""

    def __init__(self, n_landmarks: int):
        super().__init__()
        self.body = nn.Sequential(
            _conv(3, 32), _conv(32, 32, 2), _conv(32, 64), _conv(64, 64, 2), _conv(64, 64),
            nn.Sequential(nn.Conv2d(64, 64, 3, 1, 2, dilation=2, bias=False), nn.BatchNorm2d(64), nn.ReLU(True)),
        )
        self.out = nn.Conv2d(64, int(n_landmarks), 1)

    def forward(self, patches, which):
        logits = self.out(self.body((patches - 0.5) / 0.25))
        chosen = logits[torch.arange(len(logits), device=logits.device), which]
        return soft_argmax(chosen[:, None])[:, 0], chosen


def crop_patches(fine: np.ndarray, images, centres) -> tuple[torch.Tensor, np.ndarray]:
    """Square :data:`PATCH` patches of ``fine`` photos.

    ``fine``: ``(N, 3, H, W)`` uint8; ``images``: ``(B,)`` photo of each
    patch; ``centres``: ``(B, 2)`` fine pixels (x, y; y down).  Returns the
    patches ``(B, 3, P, P)`` float in [0, 1] and their top-left corners
    ``(B, 2)`` (integers, kept inside the photo)."""
    height, width = fine.shape[-2:]
    corners = np.rint(np.asarray(centres, float) - PATCH / 2).astype(int)
    corners[:, 0] = np.clip(corners[:, 0], 0, width - PATCH)
    corners[:, 1] = np.clip(corners[:, 1], 0, height - PATCH)
    patches = np.stack([fine[i, :, y:y + PATCH, x:x + PATCH] for i, (x, y) in zip(images, corners, strict=True)])
    return torch.from_numpy(patches).float().div_(255.0), corners


def to_patch(points_fine, corners) -> np.ndarray:
    """Fine-pixel points ``(B, 2)`` → patch-normalised ``(B, 2)`` ([-1, 1] across the patch)."""
    return (np.asarray(points_fine) - corners) / (PATCH / 2) - 1


def from_patch(points_patch, corners) -> np.ndarray:
    """Inverse of :func:`to_patch`."""
    return (np.asarray(points_patch) + 1) * (PATCH / 2) + corners


def fine_to_normalised(points_fine) -> np.ndarray:
    """Fine pixels ``(..., 2)`` → the network's normalised coordinates."""
    half = np.array([NETWORK.width / 2, NETWORK.height / 2]) * FINE_SCALE
    return np.asarray(points_fine) / half - 1


def normalised_to_fine(points) -> np.ndarray:
    """Inverse of :func:`fine_to_normalised`."""
    half = np.array([NETWORK.width / 2, NETWORK.height / 2]) * FINE_SCALE
    return (np.asarray(points) + 1) * half


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """Expected cell position of each spatial-softmax map.

    ``logits`` ``(B, n, h, w)`` → ``(B, n, 2)`` normalised (x, y), y down."""
    b, n, h, w = logits.shape
    prob = torch.softmax(logits.reshape(b, n, h * w).float(), dim=-1).reshape(b, n, h, w)
    xs, ys = cell_centres(h, w, logits.device)
    x = (prob.sum(dim=2) * xs).sum(dim=-1)
    y = (prob.sum(dim=3) * ys).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def heatmap_spread(logits: torch.Tensor, centre: torch.Tensor, half_extent=None) -> torch.Tensor:
    """Standard deviation of each softmax map around ``centre``, in network
    pixels: ``sqrt(E[dx²] + E[dy²])``.  ``logits`` ``(B, n, h, w)``,
    ``centre`` ``(B, n, 2)`` normalised; ``half_extent`` the map's half width
    and height in network pixels (default: the whole network frame);
    returns ``(B, n)``."""
    b, n, h, w = logits.shape
    prob = torch.softmax(logits.reshape(b, n, h * w).float(), dim=-1).reshape(b, n, h, w)
    xs, ys = cell_centres(h, w, logits.device)
    half = torch.tensor(half_extent or [NETWORK.width / 2, NETWORK.height / 2], device=logits.device)
    dx = (xs[None, None, :] - centre[..., 0:1]) * half[0]  # (B, n, w)
    dy = (ys[None, None, :] - centre[..., 1:2]) * half[1]  # (B, n, h)
    var = (prob.sum(dim=2) * dx**2).sum(-1) + (prob.sum(dim=3) * dy**2).sum(-1)
    return var.sqrt()
