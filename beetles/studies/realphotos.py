"""The real-photo benchmark: every contender on the same folds of a landmarked photo folder.

``beetles benchmark DATA…`` (and ``benchmarks/real_photos.py``) splits a part
folder (``images/`` + ``landmarks.tps``, or a TPS / long CSV naming the
photos) into folds (:func:`make_folds`: k folds of a seeded shuffle, or the
first N photos by name to train and the rest to test) and runs on each:

* every beetles model asked for, exactly as a user gets it: ``beetles
  train`` on the fold's training photos (:func:`beetles.tool.train.train`,
  its own 10 % held out for validation and for the 90 % radius), then the
  test photos placed as ``beetles predict`` places them
  (:func:`beetles.tool.predict.place_photos`);
* the trivial predictor: the training photos' mean shape (in the 256×192
  letterbox frame) mapped into each test photo;
* dlib's shape predictor with ml-morph's parameters, given the whole photo
  as its box, and given the true landmarks' extent (a reference no user
  gets), when dlib is importable (:mod:`beetles.studies.dlib_shape`).

Errors are Euclidean distances in each photo's own pixels (y down) over
every (test specimen, landmark).  Each fold's contender is kept in
``<out>/fold<k>/<contender>/`` (``predictions.csv``: ``image,landmark,x,y,
radius90_px``, every digit; ``timing.json``, written last), so a killed run
resumes to the same tables;
:func:`write_report` writes ``summary.csv``, ``per_landmark.csv``,
``per_fold.csv``, ``fig_errors.png`` and ``run.json``.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from beetles.core.calibration import radius_summary
from beetles.core.errors import DataError
from beetles.core.files import write_text
from beetles.core.frames import Letterbox
from beetles.core.metrics import mean_shape
from beetles.core.versions import stack_versions
from beetles.formats.landmark_csv import read_landmark_values, write_landmark_values
from beetles.formats.results import write_table
from beetles.formats.tps import write_tps
from beetles.registry import model_info
from beetles.studies import dlib_shape

TRIVIAL = "trivial"
DLIB = {"whole": "dlib_whole_photo_box", "true": "dlib_true_box"}
SUMMARY_COLUMNS = ["contender", "folds", "test_specimens", "mean_px", "median_px", "p90_px", "ratio_to_dlib_whole",
                   "coverage90", "radius_error_spearman", "train_s_per_fold", "predict_ms_per_photo"]


@dataclass
class BenchmarkSettings:
    """What the benchmark is asked for: the ``data`` (a part folder), or a
    ``landmarks`` file naming photos, the ``models``, ``folds`` (or
    ``first`` N by name to train), the shuffle's ``seed``, the ``out``
    folder, the models' budget (``epochs``/``minutes``; ``None``: their
    defaults), whether to run dlib, and which ``only`` folds (1-based)."""

    data: Path | None
    out: Path
    landmarks: Path | None = None
    models: list = field(default_factory=lambda: ["zoom"])
    folds: int = 5
    first: int | None = None
    seed: int = 0
    epochs: int | None = None
    minutes: float | None = None
    dlib: bool = True
    only: list | None = None
    progress: bool = True


def make_folds(names, folds: int = 5, seed: int = 0, first: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(train, test)]`` index arrays into ``names``: ``first`` N by name to
    train and the rest to test, else ``folds`` folds of a seeded shuffle
    (every specimen tested once)."""
    names = list(names)
    if first is not None:
        order = np.argsort(names, kind="stable")
        if not 0 < first < len(names):
            raise DataError(f"--first {first}: give a number between 1 and {len(names) - 1}")
        return [(np.sort(order[:first]), np.sort(order[first:]))]
    if not 2 <= folds <= len(names):
        raise DataError(f"--folds {folds}: give between 2 and {len(names)} (the specimens)")
    order = np.random.default_rng(seed).permutation(len(names))
    chunks = np.array_split(order, folds)
    return [(np.sort(np.concatenate(chunks[:k] + chunks[k + 1:])), np.sort(chunks[k])) for k in range(folds)]


def trivial_points(train, test) -> np.ndarray:
    """The mean shape of ``train`` (letterbox frame) in each ``test`` photo's pixels: ``(N, n, 2)``."""
    shape = mean_shape([Letterbox.for_size(s.frame.size).to_network(s.landmarks) for s in train])
    return np.stack([Letterbox.for_size(s.frame.size).to_photo(shape) for s in test])


def _done(folder: Path) -> bool:
    return (folder / "timing.json").is_file() and (folder / "predictions.csv").is_file()


def _save(folder: Path, test, points, radius, timing: dict) -> None:
    names = [s.name for s in test]
    write_landmark_values(folder / "predictions.csv", names, {"x": [p[:, 0] for p in points],
                                                             "y": [p[:, 1] for p in points],
                                                             "radius90_px": list(radius)}, digits=None)
    write_text(folder / "timing.json", json.dumps(timing, indent=2) + "\n")


def _load(folder: Path, test) -> tuple[np.ndarray, np.ndarray, dict]:
    values = read_landmark_values(folder / "predictions.csv", ("x", "y", "radius90_px"))
    missing = [s.name for s in test if s.name not in values]
    if missing:
        raise DataError(f"{folder / 'predictions.csv'}: no predictions for {missing[0]}: delete {folder} to rerun it")
    table = np.stack([values[s.name] for s in test])
    return table[..., :2], table[..., 2], json.loads((folder / "timing.json").read_text())


def write_listing(path: Path, specimens) -> tuple[Path, Path]:
    """``specimens``' landmarks as a TPS file naming their photos relative to
    the photos' common folder, what ``beetles train --data FOLDER --landmarks
    FILE`` reads: ``(path, folder)``."""
    photos = Path(os.path.commonpath([s.image.resolve().parent for s in specimens]))
    return write_tps(path, [replace(s, image=s.image.resolve()) for s in specimens], image_dir=photos), photos


def run_model(name: str, fold_dir: Path, part, train, test, run: BenchmarkSettings, log=print):
    """Train model ``name`` with ``beetles train`` on ``train`` and place ``test``
    with ``beetles predict``'s code; ``(points, radius, timing)`` in photo pixels."""
    from beetles.tool.modelfolder import load_calibration, load_folder
    from beetles.tool.predict import place_photos
    from beetles.tool.train import TrainSettings
    from beetles.tool.train import train as train_tool

    folder = fold_dir / model_info(name).label
    folder.mkdir(parents=True, exist_ok=True)
    listing, photos = write_listing(folder / "train.tps", train)
    started = time.perf_counter()
    train_tool(TrainSettings(out=folder / "model", data=photos, landmarks=listing, model=name,
                             epochs=run.epochs, minutes=run.minutes, progress=run.progress, force=True,
                             command=f"beetles benchmark ({folder})"), log=lambda text: None)
    train_s = time.perf_counter() - started
    model = load_folder(folder / "model")
    started = time.perf_counter()
    placed, skipped = place_photos(model, [s.image for s in test], calibration=load_calibration(folder / "model"),
                                   progress=run.progress)
    if skipped:
        raise DataError(f"{skipped[0][0]}: {skipped[0][1]}")
    predict_s = time.perf_counter() - started
    return (np.stack([p.points for p in placed]), np.stack([p.radius for p in placed]),
            {"train_s": train_s, "predict_ms_per_photo": 1000 * predict_s / len(test)})


def run_dlib(box: str, train, test, progress: bool = True):
    """dlib's shape predictor with ``box`` (``whole`` or ``true``): ``(points, radius, timing)``."""
    dlib = dlib_shape.import_dlib()
    box_of = dlib_shape.BOXES[box]
    started = time.perf_counter()
    predictor, _ = dlib_shape.train_dlib(dlib, train, dlib_shape.training_options(dlib), box_of, progress)
    train_s = time.perf_counter() - started
    points, timing = dlib_shape.predict_dlib(dlib, predictor, test, box_of, progress)
    return points, np.full(points.shape[:2], np.nan), {"train_s": train_s,
                                                        "predict_ms_per_photo": timing["predict_decode_ms"]}


def contenders(run: BenchmarkSettings) -> list[str]:
    """The contenders' names, in the tables' order."""
    names = [TRIVIAL]
    if run.dlib and dlib_shape.import_dlib() is not None:
        names += list(DLIB.values())
    return names + [model_info(m).label for m in run.models]


def run_benchmark(part, run: BenchmarkSettings, log=print) -> dict:
    """Every contender on every fold of ``part`` (a :class:`~beetles.core.specimen.PartData`),
    resuming finished ones; returns ``{contender: {fold: (points, radius, timing)}}``
    and writes the report (:func:`write_report`)."""
    specimens = list(part)
    folds = make_folds([s.name for s in specimens], run.folds, run.seed, run.first)
    chosen = run.only or list(range(1, len(folds) + 1))
    if run.dlib and dlib_shape.import_dlib() is None:
        log(f"dlib left out: {dlib_shape.INSTALL_HINT}")
    results: dict = {name: {} for name in contenders(run)}
    for number in chosen:
        train_index, test_index = folds[number - 1]
        train, test = [specimens[i] for i in train_index], [specimens[i] for i in test_index]
        fold_dir = Path(run.out) / f"fold{number}"
        for name in results:
            folder = fold_dir / name
            if name != TRIVIAL and _done(folder):
                results[name][number] = _load(folder, test)
                continue
            log(f"{part.name}: fold {number}/{len(folds)} ({len(train)} to train, {len(test)} to test): {name}")
            if name == TRIVIAL:
                outcome = (trivial_points(train, test), np.full((len(test), part.n_landmarks), np.nan),
                           {"train_s": 0.0, "predict_ms_per_photo": 0.0})
            elif name in DLIB.values():
                outcome = run_dlib(next(k for k, v in DLIB.items() if v == name), train, test, run.progress)
            else:
                model = next(m for m in run.models if model_info(m).label == name)
                outcome = run_model(model, fold_dir, part, train, test, run, log)
            _save(folder, test, *outcome)
            results[name][number] = outcome
    write_report(Path(run.out), part, folds, chosen, results, run)
    return results


def _errors(part, folds, chosen, outcome) -> tuple[np.ndarray, np.ndarray]:
    specimens = list(part)
    errors, radii = [], []
    for number in chosen:
        test = [specimens[i] for i in folds[number - 1][1]]
        points, radius, _ = outcome[number]
        errors.append(np.linalg.norm(points - np.stack([s.landmarks for s in test]), axis=-1))
        radii.append(radius)
    return np.concatenate(errors), np.concatenate(radii)


def write_report(out: Path, part, folds, chosen, results: dict, run: BenchmarkSettings) -> None:
    """``summary.csv``, ``per_landmark.csv``, ``per_fold.csv``, ``fig_errors.png``, ``run.json`` in ``out``."""
    summary, per_landmark, per_fold, distributions = [], [], [], {}
    reference = None
    for name, outcome in results.items():
        errors, radius = _errors(part, folds, chosen, outcome)
        finite = errors[np.isfinite(errors)]
        distributions[name] = finite
        mean = float(np.mean(finite))
        if name == DLIB["whole"]:
            reference = mean
        calibrated = radius_summary(errors, radius) if np.isfinite(radius).any() else {}
        timings = [outcome[k][2] for k in chosen]
        summary.append([name, len(chosen), len(errors), mean, float(np.median(finite)),
                        float(np.percentile(finite, 90)), None, calibrated.get("coverage"),
                        calibrated.get("radius_error_spearman"), float(np.mean([t["train_s"] for t in timings])),
                        float(np.mean([t["predict_ms_per_photo"] for t in timings]))])
        for k in range(errors.shape[1]):
            column = errors[:, k][np.isfinite(errors[:, k])]
            per_landmark.append([name, k + 1, float(np.mean(column)), float(np.median(column)),
                                 float(np.percentile(column, 90))])
        start = 0
        for number in chosen:
            size = len(folds[number - 1][1])
            per_fold.append([name, number, size, float(np.nanmean(errors[start:start + size]))])
            start += size
    for row in summary:
        row[6] = row[3] / reference if reference else None
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "summary.csv", SUMMARY_COLUMNS, summary)
    write_table(out / "per_landmark.csv", ["contender", "landmark", "mean_px", "median_px", "p90_px"], per_landmark)
    write_table(out / "per_fold.csv", ["contender", "fold", "test_specimens", "mean_px"], per_fold)
    plot_errors(out / "fig_errors.png", distributions, f"{part.name}: error per landmark (photo pixels)")
    record = {"data": str(part.folder), "specimens": len(part), "landmarks": part.n_landmarks,
              "folds": len(folds), "first": run.first, "seed": run.seed, "folds_run": chosen,
              "models": run.models, "epochs": run.epochs, "minutes": run.minutes,
              "test_names": {str(k): [list(part)[i].name for i in folds[k - 1][1]] for k in chosen},
              "versions": stack_versions(), "dlib_options": dlib_shape.ML_MORPH_OPTIONS}
    write_text(out / "run.json", json.dumps(record, indent=2) + "\n")


def plot_errors(path: Path, distributions: dict, title: str) -> Path:
    """Box plots of each contender's errors side by side (log scale), atomically as PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from beetles.core.files import write_bytes

    figure, axes = plt.subplots(figsize=(1.6 * len(distributions) + 2, 4.5))
    names = list(distributions)
    axes.boxplot([np.maximum(distributions[n], 0.1) for n in names], whis=(5, 95), showfliers=False)
    axes.set_xticks(range(1, len(names) + 1), [n.replace("_", "\n") for n in names], fontsize=8)
    axes.set_yscale("log")
    axes.set_ylabel("error (photo pixels); box: quartiles, whiskers: 5-95 %")
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return write_bytes(path, buffer.getvalue())


def format_summary(path) -> str:
    """``summary.csv`` as the printed table."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    def cell(value, fmt="{:.1f}"):
        return "-" if value in ("", None) else fmt.format(float(value))

    header = ["contender", "mean px", "median px", "p90 px", "/ dlib", "cover90", "rho", "train s", "ms/photo"]
    body = [[r["contender"], cell(r["mean_px"]), cell(r["median_px"]), cell(r["p90_px"]),
             cell(r["ratio_to_dlib_whole"], "{:.2f}"), cell(r["coverage90"], "{:.2f}"),
             cell(r["radius_error_spearman"], "{:.2f}"), cell(r["train_s_per_fold"], "{:.0f}"),
             cell(r["predict_ms_per_photo"], "{:.0f}")] for r in rows]
    widths = [max(len(r[k]) for r in [header, *body]) for k in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) if k == 0 else v.rjust(w) for k, (v, w) in
                               enumerate(zip(r, widths, strict=True))) for r in [header, *body])
