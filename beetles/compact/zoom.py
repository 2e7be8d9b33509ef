"""``zoom``: find the specimen on the whole photo, then landmark it at the photo's own resolution.

On real photos most of a whole-photo model's error is finding the specimen
(dlib's shape predictor on the TriloMorph cephala errs 187 px with the
whole photo as its box, 30 px when handed the true one), and a letterbox
of 256×192 throws away most of a large photo's pixels.  ``zoom`` works in
three stages, each a network of :mod:`beetles.compact.networks`:

1. **locate**: a heatmap :class:`CompactNet` on the whole photo resized
   to 256×192 whatever its aspect ratio (x and y scaled to the photo's width
   and height, as dlib's box normalises a shape: the frame of photos
   cropped around their specimen, portrait or landscape, then holds the
   specimen alike); its landmarks give the specimen's region
   (:func:`beetles.compact.crops.specimen_square`), widened by
   :data:`FIRST_WIDER` for the first pass of stage 2;
2. **land**: a second heatmap :class:`CompactNet` on that square region cut
   from the decoded photo at :data:`CROP` × :data:`CROP` pixels,
   :data:`LAND_PASSES` times (each region from the last pass's landmarks);
3. **refine**: the :class:`RefineNet` on :data:`~beetles.compact.networks.PATCH`
   patches of the same region cut at :data:`FINE` × the resolution
   (896 × 896), around each landmark.

Training cuts every training photo's true region once (decoded once per
run; :class:`ZoomPhotos`): stage 2 learns on randomly rotated, scaled and
shifted views of a larger source around it (:data:`ROTATION`,
:data:`ZOOM`, :data:`SHIFT`: wide enough for the regions stage 1's errors
give, and for the poses of real specimens), with colour, gray and noise
jitter; stage 3 on patches around jittered true landmarks.  The spread of a landmark (photo pixels) combines
stage 2's and stage 3's heatmap spreads and how far stage 3 moved it.
Frames: crop-normalised coordinates (:func:`~beetles.compact.crops.to_crop`,
y down) inside a region; the photo's pixels (y down) between stages.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from beetles.compact import trainer
from beetles.compact.augment import augment_batch, jitter_colours
from beetles.compact.crops import MARGIN, PhotoSource, from_crop, specimen_square, to_crop
from beetles.compact.losses import landmark_loss, patch_loss
from beetles.compact.model import CompactModel
from beetles.compact.networks import PATCH, CompactNet, RefineNet, crop_patches, from_patch, heatmap_spread, to_patch
from beetles.core.errors import DataError
from beetles.core.frames import NETWORK, Letterbox, denormalise, normalise
from beetles.core.letterbox import RESAMPLE
from beetles.model import Decoded, Inputs, Prediction

#: The land stage's square frame (pixels), and the refiner's factor over it.
CROP, FINE = 224, 4
#: Stage 2 trains on views cut from a source this much larger than the region.
SOURCE = 448
#: Stage 2's training views: rotation (degrees either way), zoom (region
#: side relative to the true one), shift (fraction of the region).
ROTATION, ZOOM, SHIFT = 20.0, (0.8, 2.0), 0.2
#: The first region at prediction is this much wider than the located
#: landmarks' (stage 1 errs most), the next ones are :data:`~beetles.compact.crops.MARGIN`.
FIRST_WIDER = 1.4
#: Refiner training: patch centres around the truth, sd in fine pixels.
REFINE_JITTER = 10.0
#: Passes of stage 2 and of the refiner at prediction.
LAND_PASSES, REFINE_PASSES = 3, 2
#: Shares of a time budget, and the optimiser steps each stage takes by
#: default (``--epochs`` not given): :data:`STEPS_PER_PHOTO` × the training
#: photos, within :data:`STEP_LIMITS`, so the budget grows with the data
#: but stays in CPU minutes (about 8 minutes of training for 200 photos on 2 cores).
STAGE_SHARES = (0.4, 0.45, 0.15)
STEPS_PER_PHOTO = (5, 5, 2)
STEP_LIMITS = ((250, 1000), (250, 1000), (100, 400))
#: Patches per refiner batch, per photo of a batch.
PATCHES_PER_PHOTO = 2
#: Photos through a network at once.
BATCH = 16
STAGES = ("locate", "land", "refine")


class ZoomPhotos:
    """Photos as ``zoom`` reads them: ``network`` ``(N, 3, 192, 256)`` uint8
    (each whole photo stretched, :func:`stretched`), the decoded ``sources``
    (:class:`PhotoSource`) regions are cut from, and each photo's ``letterboxes``."""

    def __init__(self, network, sources, letterboxes):
        self.network, self.sources, self.letterboxes = np.asarray(network), list(sources), list(letterboxes)

    def __len__(self) -> int:
        return len(self.network)

    def subset(self, index) -> "ZoomPhotos":
        """The photos at ``index`` (an index array or a slice)."""
        rows = np.arange(len(self))[index]
        return ZoomPhotos(self.network[rows], [self.sources[i] for i in rows], [self.letterboxes[i] for i in rows])


def stretched(source: PhotoSource) -> np.ndarray:
    """The whole photo resized to 256×192 whatever its aspect ratio (stage
    1's frame: x and y each scaled to the photo's width and height, as
    dlib's box normalises a shape): ``(192, 256, 3)`` uint8."""
    size = (int(NETWORK.width), int(NETWORK.height))
    return np.asarray(source.image.resize(size, RESAMPLE, reducing_gap=3.0))


def to_stretched(points, size) -> np.ndarray:
    """Photo pixels ``(..., 2)`` of a photo of ``size`` → stage 1's normalised frame ([-1, 1], y down)."""
    return np.asarray(points, np.float64) / np.asarray(size, np.float64) * 2 - 1


def from_stretched(points, size) -> np.ndarray:
    """The inverse of :func:`to_stretched`."""
    return (np.asarray(points, np.float64) + 1) / 2 * np.asarray(size, np.float64)


def decode_photo(path, name=None) -> Decoded:
    """One photo decoded once, as ``zoom`` reads it: ``network`` is the
    stretched photo (:func:`stretched`), ``letterbox`` its letterbox (for
    the network frame of :meth:`ZoomModel.predict`), ``photo`` the source."""
    source = PhotoSource.open(path, name)
    return Decoded(stretched(source), None, Letterbox.for_size(source.size), source)


def square_views(batch: int, generator: torch.Generator, base: float) -> torch.Tensor:
    """Random views of a square source for ``grid_sample``: ``theta`` ``(B, 2, 3)``
    with ``u_source = base · zoom · R(angle) · u_view + shift`` (see :data:`ROTATION`)."""
    angle = (torch.rand(batch, generator=generator) * 2 - 1) * math.radians(ROTATION)
    zoom = ZOOM[0] + torch.rand(batch, generator=generator) * (ZOOM[1] - ZOOM[0])
    move = (torch.rand(batch, 2, generator=generator) * 2 - 1) * SHIFT * 2 * base
    cos, sin = torch.cos(angle) * zoom * base, torch.sin(angle) * zoom * base
    a = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], 1)
    return torch.cat([a, move[..., None]], dim=2)


def photometric(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Colour jitter, gray photos (one in five) and pixel noise of ``(B, 3, H, W)`` in [0, 1]."""
    images = jitter_colours(images, generator)
    gray = torch.rand(len(images), 1, 1, 1, generator=generator) < 0.2
    images = torch.where(gray, images.mean(1, keepdim=True).expand_as(images), images)
    noise = torch.rand(len(images), 1, 1, 1, generator=generator) * 0.04
    return (images + torch.randn(images.shape, generator=generator) * noise).clamp(0, 1)


def _as_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)


def _channels_first(crops) -> np.ndarray:
    return np.stack(crops).transpose(0, 3, 1, 2)


class ZoomModel(CompactModel):
    """The ``zoom`` model (see the module docstring): ``module`` locates,
    ``lander`` landmarks the region, ``refiner`` refines; all ``torch.nn.Module``."""

    def __init__(self, info, n_landmarks: int, schedule, device="cpu", seed: int | None = 42):
        super().__init__(info, n_landmarks, schedule, device=device, seed=seed)
        self.lander = CompactNet(n_landmarks).to(self.torch_device).to(memory_format=torch.channels_last)
        self.refiner = RefineNet(n_landmarks).to(self.torch_device)
        self.refined = True

    # -- data -----------------------------------------------------------------
    def prepare(self, specimens, *, augment=False, letterbox=True, progress=True, desc="photos") -> Inputs:
        """Every photo decoded once (:func:`decode_photo`); targets normalised in the letterbox."""
        from tqdm import tqdm

        decoded, targets, problems = [], [], []
        for specimen in tqdm(list(specimens), desc=desc, unit="img", disable=not progress, leave=False):
            photo = decode_photo(specimen.image, specimen.name)
            if tuple(photo.photo.size) != tuple(specimen.frame.size):
                problems.append(f"{specimen.image}: decoded as {photo.photo.size[0]}×{photo.photo.size[1]}, but "
                                f"its landmarks are in a {specimen.frame.width:g}×{specimen.frame.height:g} frame")
            decoded.append(photo)
            targets.append(normalise(photo.letterbox.to_network(specimen.landmarks)))
        if problems:
            raise DataError("photos whose size does not match their landmarks:\n  " + "\n  ".join(problems[:10]))
        if not decoded:
            raise DataError("no specimens to prepare")
        inputs = self.inputs(decoded)
        return Inputs(inputs.x, np.stack(targets).reshape(len(decoded), -1), inputs.source)

    def decode(self, path, name=None) -> Decoded:
        return decode_photo(path, name)

    def inputs(self, decoded) -> Inputs:
        photos = ZoomPhotos(np.stack([d.network for d in decoded]).transpose(0, 3, 1, 2),
                            [d.photo for d in decoded], [d.letterbox for d in decoded])
        return Inputs(photos, None, np.arange(len(decoded)))

    def photo_targets(self, inputs: Inputs) -> np.ndarray:
        """``(M, n, 2)``: the targets in each photo's pixels (y down)."""
        net = denormalise(np.asarray(inputs.targets, np.float64).reshape(len(inputs), -1))
        return np.stack([box.to_photo(t) for box, t in zip(inputs.x.letterboxes, net, strict=True)])

    # -- training -------------------------------------------------------------
    def planned_epochs(self, schedule, train=None) -> int | None:
        """Every stage's epochs on ``train`` (:meth:`stage_epochs`; the 9-minute
        limit may end a stage sooner); ``None`` without ``train``."""
        if train is None or not len(train):
            return None
        batch = schedule.batch_size
        pairs = int(np.isfinite(np.asarray(train.targets, np.float64)).reshape(len(train), -1, 2).all(-1).sum())
        return (self.stage_epochs(0, len(train), len(train), batch) + self.stage_epochs(1, len(train), len(train), batch)
                + self.stage_epochs(2, len(train), pairs, PATCHES_PER_PHOTO * batch))

    def stage_epochs(self, stage: int, n_photos: int, n_items: int, batch: int) -> int:
        """Epochs of ``stage`` (0, 1, 2) for ``n_photos`` training photos and
        ``n_items`` per epoch in batches of ``batch``: ``--epochs``, else
        about :func:`stage_steps` optimiser steps times the budget share
        (``beetles train --from``: less), at least one epoch."""
        if self.schedule.epochs is not None:
            return int(self.schedule.epochs)
        steps = stage_steps(stage, n_photos) * self.budget_share
        return max(1, round(steps / max(1, math.ceil(n_items / batch))))

    def fit(self, train, valid=None, listeners=()) -> "ZoomModel":
        """Train the three stages on ``train`` (see the module docstring);
        validation losses come from ``valid`` or a split of ``train``."""
        schedule = self.schedule
        if valid is None:
            rows, held = trainer.own_split(len(train), schedule.validation_folds, schedule.seed)
            train, valid = _rows(train, rows), _rows(train, held)
        budget = schedule.minutes * 60 if schedule.minutes is not None else None
        shares = [budget * s if budget else None for s in STAGE_SHARES]
        generator = torch.Generator().manual_seed(schedule.seed if schedule.seed is not None else 0)
        rng = np.random.default_rng(schedule.seed)
        truth = self.photo_targets(train)
        valid_truth = self.photo_targets(valid) if len(valid) else None
        regions = [specimen_square(t, s.size) for t, s in zip(truth, train.x.sources, strict=True)]
        device, batch = self.torch_device, schedule.batch_size

        # 1. locate: the whole photo, stretched
        y_net = torch.as_tensor(np.stack([to_stretched(t, s.size) for t, s in zip(truth, train.x.sources, strict=True)]),
                                dtype=torch.float32)
        network = torch.as_tensor(train.x.network)

        def locate_step(index):
            images, points = augment_batch(network[index].float().div_(255.0), y_net[index], generator)
            coords, logits = self.module(images.to(device).contiguous(memory_format=torch.channels_last))
            return landmark_loss(coords, logits, points.to(device))

        def locate_valid():
            if valid_truth is None:
                return float("nan")
            found = self.locate(valid.x)
            return _crop_mse(found, valid_truth, valid.x.sources)

        stage = trainer.Stage(self, locate_valid, generator, listeners)
        self.module.train()
        stage.run(self.module.parameters(), len(train), batch, locate_step,
                  self.stage_epochs(0, len(train), len(train), batch), shares[0])

        # 2. land: views of a source around each true region
        sources = torch.from_numpy(_channels_first([s.crop(c, side * SOURCE / CROP, SOURCE)
                                                    for s, (c, side) in zip(train.x.sources, regions, strict=True)]))
        y_source = torch.as_tensor(np.stack([to_crop(t, c, side * SOURCE / CROP)
                                             for t, (c, side) in zip(truth, regions, strict=True)]), dtype=torch.float32)
        half = [CROP / 2, CROP / 2]

        def land_step(index):
            theta = square_views(len(index), generator, CROP / SOURCE)
            grid = F.affine_grid(theta, [len(index), 3, CROP, CROP], align_corners=False)
            views = sources[index].float().div_(255.0)
            images = F.grid_sample(views, grid, mode="bilinear", padding_mode="border", align_corners=False)
            a, t = theta[:, :, :2], theta[:, :, 2]
            points = torch.linalg.solve(a[:, None], (y_source[index] - t[:, None])[..., None])[..., 0]
            coords, logits = self.lander(photometric(images, generator).to(device)
                                         .contiguous(memory_format=torch.channels_last))
            return landmark_loss(coords, logits, points.to(device), half)

        def land_valid():
            if valid_truth is None:
                return float("nan")
            true_regions = [specimen_square(t, s.size) for t, s in zip(valid_truth, valid.x.sources, strict=True)]
            points, _ = self.land(valid.x.sources, true_regions)
            return _crop_mse(points, valid_truth, valid.x.sources)

        stage.validate = land_valid
        self.lander.train()
        stage.run(self.lander.parameters(), len(train), batch, land_step,
                  self.stage_epochs(1, len(train), len(train), batch), shares[1])

        # 3. refine: patches of the region at FINE × the resolution
        size = CROP * FINE
        fine = _channels_first([s.crop(c, side, size) for s, (c, side) in zip(train.x.sources, regions, strict=True)])
        fine_truth = np.stack([(to_crop(t, c, side) + 1) / 2 * size for t, (c, side) in zip(truth, regions, strict=True)])
        pairs = np.argwhere(np.isfinite(fine_truth).all(-1))

        def refine_step(index):
            chosen = pairs[index.numpy()]
            true_fine = fine_truth[chosen[:, 0], chosen[:, 1]]
            limit = PATCH / 2 - 4
            noise = np.clip(rng.normal(0, REFINE_JITTER, true_fine.shape), -limit, limit)
            patches, corners = crop_patches(fine, chosen[:, 0], true_fine + noise)
            patches = photometric(patches, generator).to(device)
            target = torch.as_tensor(to_patch(true_fine, corners), dtype=torch.float32, device=device)
            coords, logits = self.refiner(patches, torch.as_tensor(chosen[:, 1], device=device))
            return patch_loss(coords, logits, target, FINE, half)

        def refine_valid():
            if valid_truth is None:
                return float("nan")
            points, _ = self.predict_photo_points(valid.x)
            return _crop_mse(points, valid_truth, valid.x.sources)

        stage.validate = refine_valid
        self.refiner.train()
        patches_per_batch = PATCHES_PER_PHOTO * batch
        stage.run(self.refiner.parameters(), len(pairs), patches_per_batch, refine_step,
                  self.stage_epochs(2, len(train), len(pairs), patches_per_batch), shares[2])
        return self

    # -- prediction -----------------------------------------------------------
    def locate(self, photos: ZoomPhotos) -> np.ndarray:
        """Stage 1: landmarks ``(M, n, 2)`` in each photo's pixels from the stretched photo."""
        coords = []
        self.module.eval()
        with torch.no_grad():
            for start in range(0, len(photos), BATCH):
                images = _as_float(photos.network[start:start + BATCH]).to(self.torch_device)
                coords.append(self.module(images.contiguous(memory_format=torch.channels_last))[0].cpu().numpy())
        coords = np.concatenate(coords)
        return np.stack([np.clip(from_stretched(c, s.size), 0, s.size) for c, s in zip(coords, photos.sources,
                                                                                        strict=True)])

    def land(self, sources, regions) -> tuple[np.ndarray, np.ndarray]:
        """Stage 2 on ``regions`` ``[(centre, side)]`` of ``sources``: landmarks
        ``(M, n, 2)`` and heatmap spreads ``(M, n)``, both in photo pixels."""
        self.lander.eval()
        points, spreads = [], []
        with torch.no_grad():
            for start in range(0, len(sources), BATCH):
                chunk = list(zip(sources[start:start + BATCH], regions[start:start + BATCH], strict=True))
                images = _as_float(_channels_first([s.crop(c, side, CROP) for s, (c, side) in chunk]))
                coords, logits = self.lander(images.to(self.torch_device).contiguous(memory_format=torch.channels_last))
                spread = heatmap_spread(logits, coords, [CROP / 2, CROP / 2]).cpu().numpy()
                for (_, (c, side)), u, s in zip(chunk, coords.cpu().numpy(), spread, strict=True):
                    points.append(from_crop(u, c, side))
                    spreads.append(s * side / CROP)
        return np.stack(points), np.stack(spreads)

    def refine_regions(self, sources, regions, points) -> tuple[np.ndarray, np.ndarray]:
        """Stage 3: ``points`` ``(M, n, 2)`` (photo pixels) moved by the refiner
        on the fine crops of ``regions``; returns the points and the
        refiner's spreads ``(M, n)``, photo pixels."""
        self.refiner.eval()
        size = CROP * FINE
        m, n = points.shape[:2]
        out, spreads = np.empty_like(points), np.empty((m, n))
        which = torch.arange(n, device=self.torch_device)
        with torch.no_grad():
            for i, (source, (c, side)) in enumerate(zip(sources, regions, strict=True)):
                fine = source.crop(c, side, size).transpose(2, 0, 1)[None]
                at = (to_crop(points[i], c, side) + 1) / 2 * size
                for _ in range(REFINE_PASSES):
                    patches, corners = crop_patches(fine, np.zeros(n, int), at)
                    local, logits = self.refiner(patches.to(self.torch_device), which)
                    at = from_patch(local.cpu().numpy(), corners)
                spread = heatmap_spread(logits[:, None], local[:, None], [PATCH / 2, PATCH / 2])[:, 0]
                out[i] = from_crop(at / size * 2 - 1, c, side)
                spreads[i] = spread.cpu().numpy() * side / size
        return out, spreads

    def predict_photo_points(self, photos: ZoomPhotos) -> tuple[np.ndarray, np.ndarray]:
        """All three stages: landmarks ``(M, n, 2)`` and spread ``(M, n)``, photo pixels (y down)."""
        if not len(photos):
            return np.zeros((0, self.n_landmarks, 2)), np.zeros((0, self.n_landmarks))
        points = self.locate(photos)
        for number in range(LAND_PASSES):
            margin = MARGIN * (FIRST_WIDER if number == 0 else 1.0)
            regions = [specimen_square(p, s.size, margin) for p, s in zip(points, photos.sources, strict=True)]
            points, land_spread = self.land(photos.sources, regions)
        regions = [specimen_square(p, s.size) for p, s in zip(points, photos.sources, strict=True)]
        refined, refine_spread = self.refine_regions(photos.sources, regions, points)
        moved = np.linalg.norm(refined - points, axis=-1)
        sizes = np.array([s.size for s in photos.sources], np.float64)[:, None]
        refined = np.clip(refined, 0, sizes)
        return refined, np.sqrt(land_spread**2 + refine_spread**2 + moved**2)

    def predict(self, inputs, passes=1) -> Prediction:
        """Points and spread in network pixels (the letterbox); ``passes`` does not apply."""
        points, spread = self.predict_photo_points(inputs.x)
        scale = np.array([b.scale for b in inputs.x.letterboxes])
        return Prediction(points * scale[:, None, None], spread * scale[:, None])

    def predict_photos(self, decoded, passes=1) -> Prediction:
        points, spread = self.predict_photo_points(self.inputs(decoded).x)
        return Prediction(points, spread, "photo")

    def validation_mse(self, photos, targets) -> float:
        raise NotImplementedError("zoom validates each stage in its own frame (fit)")

    # -- weights --------------------------------------------------------------
    def _state_dict(self) -> dict:
        state = {f"locator.{k}": v for k, v in self.module.state_dict().items()}
        state.update({f"lander.{k}": v for k, v in self.lander.state_dict().items()})
        state.update({f"refiner.{k}": v for k, v in self.refiner.state_dict().items()})
        return state

    def _load_state_dict(self, tensors: dict) -> None:
        for prefix, module in (("locator.", self.module), ("lander.", self.lander), ("refiner.", self.refiner)):
            module.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})


def stage_steps(stage: int, n_photos: int) -> int:
    """Default optimiser steps of ``stage`` for ``n_photos`` training photos
    (:data:`STEPS_PER_PHOTO`, :data:`STEP_LIMITS`)."""
    return int(np.clip(STEPS_PER_PHOTO[stage] * n_photos, *STEP_LIMITS[stage]))


def _rows(inputs: Inputs, rows) -> Inputs:
    return Inputs(inputs.x.subset(rows), np.asarray(inputs.targets)[rows], np.arange(len(rows)))


def _crop_mse(points, truth, sources) -> float:
    """Mean squared error of photo-pixel ``points`` in each true region's
    crop-normalised frame (the stages' validation loss)."""
    errors = []
    for p, t, s in zip(points, truth, sources, strict=True):
        c, side = specimen_square(t, s.size)
        d = to_crop(p, c, side) - to_crop(t, c, side)
        errors.append(d[np.isfinite(d).all(-1)])
    errors = np.concatenate(errors)
    return float(np.mean(errors**2)) if len(errors) else float("nan")
