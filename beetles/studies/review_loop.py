"""The review loop as a lab lives it, its corrections simulated from the manual landmarks.

``beetles benchmark-loop`` (and ``benchmarks/review_loop.py``) takes a
landmarked photo folder and runs, each step through the tool's own code:

1. ``beetles train`` on the manual landmarks of :attr:`LoopSettings.labelled`
   photos (a seeded choice), from scratch;
2. ``beetles predict`` on the rest (TPS + CSV with ``radius90_px``);
3. ``beetles review`` of those predictions (:func:`beetles.tool.review.start.open_review`),
   the :attr:`LoopSettings.correct` share at the head of its queue (the
   least certain) corrected: their landmarks set to the manual ones through
   :meth:`~beetles.tool.review.session.ReviewSession.update`, as the page
   sends a drag, and accepted;
4. ``beetles train --from`` the first model on the labelled photos and the
   review's TPS file (its corrected photos);
5. ``beetles predict`` again on the photos never corrected.

Beside them, on the same never-corrected photos: the trivial predictor (the
labelled photos' mean shape); a model trained from scratch on the same
photos as step 4 (what ``--from`` saves); and the reference, a model trained
from scratch on every other photo's manual landmarks, the never-corrected
photos split into :attr:`LoopSettings.reference_folds` folds so that no
photo is predicted by a model that saw it.  Errors are distances in each
photo's own pixels.  Every step's result is kept under ``out/`` (``timing.json``
last), so a killed run resumes; ``loop.csv`` and ``loop.json`` are the tables.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beetles.core.errors import DataError
from beetles.core.files import write_text
from beetles.formats.landmark_csv import XY_CHOICES, read_landmark_values
from beetles.formats.results import write_table
from beetles.studies.realphotos import trivial_points, write_listing

LOOP_COLUMNS = ["step", "trained_on", "train_minutes", "predict_minutes", "test_photos", "mean_px", "median_px",
                "p90_px", "ratio_to_reference"]


@dataclass
class LoopSettings:
    """The loop to measure: ``labelled`` photos to start from, the ``correct``
    share of the rest to correct, the seed of the choice, the models' budget
    (``None``: the tool's defaults), the reference's folds, the ``out`` folder."""

    out: Path
    labelled: int = 20
    correct: float = 0.1
    seed: int = 0
    model: str | None = None
    epochs: int | None = None
    minutes: float | None = None
    reference_folds: int = 2
    progress: bool = True


def _timed(folder: Path, work) -> dict:
    """Run ``work()`` (→ a dict) once: its result and seconds in ``folder/timing.json``, reused when there."""
    path = folder / "timing.json"
    if path.is_file():
        return json.loads(path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = work() or {}
    result["seconds"] = time.perf_counter() - started
    write_text(path, json.dumps(result, indent=2) + "\n")
    return result


def _train(run: LoopSettings, folder: Path, landmarks, photos: Path, parent: Path | None = None) -> dict:
    from beetles.tool.train import TrainSettings, train

    def work():
        summary = train(TrainSettings(out=folder / "model", data=photos, landmarks=landmarks, model=run.model,
                                      parent=parent, epochs=run.epochs, minutes=run.minutes, progress=run.progress,
                                      force=True, command=f"beetles benchmark-loop ({folder})"), log=lambda text: None)
        return {"trained_on": summary["settings"]["specimens"]["total"]}
    return _timed(folder, work)


def _predict(folder: Path, model: Path, specimens) -> tuple[np.ndarray, dict]:
    """``beetles predict`` of ``model`` on ``specimens``: points ``(N, n, 2)`` (photo pixels, y down), timing."""
    from beetles.tool.predict import PredictSettings, predict

    csv = folder / "predictions.csv"
    timing = _timed(folder, lambda: {"photos": predict(PredictSettings(
        model_dir=model, photos=[s.image for s in specimens], out=folder / "predictions.tps", csv=csv,
        progress=False), log=lambda text: None).photos})
    values = read_landmark_values(csv, XY_CHOICES)
    missing = [s.name for s in specimens if s.name not in values]
    if missing:
        raise DataError(f"{csv}: no landmarks for {missing[0]} (could it be read?)")
    return np.stack([values[s.name] for s in specimens]), timing


def _row(step: str, trained_on, train_s, predict_s, errors, reference=None) -> list:
    """A row of ``loop.csv``; ``errors`` ``(photos, n)`` photo pixels (``nan``: a missing landmark)."""
    photos, errors = len(errors), errors[np.isfinite(errors)]
    mean = float(errors.mean())
    return [step, trained_on, None if train_s is None else train_s / 60, None if predict_s is None else predict_s / 60,
            photos, mean, float(np.median(errors)), float(np.percentile(errors, 90)),
            None if reference is None else mean / reference]


def run_loop(part, run: LoopSettings, log=print) -> list[list]:
    """The loop on ``part`` (a :class:`~beetles.core.specimen.PartData`; see the module docstring):
    the rows of ``loop.csv``, also written with ``loop.json``."""
    from beetles.tool.review.start import ReviewSettings, open_review

    specimens = sorted(part, key=lambda s: s.name)
    if not 2 <= run.labelled < len(specimens) - 2:
        raise DataError(f"--labelled {run.labelled}: give between 2 and {len(specimens) - 3} ({len(specimens)} photos)")
    out = Path(run.out)
    order = np.random.default_rng(run.seed).permutation(len(specimens))
    labelled = [specimens[i] for i in sorted(order[:run.labelled])]
    rest = [specimens[i] for i in sorted(order[run.labelled:])]
    labelled_tps, _ = write_listing(out / "labelled.tps", labelled)
    photos = Path(os.path.commonpath([s.image.resolve().parent for s in specimens]))

    log(f"1. train on {len(labelled)} labelled photos")
    first = _train(run, out / "round0", [labelled_tps], photos)
    log(f"2. predict the other {len(rest)}")
    predicted, predict0 = _predict(out / "round0" / "predict", out / "round0" / "model", rest)

    count = max(1, math.ceil(run.correct * len(rest)))
    log(f"3. review: correct the {count} least certain")
    session = open_review(ReviewSettings(photos=[s.image for s in rest], out=out / "review" / "corrected.tps",
                                         predictions=out / "round0" / "predict" / "predictions.csv", browser=False),
                          log=lambda text: None)
    by_name = {s.name: s for s in rest}
    corrected = []
    for index in session.queue()[:count]:
        photo = session.photos[index]
        truth = by_name[photo.name].landmarks
        absent = np.isnan(truth).any(-1)
        session.update(index, [None if a else [float(x), float(y)] for (x, y), a in zip(truth, absent)],
                       [bool(a) for a in absent], accept=True)
        corrected.append(photo.name)
    never = [s for s in rest if s.name not in set(corrected)]
    truth = np.stack([s.landmarks for s in never])
    at = [i for i, s in enumerate(rest) if s.name not in set(corrected)]

    log(f"4. retrain from the first model on the {len(labelled)} labelled + {count} corrected photos")
    second = _train(run, out / "round1", [labelled_tps, out / "review" / "corrected.tps"], photos,
                    parent=out / "round0" / "model")
    log(f"5. predict the {len(never)} photos never corrected")
    again, predict1 = _predict(out / "round1" / "predict", out / "round1" / "model", never)

    log("   beside it: from scratch on the same photos")
    scratch = _train(run, out / "scratch", [labelled_tps, out / "review" / "corrected.tps"], photos)
    from_scratch, _ = _predict(out / "scratch" / "predict", out / "scratch" / "model", never)

    log(f"   the reference: every other photo's manual landmarks ({run.reference_folds} folds of the never corrected)")
    folds = np.array_split(np.random.default_rng(run.seed + 1).permutation(len(never)), run.reference_folds)
    reference = np.full_like(truth, np.nan)
    reference_s, reference_n = 0.0, []
    for k, fold in enumerate(folds, start=1):
        held = {never[i].name for i in fold}
        listing, _ = write_listing(out / f"reference{k}" / "train.tps", [s for s in specimens if s.name not in held])
        timing = _train(run, out / f"reference{k}", [listing], photos)
        reference_s += timing["seconds"]
        reference_n.append(timing["trained_on"])
        points, _ = _predict(out / f"reference{k}" / "predict", out / f"reference{k}" / "model",
                             [never[i] for i in fold])
        reference[fold] = points

    def distances(points):
        return np.linalg.norm(points - truth, axis=-1)

    reference_mean = float(np.nanmean(distances(reference)))
    rows = [
        _row("trivial: the labelled photos' mean shape", len(labelled), None, None,
             distances(trivial_points(labelled, never)), reference_mean),
        _row("round 0: from scratch on the labelled photos", first["trained_on"], first["seconds"],
             predict0["seconds"], distances(predicted[at]), reference_mean),
        _row("round 1: --from round 0 on labelled + corrected", second["trained_on"], second["seconds"],
             predict1["seconds"], distances(again), reference_mean),
        _row("from scratch on labelled + corrected", scratch["trained_on"], scratch["seconds"], None,
             distances(from_scratch), reference_mean),
        _row(f"reference: every other photo's manual landmarks ({run.reference_folds} folds)",
             round(float(np.mean(reference_n))), reference_s / len(folds), None, distances(reference), None),
    ]
    write_table(out / "loop.csv", LOOP_COLUMNS, rows)
    write_text(out / "loop.json", json.dumps({
        "photos": len(specimens), "labelled": len(labelled), "predicted": len(rest), "corrected": corrected,
        "never_corrected": len(never), "settings": {k: str(v) if isinstance(v, Path) else v
                                                    for k, v in vars(run).items()},
        "data": str(photos)}, indent=2) + "\n")
    return rows


def format_loop(rows) -> str:
    """``loop.csv``'s rows as aligned text."""
    lines = [f"{'step':<58} {'photos':>6} {'train min':>9} {'mean px':>9} {'median':>8} {'p90':>8} {'/ ref':>6}"]
    for step, trained, train_min, _, _, mean, median, p90, ratio in rows:
        lines.append(f"{step:<58} {trained:>6} {'' if train_min is None else f'{train_min:.1f}':>9} {mean:>9.1f} "
                     f"{median:>8.1f} {p90:>8.1f} {'' if ratio is None else f'{ratio:.2f}':>6}")
    return "\n".join(lines)
