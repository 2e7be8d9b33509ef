"""dlib's shape predictor as ml-morph trains it: the contender biologists use today.

ml-morph (Porto and Voje 2020) is dlib's shape predictor, a cascade of
ensembles of regression trees (Kazemi and Sullivan 2014), trained with the
parameters of its ``shape_trainer.py`` (:data:`ML_MORPH_OPTIONS`; every other
option is dlib's default) on gray photos at full resolution, each specimen
given a box.  Two boxes (:data:`BOXES`): ``whole`` (the whole photo: what a
user gets without drawing a box per photo; ml-morph's own HOG detector
cannot train on specimens of varied aspect ratio) and ``true`` (the extent
of the true landmarks, at training and at prediction: a reference no user
gets).  Photos reach dlib as 8-bit gray, ``(R + G + B) // 3``, dlib's own
conversion; landmarks are integer pixels (``dlib.point``), y down.

dlib is not a dependency of beetles: ``pip install dlib-bin`` installs a
prebuilt wheel (:func:`import_dlib` gives ``None`` without it).
"""
from __future__ import annotations

import os
import time

import numpy as np
from tqdm import tqdm

from beetles.core.errors import BeetlesError, DataError
from beetles.core.images import load_rgb
from beetles.core.specimen import Specimen

#: ml-morph's published shape-predictor parameters (``shape_trainer.py``).
ML_MORPH_OPTIONS = {
    "tree_depth": 3,
    "cascade_depth": 20,
    "nu": 0.08,
    "oversampling_amount": 200,
    "feature_pool_size": 700,
}
INSTALL_HINT = ("dlib is not installed (it is not a dependency of beetles): `pip install dlib-bin` installs a "
                "prebuilt wheel, `pip install dlib` compiles it (about 15 minutes)")


def import_dlib():
    """The dlib module, or ``None`` when it is not installed."""
    try:
        import dlib
    except ImportError:
        return None
    return dlib


def gray_pixels(path, label: str | None = None) -> np.ndarray:
    """The photo as dlib sees it: ``(h, w)`` uint8, ``(R + G + B) // 3``."""
    rgb = np.asarray(load_rgb(path, label), dtype=np.uint16)
    return (rgb.sum(axis=2) // 3).astype(np.uint8)


def whole_photo_box(specimen: Specimen) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)``, inclusive: the whole photo."""
    return (0, 0, int(specimen.frame.width) - 1, int(specimen.frame.height) - 1)


def landmark_box(specimen: Specimen) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)``: the extent of the true landmarks (photo pixels)."""
    points = specimen.landmarks[np.isfinite(specimen.landmarks).all(-1)]
    low, high = np.floor(points.min(0)).astype(int), np.ceil(points.max(0)).astype(int)
    return (int(low[0]), int(low[1]), int(max(high[0], low[0] + 1)), int(max(high[1], low[1] + 1)))


#: The boxes dlib is given, by name (see the module docstring).
BOXES = {"whole": whole_photo_box, "true": landmark_box}


def integer_points(landmarks) -> list[tuple[int, int]]:
    """Photo-frame landmarks (y down) as dlib's integer points, rounded."""
    return [(int(x), int(y)) for x, y in np.rint(np.asarray(landmarks, dtype=np.float64))]


def training_options(dlib, **overrides):
    """dlib's ``shape_predictor_training_options`` with ml-morph's parameters,
    ``num_threads`` = the CPU count, quiet; ``overrides`` change any of them."""
    options = dlib.shape_predictor_training_options()
    settings = {**ML_MORPH_OPTIONS, "num_threads": os.cpu_count() or 1, "be_verbose": False, **overrides}
    for name, value in settings.items():
        if not hasattr(options, name):
            raise BeetlesError(f"dlib's shape_predictor_training_options has no option {name!r}")
        setattr(options, name, value)
    return options


def train_dlib(dlib, train: list[Specimen], options, box=whole_photo_box, progress: bool = True):
    """Train a shape predictor on ``train`` at full resolution with ``box``
    per photo; returns ``(predictor, seconds)`` (``train_shape_predictor``
    alone, decoding excluded)."""
    missing = [s.name for s in train if s.missing.any()]
    if missing:
        raise DataError(f"{len(missing)} training photo(s) have missing landmarks ({', '.join(missing[:5])}): "
                        "dlib's shape predictor needs complete landmarks")
    images = [gray_pixels(s.image, s.name) for s in tqdm(train, desc="decode training photos", unit="photo",
                                                         disable=not progress, leave=False)]
    objects = [[dlib.full_object_detection(dlib.rectangle(*box(s)),
                                           [dlib.point(x, y) for x, y in integer_points(s.landmarks)])] for s in train]
    started = time.perf_counter()
    predictor = dlib.train_shape_predictor(images, objects, options)
    return predictor, time.perf_counter() - started


def predict_dlib(dlib, predictor, test: list[Specimen], box=whole_photo_box, progress: bool = True):
    """Predict ``test`` from its photo files with ``box`` per photo; returns
    ``(points, timing)``: ``(N, n, 2)`` photo frame, y down, and milliseconds
    per photo without and with decoding."""
    points, predict_s, total_s = [], 0.0, 0.0
    for specimen in tqdm(test, desc="dlib predict", unit="photo", disable=not progress, leave=False):
        start = time.perf_counter()
        pixels = gray_pixels(specimen.image, specimen.name)
        decoded = time.perf_counter()
        shape = predictor(pixels, dlib.rectangle(*box(specimen)))
        done = time.perf_counter()
        predict_s += done - decoded
        total_s += done - start
        points.append([(shape.part(k).x, shape.part(k).y) for k in range(shape.num_parts)])
    n = max(len(test), 1)
    timing = {"predict_ms": 1000 * predict_s / n, "predict_decode_ms": 1000 * total_s / n}
    return np.array(points, dtype=np.float64), timing
