"""Training the compact models: AdamW, a cosine learning rate, augmented batches.

:func:`fit` trains a :class:`beetles.compact.model.CompactModel` from
scratch, in its stages: the network (``heatmap``, ``regress``, the coarse
network of ``cascade``) on augmented batches of whole photos
(:mod:`beetles.compact.augment`), then, for ``cascade``, the refiner on
patches of the fine photos centred near the true landmarks (Gaussian jitter
of :data:`REFINE_JITTER` network pixels).  AdamW (weight decay 1e-4), a
learning rate with a 3 % warm-up and a cosine decay (:func:`learning_rate`)
that follows the fraction of the budget used, so a run stopped by its
``minutes`` always completes its schedule; the refiner gets
:data:`REFINE_SHARE` of a time budget (the same epochs otherwise).  Missing
landmarks (``nan``) are left out of the loss.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from beetles.compact.augment import augment_batch, jitter_colours
from beetles.compact.losses import landmark_loss, patch_loss
from beetles.compact.networks import FINE_SCALE, PATCH, crop_patches, normalised_to_fine, to_patch
from beetles.core.history import Epoch

#: The refiner's training: patch centres drawn around the truth with this sd
#: (network pixels), and its share of a time budget.
REFINE_JITTER, REFINE_SHARE = 2.5, 0.4
#: Patches per refiner batch, per photo of a coarse batch.
PATCHES_PER_PHOTO = 4


def learning_rate(progress: float, peak: float, final: float) -> float:
    """Learning rate at ``progress`` ∈ [0, 1] of the run: 3 % linear
    warm-up, then cosine from ``peak`` to ``final``."""
    if progress < 0.03:
        return peak * max(progress / 0.03, 0.05)
    t = min(1.0, (progress - 0.03) / 0.97)
    return final + 0.5 * (peak - final) * (1 + math.cos(math.pi * t))


def own_split(n: int, validation_folds: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(train, valid)`` indices: a seeded permutation, the last
    ``1 / validation_folds`` (at least one image when n ≥ 4) held out."""
    order = np.random.default_rng(seed).permutation(n)
    n_valid = int(round(n / validation_folds)) if n >= 4 else 0
    return np.sort(order[: n - n_valid]), np.sort(order[n - n_valid:])


def fit(model, train, valid=None, listeners=()) -> None:
    """Train ``model`` (a :class:`~beetles.compact.model.CompactModel`) on the
    :class:`~beetles.model.Inputs` ``train`` (:class:`~beetles.compact.photos.Photos`
    and ``(M, 2n)`` normalised targets); the validation loss of every epoch
    comes from ``valid``, or from :func:`own_split` of ``train`` when it is
    ``None``.  Every epoch goes to ``model.history`` and ``listeners``."""
    schedule = model.schedule
    photos = train.x
    if model.refiner is not None and photos.fine is None:
        raise ValueError("the cascade model needs the fine photos (Photos.fine) to train")
    y = np.asarray(train.targets, np.float32).reshape(len(photos), -1, 2)
    if valid is None:
        rows, held = own_split(len(photos), schedule.validation_folds, schedule.seed)
        validation = (photos.subset(held), y[held])
    elif not len(valid):
        rows, validation = np.arange(len(photos)), (photos.subset(slice(0, 0)), y[:0])
    else:
        rows = np.arange(len(photos))
        validation = (valid.x, np.asarray(valid.targets, np.float32).reshape(len(valid.x), -1, 2))
    max_epochs = schedule.epochs or 10**9  # None: the time budget decides
    budget = schedule.minutes * 60 if schedule.minutes is not None else None
    share = (1 - REFINE_SHARE) if model.refiner is not None else 1.0
    seed = schedule.seed if schedule.seed is not None else 0
    generator = torch.Generator().manual_seed(seed)
    device = model.torch_device
    X_train = torch.as_tensor(np.ascontiguousarray(photos.network[rows])).to(device)
    y_train = torch.as_tensor(y[rows]).to(device)

    def coarse_step(index):
        batch = X_train[index.to(device)]
        images = batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch.float()
        images, points = augment_batch(images, y_train[index.to(device)], generator)
        coords, logits = model.module(images.contiguous(memory_format=torch.channels_last))
        return landmark_loss(coords, logits, points)

    def validate():
        return model.validation_mse(*validation) if len(validation[0]) else float("nan")

    stage = Stage(model, validate, generator, listeners)
    model.module.train()
    stage.run(model.module.parameters(), len(rows), schedule.batch_size, coarse_step, max_epochs,
              budget * share if budget else None)
    if model.refiner is None:
        return
    model.refined = True
    fine, targets = photos.fine[rows], y[rows]
    pairs = np.argwhere(np.isfinite(targets).all(-1))  # (image, landmark) with a landmark
    truth = normalised_to_fine(targets)
    rng = np.random.default_rng(schedule.seed)

    def refine_step(index):
        chosen = pairs[index.numpy()]
        true_fine = truth[chosen[:, 0], chosen[:, 1]]
        limit = PATCH / 2 - 4
        noise = np.clip(rng.normal(0, REFINE_JITTER * FINE_SCALE, true_fine.shape), -limit, limit)
        patches, corners = crop_patches(fine, chosen[:, 0], true_fine + noise)
        patches = jitter_colours(patches, generator).to(device)
        target = torch.as_tensor(to_patch(true_fine, corners), dtype=torch.float32, device=device)
        which = torch.as_tensor(chosen[:, 1], device=device)
        coords, logits = model.refiner(patches, which)
        return patch_loss(coords, logits, target)

    model.refiner.train()
    stage.run(model.refiner.parameters(), len(pairs), PATCHES_PER_PHOTO * schedule.batch_size, refine_step,
              max_epochs, budget * REFINE_SHARE if budget else None)


class Stage:
    """Runs one training stage after another, numbering their epochs on:
    ``model`` (its ``schedule`` and ``history``), ``validate()`` the
    validation loss after an epoch (``nan``: none), the batches'
    ``generator``, the :class:`~beetles.core.history.EpochListener` objects."""

    def __init__(self, model, validate, generator, listeners):
        self.model, self.validate, self.generator = model, validate, generator
        self.listeners = list(listeners)

    def run(self, parameters, n_items: int, batch_size: int, step, max_epochs: int, budget) -> None:
        """AdamW over shuffled batches of ``n_items`` (``step(index) -> (loss,
        mse)``), the cosine learning rate over the epochs or the time budget
        ``budget`` (seconds), an :class:`~beetles.core.history.Epoch` per epoch."""
        model, schedule = self.model, self.model.schedule
        peak, final = (float(v) for v in schedule.learning_rate)
        beta1 = float(schedule.momentum[0])
        optimiser = torch.optim.AdamW(parameters, lr=peak, betas=(beta1, 0.999), weight_decay=1e-4)
        total_steps = max_epochs * max(1, math.ceil(n_items / batch_size))
        started, steps, epochs, rate = time.perf_counter(), 0, 0, peak
        while epochs < max_epochs:
            epoch_started = time.perf_counter()
            order = torch.randperm(n_items, generator=self.generator)
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
                rate = learning_rate(progress, peak, final)
                for group in optimiser.param_groups:
                    group["lr"] = rate
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
            epoch = Epoch(
                number=len(model.history) + 1,
                train_loss=float(np.average(losses, weights=sizes)),
                valid_loss=self.validate(),
                learning_rate=float(np.float32(rate)), momentum=float(np.float32(beta1)),  # logged as float32
                seconds=time.perf_counter() - epoch_started,
            )
            model.history.append(epoch)
            for listener in self.listeners:
                listener(epoch)
            if budget is not None and time.perf_counter() - started >= budget:
                break
