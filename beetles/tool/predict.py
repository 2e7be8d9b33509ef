"""``beetles predict``: place a model folder's landmarks on new photos.

:func:`predict` loads the model (:func:`beetles.tool.modelfolder.load_folder`),
decodes each photo as the model reads it (upright, letterboxed; a photo that
cannot be read, or does not suit the model, is reported and skipped), runs
the model on batches of :data:`BATCH` photos and writes:

* the TPS file ``out`` (each photo's own upright pixels, **y up**, ``IMAGE=``
  the file name, or the path from the photos' common folder when two photos
  share a name);
* optionally the long CSV ``image,landmark,x,y,spread_px`` (photo pixels,
  **y down**; an empty spread: none measured);
* optionally the review list ``<out stem>_review.csv`` (landmarks whose
  spread exceeds a threshold in photo pixels) and overlays
  (:mod:`beetles.tool.overlays`).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beetles.core.errors import BeetlesError, DataError
from beetles.core.frames import photo_frame
from beetles.core.specimen import Specimen
from beetles.formats.landmark_csv import write_landmark_values
from beetles.formats.results import write_table
from beetles.formats.tps import write_tps
from beetles.tool.inputs import expand_inputs, photo_names
from beetles.tool.modelfolder import load_folder
from beetles.tool.overlays import write_overlay
from beetles.tool.validate import BATCH, PASSES

_READ_ERRORS = (DataError, OSError, ValueError, SyntaxError)
REVIEW_COLUMNS = ["image", "landmark", "x", "y", "spread_px"]


@dataclass
class PredictSettings:
    """What ``beetles predict`` is asked for: the model folder, photos and
    folders of photos, the TPS file to write, and optionally the CSV, the
    overlays folder, the review threshold (photo pixels) and the passes of
    a model whose spread needs several."""

    model_dir: Path
    photos: list
    out: Path
    csv: Path | None = None
    overlays: Path | None = None
    review_threshold: float | None = None
    passes: int = PASSES
    progress: bool = True


@dataclass
class PredictResult:
    """What :func:`predict` did: photos placed, photos skipped with the
    reason, the review rows, the files written."""

    photos: int
    skipped: list = field(default_factory=list)
    review: list = field(default_factory=list)
    files: list = field(default_factory=list)


@dataclass
class _Placed:
    path: Path
    box: object  # the photo's Letterbox
    points: np.ndarray  # (n, 2) photo pixels, y down
    spread: np.ndarray  # (n,) photo pixels, nan: none


def predict(run: PredictSettings, log=print, warn=None) -> PredictResult:
    """Place the landmarks (see the module docstring); ``log`` and ``warn``
    print what the user reads (``warn``: stderr)."""
    warn = warn or (lambda text: print(text, file=sys.stderr))
    if run.passes < 1:
        raise BeetlesError(f"--passes {run.passes}: give at least 1")
    if run.review_threshold is not None and run.review_threshold < 0:
        raise BeetlesError(f"--review-threshold {run.review_threshold:g}: give a number of pixels >= 0")
    out = Path(run.out)
    if out.suffix.lower() != ".tps":
        raise BeetlesError(f"--out {out}: give a .tps file name")
    model = load_folder(run.model_dir)
    photos = expand_inputs(run.photos)
    placed, skipped, batch = [], [], []

    def flush():
        if not batch:
            return
        prediction = model.predict_photos([d for _, d in batch], run.passes)
        placed.extend(_Placed(path, d.letterbox, p, s)
                      for (path, d), p, s in zip(batch, prediction.points, prediction.spread_or_nan(), strict=True))
        batch.clear()

    bar = tqdm(photos, desc="photos", unit="img", disable=not run.progress, leave=False)
    for path in bar:
        try:
            decoded = model.decode(path)
        except _READ_ERRORS as error:
            skipped.append((path, str(error)))
            bar.clear()
            warn(f"skipped {path}: {error}")
            continue
        batch.append((path, decoded))
        if len(batch) >= BATCH:
            flush()
    flush()
    bar.close()
    if not placed:
        raise DataError(f"none of the {len(photos)} photo(s) could be read; nothing written")
    names, image_dir = photo_names([p.path for p in placed])
    specimens = [Specimen(p.path.resolve() if image_dir else p.path, p.points,
                          photo_frame(p.box.photo_width, p.box.photo_height)) for p in placed]
    result = PredictResult(len(placed), skipped, files=[write_tps(out, specimens, image_dir=image_dir)])
    if run.csv is not None:
        result.files.append(write_predictions_csv(run.csv, names, [p.points for p in placed],
                                                  [p.spread for p in placed]))
    if run.review_threshold is not None:
        result.review = review_rows(names, placed, run.review_threshold)
        path = out.with_name(f"{out.stem}_review.csv")
        result.files.append(write_table(path, REVIEW_COLUMNS, result.review))
        if result.review:
            log(f"review: {len(result.review)} landmark(s) with a spread over {run.review_threshold:g} px (in {path}):")
            for name, k, x, y, s in result.review:
                log(f"  {name} landmark {k}: x {x:.1f}, y {y:.1f} (y down), spread {s:.1f} px")
        else:
            log(f"review: no landmark has a spread over {run.review_threshold:g} px")
    if run.overlays is not None:
        used: set[str] = set()
        for p in placed:
            try:
                result.files.append(write_overlay(Path(run.overlays), p.path, p.box, p.points, p.spread, used))
            except _READ_ERRORS as error:
                skipped.append((p.path, f"overlay not written: {error}"))
                warn(f"overlay of {p.path} not written: {error}")
    log(f"landmarks of {len(placed)} photo(s) written to {out}" + (f"; {len(skipped)} skipped" if skipped else ""))
    return result


def review_rows(names, placed, threshold: float) -> list[list]:
    """``[image, landmark, x, y, spread]`` of every landmark whose spread exceeds ``threshold``."""
    return [[name, k + 1, float(p.points[k, 0]), float(p.points[k, 1]), float(p.spread[k])]
            for name, p in zip(names, placed, strict=True) for k in range(len(p.spread))
            if np.isfinite(p.spread[k]) and p.spread[k] > threshold]


def write_predictions_csv(path, names, points, spreads) -> Path:
    """``image,landmark,x,y,spread_px`` (photo pixels, y down, landmarks from
    1; an empty spread: none), atomically;
    :func:`beetles.formats.landmark_csv.read_long_csv` reads it back (it
    ignores ``spread_px``)."""
    return write_landmark_values(path, names, {"x": [p[:, 0] for p in points], "y": [p[:, 1] for p in points],
                                               "spread_px": list(spreads)})
