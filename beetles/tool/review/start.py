"""Gather a review: the photos, their predictions (a file, or a model run now), or none.

:func:`open_review` turns :class:`ReviewSettings` into a
:class:`~beetles.tool.review.session.ReviewSession`: it resumes the review
``--out`` already holds, reads ``--predictions`` (a TPS file, y up, or the
long CSV ``beetles predict --csv`` writes, y down, with ``radius90_px``)
or places the landmarks with ``--model``, and otherwise starts a manual
review of ``--landmarks N`` landmarks.  Every point it hands on is in the
upright photo's pixels, y down.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beetles.core.errors import BeetlesError, DataError
from beetles.core.frames import flip_y
from beetles.core.images import image_size
from beetles.formats.landmark_csv import XY_CHOICES, read_landmark_names, read_landmark_values
from beetles.formats.names import check_names, read_names
from beetles.formats.tps import MissingTally, read_tps_records
from beetles.tool.inputs import expand_inputs, photo_names
from beetles.tool.modelfolder import SETTINGS_JSON, folder_names
from beetles.tool.review.session import ReviewPhoto, ReviewSession

#: The port ``beetles review`` listens on unless given ``--port`` (0: any free port).
DEFAULT_PORT = 8642
_CSV_COLUMNS = [[*xy, *extra] for extra in (["spread_px", "radius90_px"], ["spread_px"], []) for xy in XY_CHOICES]


@dataclass
class ReviewSettings:
    """What ``beetles review`` is asked for: photos and folders (the first may
    be a model folder), the TPS file to write, where predictions come from
    (``predictions`` a file or ``model_dir`` a model folder; neither: manual
    landmarking of ``landmarks`` landmarks), a file of landmark ``names`` (one
    per line), the ``port``, whether to open a browser."""

    photos: list
    out: Path
    predictions: Path | None = None
    model_dir: Path | None = None
    landmarks: int | None = None
    names: Path | None = None
    port: int = DEFAULT_PORT
    browser: bool = True
    progress: bool = True


@dataclass
class Found:
    """Predicted landmarks of one photo: ``points`` ``(n, 2)`` photo pixels, y
    down; ``radius`` ``(n,)`` (``nan``: none); what the TPS file said of it."""

    points: np.ndarray
    radius: np.ndarray
    id: str | None = None
    scale: float | None = None
    comment: str | None = None


def is_model_folder(path) -> bool:
    """``path`` is a folder ``beetles train`` wrote."""
    return Path(path).is_dir() and (Path(path) / SETTINGS_JSON).is_file()


def open_review(run: ReviewSettings, log=print, warn=None) -> ReviewSession:
    """The review ``run`` asks for, saved once (so ``--out`` exists from the start)."""
    warn = warn or (lambda text: print(text, file=sys.stderr))
    out = Path(run.out)
    if out.suffix.lower() != ".tps":
        raise BeetlesError(f"--out {out}: give a .tps file name")
    inputs, model_dir = list(run.photos), run.model_dir
    if model_dir is None and inputs and is_model_folder(inputs[0]):
        model_dir, inputs = Path(inputs[0]), inputs[1:]
    if run.predictions is not None and model_dir is not None:
        raise BeetlesError("give --predictions FILE or a model (--model DIR), not both")
    if run.predictions is not None and Path(run.predictions).resolve() == out.resolve():
        raise BeetlesError(f"--out {out}: is the --predictions file; give another name, so the predictions are kept")
    paths = expand_inputs(inputs)
    names, _ = photo_names(paths)
    landmark_names = read_names(run.names) if run.names is not None else None
    session = ReviewSession.resume(out, log)
    todo = [(p, n) for p, n in zip(paths, names, strict=True) if session is None or n not in session.by_name]
    found: dict[str, Found] = {}
    source = ""
    if todo and run.predictions is not None:
        found, source = read_predictions(Path(run.predictions), {n: p for p, n in todo}, warn), str(run.predictions)
    elif todo and model_dir is not None:
        found, source = predict_photos(model_dir, todo, run.progress, warn), str(model_dir)
    n = _landmark_count(run, session, found)
    if landmark_names is not None:
        check_names(landmark_names, n, run.names)
    elif model_dir is not None:
        landmark_names = folder_names(model_dir)
    elif run.predictions is not None and Path(run.predictions).suffix.lower() == ".csv":
        landmark_names = read_landmark_names(run.predictions)
    if landmark_names is not None and run.names is None:
        landmark_names = check_names(landmark_names, n, model_dir or run.predictions)
    photos = []
    for path, name in todo:
        try:
            width, height = image_size(path)
        except DataError as error:
            warn(f"skipped {path}: {error}")
            continue
        guess = found.get(name)
        if guess is not None and len(guess.points) != n:
            raise DataError(f"{source}: {name} has {len(guess.points)} landmarks, the others {n}")
        photos.append(ReviewPhoto(path=path, name=name, width=width, height=height,
                                  points=guess.points.copy() if guess else np.full((n, 2), np.nan),
                                  predicted=guess.points.copy() if guess else None,
                                  radius=guess.radius if guess else None,
                                  id=guess.id if guess else None, scale=guess.scale if guess else None,
                                  comment=guess.comment if guess else None))
    if session is None:
        mode = "review" if found else "manual"
        session = ReviewSession(out, photos, n, landmark_names, mode, source)
    else:
        session.add(photos)
        session.names = landmark_names or session.names
        counts = session.counts()
        log(f"resuming {out}: {counts['edited']} edited, {counts['reviewed']} reviewed, {counts['not seen']} not seen"
            + (f"; {len(photos)} new photo(s) added" if photos else ""))
    given = set(names)
    for path, name in zip(paths, names, strict=True):
        session.photos[session.by_name[name]].path = path  # a resumed review: where the photo is now
    session.served = [i for i, p in enumerate(session.photos) if p.name in given and p.path.is_file()]
    if not session.served:
        raise DataError("none of the photos given could be read")
    session.save()
    return session


def _landmark_count(run, session, found) -> int:
    counts = {len(f.points) for f in found.values()}
    if session is not None:
        counts.add(session.n_landmarks)
    if len(counts) > 1:
        raise DataError(f"the predictions have {sorted(counts)} landmarks; a review needs one count")
    if counts:
        n = counts.pop()
        if run.landmarks is not None and run.landmarks != n:
            raise BeetlesError(f"--landmarks {run.landmarks}: the predictions (or the review being resumed) have {n}")
        return n
    if run.landmarks is None:
        raise BeetlesError("no predictions and no model: give --landmarks N to place N landmarks by hand, "
                           "--predictions FILE, or --model MODEL_DIR")
    if run.landmarks < 1:
        raise BeetlesError(f"--landmarks {run.landmarks}: give at least 1")
    return run.landmarks


def read_predictions(path: Path, photos: dict, warn) -> dict[str, Found]:
    """``{name: Found}`` for the photos (``{name: path}``) the file lists: a
    TPS file (y up, flipped with each photo's height) or a long CSV (y down;
    ``radius90_px``, else ``spread_px``, is the circle).  Photos the file
    does not list are placed by hand; the file's other photos are left out."""
    if not path.is_file():
        raise DataError(f"{path}: predictions file not found")
    found: dict[str, Found] = {}
    if path.suffix.lower() == ".csv":
        for name, values in read_landmark_values(path, _CSV_COLUMNS).items():
            if name in photos:
                points = MissingTally(as_missing=True).apply(values[:, :2].copy())  # photo pixels: negative = missing
                radius = values[:, 3] if values.shape[1] > 3 and np.isfinite(values[:, 3]).any() else \
                    values[:, 2] if values.shape[1] > 2 else np.full(len(values), np.nan)
                found[name] = Found(points, radius)
    else:
        for record in read_tps_records(path):
            name = record.image
            if name in photos or (name and Path(name).name in photos):
                name = name if name in photos else Path(name).name
                height = image_size(photos[name])[1]
                found[name] = Found(flip_y(record.landmarks_up, height), np.full(len(record.landmarks_up), np.nan),
                                    record.id, record.scale, record.comment)
    missing = [n for n in photos if n not in found]
    if missing:
        warn(f"{path}: no landmarks for {len(missing)} of the photos ({', '.join(missing[:3])}"
             f"{', …' if len(missing) > 3 else ''}); place them by hand")
    if not found:
        raise DataError(f"{path}: names none of the {len(photos)} photos given (IMAGE= or image must be the "
                        "photo's file name)")
    return found


def predict_photos(model_dir, todo, progress: bool, warn) -> dict[str, Found]:
    """Place ``model_dir``'s landmarks on ``todo`` (``(path, name)`` pairs),
    with a progress bar: ``{name: Found}`` with the 90 % radius (the spread
    for a model folder without a calibration)."""
    from beetles.tool.predict import place_with_folder

    placed, _, _ = place_with_folder(model_dir, [p for p, _ in todo], progress=progress, warn=warn)
    by_path = {p: n for p, n in todo}
    if not placed:
        raise DataError(f"none of the {len(todo)} photo(s) could be read")
    return {by_path[p.path]: Found(p.points, p.review_size) for p in placed}
