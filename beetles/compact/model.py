"""The compact models (``heatmap``, ``cascade``, ``regress``) behind the one model interface.

Model 3 needs about 50,000 updates (the paper's 5000 epochs) and in its first
CPU minutes predicts worse than the mean shape
(``../shared/notes/early-training.md``); these small fully-convolutional
networks (:mod:`beetles.compact.networks`) learn from a few hundred photos in
CPU minutes, from scratch (:mod:`beetles.compact.trainer`), on the CPU or a
CUDA GPU.  Their registry entries (:data:`beetles.registry.MODELS`) say
which head each has and whether it refines.

All see the RGB photo in the 256×192 frame with pixels / 255
(:mod:`beetles.compact.photos`): in the experiments 4:3 photos scaled as the
paper did, in the tool photos of any aspect ratio letterboxed.  The
per-landmark **spread** is the model's own uncertainty, in network pixels:
the standard deviation of the (last) softmax map around the prediction, or,
for ``regress``, the spread over eight test-time augmentations
(:func:`beetles.core.warp.tta_runs`).

A model folder's ``model.pt`` holds the model's name, landmark count,
weights (batch-norm statistics included; the refiner's keys start with
``refiner.``) and training history (:func:`beetles.core.torchutil.save_state`).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from beetles.compact import trainer
from beetles.compact.networks import (
    FINE_SCALE,
    PATCH,
    CompactNet,
    RefineNet,
    crop_patches,
    fine_to_normalised,
    from_patch,
    heatmap_spread,
    normalised_to_fine,
)
from beetles.compact.photos import Photos, photo_inputs
from beetles.core.errors import BeetlesError, WeightsError
from beetles.core.frames import NETWORK, denormalise
from beetles.core.letterbox import letterbox_rgb
from beetles.core.torchutil import device_description, device_for, load_state, save_state, use_all_cores
from beetles.core.warp import tta_runs
from beetles.model import Decoded, Inputs, LandmarkModel, Prediction, resolve_engine

#: Test-time augmentation passes of ``regress``'s spread.
TTA_PASSES = 8
#: Refinement passes (each centres the patches on the last estimate).
REFINE_PASSES = 2


class CompactModel(LandmarkModel):
    """A compact network (and, for ``cascade``, its refiner) with its
    schedule; ``module`` and ``refiner`` are the ``torch.nn.Module`` objects."""

    def __init__(self, info, n_landmarks: int, schedule, device="cpu", seed: int | None = 42):
        super().__init__(info, n_landmarks)
        self.schedule = schedule
        self.torch_device = device_for(device)
        self.device_name = self.torch_device.type
        if self.torch_device.type == "cpu":
            use_all_cores()
        if seed is not None:
            torch.manual_seed(seed)  # the initial weights
        self.module = CompactNet(n_landmarks, head=info.config["head"]).to(self.torch_device)
        self.module = self.module.to(memory_format=torch.channels_last)
        self.refiner = RefineNet(n_landmarks).to(self.torch_device) if info.config["refine"] else None
        self.refined = False  # whether predictions go through the refiner (once it trains)
        self.budget_share = 1.0  # of the default budget (beetles train --from: less)

    # -- building -------------------------------------------------------------
    @classmethod
    def check(cls, info, engine, device, minutes) -> str:
        name = resolve_engine(info, engine)
        device_for(device)
        return name

    @classmethod
    def build(cls, info, n_landmarks, schedule, engine=None, device="cpu") -> "CompactModel":
        resolve_engine(info, engine)
        return cls(info, n_landmarks, schedule, device=device, seed=schedule.seed)

    @classmethod
    def load(cls, info, path, n_landmarks, device="cpu") -> "CompactModel":
        state = load_state(path)
        saved_model, saved_n = state.get("model"), state.get("n_landmarks")
        if saved_model != info.name:
            raise WeightsError(f"{path}: weights of a '{saved_model}' model, but settings.json says '{info.name}'")
        if saved_n is not None and int(saved_n) != int(n_landmarks):
            raise WeightsError(f"{path}: weights for {int(saved_n)} landmarks, but settings.json says {n_landmarks}")
        model = cls(info, n_landmarks, info.schedule(epochs=1), device=device, seed=None)
        model.set_params(state["params"], source=path)
        return model

    # -- data -----------------------------------------------------------------
    def prepare(self, specimens, *, augment=False, letterbox=False, progress=True, desc="photos") -> Inputs:
        return photo_inputs(specimens, self.info.fine_scale, letterbox=letterbox, progress=progress, desc=desc)

    def decode(self, path, name=None) -> Decoded:
        return Decoded(*letterbox_rgb(path, name, fine_scale=self.info.fine_scale))

    def inputs(self, decoded) -> Inputs:
        fines = np.stack([d.fine for d in decoded]) if self.info.fine_scale else None
        photos = Photos.from_rgb(np.stack([d.network for d in decoded]), fines)
        return Inputs(photos, None, np.arange(len(decoded)))

    # -- training and prediction ----------------------------------------------
    def fit(self, train, valid=None, listeners=()) -> "CompactModel":
        trainer.fit(self, train, valid, listeners)
        return self

    def predict(self, inputs, passes=1) -> Prediction:
        """Points and spread in network pixels; ``passes`` does not apply."""
        coords, spread = self.predict_points(inputs.x)
        if spread is None:
            spread = self.tta_spread(inputs.x)
        return Prediction(denormalise(coords.reshape(len(coords), -1)), np.asarray(spread, np.float64))

    def validation_mse(self, photos: Photos, targets) -> float:
        """Mean squared error on normalised coordinates over the landmarks
        given in ``targets`` ``(M, n, 2)`` (the paper's loss)."""
        coords, _ = self.predict_points(photos)
        target = np.asarray(targets).reshape(coords.shape)
        visible = np.isfinite(target).all(-1)
        return float(np.mean(((coords - target) ** 2)[visible])) if visible.any() else float("nan")

    def predict_points(self, photos: Photos, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray | None]:
        """Coordinates ``(M, n, 2)`` normalised and, for the heatmap heads, the
        spread ``(M, n)`` in network pixels (``None`` for ``regress``)."""
        was_training = self.module.training
        self.module.eval()
        coords, spreads = [], []
        with torch.no_grad():
            for start in range(0, len(photos), batch_size):
                images = torch.as_tensor(np.ascontiguousarray(photos.network[start:start + batch_size]))
                images = images.to(self.torch_device)
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

    def refine(self, fine, coords, passes: int = REFINE_PASSES) -> tuple[np.ndarray, np.ndarray]:
        """Move coarse estimates ``(M, n, 2)`` (normalised) with the refiner on
        the ``fine`` photos ``(M, 3, 768, 1024)``, ``passes`` times; returns the
        refined coordinates and the refiner's heatmap spread ``(M, n)`` in
        network pixels."""
        was_training = self.refiner.training
        self.refiner.eval()
        m, n = coords.shape[:2]
        images = np.repeat(np.arange(m), n)
        which = torch.as_tensor(np.tile(np.arange(n), m), device=self.torch_device)
        points = normalised_to_fine(coords.reshape(-1, 2))
        spread = np.zeros(m * n)
        half = [PATCH / 2 / FINE_SCALE] * 2
        with torch.no_grad():
            for _ in range(passes):
                moved = []
                for start in range(0, m * n, 256):
                    part = slice(start, start + 256)
                    patches, corners = crop_patches(fine, images[part], points[part])
                    local, logits = self.refiner(patches.to(self.torch_device), which[part])
                    moved.append(from_patch(local.cpu().numpy(), corners))
                    spread[part] = heatmap_spread(logits[:, None], local[:, None], half)[:, 0].cpu().numpy()
                points = np.concatenate(moved)
        if was_training:
            self.refiner.train()
        return fine_to_normalised(points).reshape(m, n, 2).astype(np.float32), spread.reshape(m, n)

    def tta_spread(self, photos: Photos, passes: int = TTA_PASSES) -> np.ndarray:
        """Per-landmark spread (network pixels, ``(M, n)``) of the predictions
        over ``passes`` random augmentations, mapped back to the image."""
        self.module.eval()
        images = torch.as_tensor(np.ascontiguousarray(photos.network)).to(self.torch_device)
        images = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        runs = tta_runs(lambda x: self.module(x.contiguous(memory_format=torch.channels_last))[0], images, passes)
        half = np.array([NETWORK.width / 2, NETWORK.height / 2])
        return np.sqrt((runs.var(axis=0) * half**2).sum(-1))

    # -- weights ----------------------------------------------------------------
    def _state_dict(self) -> dict:
        state = dict(self.module.state_dict())
        if self.refiner is not None:
            state.update({f"refiner.{k}": v for k, v in self.refiner.state_dict().items()})
        return state

    def params(self) -> dict[str, np.ndarray]:
        """The networks' state (weights and batch-norm statistics) as arrays;
        the refiner's keys start with ``refiner.``."""
        return {k: v.detach().cpu().numpy() for k, v in self._state_dict().items()}

    def set_params(self, params: dict, source=None) -> list[str]:
        """Load ``params`` (:meth:`params`' layout); a :class:`WeightsError`
        naming the first parameter whose shape or name does not fit."""
        where = f"{source}: " if source else ""
        state = self._state_dict()
        missing = [k for k in state if k not in params]
        if missing:
            raise WeightsError(f"{where}no weights for {missing[0]} (and {len(missing) - 1} more): not a "
                               f"'{self.info.name}' model's weights")
        for key, value in state.items():
            if tuple(np.shape(params[key])) != tuple(value.shape):
                raise WeightsError(f"{where}{key} has shape {tuple(np.shape(params[key]))}, the network needs "
                                   f"{tuple(value.shape)} (a model for another landmark count?)")
        self._load_state_dict({k: torch.as_tensor(np.asarray(params[k])) for k in state})
        return list(state)

    def load_params(self, source, skip_layers=()) -> list[str]:
        """Start from trained weights: a :meth:`params` dict or a ``model.pt``
        (``skip_layers`` is for the paper's models)."""
        if skip_layers:
            raise BeetlesError(f"fine-tuning with new {', '.join(skip_layers)} layers (the paper's protocol) is for "
                               f"models 1-3; a '{self.info.name}' model retrains from one for the same landmarks "
                               "(beetles train --from)")
        params = source if isinstance(source, dict) else load_state(source)["params"]
        return self.set_params(params, source=None if isinstance(source, dict) else source)

    def start_from(self, parent, share: float = 1.0) -> list[str]:
        """:meth:`LandmarkModel.start_from`; ``share`` < 1 scales the epochs and
        minutes of the schedule (and ``zoom``'s steps)."""
        loaded = super().start_from(parent, share)
        self.budget_share = float(share)
        if share < 1:
            s = self.schedule
            self.schedule = replace(s, epochs=None if s.epochs is None else max(1, math.ceil(s.epochs * share)),
                                    minutes=None if s.minutes is None else s.minutes * share)
        return loaded

    def _load_state_dict(self, tensors: dict) -> None:
        self.module.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("refiner.")})
        if self.refiner is not None:
            self.refiner.load_state_dict({k[len("refiner."):]: v for k, v in tensors.items()
                                          if k.startswith("refiner.")})
            self.refined = True

    def state(self) -> dict:
        """What ``model.pt`` holds: model name, landmark count, weights, history."""
        return {
            "model": self.info.name,
            "n_landmarks": self.n_landmarks,
            "params": self.params(),
            "train_history": [{"epoch": e.number, "train_loss": e.train_loss, "valid_loss": e.valid_loss,
                               "dur": e.seconds} for e in self.history],
            "torch": str(torch.__version__),
        }

    def save(self, path):
        return save_state(self.state(), path)

    def describe(self) -> str:
        return f"torch {torch.__version__} ({device_description(self.torch_device)})"
