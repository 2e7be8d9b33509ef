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

The files are never mixed: each is locked for the whole run (a second run
writing one stops at once), all are written under temporary names and renamed
into place together once all are written (a run that fails or is killed
leaves the previous ones), none may be another, an input, or in the model
folder (:func:`check_outputs`), and a photo whose name a TPS line cannot hold
is skipped before it is placed (:func:`writable_photos`).  The landmarks
are saved chunk by chunk as they are placed, in ``<out>.incomplete``
(:mod:`beetles.tool.collection`, :mod:`beetles.tool.journal`), so that a run
killed half-way is taken up with ``--resume``; the folder goes once the
files are written.
"""
from __future__ import annotations

import contextlib
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beetles.core.errors import BeetlesError, DataError
from beetles.core.frames import photo_frame
from beetles.core.locks import held
from beetles.core.specimen import Specimen
from beetles.core.staging import StagedFiles, remove_leftovers
from beetles.formats.landmark_csv import XY, write_landmark_rows
from beetles.formats.results import write_table
from beetles.formats.tps import shown_name, unwritable_name, write_tps
from beetles.tool.collection import place_collection
from beetles.tool.inputs import expand_inputs, photo_names
from beetles.tool.journal import SAVE_EVERY
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
    pixels), the passes of a model whose spread needs several, the
    ``scale`` (units per pixel) for photos a listing gives none, and how a
    collection is placed (:mod:`beetles.tool.collection`): the photos per
    saved chunk, whether to take up an unfinished run, a Ray address, and
    the device the network runs on (photos decode on the CPU)."""

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
    save_every: int = SAVE_EVERY
    resume: bool = False
    ray: str | None = None
    device: str = "cpu"


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
    print what the user reads (``warn``: stderr).  Every output file is
    locked for the whole run (:func:`beetles.core.locks.held`: a second run
    writing one of them stops at once, naming this one) and written under a
    temporary name first, all renamed into place once all are written
    (:class:`~beetles.core.staging.StagedFiles`): a run that fails or is
    killed leaves the previous files as they were."""
    warn = warn or (lambda text: print(text, file=sys.stderr))
    out, kind = check_options(run)
    settings = read_settings(run.model_dir)
    listed: dict = {}
    photos = expand_inputs(run.photos, listed)
    targets = output_files(run, out)
    check_outputs(targets, run.photos, photos, run.model_dir)
    check_overlays(run.overlays, photos, run.model_dir)
    landmark_names = settings_names(settings)
    with holding(targets):
        writable, refused = writable_photos(photos, warn)
        placement = place_collection(run, out, writable, settings, log, warn)
        journal, skipped = placement.journal, refused + placement.skipped
        if not placement.count:
            journal.clear()
            raise DataError(f"none of the {len(photos)} photo(s) could be read"
                            + (" or named in a TPS file" if refused else "") + "; nothing written")
        result = PredictResult(placement.count, skipped)
        paths = placement.paths()
        if run.review_threshold is not None:
            result.review = review_rows(photo_names(paths)[0], placement.placed(), run.review_threshold)
        scale = default_scale(run, settings.get("scale"), listed, paths, log)
        try:
            result.files = write_outputs(targets, kind, placement, listed, scale, landmark_names, result.review)
        except (BeetlesError, OSError):
            warn(f"the landmarks of {placement.count} photo(s) are kept in {journal.folder}: the same command "
                 "with --resume writes the files without placing the photos again")
            raise
        if run.review_threshold is not None:
            tell_review(result.review, run.review_threshold, placement.calibration is not None, targets[REVIEW], log)
        if run.overlays is not None:
            result.files += write_overlays(Path(run.overlays), placement.placed(), landmark_names, skipped, warn)
        journal.clear()
    log(f"landmarks of {placement.count} photo(s) written to {out}"
        + (f"; {len(skipped)} skipped" if skipped else ""))
    return result


def check_options(run: PredictSettings) -> tuple[Path, str]:
    """``(out, format)`` of ``run`` (:func:`output_format`), after checking
    its numbers (passes, review threshold, scale)."""
    if run.passes < 1:
        raise BeetlesError(f"--passes {run.passes}: give at least 1")
    if run.review_threshold is not None and run.review_threshold < 0:
        raise BeetlesError(f"--review-threshold {run.review_threshold:g}: give a number of pixels >= 0")
    if run.scale is not None and not run.scale > 0:
        raise BeetlesError(f"--scale {run.scale:g}: give the units per pixel, a number > 0")
    if run.save_every < 1:
        raise BeetlesError(f"--save-every {run.save_every}: give a number of photos >= 1")
    out = Path(run.out)
    return out, output_format(out, run.format)


#: The keys of :func:`output_files`, as messages name them.
OUT, CSV, REVIEW = "--out", "--csv", "the review list"


def output_files(run: PredictSettings, out: Path) -> dict[str, Path]:
    """``{OUT: out, CSV: --csv, REVIEW: <out stem>_review.csv}``, the files
    ``run`` writes (:data:`CSV` and :data:`REVIEW` only when asked for)."""
    targets = {OUT: out}
    if run.csv is not None:
        targets[CSV] = Path(run.csv)
    if run.review_threshold is not None:
        targets[REVIEW] = out.with_name(f"{out.stem}_review.csv")
    return targets


def check_outputs(targets: dict[str, Path], inputs, photos, model_dir) -> None:
    """A :class:`BeetlesError` naming the option when one of ``targets``
    (:func:`output_files`) is another of them, one of the ``inputs`` (photos,
    listing ``.tps`` files) or of the ``photos`` they stand for, inside the
    model folder ``model_dir`` (its next training would refuse or replace
    the file), a folder, or in a folder that is a file."""
    wanted = {path.resolve() for path in targets.values()}
    given = {Path(p).resolve(): "one of the inputs" for p in inputs if Path(p).is_file()}
    given.update({resolved: "one of the photos to place" for resolved in map(Path.resolve, photos)
                  if resolved in wanted})  # only the targets' own: a collection's paths are not held twice
    model = Path(model_dir).resolve()
    seen: dict[Path, str] = {}
    for label, path in targets.items():
        resolved = path.resolve()
        again = "give another --out or --csv" if label == REVIEW else "give another name"
        if resolved in seen:
            problem = f"is the {seen[resolved]} file; {again}"
        elif resolved in given:
            problem = f"is {given[resolved]}; {again}"
        elif resolved.is_relative_to(model):
            problem = (f"is inside the model folder {model_dir} (its next training would refuse or replace it); "
                       "write predictions elsewhere")
        else:
            problem = _not_a_file(resolved)
        if problem:
            raise BeetlesError(f"{label} {path}: {problem}")
        seen[resolved] = label


def _not_a_file(path: Path) -> str | None:
    """What stops writing a file at ``path`` (resolved): it is a folder, or
    the nearest existing folder above it is a file; ``None``: nothing."""
    if path.is_dir():
        return "is a folder; give a file name"
    above = next((p for p in path.parents if p.exists()), None)
    return f"{above} is not a folder" if above is not None and not above.is_dir() else None


def check_overlays(folder, photos, model_dir) -> None:
    """A :class:`BeetlesError` when the overlays ``folder`` (``None``: none)
    is a file, holds one of the ``photos`` (an overlay would replace the
    photo of its name) or is inside the model folder."""
    if folder is None:
        return
    resolved = Path(folder).resolve()
    if resolved.exists() and not resolved.is_dir():
        raise BeetlesError(f"--overlays {folder}: is a file; give a folder")
    if any(p.resolve().parent == resolved for p in photos):
        raise BeetlesError(f"--overlays {folder}: holds photos to place, which their overlays would replace; "
                           "give another folder")
    if resolved.is_relative_to(Path(model_dir).resolve()):
        raise BeetlesError(f"--overlays {folder}: is inside the model folder {model_dir}; give another folder")


@contextlib.contextmanager
def holding(targets: dict[str, Path]):
    """Hold the lock of each of ``targets`` for the block (a
    :class:`~beetles.core.locks.Busy` naming the other process when one
    holds any), removing what runs killed earlier left beside them."""
    with contextlib.ExitStack() as locks:
        for path in targets.values():
            locks.enter_context(held(path.resolve(), "writing predictions into it"))
            remove_leftovers(path)
        yield


def writable_photos(photos, warn) -> tuple[list[Path], list]:
    """``(kept, refused)``: the ``photos`` whose names the outputs can hold,
    and ``(path, reason)`` of those they cannot
    (:func:`beetles.formats.tps.unwritable_name`), each said to ``warn``."""
    kept, refused = [], []
    for path, name in zip(photos, photo_names(photos)[0], strict=True):
        reason = unwritable_name(name)
        if reason is None:
            kept.append(path)
        else:
            refused.append((path, f"the name {reason}"))
            warn(f"skipped {shown_name(name)}: the name {reason}")
    return kept, refused


def write_outputs(targets: dict[str, Path], kind: str, placement, listed: dict, scale, landmark_names,
                  review) -> list:
    """Write the files of ``targets`` (:func:`output_files`) for
    ``placement`` (a :class:`~beetles.tool.collection.Placement`; ``kind``:
    the format of :data:`OUT`; ``listed``, ``scale``: see
    :func:`predict_specimens`; ``review``: :func:`review_rows`), each under a
    temporary name, all renamed into place when all are written; returns
    them, :data:`OUT` first.  TPS and CSV files are written a chunk at a
    time; a SLEAP or COCO file is made whole in memory (sleap-io's)."""
    names, image_dir = photo_names(placement.paths())
    with StagedFiles() as staged:
        if CSV in targets:
            write_placed_csv(staged.path(targets[CSV]), names, placement.placed(), landmark_names)
        if REVIEW in targets:
            write_table(staged.path(targets[REVIEW]), REVIEW_COLUMNS, review)
        temporary = staged.path(targets[OUT])  # renamed last: the file readers take as the result
        specimens = predict_specimens(placement.placed(), listed, scale, image_dir)
        if kind == "csv":
            write_placed_csv(temporary, names, placement.placed(), landmark_names)
        elif kind == "tps":
            write_tps(temporary, specimens, image_dir=image_dir)
        else:
            from beetles.formats.pose import write_pose

            write_pose(temporary, list(specimens), kind, names=landmark_names)
    return [targets[key] for key in (OUT, CSV, REVIEW) if key in targets]


def predict_specimens(placed, listed: dict, scale, image_dir: Path | None):
    """A :class:`Specimen` to write for each :class:`Placed` of ``placed``
    (an iterable, taken as it comes): its photo resolved when two photos
    share a name (``image_dir``, their common folder, from
    :func:`~beetles.tool.inputs.photo_names`, then names them), with the
    ``ID=``, ``COMMENT=`` and ``SCALE=`` of its record in ``listed`` (a
    listing ``.tps``), else ``scale``."""
    for p in placed:
        record = listed.get(p.path.resolve())
        yield Specimen(p.path.resolve() if image_dir else p.path, p.points,
                       photo_frame(p.box.photo_width, p.box.photo_height),
                       id=record.id if record else None, comment=record.comment if record else None,
                       scale=record.scale if record and record.scale else scale)


def tell_review(review, threshold: float, calibrated: bool, path: Path, log) -> None:
    """Say the ``review`` rows (:func:`review_rows`, written to ``path``) to
    ``log``; ``calibrated``: whether they exceed the 90 % radius, else the spread."""
    what = "90 % radius" if calibrated else "spread"
    if not review:
        log(f"review: no landmark has a {what} over {threshold:g} px")
        return
    log(f"review: {len(review)} landmark(s) with a {what} over {threshold:g} px (in {path}):")
    for name, k, x, y, s, r in review:
        log(f"  {name} landmark {k}: x {x:.1f}, y {y:.1f} (y down), spread {s:.1f} px"
            + (f", radius90 {r:.1f} px" if np.isfinite(r) else ""))


def write_overlays(folder: Path, placed, landmark_names, skipped: list, warn) -> list[Path]:
    """Write each of ``placed``'s overlay into ``folder``; returns them. One
    that cannot be written is added to ``skipped`` and said to ``warn``."""
    used: set[str] = set()
    files = []
    for p in placed:
        try:
            files.append(write_overlay(folder, p.path, p.box, p.points, p.review_size, used, landmark_names))
        except _READ_ERRORS as error:
            skipped.append((p.path, f"overlay not written: {error}"))
            warn(f"overlay of {p.path} not written: {error}")
    return files


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


def default_scale(run: PredictSettings, shared, listed: dict, paths, log) -> float | None:
    """The ``SCALE=`` for photos no listing gives one: ``--scale``, else
    ``shared``, the scale every training photo of the model folder had (said
    to ``log``: photos taken at another magnification need their own)."""
    if run.scale is not None:
        return run.scale
    without = [p for p in paths if not getattr(listed.get(Path(p).resolve()), "scale", None)]
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


def place_photos(model, photos, passes: int = PASSES, calibration=None, progress: bool = True, warn=None,
                 threads: int | None = None):
    """Decode ``photos`` (paths) as ``model`` reads them and place their
    landmarks, :data:`BATCH` at a time: ``(placed, skipped)``, a
    :class:`Placed` per photo read (photo pixels, y down; the 90 % radius
    from ``calibration``, a :class:`~beetles.core.calibration.Calibration`,
    else ``nan``) and ``(path, reason)`` per photo that could not be read.
    ``threads``: decoding threads (default :func:`decode_threads`)."""
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

    bar = tqdm(total=len(photos), desc="photos", unit="img", disable=not progress, leave=False)
    for path, decoded in decoded_ahead(model, photos, threads or decode_threads(model)):
        bar.update(1)
        if isinstance(decoded, Exception):
            skipped.append((path, str(decoded)))
            bar.clear()
            warn(f"skipped {path}: {decoded}")
            continue
        batch.append((path, decoded))
        if len(batch) >= BATCH:
            flush()
    flush()
    bar.close()
    return placed, skipped


#: Photos are decoded in this many threads (Pillow decodes and resizes
#: without holding Python's lock), up to :data:`DECODE_AHEAD` photos ahead of
#: the network, so that decoding and the network overlap while memory stays
#: bounded whatever the number of photos.
DECODE_THREADS = 2
DECODE_AHEAD = 2 * BATCH


def decode_threads(model) -> int:
    """Decoding threads for ``model``: :data:`DECODE_THREADS` when the network
    shares the CPU, every core when it runs on a GPU."""
    import os

    on_gpu = getattr(model, "device_name", "cpu") not in ("cpu", None)
    return max(DECODE_THREADS, os.cpu_count() or 1) if on_gpu else DECODE_THREADS


def decoded_ahead(model, photos, threads: int = DECODE_THREADS, ahead: int = DECODE_AHEAD):
    """``(path, decoded)`` for each photo in order, ``decoded`` the error for
    one that cannot be read; the next ``ahead`` photos decode meanwhile."""
    def decode(path):
        try:
            return model.decode(path)
        except _READ_ERRORS as error:
            return error

    queue = iter(photos)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode")
    try:
        pending = deque((path, pool.submit(decode, path)) for path in islice(queue, ahead))
        while pending:
            path, future = pending.popleft()
            following = next(queue, None)
            if following is not None:
                pending.append((following, pool.submit(decode, following)))
            yield path, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # stopped early (Ctrl-C, an error): no decoding left running


def review_rows(names, placed, threshold: float) -> list[list]:
    """``[image, landmark, x, y, spread, radius90]`` of every landmark whose
    90 % radius (the spread, without a calibration) exceeds ``threshold``."""
    rows = []
    for name, p in zip(names, placed, strict=True):
        size = p.review_size
        rows += [[name, k + 1, float(p.points[k, 0]), float(p.points[k, 1]), float(p.spread[k]), float(p.radius[k])]
                 for k in range(len(size)) if np.isfinite(size[k]) and size[k] > threshold]
    return rows


#: The columns of the predictions CSV after ``image,landmark[,name]``.
PREDICTION_COLUMNS = [*XY, "spread_px", "radius90_px"]


def write_predictions_csv(path, names, points, spreads, radii=None, landmark_names=None) -> Path:
    """``image,landmark[,name],x,y_down,spread_px,radius90_px`` (photo pixels,
    y down, landmarks from 1; empty: none): ``points`` ``(n, 2)``,
    ``spreads`` and ``radii`` ``(n,)`` per image of ``names``, atomically;
    :func:`beetles.formats.landmark_csv.read_long_csv` reads it back (it
    ignores the last two)."""
    radii = list(radii) if radii is not None else [np.full(len(p), np.nan) for p in points]
    rows = ((n, [p[:, 0], p[:, 1], s, r]) for n, p, s, r in zip(names, points, spreads, radii, strict=True))
    return write_landmark_rows(path, PREDICTION_COLUMNS, rows, landmark_names=landmark_names)


def write_placed_csv(path, names, placed, landmark_names=None) -> Path:
    """:func:`write_predictions_csv` of ``placed`` (:class:`Placed`, an
    iterable written as it comes), named ``names``."""
    rows = ((name, [p.points[:, 0], p.points[:, 1], p.spread, p.radius])
            for name, p in zip(names, placed, strict=True))
    return write_landmark_rows(path, PREDICTION_COLUMNS, rows, landmark_names=landmark_names)
