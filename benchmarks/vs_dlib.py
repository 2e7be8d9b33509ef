"""Our CNN landmark models against ml-morph's dlib shape predictor, same images and split.

    python benchmarks/vs_dlib.py [--data DIR] [--parts pronotum head ...] [--rounds 1]
                                 [--ours 'results/model_comparison/{part}/cascade'] [--out results/vs_dlib]
                                 [--retrain]

Biologists who do not click landmarks by hand mostly use ml-morph (Porto and
Voje 2020), which is dlib's shape predictor: a cascade of ensembles of
regression trees (Kazemi and Sullivan 2014).  For each part and each chosen
cross-validation round (the project's rounds: :meth:`Experiment.all_rounds`),
this script trains dlib on the round's training photos at full resolution,
one box per photo covering the whole photo, landmarks in the photo's pixel
frame (y down), with ml-morph's published parameters (tree depth 3, cascade
depth 20, nu 0.08, oversampling 200, feature pool 700, dlib's defaults
otherwise), predicts the round's test photos, and compares with:

* ours: the held-out predictions of one of our experiments (``--ours``, a
  folder pattern with ``{part}``; its ``predictions.csv`` is in the 256×192
  frame), on the test photos both have, after checking that its manual
  landmarks are the dataset's (the same photos, the same split);
* the trivial predictor that always answers the training photos' mean shape.

Distances are the mean over landmarks of the per-landmark mean Euclidean
distance over the test photos, in photo pixels and in pixels of the 256×192
frame (the paper's unit).  dlib stores landmarks as integer pixels
(``dlib.point``): training landmarks are rounded, and so are its predictions.
Photos reach dlib as 8-bit gray, ``(R + G + B) // 3``, dlib's own conversion.

Writes ``<out>/vs_dlib.csv`` (``part,round,test_images,dlib_px,ours_px,
trivial_px,dlib_px_256,ours_px_256,trivial_px_256,dlib_train_s,
dlib_predict_ms``; ``dlib_predict_ms`` excludes the photo's decoding, which
``run.json`` also gives included) and ``<out>/run.json``.  dlib is not a
dependency of beetles: ``pip install dlib-bin`` (a prebuilt wheel) or
``pip install dlib`` (compiles, about 15 minutes).

Training takes minutes per part and round, so each trained round is kept in
``<out>/<part>/round<NN>/``: ``predictor.dat`` (dlib's own file),
``dlib_predictions.csv`` (``image,landmark,x,y``: the test photos' predictions,
landmarks 1-based, photo frame, y down) and ``dlib.json`` (the training
options, dlib's version, the training and test photo names, a digest of the
training boxes and landmarks, the training seconds and the prediction
milliseconds per photo), each written atomically, ``dlib.json`` last.  A later
run reuses a round whose files are all there and whose options (all but
``num_threads`` and ``be_verbose``, which do not change the predictor), photo
names and training digest match, and reports the recorded times (``run.json``
lists the reused rounds); ``--retrain`` trains again regardless.  A later run
thus only has to add our results, when they exist.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beetles.cli.options import exit_status, rounds_option
from beetles.core.errors import DataError
from beetles.core.files import WriteError, write_text
from beetles.core.frames import NETWORK, rescale
from beetles.core.metrics import mean_distances, mean_shape
from beetles.core.rounds import Round
from beetles.core.specimen import PartData, Specimen
from beetles.formats.landmark_csv import read_landmark_values, write_landmark_values
from beetles.formats.published import read_paired_csv
from beetles.formats.results import write_table
from beetles.paper.settings import PART_NAMES
from beetles.studies.dlib_shape import (  # noqa: F401  (the names this script has always offered)
    INSTALL_HINT,
    ML_MORPH_OPTIONS,
    gray_pixels,
    import_dlib,
    integer_points,
    predict_dlib,
    train_dlib,
    training_options,
    whole_photo_box,
)

DEFAULT_OURS = "results/model_comparison/{part}/cascade"
DEFAULT_OUT = "results/vs_dlib"
CSV_COLUMNS = ["part", "round", "test_images", "dlib_px", "ours_px", "trivial_px", "dlib_px_256", "ours_px_256",
               "trivial_px_256", "dlib_train_s", "dlib_predict_ms"]
#: How far (pixels of the 256×192 frame) our file's manual landmarks may lie
#: from the dataset's: the file keeps 4 decimals.
MANUAL_TOLERANCE = 0.01
#: The files of one trained round, in ``<out>/<part>/round<NN>/``.
PREDICTOR_FILE = "predictor.dat"
RECORD_FILE = "dlib.json"
PREDICTIONS_FILE = "dlib_predictions.csv"
#: Training options that do not change the trained predictor: a recorded
#: round is reused whatever they were.
UNMATCHED_OPTIONS = ("num_threads", "be_verbose")



# --- dlib-independent logic ----------------------------------------------------

def load_data(data, part: str, progress: bool = True) -> PartData:
    """A part's specimens, as the experiments load them (the synthetic dataset
    when ``data`` is ``None``)."""
    from beetles.studies.experiment import load_experiment_data

    return load_experiment_data(data, part, progress=progress)


def choose_rounds(data: PartData, rounds_text: str | None = "1") -> list[Round]:
    """The project's cross-validation rounds of ``data`` (``Experiment.all_rounds``),
    those named by ``rounds_text``: a count ``"3"`` or a list ``"1,4,7"``."""
    from beetles.studies.crossval import Experiment

    rounds = None if rounds_text is None else rounds_option(rounds_text)
    experiment = Experiment(name=data.name, data=data, out=Path("."), rounds=rounds)
    return experiment.chosen_rounds()


def mean_distance(manual, predicted) -> float:
    """Mean over landmarks of the per-landmark mean distance (``(N, n, 2)`` each)."""
    return float(np.mean(mean_distances(manual, predicted)))


def photo_landmarks(specimens) -> np.ndarray:
    """``(N, n, 2)``: each specimen's landmarks in its photo frame, y down."""
    return np.stack([s.landmarks for s in specimens])


def network_landmarks(specimens) -> np.ndarray:
    """``(N, n, 2)``: each specimen's landmarks in the 256×192 frame, y down."""
    return np.stack([s.in_frame(NETWORK).landmarks for s in specimens])


def to_network(points, specimens) -> np.ndarray:
    """Photo-frame predictions ``(N, n, 2)`` of ``specimens`` → 256×192 frame."""
    return np.stack([rescale(p, s.frame, NETWORK) for p, s in zip(points, specimens, strict=True)])


def to_photo(points, specimens) -> np.ndarray:
    """256×192-frame predictions ``(N, n, 2)`` of ``specimens`` → each photo's frame."""
    return np.stack([rescale(p, NETWORK, s.frame) for p, s in zip(points, specimens, strict=True)])


def trivial_predictions(train: list[Specimen], test: list[Specimen]) -> np.ndarray:
    """The mean-shape predictor's answers for ``test``, in each test photo's frame.

    The mean of the training landmarks is taken in the 256×192 frame and
    mapped to each photo; when every photo has one size (the study's, the
    synthetic data) that is the mean of the training landmarks in photo pixels.
    """
    shape = mean_shape(network_landmarks(train))
    return to_photo(np.broadcast_to(shape, (len(test), *shape.shape)), test)


@dataclass
class Ours:
    """One of our experiments' held-out predictions for a part."""

    folder: Path
    images: list[str]
    manual: np.ndarray  # (N, n, 2), 256×192, y down
    predicted: np.ndarray  # (N, n, 2), 256×192, y down
    run: dict = field(default_factory=dict)


def ours_folder(pattern: str, part: str) -> Path:
    """The folder of our experiment for ``part``: ``pattern`` with ``{part}`` filled in."""
    return Path(pattern.format(part=part))


def read_ours(folder) -> Ours | None:
    """Our experiment's ``predictions.csv`` (and ``run.json`` when present);
    ``None`` when the folder or its predictions are missing."""
    folder = Path(folder)
    path = folder / "predictions.csv"
    if not path.is_file():
        return None
    paired = read_paired_csv(path)
    run = {}
    if (folder / "run.json").is_file():
        try:
            run = json.loads((folder / "run.json").read_text())
        except json.JSONDecodeError as error:
            raise DataError(f"{folder / 'run.json'}: not JSON: {error}") from None
    return Ours(folder, paired.images, paired.manual, paired.predicted, run)


def pair_ours(ours: Ours, test: list[Specimen], tolerance: float = MANUAL_TOLERANCE):
    """Our predictions for the ``test`` specimens that our file has.

    Returns ``(positions, predicted)``: the positions in ``test`` that our
    file holds, in ``test``'s order, and our predictions for them in each
    photo's frame (``(k, n, 2)``, y down).  Raises :class:`DataError` when
    our manual landmarks of a shared photo are not the dataset's (other
    data, or other landmarks) or the landmark counts differ.
    """
    where = {name: k for k, name in enumerate(ours.images)}
    positions = [j for j, s in enumerate(test) if s.name in where]
    if not positions:
        return [], np.empty((0, test[0].n_landmarks if test else 0, 2))
    if ours.manual.shape[1] != test[0].n_landmarks:
        raise DataError(f"{ours.folder}: {ours.manual.shape[1]} landmarks per image, but the dataset's "
                        f"{test[0].n_landmarks}")
    rows = [where[test[j].name] for j in positions]
    shared = [test[j] for j in positions]
    gap = np.abs(ours.manual[rows] - network_landmarks(shared)).max(axis=(1, 2))
    bad = [s.name for s, g in zip(shared, gap, strict=True) if not g <= tolerance]
    if bad:
        raise DataError(
            f"{ours.folder / 'predictions.csv'}: the manual landmarks of {len(bad)} photo(s) ({', '.join(bad[:5])}"
            f"{' …' if len(bad) > 5 else ''}) are not the dataset's (off by up to {np.nanmax(gap):.3f} px of the "
            "256×192 frame): that experiment ran on other data"
        )
    return positions, to_photo(ours.predicted[rows], shared)


def ours_command(part: str, data=None) -> str:
    """The command that writes our results for ``part``."""
    extra = f" --data {data}" if data is not None else ""
    return f"python experiments/model_comparison.py --parts {part}{extra}"


def score(test: list[Specimen], predicted_photo) -> tuple[float, float]:
    """``(photo px, 256×192 px)`` mean distances of photo-frame predictions of ``test``."""
    if not test:
        return float("nan"), float("nan")
    predicted_photo = np.asarray(predicted_photo, dtype=np.float64)
    return (mean_distance(photo_landmarks(test), predicted_photo),
            mean_distance(network_landmarks(test), to_network(predicted_photo, test)))


def compare(part: str, round_number: int, train: list[Specimen], test: list[Specimen], dlib_predicted,
            ours: Ours | None, timing: dict | None = None) -> dict:
    """One result row: dlib, ours and the trivial predictor on the same test photos.

    ``dlib_predicted``: ``(len(test), n, 2)`` photo frame, y down, or ``None``.
    With ``ours`` holding some of ``test``, every column is over the test
    photos both have; otherwise over all of ``test`` (``ours_*`` are ``nan``).
    """
    keep = list(range(len(test)))
    ours_photo = None
    if ours is not None:
        positions, predicted = pair_ours(ours, test)
        if positions:
            keep, ours_photo = positions, predicted
    shared = [test[j] for j in keep]
    timing = timing or {}
    row = {"part": part, "round": round_number, "test_images": len(shared)}
    if dlib_predicted is not None:
        row["dlib_px"], row["dlib_px_256"] = score(shared, np.asarray(dlib_predicted)[keep])
    else:
        row["dlib_px"] = row["dlib_px_256"] = float("nan")
    if ours_photo is not None and len(shared):
        row["ours_px"], row["ours_px_256"] = score(shared, ours_photo)
    else:
        row["ours_px"] = row["ours_px_256"] = float("nan")
    row["trivial_px"], row["trivial_px_256"] = score(shared, trivial_predictions(train, shared)) if shared else (
        float("nan"), float("nan"))
    row["dlib_train_s"] = timing.get("train_s", float("nan"))
    row["dlib_predict_ms"] = timing.get("predict_ms", float("nan"))
    row["dlib_predict_decode_ms"] = timing.get("predict_decode_ms", float("nan"))
    row["round_test_images"] = len(test)
    return row


def write_results(out, rows: list[dict], settings: dict) -> tuple[Path, Path]:
    """``<out>/vs_dlib.csv`` and ``<out>/run.json`` (settings plus every row), atomically."""
    out = Path(out)
    csv_path = write_table(out / "vs_dlib.csv", CSV_COLUMNS, [[row[c] for c in CSV_COLUMNS] for row in rows])
    clean = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()} for row in rows]
    json_path = write_text(out / "run.json", json.dumps({**settings, "results": clean}, indent=2) + "\n")
    return csv_path, json_path


def format_table(rows: list[dict]) -> str:
    """The printed table: distances in photo px and in 256×192 px, dlib's times."""
    def cell(value, decimals=2):
        return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{decimals}f}"

    header = ["part", "round", "test", "dlib px", "ours px", "trivial px", "dlib 256", "ours 256", "trivial 256",
              "train s", "ms/img", "ms/img+decode"]
    body = [[row["part"], str(row["round"]), str(row["test_images"]), cell(row["dlib_px"]), cell(row["ours_px"]),
             cell(row["trivial_px"]), cell(row["dlib_px_256"]), cell(row["ours_px_256"]), cell(row["trivial_px_256"]),
             cell(row["dlib_train_s"], 1), cell(row["dlib_predict_ms"]), cell(row.get("dlib_predict_decode_ms"))]
            for row in rows]
    widths = [max(len(r[k]) for r in [header, *body]) for k in range(len(header))]
    lines = ["  ".join(v.ljust(w) if k < 1 else v.rjust(w) for k, (v, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- trained rounds kept on disk (dlib-independent) ---------------------------------

def round_folder(out, part: str, number: int) -> Path:
    """``<out>/<part>/round<NN>``: where a trained round is kept."""
    return Path(out) / part / f"round{number:02d}"


def training_digest(train: list[Specimen]) -> str:
    """SHA-256 of what dlib trains on besides the pixels: each training
    photo's name, box and rounded landmarks, in order."""
    content = [[s.name, list(whole_photo_box(s)), integer_points(s.landmarks)] for s in train]
    return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()


def cache_key(options: dict, train: list[Specimen], test: list[Specimen]) -> dict:
    """What a recorded round must match to be reused: the options that change
    the predictor (``options``: :func:`options_record`'s dict), the training and
    test photo names in order, and the training boxes and landmarks' digest."""
    return {"options": {k: v for k, v in options.items() if k not in UNMATCHED_OPTIONS},
            "train_images": [s.name for s in train], "test_images": [s.name for s in test],
            "train_digest": training_digest(train)}


def _names_difference(what: str, recorded, wanted) -> str | None:
    if recorded == wanted:
        return None
    if not isinstance(recorded, list) or len(recorded) != len(wanted):
        count = len(recorded) if isinstance(recorded, list) else "no"
        return f"{what}: {count} recorded, {len(wanted)} now"
    k = next(k for k, (a, b) in enumerate(zip(recorded, wanted, strict=True)) if a != b)
    return f"{what} differ (#{k + 1}: {recorded[k]!r} recorded, {wanted[k]!r} now)"


def cache_mismatch(record: dict, key: dict) -> str | None:
    """Why a recorded round (``dlib.json``) cannot be reused for ``key``
    (:func:`cache_key`); ``None`` when it can."""
    recorded = {k: v for k, v in (record.get("options") or {}).items() if k not in UNMATCHED_OPTIONS}
    if recorded != key["options"]:
        names = sorted(n for n in set(recorded) | set(key["options"]) if recorded.get(n) != key["options"].get(n))
        return "options differ: " + ", ".join(f"{n} {recorded.get(n)!r} recorded, {key['options'].get(n)!r} now"
                                              for n in names)
    for what, name in (("training photos", "train_images"), ("test photos", "test_images")):
        reason = _names_difference(what, record.get(name), key[name])
        if reason:
            return reason
    if record.get("train_digest") != key["train_digest"]:
        return "the training photos' boxes or landmarks differ"
    return None


def write_predictions(path, names: list[str], points) -> Path:
    """``image,landmark,x,y`` (landmarks 1-based, photo frame, y down, every digit), atomically."""
    points = np.asarray(points, dtype=np.float64)
    return write_landmark_values(path, names, {"x": points[..., 0], "y": points[..., 1]}, digits=None)


def read_predictions(path, names: list[str], n_landmarks: int) -> np.ndarray:
    """``(len(names), n_landmarks, 2)`` from :func:`write_predictions`' file;
    :class:`DataError` unless it holds exactly those photos and landmarks."""
    path = Path(path)
    try:
        tables = read_landmark_values(path, ["x", "y"])
    except DataError as error:
        raise DataError(f"{path}: a row is malformed or repeated ({error})") from None
    if sorted(tables) != sorted(names) or any(len(v) != n_landmarks for v in tables.values()):
        raise DataError(f"{path}: some test photos or landmarks are missing, or others are there")
    points = np.stack([tables[name] for name in names])
    if np.isnan(points).any():
        raise DataError(f"{path}: some landmarks are missing")
    return points


def load_round(folder, key: dict, n_landmarks: int):
    """A recorded round in ``folder``: ``(predictions, record, None)`` when it
    can be reused for ``key``, else ``(None, None, why)`` (``why`` is ``None``
    when nothing was recorded there)."""
    folder = Path(folder)
    present = [(folder / f).is_file() for f in (PREDICTOR_FILE, RECORD_FILE, PREDICTIONS_FILE)]
    if not any(present):
        return None, None, None
    if not all(present):
        return None, None, "its files are incomplete"
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return None, None, f"{RECORD_FILE} cannot be read: {error}"
    if not isinstance(record, dict):
        return None, None, f"{RECORD_FILE} is not a JSON object"
    why = cache_mismatch(record, key)
    if why:
        return None, None, why
    try:
        predictions = read_predictions(folder / PREDICTIONS_FILE, key["test_images"], n_landmarks)
    except (OSError, DataError) as error:
        return None, None, str(error)
    return predictions, record, None


def save_predictor(predictor, path) -> Path:
    """``predictor.save`` (dlib's own format) to a temporary file beside
    ``path``, renamed to ``path`` once complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        predictor.save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, (OSError, RuntimeError)):
            raise WriteError(f"{path}: cannot write the predictor ({error})") from error
        raise
    return path


def save_round(folder, predictor, record: dict, predictions) -> Path:
    """Keep a trained round: the predictor, the predictions, then ``dlib.json``
    (``record``, holding :func:`cache_key`'s fields), each atomically."""
    folder = Path(folder)
    save_predictor(predictor, folder / PREDICTOR_FILE)
    write_predictions(folder / PREDICTIONS_FILE, record["test_images"], predictions)
    write_text(folder / RECORD_FILE, json.dumps(record, indent=2) + "\n")
    return folder


# --- dlib ------------------------------------------------------------------------

def options_record(options) -> dict:
    """Every training option as plain values, for ``run.json``."""
    names = ("tree_depth", "cascade_depth", "num_trees_per_cascade_level", "nu", "oversampling_amount",
             "oversampling_translation_jitter", "feature_pool_size", "lambda_param", "num_test_splits",
             "feature_pool_region_padding", "random_seed", "num_threads", "landmark_relative_padding_mode",
             "be_verbose")
    record = {}
    for name in names:
        if hasattr(options, name):
            value = getattr(options, name)
            record[name] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return record


def dlib_versions(dlib) -> dict:
    """dlib's version and the distribution that installed it."""
    from importlib import metadata

    versions = {"dlib": getattr(dlib, "__version__", None), "python": platform.python_version(),
                "numpy": np.__version__}
    for dist in ("dlib", "dlib-bin"):
        try:
            versions[f"distribution_{dist}"] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


# --- command line ------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="vs_dlib.py", description=__doc__.splitlines()[0],
                                     epilog="Distances: mean over landmarks of the per-landmark mean distance.")
    parser.add_argument("--data", default=None, help="dataset folder with part folders (default: the synthetic "
                        "dataset in data/synthetic/)")
    parser.add_argument("--parts", nargs="+", default=list(PART_NAMES), choices=PART_NAMES,
                        help="parts to compare (default: all five)")
    parser.add_argument("--rounds", default="1", help="rounds: a count K (the first K) or a list like 1,4,7 "
                        "(default: %(default)s)")
    parser.add_argument("--ours", default=DEFAULT_OURS, help="our experiment folders, {part} filled in "
                        "(default: %(default)s)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--retrain", action="store_true", help="train dlib again even where <out>/<part>/round<NN>/ "
                        "holds a round trained earlier with the same options and photos")
    group = parser.add_argument_group("dlib training options (default: ml-morph's)")
    group.add_argument("--tree-depth", type=int, default=ML_MORPH_OPTIONS["tree_depth"])
    group.add_argument("--cascade-depth", type=int, default=ML_MORPH_OPTIONS["cascade_depth"])
    group.add_argument("--nu", type=float, default=ML_MORPH_OPTIONS["nu"])
    group.add_argument("--oversampling", type=int, default=ML_MORPH_OPTIONS["oversampling_amount"])
    group.add_argument("--feature-pool-size", type=int, default=ML_MORPH_OPTIONS["feature_pool_size"])
    group.add_argument("--trees", type=int, default=None, help="trees per cascade level (default: dlib's, 500)")
    group.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="default: the CPU count, %(default)s")
    return parser.parse_args(argv)


def option_overrides(args) -> dict:
    """The dlib options the command line sets."""
    overrides = {"tree_depth": args.tree_depth, "cascade_depth": args.cascade_depth, "nu": args.nu,
                 "oversampling_amount": args.oversampling, "feature_pool_size": args.feature_pool_size,
                 "num_threads": args.threads}
    if args.trees is not None:
        overrides["num_trees_per_cascade_level"] = args.trees
    return overrides


def dlib_round(dlib, options, part: str, number: int, train: list[Specimen], test: list[Specimen], out,
               retrain: bool = False, progress: bool = True):
    """dlib's predictions for a round, recorded earlier or trained now:
    ``(predictions, timing, reused)``; a newly trained round is kept in
    ``<out>/<part>/round<NN>/``."""
    folder = round_folder(out, part, number)
    record_options = options_record(options)
    key = cache_key(record_options, train, test)
    versions = dlib_versions(dlib)
    if retrain:
        if (folder / RECORD_FILE).exists():
            print(f"  retraining (--retrain): replacing {folder}", flush=True)
    else:
        predictions, record, why = load_round(folder, key, test[0].n_landmarks if test else 0)
        if predictions is not None:
            timing = {name: record.get(name, float("nan")) for name in ("train_s", "predict_ms", "predict_decode_ms")}
            note = ""
            if record.get("versions", {}).get("dlib") != versions.get("dlib"):
                note = f" (with dlib {record.get('versions', {}).get('dlib')}; now {versions.get('dlib')})"
            print(f"  reusing dlib round {number} of {part} trained earlier{note}: {folder}", flush=True)
            return predictions, timing, True
        if why:
            print(f"  not reusing {folder}: {why}; training again", flush=True)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    predictor, train_s = train_dlib(dlib, train, options, progress=progress)
    predictions, timing = predict_dlib(dlib, predictor, test, progress=progress)
    record = {
        "part": part, "round": number, **key, "options": record_options, "versions": versions,
        "train_s": train_s, **timing, "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_before": list(load) if load else None, "cpu_count": os.cpu_count(),
        "box": "whole photo, one per image", "gray": "(R + G + B) // 3",
        "files": {"predictor": PREDICTOR_FILE, "predictions": PREDICTIONS_FILE},
    }
    save_round(folder, predictor, record, predictions)
    return predictions, {"train_s": train_s, **timing}, False


def run(args, dlib) -> int:
    started = time.perf_counter()
    progress = not args.quiet
    options = training_options(dlib, **option_overrides(args))
    rows, ours_info, missing_ours = [], {}, []
    reused, trained = {}, {}
    for part in args.parts:
        data = load_data(args.data, part, progress=progress)
        rounds = choose_rounds(data, args.rounds)
        folder = ours_folder(args.ours, part)
        ours = read_ours(folder)
        if ours is None:
            missing_ours.append(part)
            print(f"{part}: no results of ours in {folder} (no predictions.csv): reporting dlib alone; "
                  f"ours come from: {ours_command(part, args.data)}", flush=True)
        else:
            ours_info[part] = {"folder": str(folder), "images": len(ours.images),
                               "rounds_run": ours.run.get("rounds_run"), "experiment": ours.run.get("experiment"),
                               "data": ours.run.get("data"), "results": ours.run.get("results")}
        for round_ in rounds:
            train = [data[i] for i in round_.train]
            test = [data[i] for i in round_.test]
            print(f"{part}, round {round_.number}: dlib trains on {len(train)} photos "
                  f"({int(train[0].frame.width)}×{int(train[0].frame.height)}), tests on {len(test)}", flush=True)
            predicted, timing, was_reused = dlib_round(dlib, options, part, round_.number, train, test, args.out,
                                                       retrain=args.retrain, progress=progress)
            (reused if was_reused else trained).setdefault(part, []).append(round_.number)
            row = compare(part, round_.number, train, test, predicted, ours, timing)
            row["dlib_reused"] = was_reused
            row["dlib_folder"] = str(round_folder(args.out, part, round_.number))
            if ours is not None and np.isnan(row["ours_px"]):
                print(f"  {folder / 'predictions.csv'} holds none of this round's test photos: dlib alone",
                      flush=True)
            elif ours is not None and row["test_images"] < len(test):
                print(f"  ours holds {row['test_images']} of the round's {len(test)} test photos: every column "
                      "is over those", flush=True)
            rows.append(row)
            print(f"  dlib {row['dlib_px']:.2f} px (trivial {row['trivial_px']:.2f}), trained in "
                  f"{row['dlib_train_s']:.1f} s{' (recorded)' if was_reused else ''}, "
                  f"{row['dlib_predict_ms']:.2f} ms/photo", flush=True)
    settings = {
        "benchmark": "vs_dlib",
        "data": str(args.data) if args.data is not None else "synthetic (data/synthetic/)",
        "synthetic_data": args.data is None,
        "parts": args.parts,
        "rounds": args.rounds,
        "ours_pattern": args.ours,
        "ours": ours_info,
        "ours_missing": {part: ours_command(part, args.data) for part in missing_ours},
        "dlib_options": options_record(options),
        "retrain": args.retrain,
        "dlib_reused": reused,
        "dlib_trained": trained,
        "dlib_times": "reused rounds report the training seconds and prediction times recorded when they were "
                      "trained (<out>/<part>/round<NN>/dlib.json)",
        "box": "whole photo, one per image",
        "gray": "(R + G + B) // 3",
        "versions": dlib_versions(dlib),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "seconds": time.perf_counter() - started,
    }
    csv_path, json_path = write_results(args.out, rows, settings)
    print(format_table(rows))
    print(f"wrote {csv_path} and {json_path} ({settings['seconds'] / 60:.1f} min)")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    dlib = import_dlib()
    if dlib is None:
        print(f"vs_dlib: error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    return exit_status("vs_dlib", lambda: run(args, dlib))


if __name__ == "__main__":
    raise SystemExit(main())
