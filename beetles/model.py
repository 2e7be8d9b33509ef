"""The one interface every landmarking model offers, and what travels through it.

A :class:`LandmarkModel` is one registered model (:mod:`beetles.registry`)
built for ``n`` landmarks.  The experiments (:mod:`beetles.studies`), the
tool (:mod:`beetles.tool`) and the benchmarks use it the same way:

1. :meth:`~LandmarkModel.build` it from its :class:`~beetles.registry.ModelInfo`
   and a :class:`Schedule` (epochs or minutes, learning rate, batch, seed),
   or :meth:`~LandmarkModel.load` it from a model folder's weight file;
2. :meth:`~LandmarkModel.prepare` specimens into :class:`Inputs` (photos
   fitted into the network frame, targets normalised), or
   :meth:`~LandmarkModel.decode` new photos into :class:`Decoded` ones;
3. :meth:`~LandmarkModel.fit` on training inputs, validating on given
   inputs or on a split of its own, reporting every epoch to
   :class:`~beetles.core.history.EpochListener` objects; Ctrl-C raises
   ``KeyboardInterrupt`` (an unfinished fit is never taken as finished);
4. :meth:`~LandmarkModel.predict` a :class:`Prediction`: points and their
   spread (the model's uncertainty) in network pixels, or
   :meth:`~LandmarkModel.predict_photos` in each photo's own pixels;
5. :meth:`~LandmarkModel.save` its weights, :meth:`~LandmarkModel.describe`
   what runs it.

Frames: landmarks of a specimen are in its photo's pixels (y down); targets
are normalised network coordinates ``(M, 2n)`` in [-1, 1]
(:func:`beetles.core.frames.normalise`); predictions are in pixels of the
256×192 network frame or of the photo, y down, as :attr:`Prediction.frame`
says.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from beetles.core.errors import BeetlesError, DataError
from beetles.core.frames import Letterbox
from beetles.core.letterbox import check_aspect

#: The engines that run models: the paper's stack, and PyTorch.
ENGINES = ("theano", "torch")
#: Retraining from an earlier model (``beetles train --from``) without a budget
#: given: this share of the model's default budget, with the same learning-rate
#: schedule (half the peak rate was measured worse on both the synthetic and the
#: TriloMorph loop: README, "The loop, measured").
FINE_TUNE_SHARE = 1 / 3


@dataclass
class Schedule:
    """What training does: the number of epochs (``None``: until the time
    budget is spent), a wall-clock budget in ``minutes`` per fit (``None``:
    none), the learning rate and momentum (start, end), the batch size, the
    validation folds of a model's own split, and the seed.  The defaults are
    the paper's; each model's are in its :class:`~beetles.registry.ModelInfo`.
    ``model`` names the model (the paper's as a number), for the key."""

    model: int | str = 3
    epochs: int | None = 5000
    learning_rate: tuple = (0.03, 0.00001)
    momentum: tuple = (0.9, 0.9999)
    batch_size: int = 128
    validation_folds: int = 3
    seed: int = 42
    minutes: float | None = None

    def key(self) -> str:
        """A short hash of the schedule: rounds trained otherwise are not reused."""
        fields = dataclasses.asdict(self)
        if fields["minutes"] is None:
            del fields["minutes"]  # the keys of runs made before the field existed
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass
class Inputs:
    """``M`` rows a model trains or predicts on.

    ``x``: the arrays in the model's own layout (gray ``(M, 1, 192, 256)``
    float32 for models 1-3, :class:`beetles.compact.photos.Photos` for the
    compact models: callers pass it on unchanged); ``targets``: ``(M, 2n)``
    normalised network coordinates (``nan``: a missing landmark) or
    ``None``; ``source``: ``(M,)`` the index of each row's specimen (models
    1-3 make seven rows of each training photo)."""

    x: Any
    targets: np.ndarray | None
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.source)

    @classmethod
    def empty(cls) -> "Inputs":
        """No rows: given as ``valid`` to :meth:`LandmarkModel.fit`, no validation at all."""
        return cls(None, None, np.zeros(0, dtype=int))


@dataclass(frozen=True)
class Decoded:
    """One photo as a model reads it: ``network`` ``(192, 256, 3)`` uint8 RGB
    in the 256×192 frame, ``fine`` ``(192 k, 256 k, 3)`` for a model with a
    fine scale ``k`` (else ``None``), the ``letterbox`` that maps the
    photo's pixels into the frame, and, for a model that cuts regions from
    the photo itself, the decoded ``photo``
    (:class:`beetles.compact.crops.PhotoSource`; else ``None``)."""

    network: np.ndarray
    fine: np.ndarray | None
    letterbox: Letterbox
    photo: Any = None


@dataclass(frozen=True)
class Prediction:
    """Landmarks ``points`` ``(M, n, 2)`` (x, y; y down) and their ``spread``
    ``(M, n)`` (``None``: none measured), both in pixels of ``frame``:
    ``"network"`` (256×192) or ``"photo"`` (each photo's own)."""

    points: np.ndarray
    spread: np.ndarray | None
    frame: str = "network"

    def spread_or_nan(self) -> np.ndarray:
        """The spread ``(M, n)``, ``nan`` where none was measured."""
        return np.full(self.points.shape[:2], np.nan) if self.spread is None else self.spread


class LandmarkModel(ABC):
    """A landmarking model: one registered kind (:attr:`info`) for
    :attr:`n_landmarks` landmarks.  See the module docstring for the
    sequence of calls; :attr:`history` holds every finished epoch."""

    #: File suffix of :meth:`save_whole`'s file.
    whole_suffix = ".pt"
    #: The engine and device that compute it (:meth:`record`).
    engine_name = "torch"
    device_name = "cpu"
    #: Whether :meth:`fit` takes ``checkpoint=`` (a
    #: :class:`beetles.paper.checkpoint.Checkpointing`): resumes and writes
    #: checkpoints inside a round (the paper's models).
    checkpoints = False

    def __init__(self, info, n_landmarks: int):
        self.info = info
        self.n_landmarks = int(n_landmarks)
        self.history: list = []  # beetles.core.history.Epoch, one per finished epoch

    # -- building -------------------------------------------------------------
    @classmethod
    @abstractmethod
    def check(cls, info, engine: str | None, device: str, minutes: float | None) -> str:
        """Check, before any data is read, that ``info``'s model can run on
        ``engine`` (``None``: its default) and ``device`` with a budget of
        ``minutes``; returns the engine's name, or raises a :class:`BeetlesError`."""

    @classmethod
    @abstractmethod
    def build(cls, info, n_landmarks: int, schedule: Schedule, engine: str | None = None,
              device: str = "cpu") -> "LandmarkModel":
        """A new, untrained model (weights initialised from ``schedule.seed``)."""

    @classmethod
    @abstractmethod
    def load(cls, info, path, n_landmarks: int, device: str = "cpu") -> "LandmarkModel":
        """A trained model from the weight file ``path`` of a model folder, on
        ``device`` (``cpu``, ``cuda``), ready to predict; a
        :class:`~beetles.core.errors.WeightsError` naming the file when it
        does not fit ``info`` or ``n_landmarks``."""

    # -- data -----------------------------------------------------------------
    @abstractmethod
    def prepare(self, specimens, *, augment: bool = False, letterbox: bool = False, progress: bool = True,
                desc: str = "photos") -> Inputs:
        """Inputs and targets for ``specimens`` (landmarks in their photos'
        pixels, y down).  ``augment``: the paper's seven versions of each
        photo (a model that augments while it trains ignores it);
        ``letterbox``: fit photos of any aspect ratio into the frame
        (:func:`beetles.core.letterbox.letterbox_rgb`) where the model can,
        else the paper's scaling of 4:3 photos."""

    def check_specimens(self, specimens) -> None:
        """Raise one :class:`~beetles.core.errors.DataError` listing every
        specimen the model cannot learn from: a photo that is not 4:3 for a
        model without ``info.any_aspect``, missing landmarks for one without
        ``info.missing_landmarks``."""
        specimens = list(specimens)
        name = self.info.name
        if not self.info.any_aspect:
            problems = []
            for specimen in specimens:
                try:
                    check_aspect(specimen.frame.size, f"{specimen.image}")
                except DataError as error:
                    problems.append(str(error))
            if problems:
                raise DataError(f"--model {name} needs 4:3 photos ({len(problems)} are not; the compact models, "
                                "e.g. the default cascade, take any aspect ratio):\n  " + "\n  ".join(problems[:10]))
        if not self.info.missing_landmarks:
            missing = [f"{s.image}: landmark(s) {(np.flatnonzero(s.missing) + 1).tolist()} missing"
                       for s in specimens if s.missing.any()]
            if missing:
                raise DataError(f"--model {name} cannot learn from missing landmarks (the compact models can):\n  "
                                + "\n  ".join(missing[:10]))

    @abstractmethod
    def decode(self, path, name: str | None = None) -> Decoded:
        """A new photo, letterboxed into the network frame; a
        :class:`~beetles.core.errors.DataError` naming it when it cannot be
        read or does not suit the model."""

    @abstractmethod
    def inputs(self, decoded: Sequence[Decoded]) -> Inputs:
        """Inputs (no targets) for decoded photos."""

    # -- training -------------------------------------------------------------
    @abstractmethod
    def fit(self, train: Inputs, valid: Inputs | None = None, listeners=()) -> "LandmarkModel":
        """Train on ``train``; validate on ``valid`` or, when it is ``None``,
        on a split of ``train`` of the model's own (an empty
        :meth:`Inputs.empty`: no validation, the losses are ``nan``).  Every
        finished epoch goes to :attr:`history` and to each of ``listeners``."""

    def planned_epochs(self, schedule: Schedule, train: Inputs | None = None) -> int | None:
        """Epochs a fit on ``train`` will report under ``schedule`` (every
        stage), for a progress bar and its ETA; ``None`` when a time budget
        decides (or, without ``train``, when the data's size does)."""
        if schedule.epochs is None or schedule.minutes is not None:
            return None
        return schedule.epochs * len(self.info.stages)

    # -- prediction -----------------------------------------------------------
    @abstractmethod
    def predict(self, inputs: Inputs, passes: int = 1) -> Prediction:
        """Landmarks and spread in network pixels (``frame="network"``).
        ``passes``: forward passes of a model whose uncertainty needs several
        (Monte-Carlo dropout or test-time augmentation); with 1 such a model
        makes one deterministic pass and gives no spread."""

    def predict_photos(self, decoded: Sequence[Decoded], passes: int = 1) -> Prediction:
        """:meth:`predict` for decoded photos, mapped back into each photo's
        own pixels (``frame="photo"``; points kept inside the photo, spread
        scaled likewise)."""
        network = self.predict(self.inputs(decoded), passes)
        points = np.stack([to_photo(d.letterbox, p) for d, p in zip(decoded, network.points, strict=True)])
        spread = None
        if network.spread is not None:
            spread = np.stack([s / d.letterbox.scale for d, s in zip(decoded, network.spread, strict=True)])
        return Prediction(points, spread, "photo")

    # -- weights and description ---------------------------------------------
    @abstractmethod
    def params(self) -> dict[str, np.ndarray]:
        """The trained state as named arrays (what ``params.npz`` holds)."""

    @abstractmethod
    def save(self, path) -> Path:
        """Write the weight file of a model folder (``info.weights_file``) to ``path``, atomically."""

    def save_whole(self, path) -> Path:
        """Everything needed to resume or inspect the model (``<name>`` + :attr:`whole_suffix`)."""
        return self.save(path)

    def load_params(self, source, skip_layers=()) -> list[str]:
        """Start from trained weights (a path or :meth:`params` dict), leaving ``skip_layers`` new."""
        raise BeetlesError(f"pre-training and fine-tuning are for the paper's models 1-3; the '{self.info.name}' "
                           "model trains from scratch")

    def start_from(self, parent: "LandmarkModel", share: float = 1.0) -> list[str]:
        """Start from ``parent``'s trained weights (a model of the same kind for
        the same landmark count; a clear error otherwise) and train for
        ``share`` of the default budget (:data:`FINE_TUNE_SHARE` for
        ``beetles train --from``; the paper's models take the budget given).
        Returns the names of the parameters taken over."""
        if parent.info.name != self.info.name:
            raise BeetlesError(f"the earlier model is a '{parent.info.name}' model; it cannot start a "
                               f"'{self.info.name}' model (drop --model to continue the same one)")
        if parent.n_landmarks != self.n_landmarks:
            raise DataError(f"the earlier model places {parent.n_landmarks} landmarks, the photos have "
                            f"{self.n_landmarks}; train from scratch (without --from)")
        return self.load_params(parent.params())

    def freeze(self, count: int) -> list[str]:
        """Freeze the first ``count`` layers after the input; returns their names."""
        if count:
            raise BeetlesError(f"--freeze {count}: freezing layers is for fine-tuning models 1-3")
        return []

    @abstractmethod
    def describe(self) -> str:
        """What computes it, e.g. ``"torch 2.13.0 (cpu (2 threads))"``."""

    def record(self) -> dict:
        """What ``run.json`` and ``settings.json`` record of the engine."""
        return {"engine": self.engine_name, "device": self.device_name, "engine_description": self.describe()}


def to_photo(box: Letterbox, points) -> np.ndarray:
    """Network points ``(..., 2)`` → the photo's pixels (:meth:`~beetles.core.frames.Letterbox.to_photo`),
    kept inside the photo: an estimate in the padding right of or below the
    photo moves to its edge (a TPS file would read a negative coordinate as
    a missing landmark)."""
    photo = box.to_photo(points)
    photo[..., 0] = np.clip(photo[..., 0], 0, box.photo_width)
    photo[..., 1] = np.clip(photo[..., 1], 0, box.photo_height)
    return photo


def resolve_engine(info, engine: str | None) -> str:
    """The engine that runs ``info``'s model (a :class:`beetles.registry.ModelInfo`) when ``--engine`` is ``engine``
    (``None``: not given, the model's default); a :class:`BeetlesError` for an
    unknown engine or one that cannot run the model."""
    if engine is None:
        return info.engines[0]
    if engine not in ENGINES:
        raise BeetlesError(f"--engine {engine}: expected one of {', '.join(ENGINES)}")
    if engine not in info.engines:
        raise BeetlesError(f"--model {info.name} runs on the {' or '.join(info.engines)} engine (PyTorch), "
                           f"not --engine {engine}")
    return engine
