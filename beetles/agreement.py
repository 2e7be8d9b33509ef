"""Agreement of predicted with manual landmarks, as a morphometrician judges it.

``beetles evaluate --manual A.tps --pred B.tps [--out DIR]`` (and
:func:`evaluate_files`, the same as a plain Python call) compares two TPS
files of the same specimens:

* **pixel distances**: the Euclidean distance between each manual and
  predicted landmark, per landmark (mean, sd, median, max, n) and overall, in
  the pixels the TPS files use (the photo's, for beetles' own files);
* **shape**: a generalised Procrustes analysis (:func:`gpa`) of all manual and
  predicted configurations together, then each specimen's Procrustes
  distance between its manual and its predicted configuration;
* **size**: the centroid size of each configuration, the Pearson correlation
  of manual with predicted, and the mean ratio predicted / manual.

Array shapes: one configuration is ``(n, 2)`` (``n`` landmarks, ``x, y``),
several are ``(M, n, 2)``; ``nan`` marks a missing landmark.

Coordinates are read with :func:`beetles.formats.tps.read_tps_records` (y
up) and turned y down by ``y -> -y`` (:func:`beetles.frames.flip_y` with
height 0): without the photos the image height is unknown, but every number
here is unchanged by it, since a specimen's manual and predicted landmarks
share the photo, distances are differences, and the Procrustes analysis and
centroid sizes remove translation.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from beetles.errors import DataError
from beetles.frames import flip_y

#: The files :func:`write_outputs` writes into its folder.
OUTPUT_FILES = ("landmarks.csv", "specimens.csv", "summary.json", "report.png")

#: How many names of unpaired specimens, and of the worst specimens, are given.
SHOWN = 5


# --------------------------------------------------------------------------
# Generalised Procrustes analysis


def centroid_size(configs) -> np.ndarray:
    """Centroid size: root of the summed squared distances of the landmarks
    from their centroid.  ``(..., n, 2)`` → ``(...)``."""
    configs = np.asarray(configs, dtype=np.float64)
    centred = configs - configs.mean(axis=-2, keepdims=True)
    return np.sqrt((centred**2).sum(axis=(-2, -1)))


def centre_and_scale(configs) -> np.ndarray:
    """Translate each configuration to its centroid and scale it to unit
    centroid size.  ``(M, n, 2)`` → ``(M, n, 2)``."""
    configs = np.asarray(configs, dtype=np.float64)
    centred = configs - configs.mean(axis=-2, keepdims=True)
    return centred / centroid_size(centred)[..., None, None]


def rotation_onto(config, target) -> np.ndarray:
    """The rotation ``R`` ``(2, 2)`` minimising ``|config @ R - target|``.

    ``config``, ``target``: centred ``(n, 2)``.  A proper rotation only
    (determinant +1): a reflection is never allowed, since it would change
    the specimen's side.
    """
    u, _, vt = np.linalg.svd(np.asarray(config).T @ np.asarray(target))
    sign = 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0
    return u @ np.diag([1.0, sign]) @ vt


def gpa(configs, tol: float = 1e-12, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Generalised Procrustes analysis of ``configs`` ``(M, n, 2)`` (complete).

    Each configuration is translated to its centroid and scaled to unit
    centroid size, then all are rotated, in turn, onto the mean shape, which
    is recomputed (and rescaled to unit size) until it moves less than
    ``tol`` (sum of squares).  The first configuration starts as the mean.
    Returns ``(aligned (M, n, 2), mean shape (n, 2))``.
    """
    aligned = centre_and_scale(configs)
    mean = aligned[0].copy()
    for _ in range(max_iter):
        aligned = np.stack([c @ rotation_onto(c, mean) for c in aligned])
        new = aligned.mean(axis=0)
        new /= centroid_size(new)
        moved = float(((new - mean) ** 2).sum())
        mean = new
        if moved < tol:
            break
    return aligned, mean


# --------------------------------------------------------------------------
# Reading and pairing two TPS files


@dataclass
class Pairs:
    """Manual and predicted landmarks of the specimens found in both files.

    ``manual``, ``predicted``: ``(N, n, 2)``, y down, same order as
    ``names``; ``pairing`` is ``"name"`` (by ``IMAGE=``) or ``"order"``;
    ``only_manual`` / ``only_predicted`` name the specimens left out.
    """

    names: list[str]
    manual: np.ndarray
    predicted: np.ndarray
    pairing: str
    only_manual: list[str] = field(default_factory=list)
    only_predicted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read(path: Path):
    """``(names or None each, landmarks (M, n, 2) y down)`` of one TPS file."""
    from beetles.formats.tps import read_tps_records

    records = read_tps_records(path)
    if not records:
        raise DataError(f"{path}: no specimens (no LM= line)")
    counts = {len(r.landmarks_up) for r in records}
    if len(counts) > 1:
        first = len(records[0].landmarks_up)
        odd = next(r for r in records if len(r.landmarks_up) != first)
        raise DataError(
            f"{path}: specimens have different landmark counts ({first} at line {records[0].line}, "
            f"{len(odd.landmarks_up)} at line {odd.line})"
        )
    names = [r.image.strip().replace("\\", "/") if r.image and r.image.strip() else None for r in records]
    points = np.stack([flip_y(r.landmarks_up, 0.0) for r in records])
    return names, points


def _keys(names: list[str]) -> list[str]:
    """File names (``a/b.jpg`` → ``b.jpg``) when they are unique, else the names as written."""
    bases = [PurePosixPath(n).name for n in names]
    return bases if len(set(bases)) == len(bases) else names


def read_pairs(manual, pred) -> Pairs:
    """Read two TPS files and pair their specimens.

    By ``IMAGE=`` name when every specimen of both files has one (the file
    name alone when that is unique within each file), else by order, with a
    note.  Specimens in one file only are left out and listed.  A different
    landmark count, a name used twice, or no specimen in common is a
    :class:`DataError` naming the files.
    """
    manual, pred = Path(manual), Path(pred)
    names_m, points_m = _read(manual)
    names_p, points_p = _read(pred)
    both = f"{manual} and {pred}"
    if points_m.shape[1] != points_p.shape[1]:
        raise DataError(
            f"{manual} has {points_m.shape[1]} landmarks per specimen but {pred} has {points_p.shape[1]}: "
            "they are not the same landmarks"
        )
    if None in names_m or None in names_p:
        lacking = " and ".join(str(p) for p, n in ((manual, names_m), (pred, names_p)) if None in n)
        if len(points_m) != len(points_p):
            raise DataError(
                f"{lacking}: specimens without IMAGE= names cannot be paired by name, and {manual} "
                f"({len(points_m)} specimens) and {pred} ({len(points_p)}) differ in count, so not by order either"
            )
        names = [n or f"specimen_{k:04d}" for k, n in enumerate(names_m, start=1)]
        note = f"IMAGE= names are missing in {lacking}: specimens paired by their order in the files"
        return Pairs(names, points_m, points_p, "order", notes=[note])

    keys_m, keys_p = _keys(names_m), _keys(names_p)
    for path, keys in ((manual, keys_m), (pred, keys_p)):
        seen = set()
        for key in keys:
            if key in seen:
                raise DataError(f"{path}: IMAGE={key} names two specimens; cannot pair {both} by name")
            seen.add(key)
    index_p = {key: k for k, key in enumerate(keys_p)}
    common = [k for k, key in enumerate(keys_m) if key in index_p]
    if not common:
        raise DataError(f"no specimen in common between {both} (IMAGE= names differ, e.g. {keys_m[0]!r} and {keys_p[0]!r})")
    in_m = set(keys_m)
    return Pairs(
        names=[keys_m[k] for k in common],
        manual=points_m[common],
        predicted=points_p[[index_p[keys_m[k]] for k in common]],
        pairing="name",
        only_manual=[key for key in keys_m if key not in index_p],
        only_predicted=[key for key in keys_p if key not in in_m],
    )


# --------------------------------------------------------------------------
# The comparison


@dataclass
class Agreement:
    """Everything :func:`compare` measures; arrays over the ``N`` specimens
    and ``n`` landmarks (``nan`` where not measured)."""

    names: list[str]
    distances: np.ndarray  # (N, n) px
    procrustes: np.ndarray  # (N,) Procrustes distance manual–predicted after GPA
    size_manual: np.ndarray  # (N,) centroid size, px
    size_predicted: np.ndarray  # (N,)
    mean_manual: np.ndarray | None  # (n, 2) GPA mean shape of the manual configurations
    mean_predicted: np.ndarray | None  # (n, 2) and of the predicted ones
    size_r: float
    size_p: float
    notes: list[str]

    @property
    def specimen_distances(self) -> np.ndarray:
        """``(N,)`` mean landmark distance per specimen (``nan`` if none measured)."""
        counts = (~np.isnan(self.distances)).sum(axis=1)
        sums = np.nansum(self.distances, axis=1)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def landmark_rows(self) -> list[dict]:
        """Per landmark (1-based): mean, sd (``ddof=1``), median, max, n, in px."""
        rows = []
        for k, column in enumerate(self.distances.T, start=1):
            d = column[~np.isnan(column)]
            rows.append({
                "landmark": k,
                "mean": float(d.mean()) if d.size else math.nan,
                "sd": float(d.std(ddof=1)) if d.size > 1 else math.nan,
                "median": float(np.median(d)) if d.size else math.nan,
                "max": float(d.max()) if d.size else math.nan,
                "n": int(d.size),
            })
        return rows

    def specimen_rows(self) -> list[dict]:
        """Per specimen: image, mean distance, Procrustes distance, centroid sizes."""
        return [
            {
                "image": name,
                "mean_distance": float(m),
                "procrustes_distance": float(p),
                "centroid_size_manual": float(a),
                "centroid_size_predicted": float(b),
            }
            for name, m, p, a, b in zip(
                self.names, self.specimen_distances, self.procrustes, self.size_manual, self.size_predicted
            )
        ]

    def summary(self) -> dict:
        """The numbers as a JSON-ready dict (``nan`` stays ``nan`` here)."""
        d = self.distances[~np.isnan(self.distances)]
        p = self.procrustes[~np.isnan(self.procrustes)]
        both = ~(np.isnan(self.size_manual) | np.isnan(self.size_predicted))
        ratio = self.size_predicted[both] / self.size_manual[both]
        specimens = self.specimen_rows()
        worst = sorted(
            (r for r in specimens if not math.isnan(r["mean_distance"])), key=lambda r: -r["mean_distance"]
        )[:SHOWN]
        return {
            "n_specimens": len(self.names),
            "n_landmarks": int(self.distances.shape[1]),
            "mean_distance": float(d.mean()) if d.size else math.nan,
            "median_distance": float(np.median(d)) if d.size else math.nan,
            "landmarks": self.landmark_rows(),
            "procrustes": {
                "n_specimens": int(p.size),
                "mean": float(p.mean()) if p.size else math.nan,
                "max": float(p.max()) if p.size else math.nan,
            },
            "centroid_size": {
                "n_specimens": int(both.sum()),
                "pearson_r": self.size_r,
                "pearson_p": self.size_p,
                "mean_ratio_predicted_manual": float(ratio.mean()) if ratio.size else math.nan,
            },
            "mean_shape_manual": None if self.mean_manual is None else self.mean_manual.tolist(),
            "mean_shape_predicted": None if self.mean_predicted is None else self.mean_predicted.tolist(),
            "worst_specimens": worst,
            "specimens": specimens,
            "notes": list(self.notes),
        }


def _names_text(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f", … ({len(names) - SHOWN} more)" if len(names) > SHOWN else "")


def compare(manual, predicted, names=None) -> Agreement:
    """Compare ``manual`` with ``predicted`` landmarks, both ``(N, n, 2)``
    (same specimens, same order, same pixel frame and y direction).

    Missing landmarks (``nan`` in either) are left out of the distances of
    their landmark; specimens with any missing landmark (or all landmarks on
    one point) are left out of the Procrustes analysis and of the centroid
    sizes, with a note.
    """
    manual = np.asarray(manual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if manual.shape != predicted.shape or manual.ndim != 3 or manual.shape[2] != 2:
        raise ValueError(f"manual and predicted must both be (N, n, 2); got {manual.shape} and {predicted.shape}")
    count, n = manual.shape[:2]
    names = list(names) if names is not None else [f"specimen_{k:04d}" for k in range(1, count + 1)]
    notes: list[str] = []
    distances = np.linalg.norm(manual - predicted, axis=2)

    complete = ~(np.isnan(manual).any(axis=(1, 2)) | np.isnan(predicted).any(axis=(1, 2)))
    if not complete.all():
        notes.append(
            f"{int((~complete).sum())} specimen(s) with missing landmarks left out of the Procrustes analysis "
            f"and centroid sizes: {_names_text([nm for nm, c in zip(names, complete) if not c])}"
        )
    size_m = np.full(count, np.nan)
    size_p = np.full(count, np.nan)
    size_m[complete] = centroid_size(manual[complete])
    size_p[complete] = centroid_size(predicted[complete])
    flat = complete & ((size_m <= 0) | (size_p <= 0))
    if flat.any():
        notes.append(
            f"{int(flat.sum())} specimen(s) with all landmarks on one point left out of the Procrustes analysis: "
            f"{_names_text([nm for nm, f in zip(names, flat) if f])}"
        )
        size_m[flat] = size_p[flat] = np.nan
    usable = complete & ~flat

    procrustes = np.full(count, np.nan)
    mean_m = mean_p = None
    if n < 3:
        notes.append(f"no Procrustes analysis: it needs at least 3 landmarks, these files have {n}")
    elif not usable.any():
        notes.append("no Procrustes analysis: no specimen has all its landmarks in both files")
    else:
        m = int(usable.sum())
        aligned, _ = gpa(np.concatenate([manual[usable], predicted[usable]]))
        procrustes[usable] = np.sqrt(((aligned[:m] - aligned[m:]) ** 2).sum(axis=(1, 2)))
        mean_m, mean_p = aligned[:m].mean(axis=0), aligned[m:].mean(axis=0)

    r = p = math.nan
    if usable.sum() < 3:
        notes.append("no centroid size correlation: it needs at least 3 specimens with all landmarks")
    elif np.ptp(size_m[usable]) == 0 or np.ptp(size_p[usable]) == 0:
        notes.append("no centroid size correlation: the sizes are all equal in one file")
    else:
        from scipy.stats import pearsonr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = pearsonr(size_m[usable], size_p[usable])
        r, p = float(result[0]), float(result[1])
    return Agreement(names, distances, procrustes, size_m, size_p, mean_m, mean_p, r, p, notes)


# --------------------------------------------------------------------------
# Files, report and summary


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _check_out(out: Path, inputs) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")
    targets = {(out / name).resolve() for name in OUTPUT_FILES}
    for path in inputs:
        if Path(path).resolve() in targets:
            raise DataError(f"--out {out}: would overwrite the input file {path}")


def plot_report(agreement: Agreement, path, summary: dict | None = None) -> Path:
    """One page (PNG, Agg): per-landmark mean distance, the distance
    histogram, Procrustes distance per specimen (sorted), centroid size
    manual vs predicted, the GPA mean shapes with landmark numbers, and the
    text of ``summary`` (default: :meth:`Agreement.summary`)."""
    from beetles.reporting import _pyplot, _save

    plt = _pyplot()
    summary = summary or agreement.summary()
    figure, axes = plt.subplots(2, 3, figsize=(15, 9))
    (bars, hist, procr), (sizes, shapes, text) = axes

    rows = summary["landmarks"]
    numbers = [r["landmark"] for r in rows]
    bars.bar(numbers, [r["mean"] for r in rows], yerr=[0 if math.isnan(r["sd"]) else r["sd"] for r in rows],
             color="#4c72b0", capsize=3)
    bars.set_xticks(numbers)
    bars.set_xlabel("landmark")
    bars.set_ylabel("mean distance (px) ± sd")
    bars.set_title("distance per landmark")

    d = agreement.distances[~np.isnan(agreement.distances)]
    hist.hist(d, bins=min(40, max(5, d.size // 5)), color="#4c72b0", edgecolor="white")
    if d.size:
        hist.axvline(d.mean(), color="#c44e52", lw=2, label=f"mean {d.mean():.2f} px")
        hist.legend()
    hist.set_xlabel("distance manual–predicted (px)")
    hist.set_ylabel("landmarks")
    hist.set_title("distance distribution")

    ok = ~np.isnan(agreement.procrustes)
    if ok.any():
        order = np.sort(agreement.procrustes[ok])
        procr.plot(np.arange(1, order.size + 1), order, "o-", ms=3, color="#55a868")
        procr.axhline(order.mean(), color="#c44e52", ls="--", label=f"mean {order.mean():.4f}")
        procr.legend()
    else:
        procr.text(0.5, 0.5, "not available", ha="center", va="center", transform=procr.transAxes)
    procr.set_xlabel("specimen (sorted)")
    procr.set_ylabel("Procrustes distance")
    procr.set_title("shape: manual vs predicted after GPA")

    both = ~(np.isnan(agreement.size_manual) | np.isnan(agreement.size_predicted))
    if both.any():
        a, b = agreement.size_manual[both], agreement.size_predicted[both]
        sizes.scatter(a, b, s=12, color="#8172b2")
        low, high = min(a.min(), b.min()), max(a.max(), b.max())
        sizes.plot([low, high], [low, high], color="gray", ls="--", label="identity")
        r = summary["centroid_size"]["pearson_r"]
        sizes.legend(title=f"r = {r:.4f}" if not math.isnan(r) else None)
    sizes.set_xlabel("centroid size, manual (px)")
    sizes.set_ylabel("centroid size, predicted (px)")
    sizes.set_title("size")

    if agreement.mean_manual is not None:
        for shape, colour, marker, label in (
            (agreement.mean_manual, "#2ca02c", "o", "manual"),
            (agreement.mean_predicted, "#d62728", "x", "predicted"),
        ):
            shapes.scatter(shape[:, 0], shape[:, 1], c=colour, marker=marker, s=30, label=label)
        for k, (x, y) in enumerate(agreement.mean_manual, start=1):
            shapes.annotate(str(k), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
        shapes.set_aspect("equal", adjustable="datalim")
        shapes.invert_yaxis()  # y down, as in the photo
        shapes.legend()
    else:
        shapes.text(0.5, 0.5, "not available", ha="center", va="center", transform=shapes.transAxes)
    shapes.set_title("GPA mean shapes")

    text.axis("off")
    text.text(0, 1, format_summary(summary), va="top", family="monospace", fontsize=8, wrap=True)
    if "manual" in summary and "pred" in summary:
        figure.suptitle(f"{Path(summary['manual']).name} (manual) vs {Path(summary['pred']).name} (predicted)")
    figure.tight_layout()
    return _save(figure, path)


def write_outputs(agreement: Agreement, summary: dict, out) -> list[Path]:
    """Write ``landmarks.csv``, ``specimens.csv``, ``summary.json`` and
    ``report.png`` into ``out`` (created if missing), each atomically."""
    from beetles.files import write_text
    from beetles.reporting import write_table

    out = Path(out)
    rows = summary["landmarks"]
    header = ["landmark", "mean", "sd", "median", "max", "n"]
    written = [write_table(out / "landmarks.csv", header, [[r[h] for h in header] for r in rows])]
    specimens = summary["specimens"]
    header = ["image", "mean_distance", "procrustes_distance", "centroid_size_manual", "centroid_size_predicted"]
    written.append(write_table(out / "specimens.csv", header, [[r[h] for h in header] for r in specimens]))
    written.append(write_text(out / "summary.json", json.dumps(_jsonable(summary), indent=2) + "\n"))
    written.append(plot_report(agreement, out / "report.png", summary))
    return written


def evaluate_files(manual, pred, out=None) -> dict:
    """Compare the TPS files ``manual`` and ``pred`` (see the module doc).

    Returns :meth:`Agreement.summary` plus ``manual``, ``pred``,
    ``pairing``, ``only_manual`` / ``only_predicted`` (count and first
    names) and, with ``out``, ``files`` (the paths written there).  The
    input files are only read.
    """
    manual, pred = Path(manual), Path(pred)
    if out is not None:
        _check_out(Path(out), (manual, pred))
    pairs = read_pairs(manual, pred)
    agreement = compare(pairs.manual, pairs.predicted, pairs.names)
    notes = list(pairs.notes)
    for path, left in ((manual, pairs.only_manual), (pred, pairs.only_predicted)):
        if left:
            notes.append(f"{len(left)} specimen(s) only in {path}, left out: {_names_text(left)}")
    agreement.notes[:0] = notes
    summary = {
        "manual": str(manual),
        "pred": str(pred),
        "pairing": pairs.pairing,
        "only_manual": {"count": len(pairs.only_manual), "first": pairs.only_manual[:SHOWN]},
        "only_predicted": {"count": len(pairs.only_predicted), "first": pairs.only_predicted[:SHOWN]},
        **agreement.summary(),
    }
    if out is not None:
        summary["files"] = [str(p) for p in write_outputs(agreement, summary, out)]
    return summary


def _number(value, digits: int) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def format_summary(summary: dict) -> str:
    """A short text summary of :func:`evaluate_files`' (or
    :meth:`Agreement.summary`'s) result."""
    pairing = {"name": " paired by IMAGE= name", "order": " paired by order"}.get(summary.get("pairing"), "")
    lines = [f"specimens: {summary['n_specimens']}{pairing}, {summary['n_landmarks']} landmarks"]
    lines.append(f"mean distance: {_number(summary['mean_distance'], 2)} px")
    procr = summary["procrustes"]
    lines.append(
        f"Procrustes distance: mean {_number(procr['mean'], 4)}, max {_number(procr['max'], 4)} "
        f"({procr['n_specimens']} specimens)"
    )
    size = summary["centroid_size"]
    lines.append(
        f"centroid size: r = {_number(size['pearson_r'], 4)}, "
        f"predicted/manual = {_number(size['mean_ratio_predicted_manual'], 4)}"
    )
    if summary["worst_specimens"]:
        lines.append("worst specimens (mean distance px, Procrustes distance):")
        width = max(len(r["image"]) for r in summary["worst_specimens"])
        for r in summary["worst_specimens"]:
            lines.append(
                f"  {r['image']:<{width}}  {_number(r['mean_distance'], 2)}  {_number(r['procrustes_distance'], 4)}"
            )
    lines.extend(f"note: {note}" for note in summary["notes"])
    return "\n".join(lines)
