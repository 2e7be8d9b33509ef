"""The landmarking tool: ``beetles train`` and ``beetles predict``.

``beetles train`` turns a folder of landmarked photos into a *model folder*;
``beetles predict`` places the landmarks on new photos with it.  Both are
plain Python calls here (:func:`train`, :func:`predict`); :mod:`beetles.cli`
only parses the options.

A model folder holds (all written atomically, ``settings.json`` last):

``model.pt``         the compact models (``cascade``, ``heatmap``, ``regress``): the
                     net's state (weights, batch-norm statistics, history), ``torch.save``
``params.npz``       the paper's models 1-3: the weights in Lasagne's layout (either engine)
``settings.json``    model, landmark count, engine, device, how photos are fitted, data
                     source, training and validation specimens, epochs, seconds, versions,
                     the command
``losses.csv``       loss per epoch (:class:`beetles.training.EpochLog`), ``fig_losses.png``
``validation.csv``   per landmark, over the held-out specimens: mean error in the photos'
                     pixels and in network pixels, mean spread
``validation.json``  the mean error, the trivial mean-shape predictor's error, and how
                     well the spread ranks the errors (Spearman)

Photos of any size and aspect ratio (compact models): each is decoded upright
(EXIF orientation applied, JPEG draft mode for large photos), scaled to fit
256×192 keeping its aspect ratio, anchored at the top-left corner and padded
right and bottom (:func:`beetles.preprocess.letterbox_rgb`); landmarks go
into the network frame with :meth:`beetles.frames.Letterbox.to_network` and
come back with its exact inverse, :meth:`~beetles.frames.Letterbox.to_photo`.
The paper's models 1-3 train as the paper did (gray, seven-fold
augmentation, :func:`beetles.preprocess.network_arrays`), so they need 4:3
photos (for a 4:3 photo the letterbox is the paper's plain scaling).

Uncertainty (the *spread*, per landmark, in the photo's pixels):

* ``heatmap`` and ``cascade``: the standard deviation of the model's own
  probability map around its estimate (the refiner's map for ``cascade``);
* ``regress``: the spread of the estimates over eight test-time
  augmentations (small shifts, rotations and scalings, mapped back);
* model 3: Monte-Carlo dropout: ``passes`` forward passes with dropout on;
  the mean is the estimate, the spread its standard deviation;
* models 1 and 2 have no dropout: the deterministic estimate, and the spread
  over ``passes`` test-time augmentations as for ``regress``.

With ``passes=1`` models 1-3 make one deterministic pass and give no spread.
"""
from __future__ import annotations

import io
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beetles.errors import BeetlesError, DataError
from beetles.files import write_bytes, write_text

MODEL_PT = "model.pt"
PARAMS_NPZ = "params.npz"
SETTINGS_JSON = "settings.json"
#: The files whose presence means a folder already holds a model.
MODEL_FILES = (MODEL_PT, PARAMS_NPZ, SETTINGS_JSON)
#: File names expanded from a folder given to ``beetles predict`` (any case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
DEFAULT_MODEL = "cascade"
DEFAULT_VALIDATION = 0.1
DEFAULT_SEED = 42
#: Monte-Carlo dropout (or test-time augmentation) passes for models 1-3.
DEFAULT_PASSES = 8
#: Overlays are at most this many pixels wide.
OVERLAY_WIDTH = 1600
#: Photos decoded before one batch goes through the network.
BATCH = 16
#: How the compact models fit a photo into the network frame (settings.json).
FITTING = ("scaled to fit 256×192 keeping the aspect ratio, anchored top-left, padded right/bottom; "
           "coordinates mapped back exactly")
PAPER_FITTING = ("4:3 photos only: scaled to 256×192 and converted to gray as in the paper; "
                 "coordinates mapped back exactly")
#: The settings.json layout; a later layout bumps it.
SETTINGS_FORMAT = 1
#: What ``--model`` accepts, in the order the help lists them.
TOOL_MODELS = ("cascade", "heatmap", "regress", "1", "2", "3")


# --------------------------------------------------------------------------
# Reading the training data


def load_training_data(data=None, landmarks=None):
    """The landmarked photos to train on, as a :class:`beetles.specimen.PartData`.

    ``data``: a part folder (``images/`` + ``landmarks.tps``, as
    :func:`beetles.dataset.load_part` reads it); ``landmarks``: a TPS or long
    CSV (``image,landmark,x,y``, y down) naming the photos, looked up in
    ``data/images/`` (or ``data``) when ``data`` is given, else beside the
    file.  Missing landmarks are allowed.  Every problem is listed at once,
    naming the file and specimen.  Coordinates refer to the upright photo
    (EXIF orientation applied), as everywhere in beetles (:mod:`beetles.images`)."""
    from beetles.dataset import check_specimens, load_part
    from beetles.formats.tables import read_long_csv
    from beetles.formats.tps import read_tps
    from beetles.specimen import PartData

    if data is None and landmarks is None:
        raise BeetlesError("give --data DIR (a folder with images/ and landmarks.tps) or --landmarks FILE")
    if landmarks is None:
        part = load_part(data, allow_missing=True)
    else:
        landmarks = Path(landmarks)
        if not landmarks.is_file():
            raise DataError(f"{landmarks}: landmark file not found")
        if data is not None:
            data = Path(data)
            if not data.is_dir():
                raise DataError(f"{data}: folder not found")
            image_dir = data / "images" if (data / "images").is_dir() else data
        else:
            image_dir = landmarks.parent
        problems: list[str] = []
        reader = read_long_csv if landmarks.suffix.lower() == ".csv" else read_tps
        specimens = reader(landmarks, image_dir=image_dir, problems=problems)
        check_specimens(specimens, landmarks, allow_missing=True, problems=problems)
        part = PartData(landmarks.stem, specimens, image_dir)
    return part


def split_specimens(count: int, fraction: float = DEFAULT_VALIDATION, seed: int = DEFAULT_SEED):
    """``(train, validation)`` sorted index arrays: a seeded permutation,
    ``round(fraction × count)`` held out, at least one when ``count >= 5``
    and ``fraction > 0``, and always at least two left to train on."""
    if not 0 <= fraction < 1:
        raise BeetlesError(f"--validation {fraction:g}: give a fraction in [0, 1), e.g. 0.1")
    if count < 2:
        raise DataError(f"{count} specimen(s): training needs at least 2")
    n_valid = int(round(count * fraction))
    if fraction > 0 and count >= 5:
        n_valid = max(1, n_valid)
    n_valid = max(0, min(n_valid, count - 2))
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


class FixedSplit:
    """A ``train_split`` for nolearn (``__call__``) and :class:`beetles.torch_engine.TorchNet`
    (``indices``): the first ``n_train`` rows train, the rest validate."""

    def __init__(self, n_train: int):
        self.n_train = int(n_train)

    def indices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.arange(self.n_train), np.arange(self.n_train, n)

    def __call__(self, X, y, net):
        train, valid = self.indices(len(X))
        return X[train], X[valid], y[train], y[valid]


# --------------------------------------------------------------------------
# The loaded model


def _gray(networks) -> np.ndarray:
    """RGB ``(B, 192, 256, 3)`` uint8 → the paper's input ``(B, 1, 192, 256)`` float32 in [0, 1]."""
    from beetles.augment import luma
    from beetles.preprocess import to_input

    return to_input(np.stack([luma(image) for image in networks]))[:, None]


class Landmarker:
    """A trained model, ready to place landmarks: :meth:`decode` a photo,
    :meth:`predict_network` a batch in the network frame, or :meth:`predict`
    decoded photos in their own pixels.

    ``net``: a :class:`beetles.heatmap.HeatmapNet` (compact models) or
    ``module``: a :class:`beetles.torch_engine.LandmarkNet` (models 1-3)."""

    def __init__(self, model, n_landmarks: int, net=None, module=None):
        self.model, self.n_landmarks = model, int(n_landmarks)
        self.net, self.module = net, module

    # loading ----------------------------------------------------------------
    @classmethod
    def load(cls, folder) -> "Landmarker":
        """The model in ``folder`` (what :func:`train` wrote), with clear
        errors naming the file for a missing folder or file, or weights that
        do not fit the settings (another landmark count, another model)."""
        settings = read_settings(folder)
        return cls.from_files(folder, settings)

    @classmethod
    def from_files(cls, folder, settings: dict) -> "Landmarker":
        from beetles.models import is_compact_model, parse_model
        from beetles.training import WeightsError

        folder = Path(folder)
        try:
            model = parse_model(settings["model"])
            n_landmarks = int(settings["landmarks"])
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"{folder / SETTINGS_JSON}: no usable 'model' and 'landmarks' ({error})") from None
        if is_compact_model(model):
            path = folder / MODEL_PT
            state = _load_state(path)
            saved_model, saved_n = state.get("model"), state.get("n_landmarks")
            if saved_model != model:
                raise WeightsError(f"{path}: weights of a '{saved_model}' model, but {SETTINGS_JSON} says '{model}'")
            if saved_n is not None and int(saved_n) != n_landmarks:
                raise WeightsError(f"{path}: weights for {int(saved_n)} landmarks, but {SETTINGS_JSON} says "
                                   f"{n_landmarks}")
            return cls.from_compact_params(model, n_landmarks, state["params"], source=path)
        path = folder / PARAMS_NPZ
        if not path.is_file():
            raise DataError(f"{path}: weight file not found (the model folder is incomplete)")
        from beetles.training import read_params

        try:
            params = read_params(path)
        except (OSError, ValueError) as error:
            raise WeightsError(f"{path}: cannot read the weights ({error})") from None
        return cls.from_paper_params(model, n_landmarks, params, source=path)

    @classmethod
    def from_compact_params(cls, model, n_landmarks: int, params, source=None) -> "Landmarker":
        from beetles.heatmap import HeatmapNet

        net = HeatmapNet(model, n_landmarks, max_epochs=1, device="cpu", seed=None)
        net.set_params({k: np.asarray(v) for k, v in params.items()}, source=source)
        return cls(model, n_landmarks, net=net)

    @classmethod
    def from_paper_params(cls, model, n_landmarks: int, params, source=None) -> "Landmarker":
        import torch

        from beetles.torch_engine import LandmarkNet, set_torch_params, use_all_cores

        use_all_cores()
        with torch.device("meta"):  # no initialisation: every weight is loaded (model 3: 92 M of them)
            module = LandmarkNet(model, n_landmarks)
        module = module.to_empty(device="cpu")
        set_torch_params(module, params, source=source)
        module.eval()
        return cls(model, n_landmarks, module=module)

    # properties -------------------------------------------------------------
    @property
    def compact(self) -> bool:
        return self.net is not None

    @property
    def fine_scale(self) -> int | None:
        """The fine photo's scale for ``cascade``, else ``None``."""
        from beetles.heatmap import FINE_SCALE

        return FINE_SCALE if self.model == "cascade" else None

    @property
    def uses_dropout(self) -> bool:
        """Whether the paper's net has dropout layers (model 3)."""
        from beetles.torch_engine import DROPOUT

        return self.module is not None and any(
            kind == DROPOUT and getattr(self.module, name).p > 0 for name, kind in self.module.layers)

    def uncertainty(self) -> str:
        """What the spread is, in words (settings.json, the README)."""
        if self.model in ("heatmap", "cascade"):
            return "standard deviation of the model's probability map around its estimate"
        if self.model == "regress":
            return "spread of the estimates over 8 test-time augmentations"
        if self.uses_dropout:
            return "Monte-Carlo dropout: standard deviation over the passes (the mean is the estimate)"
        return "spread of the estimates over test-time augmentations (the model has no dropout)"

    # prediction -------------------------------------------------------------
    def decode(self, path, name=None):
        """``(network (192, 256, 3) uint8, fine or None, Letterbox)`` of the photo
        at ``path`` (:func:`beetles.preprocess.letterbox_rgb`); a
        :class:`DataError` naming it when it cannot be read, or, for models
        1-3, when it is not 4:3."""
        from beetles.preprocess import check_aspect, letterbox_rgb

        network, fine, letterbox = letterbox_rgb(path, name, fine_scale=self.fine_scale)
        if not self.compact:
            check_aspect((letterbox.photo_width, letterbox.photo_height), f"{path}")
        return network, fine, letterbox

    def predict_network(self, networks, fines=None, passes: int = DEFAULT_PASSES):
        """Landmarks ``(B, n, 2)`` and spread ``(B, n)`` in network pixels
        (y down; spread ``nan`` when there is none) for ``networks``
        ``(B, 192, 256, 3)`` uint8 (and ``fines`` ``(B, 768, 1024, 3)`` for cascade)."""
        from beetles.frames import denormalise
        from beetles.preprocess import Photos

        networks = np.asarray(networks)
        if self.compact:
            fine = None if fines is None else np.ascontiguousarray(np.asarray(fines).transpose(0, 3, 1, 2))
            outputs, spread = self.net.predict_with_spread(Photos(networks.transpose(0, 3, 1, 2), fine))
            return denormalise(outputs), np.asarray(spread, np.float64)
        return self._predict_paper(_gray(networks), passes)

    def _predict_paper(self, X, passes: int):
        """Models 1-3 on gray inputs ``(B, 1, 192, 256)``: see the module docstring."""
        import torch

        from beetles.frames import denormalise

        module = self.module
        images = torch.from_numpy(np.ascontiguousarray(X, np.float32))
        with torch.no_grad():
            module.eval()
            if passes <= 1:
                base = module(images).numpy()
                return denormalise(base), np.full(base.shape[:1] + (self.n_landmarks,), np.nan)
            if self.uses_dropout:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)  # the same masks for the same photos: reproducible files
                    module.train()
                    try:
                        runs = np.stack([module(images).numpy() for _ in range(passes)])
                    finally:
                        module.eval()
                samples = denormalise(runs)  # (passes, B, n, 2)
                points = samples.mean(axis=0)
            else:
                from beetles.heatmap import tta_runs

                runs = tta_runs(lambda x: module(x).view(len(x), -1, 2), images, passes)
                samples = denormalise(runs.reshape(passes, len(images), -1))
                points = denormalise(module(images).numpy())
        spread = np.sqrt(samples.var(axis=0).sum(-1))
        return points, spread

    def predict(self, decoded, passes: int = DEFAULT_PASSES):
        """For ``decoded`` photos (what :meth:`decode` returns), landmarks
        ``(B, n, 2)`` in each photo's own pixels (upright, y down) and the
        spread ``(B, n)`` in the same pixels."""
        networks = np.stack([d[0] for d in decoded])
        fines = np.stack([d[1] for d in decoded]) if self.fine_scale else None
        points, spread = self.predict_network(networks, fines, passes)
        photo = np.stack([to_photo(d[2], p) for d, p in zip(decoded, points, strict=True)])
        spread_photo = np.stack([s / d[2].scale for d, s in zip(decoded, spread, strict=True)])
        return photo, spread_photo


def to_photo(box, points) -> np.ndarray:
    """Network points ``(..., 2)`` → the photo's pixels (:meth:`~beetles.frames.Letterbox.to_photo`),
    kept inside the photo: an estimate in the padding right of or below the
    photo moves to its edge (a TPS file would read a negative coordinate as
    a missing landmark)."""
    photo = box.to_photo(points)
    photo[..., 0] = np.clip(photo[..., 0], 0, box.photo_width)
    photo[..., 1] = np.clip(photo[..., 1], 0, box.photo_height)
    return photo


def _load_state(path: Path) -> dict:
    from beetles.training import WeightsError

    if not path.is_file():
        raise DataError(f"{path}: weight file not found (the model folder is incomplete)")
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise WeightsError(f"{path}: cannot read the weights ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or "params" not in state:
        raise WeightsError(f"{path}: not a beetles model file (no 'params')")
    state["params"] = {k: v.numpy() if hasattr(v, "numpy") else np.asarray(v) for k, v in state["params"].items()}
    return state


def read_settings(folder) -> dict:
    """``folder/settings.json``; a clear error when the folder is not a model folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: model folder not found")
    path = folder / SETTINGS_JSON
    if not path.is_file():
        raise DataError(f"{folder}: not a model folder (no {SETTINGS_JSON}); train one with "
                        f"'beetles train --data DIR --out {folder}'")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(settings, dict):
        raise DataError(f"{path}: expected a JSON object")
    return settings


# --------------------------------------------------------------------------
# Training


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise BeetlesError(f"{out}: exists and is not a folder")
    present = [name for name in MODEL_FILES if (out / name).exists()]
    if present and not force:
        raise BeetlesError(f"{out}: already holds a model ({', '.join(present)}); use --force to replace it, "
                           "or choose another --out")


def _train_engine(engine, model) -> str:
    """The engine that trains ``model``: as everywhere in beetles
    (:func:`beetles.engines.resolve_engine`), Theano for models 1-3 unless
    ``--engine torch``, PyTorch for the compact models."""
    from beetles.engines import resolve_engine

    return resolve_engine(engine, model)


def train(data=None, out=None, landmarks=None, model=DEFAULT_MODEL, epochs: int | None = None,
          minutes: float | None = None, engine: str | None = None, device: str = "cpu",
          validation: float = DEFAULT_VALIDATION, seed: int = DEFAULT_SEED, progress: bool = True,
          force: bool = False, command: str | None = None, log=print) -> dict:
    """Train ``model`` on the landmarked photos of ``data`` / ``landmarks``
    (:func:`load_training_data`) and write the model folder ``out`` (see the
    module docstring).  Returns the validation summary (``validation.json``)
    with ``settings`` added.  ``log`` prints the lines a user reads."""
    from beetles.models import is_compact_model, parse_model

    started = time.perf_counter()
    if out is None:
        raise BeetlesError("give --out MODEL_DIR")
    out = Path(out)
    try:
        model = parse_model(model)
    except ValueError as error:
        raise BeetlesError(str(error)) from None
    engine_name = _train_engine(engine, model)
    if epochs is not None and epochs < 1:
        raise BeetlesError(f"--epochs {epochs}: give at least 1")
    if minutes is not None and minutes <= 0:
        raise BeetlesError(f"--minutes {minutes:g}: give a positive budget")
    if not is_compact_model(model):
        if epochs is None and minutes is None:
            raise BeetlesError(
                f"--model {model}: the paper's models have no sensible CPU default (the paper trained 5000 epochs, "
                "days on a CPU): give --epochs N or --minutes M, or use the default model, cascade")
        if minutes is not None and engine_name == "theano":
            raise BeetlesError("--minutes needs --engine torch (nolearn's loop has no time budget)")
    if not 0 <= validation < 1:
        raise BeetlesError(f"--validation {validation:g}: give a fraction in [0, 1), e.g. 0.1")
    from beetles.engines import make_engine

    make_engine(engine_name, device, model=model)  # an unusable engine or device fails before the photos load
    _check_out(out, force)
    part = load_training_data(data, landmarks)
    train_index, valid_index = split_specimens(len(part), validation, seed)
    training = [part[i] for i in train_index]
    held_out = [part[i] for i in valid_index]
    log(f"beetles train: model {model}, {part.n_landmarks} landmarks, {len(part)} specimens "
        f"({len(training)} to train, {len(held_out)} held out for validation), engine {engine_name} on {device}")
    out.mkdir(parents=True, exist_ok=True)
    if is_compact_model(model):
        landmarker, history, engine_text, valid_decoded = _train_compact(
            model, training, held_out, out, epochs, minutes, device, seed, progress)
        model_file = MODEL_PT
    else:
        landmarker, history, engine_text = _train_paper(
            model, training, held_out, out, epochs, minutes, engine_name, device, seed, progress)
        valid_decoded = [landmarker.decode(s.image, s.name) for s in held_out]
        model_file = PARAMS_NPZ
    for name in (MODEL_PT, PARAMS_NPZ):  # --force: a model of the other kind must not stay behind
        if name != model_file and (out / name).exists():
            (out / name).unlink()
    _plot_losses(out, model)
    summary = validate(landmarker, training, held_out, valid_decoded)
    write_validation(out, summary)
    settings = _settings(part, model, landmarker, engine_name, engine_text, device, data, landmarks, training,
                         held_out, validation, seed, epochs, minutes, history, model_file,
                         time.perf_counter() - started, command)
    write_text(out / SETTINGS_JSON, json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
    for line in summary_lines(summary):
        log(line)
    log(f"model folder: {out} ({model_file}, {SETTINGS_JSON}, losses.csv, fig_losses.png, validation.csv, "
        "validation.json)")
    return {**summary, "settings": settings}


def _epoch_log(out: Path, total, progress: bool):
    from beetles.training import EpochLog

    return EpochLog(out / "losses.csv", total=total, desc="epochs", progress=progress)


def _decode_all(specimens, fine_scale, progress: bool):
    """Decode ``specimens``' photos letterboxed into preallocated arrays:
    ``network (N, 3, 192, 256)``, ``fine (N, 3, 768, 1024)`` or ``None``, letterboxes."""
    from beetles.preprocess import letterbox_rgb

    network, fine, boxes, problems = None, None, [], []
    for index, specimen in enumerate(tqdm(specimens, desc="photos", unit="img", disable=not progress,
                                          leave=False)):
        small, large, box = letterbox_rgb(specimen.image, specimen.name, fine_scale=fine_scale)
        if network is None:
            network = np.empty((len(specimens), *small.transpose(2, 0, 1).shape), np.uint8)
            if large is not None:
                fine = np.empty((len(specimens), *large.transpose(2, 0, 1).shape), np.uint8)
        network[index] = small.transpose(2, 0, 1)
        if fine is not None:
            fine[index] = large.transpose(2, 0, 1)
        if (box.photo_width, box.photo_height) != tuple(specimen.frame.size):
            problems.append(f"{specimen.image}: decoded as {box.photo_width}×{box.photo_height}, but its landmarks "
                            f"are in a {specimen.frame.width:g}×{specimen.frame.height:g} frame")
        boxes.append(box)
    if problems:
        raise DataError("photos whose size does not match their landmarks:\n  " + "\n  ".join(problems[:10]))
    return network, fine, boxes


def _train_compact(model, training, held_out, out, epochs, minutes, device, seed, progress):
    """Train a compact model on letterboxed RGB photos; the held-out
    specimens give the validation loss of every epoch."""
    from beetles.frames import normalise
    from beetles.heatmap import HeatmapNet
    from beetles.preprocess import Photos

    specimens = training + held_out
    fine_scale = _fine_scale(model)
    network, fine, boxes = _decode_all(specimens, fine_scale, progress)
    targets = np.stack([normalise(box.to_network(s.landmarks)) for s, box in zip(specimens, boxes, strict=True)])
    n_train = len(training)
    stages = 2 if model == "cascade" else 1
    total = None if minutes is not None and epochs is None else stages * (epochs or _default_compact_epochs())
    log = _epoch_log(out, total, progress)
    net = HeatmapNet(model, training[0].n_landmarks, max_epochs=epochs, minutes=minutes, on_epoch_finished=[log],
                     device=device, seed=seed)
    # The net validates on the held-out specimens (the last rows), not on a split of its own.
    net.split = lambda count: (np.arange(n_train), np.arange(n_train, count))
    try:
        net.fit(Photos(network, fine), targets)
    finally:
        log.close()
    from beetles.engines import make_engine

    make_engine("torch", device, model=model).save_whole(net, out / MODEL_PT)
    landmarker = Landmarker(model, training[0].n_landmarks, net=net)
    valid = [(network[i].transpose(1, 2, 0), None if fine is None else fine[i].transpose(1, 2, 0), boxes[i])
             for i in range(n_train, len(specimens))]
    import torch

    from beetles.torch_engine import device_description

    return landmarker, net.train_history_, f"torch {torch.__version__} ({device_description(net.device)})", valid


def _fine_scale(model):
    from beetles.heatmap import FINE_SCALE

    return FINE_SCALE if model == "cascade" else None


def _default_compact_epochs() -> int:
    from beetles.heatmap import DEFAULT_EPOCHS

    return DEFAULT_EPOCHS


def _train_paper(model, training, held_out, out, epochs, minutes, engine_name, device, seed, progress):
    """Train model 1, 2 or 3 as the paper did (gray, seven-fold augmentation,
    nolearn's loop on either engine); writes ``params.npz``."""
    from sklearn.utils import shuffle

    from beetles.engines import make_engine, save_params
    from beetles.experiment import Schedule
    from beetles.preprocess import check_aspect, network_arrays

    problems = []
    for specimen in training + held_out:
        try:
            check_aspect(specimen.frame.size, f"{specimen.image}")
        except DataError as error:
            problems.append(str(error))
    if problems:
        raise DataError(f"--model {model} needs 4:3 photos ({len(problems)} are not; the compact models, e.g. "
                        "the default cascade, take any aspect ratio):\n  " + "\n  ".join(problems[:10]))
    missing = [f"{s.image}: landmark(s) {(np.flatnonzero(s.missing) + 1).tolist()} missing"
               for s in training + held_out if s.missing.any()]
    if missing:
        raise DataError(f"--model {model} cannot learn from missing landmarks (the compact models can):\n  "
                        + "\n  ".join(missing[:10]))
    engine = make_engine(engine_name, device, model=model)
    schedule = Schedule.for_model(model, epochs=epochs, minutes=minutes)
    schedule.seed = seed
    X, y, _ = network_arrays(training, augment=True, progress=progress, desc="training photos (×7)")
    X, y = shuffle(X, y, random_state=seed)
    n_train = len(X)
    if held_out:
        X_valid, y_valid, _ = network_arrays(held_out, augment=False, progress=progress, desc="validation photos")
        X, y = np.concatenate([X, X_valid]), np.concatenate([y, y_valid])
    log = _epoch_log(out, schedule.epochs if minutes is None else None, progress)
    net = engine.build(model, training[0].n_landmarks, schedule, on_epoch_finished=[log])
    if held_out:
        net.train_split = FixedSplit(n_train)  # validate on the held-out specimens
    try:
        net.fit(X, y)
    finally:
        log.close()
    if len(net.train_history_) < net.max_epochs:
        raise KeyboardInterrupt(f"training stopped after {len(net.train_history_)} of {net.max_epochs} epochs")
    params = engine.params(net)
    save_params(params, out / PARAMS_NPZ)
    if engine_name == "torch":
        landmarker = Landmarker(model, training[0].n_landmarks, module=net.module.cpu().eval())
    else:
        landmarker = Landmarker.from_paper_params(model, training[0].n_landmarks, params)
    return landmarker, net.train_history_, engine.describe()


def _plot_losses(out: Path, model) -> None:
    from beetles.reporting import plot_losses
    from beetles.training import read_losses

    path = out / "losses.csv"
    if not path.is_file():
        return
    title = f"model {model}: loss per epoch"
    if model == "cascade":
        title += " (coarse network, then refiner)"
    plot_losses(read_losses(path), out / "fig_losses.png", title)


# --------------------------------------------------------------------------
# Validation


def validate(landmarker: Landmarker, training, held_out, decoded) -> dict:
    """Errors of ``landmarker`` on the ``held_out`` specimens (``decoded``:
    their photos as :meth:`Landmarker.decode` gives them), in the photos'
    pixels and in network pixels, next to the trivial predictor that always
    answers the training specimens' mean landmarks (in the network frame);
    and how well the spread ranks the errors."""
    from beetles.experiment import spread_summary
    from beetles.frames import Letterbox

    n = landmarker.n_landmarks
    summary = {"specimens": len(held_out), "names": [s.name for s in held_out], "landmarks": n}
    if not held_out:
        summary["note"] = "no validation specimens (fewer than 5 specimens, or --validation 0)"
        return summary
    train_net = np.stack([Letterbox.for_size(s.frame.size).to_network(s.landmarks) for s in training])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a landmark missing in every training specimen
        mean_shape = np.nanmean(train_net, axis=0)  # (n, 2), network frame
    predicted, spread_net = [], []
    for start in range(0, len(decoded), BATCH):
        part = decoded[start:start + BATCH]
        fines = np.stack([d[1] for d in part]) if landmarker.fine_scale else None
        points, spread = landmarker.predict_network(np.stack([d[0] for d in part]), fines)
        predicted.append(points)
        spread_net.append(spread)
    predicted, spread_net = np.concatenate(predicted), np.concatenate(spread_net)
    boxes = [d[2] for d in decoded]
    manual = np.stack([s.landmarks for s in held_out])
    manual_net = np.stack([b.to_network(m) for b, m in zip(boxes, manual, strict=True)])
    predicted_photo = np.stack([to_photo(b, p) for b, p in zip(boxes, predicted, strict=True)])
    predicted = np.stack([b.to_network(p) for b, p in zip(boxes, predicted_photo, strict=True)])
    trivial_photo = np.stack([b.to_photo(mean_shape) for b in boxes])
    scale = np.array([b.scale for b in boxes])[:, None]
    errors = {
        "photo": np.linalg.norm(predicted_photo - manual, axis=-1),
        "network": np.linalg.norm(predicted - manual_net, axis=-1),
        "trivial_photo": np.linalg.norm(trivial_photo - manual, axis=-1),
        "trivial_network": np.linalg.norm(mean_shape[None] - manual_net, axis=-1),
    }
    spread_photo = spread_net / scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a landmark missing in every held-out specimen
        per_landmark = {key: np.nanmean(value, axis=0) for key, value in errors.items()}
        per_landmark["spread_photo"] = np.nanmean(spread_photo, axis=0)
        per_landmark["spread_network"] = np.nanmean(spread_net, axis=0)
        means = {key: float(np.nanmean(value)) for key, value in per_landmark.items()}
    confidence = spread_summary(spread_photo, errors["photo"])
    summary.update({
        "mean_error_photo_px": means["photo"],
        "mean_error_network_px": means["network"],
        "trivial_error_photo_px": means["trivial_photo"],
        "trivial_error_network_px": means["trivial_network"],
        "ratio_to_trivial": means["network"] / means["trivial_network"] if means["trivial_network"] else None,
        "mean_spread_photo_px": confidence["mean_spread_px"],
        "mean_spread_network_px": means["spread_network"],
        "spread_error_spearman_landmarks": confidence["spread_error_spearman"],
        "spread_error_spearman_specimens": confidence["spread_error_spearman_per_specimen"],
        "uncertainty": landmarker.uncertainty(),
        "per_landmark": {key: [None if np.isnan(v) else float(v) for v in value]
                         for key, value in per_landmark.items()},
        "specimens_per_landmark": np.isfinite(errors["photo"]).sum(axis=0).tolist(),
    })
    return summary


VALIDATION_COLUMNS = ["landmark", "error_photo_px", "error_network_px", "spread_photo_px", "spread_network_px",
                      "trivial_error_photo_px", "specimens"]


def write_validation(out: Path, summary: dict) -> None:
    """``validation.csv`` (per landmark) and ``validation.json`` (the summary)."""
    from beetles.reporting import write_table

    rows = []
    per = summary.get("per_landmark")
    if per:
        for k in range(summary["landmarks"]):
            rows.append([k + 1, per["photo"][k], per["network"][k], per["spread_photo"][k],
                         per["spread_network"][k], per["trivial_photo"][k], summary["specimens_per_landmark"][k]])
    write_table(out / "validation.csv", VALIDATION_COLUMNS, rows)
    write_text(out / "validation.json", json.dumps(summary, indent=2) + "\n")


def summary_lines(summary: dict) -> list[str]:
    """The validation summary a user reads after training."""
    if not summary.get("specimens"):
        return [f"validation: {summary.get('note', 'no validation specimens')}"]
    lines = [
        f"validation on {summary['specimens']} held-out specimen(s): mean error "
        f"{summary['mean_error_photo_px']:.2f} px in the photos ({summary['mean_error_network_px']:.2f} px at "
        f"256×192); trivial mean-shape predictor {summary['trivial_error_photo_px']:.2f} px "
        f"({summary['trivial_error_network_px']:.2f} px)",
    ]
    if summary.get("mean_spread_photo_px") is not None:
        rho = summary.get("spread_error_spearman_landmarks")
        rho_s = summary.get("spread_error_spearman_specimens")
        text = f"  mean spread {summary['mean_spread_photo_px']:.2f} px"
        if rho is not None:
            text += f"; rank correlation of spread with error {rho:.2f} over landmarks"
            if rho_s is not None:
                text += f", {rho_s:.2f} over specimens"
        lines.append(text)
    ratio = summary.get("ratio_to_trivial")
    if ratio is not None and ratio >= 1:
        lines.append("  The model has not learned past the trivial predictor: train longer (--epochs, --minutes) "
                     "or on more photos.")
    return lines


def _settings(part, model, landmarker, engine_name, engine_text, device, data, landmarks, training, held_out,
              validation, seed, epochs, minutes, history, model_file, seconds, command) -> dict:
    import beetles
    from beetles.experiment import stack_versions
    from beetles.frames import NETWORK

    return {
        "format": SETTINGS_FORMAT,
        "model": str(model),
        "landmarks": int(part.n_landmarks),
        "model_file": model_file,
        "engine": engine_name,
        "engine_description": engine_text,
        "device": device,
        "input": "RGB" if landmarker.compact else "gray (Pillow luma), pixels / 255",
        "photo_fitting": FITTING if landmarker.compact else PAPER_FITTING,
        "network_size": [int(NETWORK.width), int(NETWORK.height)],
        "fine_scale": landmarker.fine_scale,
        "uncertainty": landmarker.uncertainty(),
        "data": {"folder": None if data is None else str(Path(data).resolve()),
                 "landmarks": None if landmarks is None else str(Path(landmarks).resolve())},
        "specimens": {"total": len(part), "training": len(training), "validation": len(held_out),
                      "validation_fraction": validation, "seed": seed,
                      "training_names": [s.name for s in training],
                      "validation_names": [s.name for s in held_out]},
        "epochs": {"requested": epochs, "minutes": minutes, "done": len(history),
                   **({"note": "cascade trains its coarse network, then its refiner: both stages' epochs"}
                      if model == "cascade" else {})},
        "seconds": round(seconds, 1),
        "versions": {"beetles": beetles.__version__, **stack_versions()},
        "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


# --------------------------------------------------------------------------
# Prediction


def expand_inputs(inputs) -> list[Path]:
    """Photo paths from files and folders (a folder: its files with an image
    suffix, sorted, not recursive); errors for a path that does not exist,
    an empty folder, or no photos at all."""
    photos = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DataError(f"{path}: no photos in this folder (looked for {', '.join(IMAGE_SUFFIXES)})")
            photos.extend(found)
        elif path.is_file():
            photos.append(path)
        else:
            raise DataError(f"{path}: no such file or folder")
    if not photos:
        raise DataError("no photos given")
    return list(dict.fromkeys(photos))


def _names(paths) -> tuple[list[str], Path | None]:
    """The names the outputs give the photos: file names, or paths relative
    to their common folder when two photos share a file name."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names, None
    resolved = [p.resolve() for p in paths]
    common = Path(os.path.commonpath([str(p.parent) for p in resolved]))
    return [p.relative_to(common).as_posix() for p in resolved], common


_READ_ERRORS = (DataError, OSError, ValueError, SyntaxError)


def predict(model_dir, inputs, out, csv=None, overlays=None, review_threshold: float | None = None,
            passes: int = DEFAULT_PASSES, progress: bool = True, log=print, warn=None) -> dict:
    """Place the landmarks of the model in ``model_dir`` on the photos of
    ``inputs`` (files and folders); write the TPS ``out`` (photo pixels, y
    up, ``IMAGE=`` the file name), and optionally the long CSV ``csv``
    (``image,landmark,x,y,spread_px``, y down), the review list
    (``<out stem>_review.csv``: landmarks whose spread exceeds
    ``review_threshold`` photo pixels) and overlays in ``overlays``.  A photo
    that cannot be read is reported (``warn``) and skipped.  Returns
    ``{"photos", "skipped": [(path, reason)], "review": rows, "files"}``."""
    from beetles.formats.tps import write_tps
    from beetles.frames import photo_frame
    from beetles.specimen import Specimen

    warn = warn or (lambda text: print(text, file=sys.stderr))
    if passes < 1:
        raise BeetlesError(f"--passes {passes}: give at least 1")
    if review_threshold is not None and review_threshold < 0:
        raise BeetlesError(f"--review-threshold {review_threshold:g}: give a number of pixels >= 0")
    out = Path(out)
    if out.suffix.lower() != ".tps":
        raise BeetlesError(f"--out {out}: give a .tps file name")
    landmarker = Landmarker.load(model_dir)
    photos = expand_inputs(inputs)
    done, skipped, batch = [], [], []

    def flush():
        if not batch:
            return
        points, spread = landmarker.predict([d for _, d in batch], passes)
        done.extend((path, d[2], p, s) for (path, d), p, s in zip(batch, points, spread, strict=True))
        batch.clear()

    bar = tqdm(photos, desc="photos", unit="img", disable=not progress, leave=False)
    for path in bar:
        try:
            decoded = landmarker.decode(path)
        except _READ_ERRORS as error:
            reason = str(error)
            skipped.append((path, reason))
            bar.clear()
            warn(f"skipped {path}: {reason}")
            continue
        batch.append((path, decoded))
        if len(batch) >= BATCH:
            flush()
    flush()
    bar.close()
    if not done:
        raise DataError(f"none of the {len(photos)} photo(s) could be read; nothing written")
    names, image_dir = _names([path for path, *_ in done])
    specimens = [
        Specimen(path.resolve() if image_dir else path, points, photo_frame(box.photo_width, box.photo_height))
        for path, box, points, _ in done
    ]
    files = [write_tps(out, specimens, image_dir=image_dir)]
    if csv is not None:
        files.append(write_predictions_csv(csv, names, [d[2] for d in done], [d[3] for d in done]))
    review = []
    if review_threshold is not None:
        review = [[name, k + 1, float(p[k, 0]), float(p[k, 1]), float(s[k])]
                  for name, (_, _, p, s) in zip(names, done, strict=True) for k in range(len(s))
                  if np.isfinite(s[k]) and s[k] > review_threshold]
        from beetles.reporting import write_table

        path = out.with_name(f"{out.stem}_review.csv")
        files.append(write_table(path, ["image", "landmark", "x", "y", "spread_px"], review))
        if review:
            log(f"review: {len(review)} landmark(s) with a spread over {review_threshold:g} px (in {path}):")
            for name, k, x, y, s in review:
                log(f"  {name} landmark {k}: x {x:.1f}, y {y:.1f} (y down), spread {s:.1f} px")
        else:
            log(f"review: no landmark has a spread over {review_threshold:g} px")
    if overlays is not None:
        used: set[str] = set()
        for path, box, points, spread in done:
            try:
                files.append(write_overlay(Path(overlays), path, box, points, spread, used))
            except _READ_ERRORS as error:
                skipped.append((path, f"overlay not written: {error}"))
                warn(f"overlay of {path} not written: {error}")
    log(f"landmarks of {len(done)} photo(s) written to {out}" + (f"; {len(skipped)} skipped" if skipped else ""))
    return {"photos": len(done), "skipped": skipped, "review": review, "files": files}


def write_predictions_csv(path, names, points, spreads) -> Path:
    """``image,landmark,x,y,spread_px`` (photo pixels, y down, landmarks from
    1; an empty spread: none), atomically; :func:`beetles.formats.tables.read_long_csv`
    reads it back (it ignores ``spread_px``)."""
    from beetles.reporting import write_table

    rows = [[name, k + 1, float(p[k, 0]), float(p[k, 1]), float(s[k])]
            for name, p, s in zip(names, points, spreads, strict=True) for k in range(len(p))]
    return write_table(path, ["image", "landmark", "x", "y", "spread_px"], rows)


_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4",
            "#469990", "#9a6324", "#800000", "#808000", "#000075"]


def overlay_photo(path, width: int = OVERLAY_WIDTH):
    """The photo upright (EXIF orientation applied) as RGB, at most ``width``
    pixels wide (JPEG draft mode for large photos)."""
    from PIL import Image

    from beetles.images import load_rgb

    image = load_rgb(path, reduce_to=(width, 1))
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    return image


def write_overlay(folder: Path, path: Path, box, points, spread, used: set) -> Path:
    """Draw numbered ``points`` (photo pixels) and circles of radius
    ``spread`` on the photo at ``path``; JPEG for JPEG photos, else PNG."""
    from PIL import ImageDraw, ImageFont

    image = overlay_photo(path)
    sx, sy = image.width / box.photo_width, image.height / box.photo_height
    draw = ImageDraw.Draw(image)
    dot = max(2.0, image.width / 400)
    font = ImageFont.load_default(size=max(12, image.width // 70))
    for k, ((x, y), s) in enumerate(zip(points, spread, strict=True)):
        if not np.isfinite([x, y]).all():
            continue
        colour = _COLOURS[k % len(_COLOURS)]
        cx, cy = x * sx, y * sy
        if np.isfinite(s):
            r = max(float(s) * sx, dot + 1)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=max(1, int(dot / 2)))
        draw.ellipse([cx - dot, cy - dot, cx + dot, cy + dot], fill=colour, outline="white")
        draw.text((cx + 2 * dot, cy - 2 * dot), str(k + 1), fill=colour, font=font, stroke_width=2,
                  stroke_fill="white", anchor="ls")
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    suffix = ".jpg" if jpeg else ".png"
    name, count = f"{path.stem}{suffix}", 1
    while name in used:
        count += 1
        name = f"{path.stem}_{count}{suffix}"
    used.add(name)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG" if jpeg else "PNG", **({"quality": 90} if jpeg else {}))
    return write_bytes(folder / name, buffer.getvalue())
