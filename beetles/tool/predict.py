"""``beetles predict``: place a model folder's landmarks on new photos.

:func:`predict` loads the model (:func:`beetles.tool.modelfolder.load_folder`),
decodes each photo as the model reads it (upright, letterboxed; a photo that
cannot be read, or does not suit the model, is reported and skipped), runs
the model on batches of :data:`BATCH` photos and writes:

* the file ``out`` in the format :data:`OUTPUT_FORMATS` names (``--format``,
  else by its suffix): TPS (each photo's own upright pixels, **y up**,
  ``IMAGE=`` the file name, or the path from the photos' common folder when
  two photos share a name; ``ID=``, and ``SCALE=``: the photo's in a listing
  ``.tps``, else ``--scale``, else the one scale all training photos
  shared), the long CSV below, SLEAP ``.slp`` or COCO keypoints ``.json``
  (:mod:`beetles.formats.pose`, landmark names as the skeleton's);
* optionally the long CSV ``image,landmark[,name],x,y_down,spread_px,radius90_px``
  (photo pixels, **y down**; ``name`` when the model folder names its
  landmarks; an empty spread: none measured; ``radius90_px``:
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
from beetles.formats.landmark_csv import XY, write_landmark_values
from beetles.formats.results import write_table
from beetles.formats.tps import write_tps
from beetles.tool.inputs import expand_inputs, listed_metadata, photo_names
from beetles.tool.modelfolder import load_calibration, load_folder, read_settings, settings_names
from beetles.tool.overlays import write_overlay
from beetles.tool.validate import BATCH, PASSES

_READ_ERRORS = (DataError, OSError, ValueError, SyntaxError)
REVIEW_COLUMNS = ["image", "landmark", "x", "y_down", "spread_px", "radius90_px"]
#: What ``beetles predict --format`` writes, and the suffix that chooses each without it.
OUTPUT_FORMATS = {"tps": ".tps", "csv": ".csv", "slp": ".slp", "coco": ".json"}


@dataclass
class PredictSettings:
    """What ``beetles predict`` is asked for: the model folder, photos and
    folders of photos (or ``.tps`` files listing photos), the file to write
    and its ``format`` (:data:`OUTPUT_FORMATS`; ``None``: by its suffix), and
    optionally the CSV, the overlays folder, the review threshold (photo
    pixels), the passes of a model whose spread needs several, and the
    ``scale`` (units per pixel) for photos a listing gives none."""

    model_dir: Path
    photos: list
    out: Path
    csv: Path | None = None
    overlays: Path | None = None
    review_threshold: float | None = None
    passes: int = PASSES
    progress: bool = True
    format: str | None = None
    scale: float | None = None


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
    kind = output_format(out, run.format)
    if run.scale is not None and not run.scale > 0:
        raise BeetlesError(f"--scale {run.scale:g}: give the units per pixel, a number > 0")
    if run.csv is not None and Path(run.csv).resolve() == out.resolve():
        raise BeetlesError(f"--csv {run.csv}: is the --out file; give another name")
    photos = expand_inputs(run.photos)
    listed = listed_metadata(run.photos)
    placed, skipped, calibration = place_with_folder(run.model_dir, photos, run.passes, run.progress, warn)
    if not placed:
        raise DataError(f"none of the {len(photos)} photo(s) could be read; nothing written")
    settings = read_settings(run.model_dir)
    landmark_names = settings_names(settings)
    names, image_dir = photo_names([p.path for p in placed])
    scale = default_scale(run, settings.get("scale"), listed, placed, log)
    specimens = []
    for p in placed:
        record = listed.get(p.path.resolve())
        specimens.append(Specimen(p.path.resolve() if image_dir else p.path, p.points,
                                  photo_frame(p.box.photo_width, p.box.photo_height),
                                  id=record.id if record else None, comment=record.comment if record else None,
                                  scale=record.scale if record and record.scale else scale))
    result = PredictResult(len(placed), skipped, files=[])
    if kind == "tps":
        result.files.append(write_tps(out, specimens, image_dir=image_dir))
    elif kind == "csv":
        result.files.append(write_predictions_csv(out, names, [p.points for p in placed], [p.spread for p in placed],
                                                  [p.radius for p in placed], landmark_names))
    else:
        from beetles.formats.pose import write_pose

        result.files.append(write_pose(out, specimens, kind, names=landmark_names))
    if run.csv is not None:
        result.files.append(write_predictions_csv(run.csv, names, [p.points for p in placed],
                                                  [p.spread for p in placed], [p.radius for p in placed],
                                                  landmark_names))
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
                result.files.append(write_overlay(Path(run.overlays), p.path, p.box, p.points, circles, used,
                                                  landmark_names))
            except _READ_ERRORS as error:
                skipped.append((p.path, f"overlay not written: {error}"))
                warn(f"overlay of {p.path} not written: {error}")
    log(f"landmarks of {len(placed)} photo(s) written to {out}" + (f"; {len(skipped)} skipped" if skipped else ""))
    return result


def output_format(out: Path, given: str | None) -> str:
    """The format ``beetles predict`` writes ``out`` in: ``given`` (one of
    :data:`OUTPUT_FORMATS`), else the one its suffix names."""
    if given is not None:
        if given not in OUTPUT_FORMATS:
            raise BeetlesError(f"--format {given}: give one of {', '.join(OUTPUT_FORMATS)}")
        return given
    by_suffix = {suffix: kind for kind, suffix in OUTPUT_FORMATS.items()}
    kind = by_suffix.get(out.suffix.lower())
    if kind is None:
        raise BeetlesError(f"--out {out}: give a file name ending in {', '.join(OUTPUT_FORMATS.values())}, "
                           "or --format")
    return kind


def default_scale(run: PredictSettings, shared, listed: dict, placed, log) -> float | None:
    """The ``SCALE=`` for photos no listing gives one: ``--scale``, else
    ``shared``, the scale every training photo of the model folder had (said
    to ``log``: photos taken at another magnification need their own)."""
    if run.scale is not None:
        return run.scale
    without = [p for p in placed if not getattr(listed.get(p.path.resolve()), "scale", None)]
    if shared and without:
        log(f"SCALE={shared:g} written for {len(without)} photo(s): the scale every training photo of "
            f"{run.model_dir} had; give --scale (or a listing .tps with SCALE=) for photos taken at another "
            "magnification")
        return float(shared)
    return None


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


def write_predictions_csv(path, names, points, spreads, radii=None, landmark_names=None) -> Path:
    """``image,landmark[,name],x,y_down,spread_px,radius90_px`` (photo pixels,
    y down, landmarks from 1; empty: none), atomically;
    :func:`beetles.formats.landmark_csv.read_long_csv` reads it back (it
    ignores the last two)."""
    radii = list(radii) if radii is not None else [np.full(len(p), np.nan) for p in points]
    return write_landmark_values(path, names, {XY[0]: [p[:, 0] for p in points], XY[1]: [p[:, 1] for p in points],
                                               "spread_px": list(spreads), "radius90_px": radii},
                                 landmark_names=landmark_names)
