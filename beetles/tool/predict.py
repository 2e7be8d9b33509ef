"""``beetles predict``: place a model folder's landmarks on new photos.

:func:`predict` loads the model (:func:`beetles.tool.modelfolder.load_folder`),
decodes each photo as the model reads it (upright, letterboxed; a photo that
cannot be read, or does not suit the model, is reported and skipped), runs
the model on batches of :data:`BATCH` photos and writes:

* the TPS file ``out`` (each photo's own upright pixels, **y up**, ``IMAGE=``
  the file name, or the path from the photos' common folder when two photos
  share a name);
* optionally the long CSV ``image,landmark,x,y,spread_px,radius90_px``
  (photo pixels, **y down**; an empty spread: none measured; ``radius90_px``:
  the radius within which the true landmark lies 90 % of the time, from the
  model folder's ``calibration.json``, empty without one);
* optionally the review list ``<out stem>_review.csv`` (landmarks whose
  radius, or spread for a model folder without a calibration, exceeds a
  threshold in photo pixels) and overlays (:mod:`beetles.tool.overlays`,
  circles of that radius).
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
from beetles.tool.modelfolder import load_calibration, load_folder
from beetles.tool.overlays import write_overlay
from beetles.tool.validate import BATCH, PASSES

_READ_ERRORS = (DataError, OSError, ValueError, SyntaxError)
REVIEW_COLUMNS = ["image", "landmark", "x", "y", "spread_px", "radius90_px"]


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
class Placed:
    """One photo's placed landmarks (see :func:`place_photos`)."""

    path: Path
    box: object  # the photo's Letterbox
    points: np.ndarray  # (n, 2) photo pixels, y down
    spread: np.ndarray  # (n,) photo pixels, nan: none
    radius: np.ndarray  # (n,) photo pixels, the 90 % radius; nan: none

    @property
    def review_size(self) -> np.ndarray:
        """What the review threshold compares: the radius, else the spread."""
        return self.radius if np.isfinite(self.radius).any() else self.spread


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
    photos = expand_inputs(run.photos)
    placed, skipped, calibration = place_with_folder(run.model_dir, photos, run.passes, run.progress, warn)
    if not placed:
        raise DataError(f"none of the {len(photos)} photo(s) could be read; nothing written")
    names, image_dir = photo_names([p.path for p in placed])
    specimens = [Specimen(p.path.resolve() if image_dir else p.path, p.points,
                          photo_frame(p.box.photo_width, p.box.photo_height)) for p in placed]
    result = PredictResult(len(placed), skipped, files=[write_tps(out, specimens, image_dir=image_dir)])
    if run.csv is not None:
        result.files.append(write_predictions_csv(run.csv, names, [p.points for p in placed],
                                                  [p.spread for p in placed], [p.radius for p in placed]))
    if run.review_threshold is not None:
        result.review = review_rows(names, placed, run.review_threshold)
        path = out.with_name(f"{out.stem}_review.csv")
        result.files.append(write_table(path, REVIEW_COLUMNS, result.review))
        what = "90 % radius" if calibration is not None else "spread"
        if result.review:
            log(f"review: {len(result.review)} landmark(s) with a {what} over {run.review_threshold:g} px (in {path}):")
            for name, k, x, y, s, r in result.review:
                log(f"  {name} landmark {k}: x {x:.1f}, y {y:.1f} (y down), spread {s:.1f} px"
                    + (f", radius90 {r:.1f} px" if np.isfinite(r) else ""))
        else:
            log(f"review: no landmark has a {what} over {run.review_threshold:g} px")
    if run.overlays is not None:
        used: set[str] = set()
        for p in placed:
            try:
                circles = p.radius if np.isfinite(p.radius).any() else p.spread
                result.files.append(write_overlay(Path(run.overlays), p.path, p.box, p.points, circles, used))
            except _READ_ERRORS as error:
                skipped.append((p.path, f"overlay not written: {error}"))
                warn(f"overlay of {p.path} not written: {error}")
    log(f"landmarks of {len(placed)} photo(s) written to {out}" + (f"; {len(skipped)} skipped" if skipped else ""))
    return result


def place_with_folder(model_dir, photos, passes: int = PASSES, progress: bool = True, warn=None):
    """:func:`place_photos` with the model and calibration of the model folder
    ``model_dir``: ``(placed, skipped, calibration)`` (``calibration``: ``None``
    for a folder without ``calibration.json``)."""
    model, calibration = load_folder(model_dir), load_calibration(model_dir)
    return (*place_photos(model, photos, passes, calibration, progress, warn), calibration)


def place_photos(model, photos, passes: int = PASSES, calibration=None, progress: bool = True, warn=None):
    """Decode ``photos`` (paths) as ``model`` reads them and place their
    landmarks, :data:`BATCH` at a time: ``(placed, skipped)``, a
    :class:`Placed` per photo read (photo pixels, y down; the 90 % radius
    from ``calibration``, a :class:`~beetles.core.calibration.Calibration`,
    else ``nan``) and ``(path, reason)`` per photo that could not be read."""
    warn = warn or (lambda text: print(text, file=sys.stderr))
    placed, skipped, batch = [], [], []

    def flush():
        if not batch:
            return
        prediction = model.predict_photos([d for _, d in batch], passes)
        spread = prediction.spread_or_nan()
        radius = calibration.radius(spread) if calibration is not None else np.full_like(spread, np.nan)
        placed.extend(Placed(path, d.letterbox, p, s, r)
                      for (path, d), p, s, r in zip(batch, prediction.points, spread, radius, strict=True))
        batch.clear()

    bar = tqdm(photos, desc="photos", unit="img", disable=not progress, leave=False)
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
    return placed, skipped


def review_rows(names, placed, threshold: float) -> list[list]:
    """``[image, landmark, x, y, spread, radius90]`` of every landmark whose
    90 % radius (the spread, without a calibration) exceeds ``threshold``."""
    rows = []
    for name, p in zip(names, placed, strict=True):
        size = p.review_size
        rows += [[name, k + 1, float(p.points[k, 0]), float(p.points[k, 1]), float(p.spread[k]), float(p.radius[k])]
                 for k in range(len(size)) if np.isfinite(size[k]) and size[k] > threshold]
    return rows


def write_predictions_csv(path, names, points, spreads, radii=None) -> Path:
    """``image,landmark,x,y,spread_px,radius90_px`` (photo pixels, y down,
    landmarks from 1; empty: none), atomically;
    :func:`beetles.formats.landmark_csv.read_long_csv` reads it back (it
    ignores the last two)."""
    radii = list(radii) if radii is not None else [np.full(len(p), np.nan) for p in points]
    return write_landmark_values(path, names, {"x": [p[:, 0] for p in points], "y": [p[:, 1] for p in points],
                                               "spread_px": list(spreads), "radius90_px": radii})
