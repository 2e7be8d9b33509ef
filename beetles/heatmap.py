"""Beyond the paper: compact landmark models that learn in CPU minutes.

Model 3 needs about 50,000 updates (the paper's 5000 epochs) and in its first
CPU minutes predicts worse than the mean shape
(``../shared/notes/early-training.md``).  This module adds a family of small
fully-convolutional networks, next to models 1–3 and leaving them
untouched, trained from scratch with PyTorch (CPU or CUDA):

``heatmap``
    A compact encoder (five stride-2 stages, 16→128 channels, batch norm,
    ReLU) with a feature-pyramid decoder back to 1/8 of the input; two
    coordinate channels (CoordConv) before the last 3×3 convolution; one
    heatmap per landmark (24×32 cells for the 192×256 input).  A spatial
    softmax turns each heatmap into a probability map, and the landmark is
    its expected position (soft-argmax: differentiable, sub-cell precise).
    The loss is the Euclidean distance in network pixels plus a
    cross-entropy pulling each map towards a Gaussian of one cell around the
    true landmark (as DSNT, Nibali et al. 2018).
``cascade`` (the default of ``beetles train``)
    ``heatmap``, then a refinement stage that uses four times the
    network's resolution (the photo at 1024×768): a 64-pixel patch around
    each coarse estimate (16 network pixels) goes through a small
    convolutional network with one heatmap per landmark, whose soft-argmax
    moves the estimate; two passes.  The refiner trains on patches centred
    near the true landmarks (Gaussian jitter of 2.5 network pixels), after
    the coarse network (it gets :data:`REFINE_SHARE` of a time budget).
``regress``
    The same encoder, global average pooling and a linear layer giving the
    coordinates directly: the classic design the heatmaps were measured
    against.

The per-landmark **spread** is the model's own confidence, in network
pixels: the standard deviation of the (last) softmax map around the
prediction; for ``regress``, the spread over eight test-time augmentations.

All see the RGB photo at 256×192 (the paper's frame) with pixels / 255,
and train with AdamW (weight decay 1e-4), a cosine learning rate with a 3 %
warm-up, batches of 16 (64 patches for the refiner), and augmentation that
moves landmarks with the pixels: a random affine map per image (rotation
±15°, scale 0.9–1.1, shift ±8 % of the frame, applied with ``grid_sample``)
and brightness, contrast and colour jitter.  No left-right flip: a flip
would need to know which landmarks swap, which a landmark file does not say.
Missing landmarks (``nan``) are left out of the loss.  Training stops after
``epochs`` or when the ``minutes`` budget is spent, whichever comes first;
the learning rate follows the fraction of the budget used, so a budgeted run
always completes its schedule.

Coordinates: targets and outputs are the paper's normalised network
coordinates (:func:`beetles.frames.normalise`: ``(M, 2n)``, ``x1, y1, …``,
[-1, 1], y down), so the experiment code treats every model alike; the
refiner works in fine pixels (``FINE_SCALE`` × network pixels, same field of
view, y down) and converts.
"""
from __future__ import annotations

import math
import time

import numpy as np

from beetles.errors import BeetlesError
from beetles.frames import NETWORK
from beetles.models import COMPACT_MODELS as MODELS
from beetles.models import COMPACT_SCHEDULE
from beetles.preprocess import Photos

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as error:  # pragma: no cover - depends on the install
    raise BeetlesError(
        "the heatmap models need PyTorch: pip install -e '.[torch]' (torch==2.13.0)"
    ) from error

#: Channels of the five encoder stages.
WIDTHS = (16, 32, 64, 128, 128)
#: Channels of the decoder (feature pyramid).
PYRAMID = 64
#: Heatmap cells per network pixel: 1/8, so 24×32 cells for 192×256.
STRIDE = 8
#: Standard deviation of the target Gaussian, in heatmap cells.
TARGET_SIGMA = 1.0
#: Weight of the heatmap cross-entropy next to the distance (in pixels).
HEATMAP_WEIGHT = 1.0
#: Augmentation: rotation (degrees), scale range, shift (fraction of the frame).
ROTATION, SCALE, SHIFT = 15.0, (0.9, 1.1), 0.08
#: Fraction of the training images held out for the validation loss.
VALIDATION_FRACTION = 0.1
#: The refinement stage of ``cascade``: the photo at FINE_SCALE × the network
#: frame (1024×768), square patches of PATCH fine pixels around each coarse
#: estimate, training centres drawn around the truth with this sd (network
#: pixels), and the share of a time budget it gets.
FINE_SCALE, PATCH, REFINE_JITTER, REFINE_SHARE = 4, 64, 2.5, 0.4
#: Training defaults (:data:`beetles.models.COMPACT_SCHEDULE`).
SCHEDULE = COMPACT_SCHEDULE
DEFAULT_EPOCHS = SCHEDULE["epochs"]


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _coords(height: int, width: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised x and y of the cell centres of an ``height`` × ``width`` map:
    ``(width,)`` and ``(height,)`` in (-1, 1), matching ``align_corners=False``."""
    xs = (torch.arange(width, device=device, dtype=torch.float32) * 2 + 1) / width - 1
    ys = (torch.arange(height, device=device, dtype=torch.float32) * 2 + 1) / height - 1
    return xs, ys


class CompactNet(nn.Module):
    """The compact network: ``forward(x)`` with ``x`` ``(B, 3, 192, 256)``
    float in [0, 1] returns ``(coords, logits)``: coordinates ``(B, n, 2)``
    normalised (x, y; y down) and, for ``head="heatmap"``, the heatmap logits
    ``(B, n, 24, 32)`` (``None`` for ``"regress"``)."""

    def __init__(self, n_landmarks: int, head: str = "heatmap", widths=WIDTHS):
        super().__init__()
        if head not in ("heatmap", "regress"):
            raise ValueError(f"head must be heatmap or regress, not {head!r}")
        self.n_landmarks, self.head = int(n_landmarks), head
        w = widths
        self.stem = _conv(3, w[0], 2)
        self.stage2 = nn.Sequential(_conv(w[0], w[1], 2), _conv(w[1], w[1]))
        self.stage3 = nn.Sequential(_conv(w[1], w[2], 2), _conv(w[2], w[2]))
        self.stage4 = nn.Sequential(_conv(w[2], w[3], 2), _conv(w[3], w[3]))
        self.stage5 = nn.Sequential(_conv(w[3], w[4], 2), _conv(w[4], w[4]))
        if head == "heatmap":
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
        if self.head == "regress":
            coords = self.out(c5.mean(dim=(2, 3)))
            return coords.view(-1, self.n_landmarks, 2), None
        p4 = self.lateral4(c4) + F.interpolate(self.top(c5), size=c4.shape[-2:], mode="nearest")
        p3 = self.lateral3(c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        height, width = p3.shape[-2:]
        xs, ys = _coords(height, width, p3.device)
        grid = torch.stack(torch.broadcast_tensors(xs[None, :], ys[:, None]))  # (2, h, w)
        p3 = torch.cat([p3, grid[None].expand(len(p3), -1, -1, -1).to(p3.dtype)], dim=1)
        logits = self.out(self.smooth(p3))
        return soft_argmax(logits), logits


def as_photos(X) -> Photos:
    """``X`` as :class:`beetles.preprocess.Photos` (a bare array is the network images)."""
    return X if isinstance(X, Photos) else Photos(np.asarray(X))


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
    xs, ys = _coords(h, w, logits.device)
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
    xs, ys = _coords(h, w, logits.device)
    half = torch.tensor(half_extent or [NETWORK.width / 2, NETWORK.height / 2], device=logits.device)
    dx = (xs[None, None, :] - centre[..., 0:1]) * half[0]  # (B, n, w)
    dy = (ys[None, None, :] - centre[..., 1:2]) * half[1]  # (B, n, h)
    var = (prob.sum(dim=2) * dx**2).sum(-1) + (prob.sum(dim=3) * dy**2).sum(-1)
    return var.sqrt()


def pixel_distances(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Euclidean distances in network pixels between normalised ``(B, n, 2)``
    points; ``(B, n)``."""
    half = torch.tensor([NETWORK.width / 2, NETWORK.height / 2], device=pred.device)
    return (((pred - target) * half) ** 2).sum(-1).add(1e-6).sqrt()


def gaussian_targets(target: torch.Tensor, height: int, width: int, sigma: float = TARGET_SIGMA) -> torch.Tensor:
    """Normalised Gaussian maps ``(B, n, h, w)`` (each sums to 1) centred on
    ``target`` ``(B, n, 2)`` (normalised), ``sigma`` in cells."""
    xs, ys = _coords(height, width, target.device)
    cell_x, cell_y = 2.0 / width, 2.0 / height
    gx = torch.exp(-0.5 * ((xs[None, None, :] - target[..., 0:1]) / (sigma * cell_x)) ** 2)  # (B, n, w)
    gy = torch.exp(-0.5 * ((ys[None, None, :] - target[..., 1:2]) / (sigma * cell_y)) ** 2)  # (B, n, h)
    maps = gy[..., :, None] * gx[..., None, :]
    return maps / maps.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)


def landmark_loss(coords, logits, target) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss and the batch's mean squared error on normalised
    coordinates (the paper's loss, for the learning curves).

    ``coords``, ``target``: ``(B, n, 2)`` normalised; ``nan`` targets
    (missing landmarks) are left out."""
    visible = torch.isfinite(target).all(-1)  # (B, n)
    safe = torch.where(visible[..., None], target, torch.zeros_like(target))
    weight = visible.float()
    count = weight.sum().clamp_min(1.0)
    loss = (pixel_distances(coords, safe) * weight).sum() / count
    if logits is not None:
        maps = gaussian_targets(safe, *logits.shape[-2:])
        log_prob = torch.log_softmax(logits.flatten(2).float(), dim=-1)
        cross_entropy = -(maps.flatten(2) * log_prob).sum(-1)  # (B, n)
        loss = loss + HEATMAP_WEIGHT * (cross_entropy * weight).sum() / count
    mse = (((coords - safe) ** 2).sum(-1) * weight).sum() / (2 * count)
    return loss, mse.detach()


# --- augmentation ------------------------------------------------------------

def random_affine(batch: int, generator: torch.Generator, device, rotation=ROTATION, scale=SCALE, shift=SHIFT):
    """Random affine maps in normalised coordinates, for ``grid_sample``.

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
            theta = random_affine(len(images), generator, images.device, rotation=5.0, scale=(0.95, 1.05),
                                  shift=0.03)
            coords = forward(warp(images, theta))
            runs.append((torch.einsum("bij,bnj->bni", theta[:, :, :2], coords) + theta[:, None, :, 2]).cpu().numpy())
    return np.stack(runs)


def augment_batch(images: torch.Tensor, points: torch.Tensor, generator: torch.Generator):
    """Augment a batch: ``images`` ``(B, 3, H, W)`` float in [0, 1] and
    ``points`` ``(B, n, 2)`` normalised (``nan`` kept); returns both moved by
    the same random affine map, plus photometric jitter on the images."""
    theta = random_affine(len(images), generator, images.device)
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


def patch_loss(coords, logits, target) -> tuple[torch.Tensor, torch.Tensor]:
    """The refiner's loss: distance in network pixels plus the heatmap
    cross-entropy (as :func:`landmark_loss`), for ``(B, 2)`` patch-normalised
    points and ``(B, h, w)`` logits; also the mean squared error in the
    network's normalised coordinates."""
    scale = PATCH / 2 / FINE_SCALE  # network pixels per patch-normalised unit
    distance = (((coords - target) * scale) ** 2).sum(-1).add(1e-6).sqrt().mean()
    maps = gaussian_targets(target[:, None], *logits.shape[-2:])[:, 0]
    cross_entropy = -(maps.flatten(1) * torch.log_softmax(logits.flatten(1).float(), -1)).sum(-1).mean()
    half = torch.tensor([NETWORK.width / 2, NETWORK.height / 2], device=coords.device)
    mse = ((((coords - target) * scale) / half) ** 2).mean()
    return distance + HEATMAP_WEIGHT * cross_entropy, mse.detach()


# --- training ----------------------------------------------------------------

class HeatmapNet:
    """A :class:`CompactNet` with its training loop, exposing what the
    experiment code uses of nolearn's ``NeuralNet``: ``fit``, ``predict``,
    ``max_epochs``, ``on_epoch_finished``, ``train_history_`` (and
    ``update_learning_rate`` / ``update_momentum`` for the loss log)."""

    def __init__(self, model: str, n_landmarks: int, max_epochs: int | None = None, minutes: float | None = None,
                 learning_rate=SCHEDULE["learning_rate"], momentum=SCHEDULE["momentum"],
                 batch_size: int = SCHEDULE["batch_size"], validation_folds: int = SCHEDULE["validation_folds"],
                 on_epoch_finished=(), device="cpu", seed: int | None = 42):
        from beetles.torch_engine import Scalar, device_for, use_all_cores

        self.device = device_for(device)
        if self.device.type == "cpu":
            use_all_cores()
        if seed is not None:
            torch.manual_seed(seed)
        if model not in MODELS:
            raise ValueError(f"unknown compact model {model!r}: expected one of {', '.join(MODELS)}")
        self.model = model
        head = "heatmap" if model == "cascade" else model
        self.module = CompactNet(n_landmarks, head=head).to(self.device).to(memory_format=torch.channels_last)
        self.refiner = RefineNet(n_landmarks).to(self.device) if model == "cascade" else None
        self.refined = False  # whether predictions go through the refiner (once it trains)
        if max_epochs is None and minutes is None:
            max_epochs = DEFAULT_EPOCHS
        self.max_epochs = int(max_epochs) if max_epochs is not None else None
        self.minutes = float(minutes) if minutes is not None else None
        self.learning_rate = tuple(float(v) for v in learning_rate)
        self.update_learning_rate = Scalar(self.learning_rate[0])
        self.update_momentum = Scalar(momentum[0])
        self.beta1 = float(momentum[0])
        self.batch_size = int(batch_size)
        self.validation_folds = int(validation_folds)
        self.on_epoch_finished = list(on_epoch_finished)
        self.seed = seed
        self.train_history_: list[dict] = []

    @property
    def n_landmarks(self) -> int:
        return self.module.n_landmarks

    def _rate(self, progress: float) -> float:
        """Learning rate at ``progress`` ∈ [0, 1] of the run: 3 % linear
        warm-up, then cosine from the peak to the final value."""
        peak, final = self.learning_rate
        if progress < 0.03:
            return peak * max(progress / 0.03, 0.05)
        t = min(1.0, (progress - 0.03) / 0.97)
        return final + 0.5 * (peak - final) * (1 + math.cos(math.pi * t))

    def split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, valid)`` indices: a seeded permutation, the last
        ``1 / validation_folds`` (at least one image when n ≥ 4) held out."""
        order = np.random.default_rng(self.seed).permutation(n)
        n_valid = int(round(n / self.validation_folds)) if n >= 4 else 0
        return np.sort(order[: n - n_valid]), np.sort(order[n - n_valid:])

    def fit(self, X, y, epochs: int | None = None):
        """Train on ``X`` (:class:`beetles.preprocess.Photos`, or the
        ``(M, 3, 192, 256)`` uint8 network images) and ``y`` ``(M, 2n)``
        normalised targets (``nan``: missing landmark).  ``cascade`` trains
        its coarse network, then its refiner (:data:`REFINE_SHARE` of a time
        budget; the same number of epochs otherwise)."""
        photos = as_photos(X)
        if self.refiner is not None and photos.fine is None:
            raise ValueError("the cascade model needs the fine photos (Photos.fine) to train")
        y = np.asarray(y, np.float32).reshape(len(photos), -1, 2)
        train, valid = self.split(len(photos))
        self._valid = (photos.subset(valid), y[valid])
        max_epochs = epochs or self.max_epochs or 10**9  # None: the time budget decides
        budget = self.minutes * 60 if self.minutes is not None else None
        share = (1 - REFINE_SHARE) if self.refiner is not None else 1.0
        generator = torch.Generator().manual_seed(self.seed if self.seed is not None else 0)
        X_train = torch.as_tensor(np.ascontiguousarray(photos.network[train])).to(self.device)
        y_train = torch.as_tensor(y[train]).to(self.device)

        def coarse_step(index):
            batch = X_train[index.to(self.device)]
            images = batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch.float()
            images, points = augment_batch(images, y_train[index.to(self.device)], generator)
            coords, logits = self.module(images.contiguous(memory_format=torch.channels_last))
            return landmark_loss(coords, logits, points)

        self.module.train()
        self._loop(self.module.parameters(), len(train), self.batch_size, coarse_step, max_epochs,
                   budget * share if budget else None, generator)
        if self.refiner is not None:
            self.refined = True
            fine, targets = photos.fine[train], y[train]
            pairs = np.argwhere(np.isfinite(targets).all(-1))  # (image, landmark) with a landmark
            truth = normalised_to_fine(targets)
            rng = np.random.default_rng(self.seed)

            def refine_step(index):
                chosen = pairs[index.numpy()]
                true_fine = truth[chosen[:, 0], chosen[:, 1]]
                limit = PATCH / 2 - 4
                noise = np.clip(rng.normal(0, REFINE_JITTER * FINE_SCALE, true_fine.shape), -limit, limit)
                patches, corners = crop_patches(fine, chosen[:, 0], true_fine + noise)
                patches = jitter_colours(patches, generator).to(self.device)
                target = torch.as_tensor(to_patch(true_fine, corners), dtype=torch.float32, device=self.device)
                which = torch.as_tensor(chosen[:, 1], device=self.device)
                coords, logits = self.refiner(patches, which)
                return patch_loss(coords, logits, target)

            self.refiner.train()
            self._loop(self.refiner.parameters(), len(pairs), 4 * self.batch_size, refine_step, max_epochs,
                       budget * REFINE_SHARE if budget else None, generator)
        self.max_epochs = len(self.train_history_)
        return self

    def _loop(self, parameters, n_items: int, batch_size: int, step, max_epochs: int, budget, generator) -> None:
        """One training stage: AdamW over shuffled batches of ``n_items``
        (``step(index) -> (loss, mse)``), cosine learning rate over the
        epochs or the time budget, a history row and the callbacks per epoch."""
        optimiser = torch.optim.AdamW(parameters, lr=self.learning_rate[0], betas=(self.beta1, 0.999),
                                      weight_decay=1e-4)
        total_steps = max_epochs * max(1, math.ceil(n_items / batch_size))
        started, steps, epochs = time.perf_counter(), 0, 0
        while epochs < max_epochs:
            epoch_started = time.perf_counter()
            order = torch.randperm(n_items, generator=generator)
            losses, sizes = [], []
            for start in range(0, n_items, batch_size):
                index = order[start:start + batch_size]
                if len(index) < 2 < n_items:
                    continue  # batch norm needs two samples
                progress = steps / total_steps
                if budget is not None:
                    progress = max(progress, (time.perf_counter() - started) / budget)
                if progress >= 1.0:
                    break
                rate = self._rate(progress)
                for group in optimiser.param_groups:
                    group["lr"] = rate
                self.update_learning_rate.set_value(rate)
                loss, mse = step(index)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                losses.append(float(mse))
                sizes.append(len(index))
                steps += 1
            if not losses:
                break
            epochs += 1
            valid_photos, valid_y = self._valid
            self.train_history_.append({
                "epoch": len(self.train_history_) + 1,
                "train_loss": float(np.average(losses, weights=sizes)),
                "valid_loss": self._mse(valid_photos, valid_y) if len(valid_photos) else float("nan"),
                "dur": time.perf_counter() - epoch_started,
            })
            for callback in self.on_epoch_finished:
                callback(self, self.train_history_)
            if budget is not None and time.perf_counter() - started >= budget:
                break

    def _mse(self, X, y) -> float:
        coords, _ = self.predict_points(X)
        target = np.asarray(y).reshape(coords.shape)
        visible = np.isfinite(target).all(-1)
        return float(np.mean(((coords - target) ** 2)[visible])) if visible.any() else float("nan")

    def predict_points(self, X, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray | None]:
        """Coordinates ``(M, n, 2)`` normalised and, for the heatmap heads, the
        spread ``(M, n)`` in network pixels (``None`` for ``regress``)."""
        photos = as_photos(X)
        was_training = self.module.training
        self.module.eval()
        coords, spreads = [], []
        with torch.no_grad():
            for start in range(0, len(photos), batch_size):
                images = torch.as_tensor(np.ascontiguousarray(photos.network[start:start + batch_size]))
                images = images.to(self.device)
                images = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
                c, logits = self.module(images.contiguous(memory_format=torch.channels_last))
                coords.append(c.cpu())
                if logits is not None:
                    spreads.append(heatmap_spread(logits, c).cpu())
        if was_training:
            self.module.train()
        if not coords:
            return np.zeros((0, self.n_landmarks, 2), np.float32), None
        coords = torch.cat(coords).numpy()
        spread = torch.cat(spreads).numpy() if spreads else None
        if self.refiner is not None and self.refined:
            if photos.fine is None:
                raise ValueError("the cascade model needs the fine photos (Photos.fine) to predict")
            coords, spread = self.refine(photos.fine, coords)
        return coords, spread

    def refine(self, fine, coords, passes: int = 2) -> tuple[np.ndarray, np.ndarray]:
        """Move coarse estimates ``(M, n, 2)`` (normalised) with the refiner on
        the ``fine`` photos ``(M, 3, 768, 1024)``, ``passes`` times (each pass
        centres the patches on the last estimate); returns the refined
        coordinates and the refiner's heatmap spread ``(M, n)`` in network
        pixels."""
        was_training = self.refiner.training
        self.refiner.eval()
        m, n = coords.shape[:2]
        images = np.repeat(np.arange(m), n)
        which = torch.as_tensor(np.tile(np.arange(n), m), device=self.device)
        points = normalised_to_fine(coords.reshape(-1, 2))
        spread = np.zeros(m * n)
        half = [PATCH / 2 / FINE_SCALE] * 2
        with torch.no_grad():
            for _ in range(passes):
                moved = []
                for start in range(0, m * n, 256):
                    part = slice(start, start + 256)
                    patches, corners = crop_patches(fine, images[part], points[part])
                    local, logits = self.refiner(patches.to(self.device), which[part])
                    moved.append(from_patch(local.cpu().numpy(), corners))
                    spread[part] = heatmap_spread(logits[:, None], local[:, None], half)[:, 0].cpu().numpy()
                points = np.concatenate(moved)
        if was_training:
            self.refiner.train()
        return fine_to_normalised(points).reshape(m, n, 2).astype(np.float32), spread.reshape(m, n)

    def predict(self, X) -> np.ndarray:
        """Normalised targets ``(M, 2n)`` (the layout of models 1–3)."""
        coords, _ = self.predict_points(X)
        return coords.reshape(len(coords), -1)

    def predict_with_spread(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(M, 2n)`` normalised targets and ``(M, n)`` spread in network
        pixels: the heatmap's standard deviation, or for ``regress`` the
        spread over eight test-time augmentations."""
        coords, spread = self.predict_points(X)
        if spread is None:
            spread = self.tta_spread(X)
        return coords.reshape(len(coords), -1), spread

    def tta_spread(self, X, passes: int = 8) -> np.ndarray:
        """Per-landmark spread (network pixels, ``(M, n)``) of the predictions
        over ``passes`` random augmentations, mapped back to the image."""
        self.module.eval()
        images = torch.as_tensor(np.ascontiguousarray(as_photos(X).network)).to(self.device)
        images = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        runs = tta_runs(lambda x: self.module(x.contiguous(memory_format=torch.channels_last))[0], images, passes)
        half = np.array([NETWORK.width / 2, NETWORK.height / 2])
        return np.sqrt((runs.var(axis=0) * half**2).sum(-1))

    # weights ----------------------------------------------------------------
    def _state_dict(self) -> dict:
        state = dict(self.module.state_dict())
        if self.refiner is not None:
            state.update({f"refiner.{k}": v for k, v in self.refiner.state_dict().items()})
        return state

    def get_params(self) -> dict[str, np.ndarray]:
        """The networks' state (weights and batch-norm statistics) as arrays;
        the refiner's keys start with ``refiner.``."""
        return {k: v.detach().cpu().numpy() for k, v in self._state_dict().items()}

    def set_params(self, params: dict, source=None) -> list[str]:
        """Load ``params`` (:meth:`get_params`' layout); a :class:`WeightsError`
        naming the first parameter whose shape or name does not fit."""
        from beetles.training import WeightsError

        where = f"{source}: " if source else ""
        state = self._state_dict()
        missing = [k for k in state if k not in params]
        if missing:
            raise WeightsError(f"{where}no weights for {missing[0]} (and {len(missing) - 1} more): not a "
                               f"'{self.model}' model's weights")
        for key, value in state.items():
            if tuple(np.shape(params[key])) != tuple(value.shape):
                raise WeightsError(f"{where}{key} has shape {tuple(np.shape(params[key]))}, the network needs "
                                   f"{tuple(value.shape)} (a model for another landmark count?)")
        tensors = {k: torch.as_tensor(np.asarray(params[k])) for k in state}
        self.module.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("refiner.")})
        if self.refiner is not None:
            self.refiner.load_state_dict({k[len("refiner."):]: v for k, v in tensors.items()
                                          if k.startswith("refiner.")})
            self.refined = True
        return list(state)

    def state(self) -> dict:
        """What :meth:`from_state` needs: model name, landmark count, weights, history."""
        return {
            "model": self.model,
            "n_landmarks": self.n_landmarks,
            "params": self.get_params(),
            "train_history": [{k: float(v) if k != "epoch" else int(v) for k, v in row.items()}
                              for row in self.train_history_],
            "torch": str(torch.__version__),
        }

    @classmethod
    def from_state(cls, state: dict, device="cpu") -> "HeatmapNet":
        """A net rebuilt from :meth:`state` (ready to predict)."""
        net = cls(state["model"], int(state["n_landmarks"]), max_epochs=1, device=device)
        net.set_params(state["params"])
        net.train_history_ = list(state.get("train_history", []))
        return net
