"""Agreement of predicted with manual landmarks, as a morphometrician judges it.

``beetles evaluate --manual A.tps --pred B.tps [--out DIR]``
(:func:`beetles.tool.evaluate.evaluate_files`) compares two TPS files of the
same specimens, paired here (:func:`read_pairs`), with :func:`compare`:

* **pixel distances**: the Euclidean distance between each manual and
  predicted landmark, per landmark (mean, sd, median, max, n) and overall, in
  the pixels the TPS files use (the photo's, for beetles' own files);
* **shape**: a generalised Procrustes analysis (:func:`beetles.core.procrustes.gpa`) of all manual and
  predicted configurations together, then each specimen's Procrustes
  distance between its manual and its predicted configuration;
* **size**: the centroid size of each configuration, the Pearson correlation
  of manual with predicted, and the mean ratio predicted / manual.

Array shapes: one configuration is ``(n, 2)`` (``n`` landmarks, ``x, y``),
several are ``(M, n, 2)``; ``nan`` marks a missing landmark.

Coordinates are read with :func:`beetles.formats.tps.read_tps_records` (y
up) and turned y down by ``y -> -y`` (:func:`beetles.core.frames.flip_y` with
height 0): without the photos the image height is unknown, but every number
here is unchanged by it, since a specimen's manual and predicted landmarks
share the photo, distances are differences, and the Procrustes analysis and
centroid sizes remove translation.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from beetles.core.errors import DataError
from beetles.core.frames import flip_y
from beetles.core.procrustes import centroid_size, gpa

#: How many names of unpaired specimens, and of the worst specimens, are given.
SHOWN = 5


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


def _read(path: Path, negatives: str = "auto", notes: list | None = None):
    """``(names or None each, landmarks (M, n, 2) y down)`` of one TPS file
    (negative coordinates as :func:`beetles.formats.tps.read_tps_records`
    takes them, its note added to ``notes``)."""
    from beetles.formats.tps import read_tps_records

    records = read_tps_records(path, negatives, notes)
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


def read_pairs(manual, pred, negatives: str = "auto") -> Pairs:
    """Read two TPS files and pair their specimens.

    By ``IMAGE=`` name when every specimen of both files has one (the file
    name alone when that is unique within each file), else by order, with a
    note.  Specimens in one file only are left out and listed.  A different
    landmark count, a name used twice, or no specimen in common is a
    :class:`DataError` naming the files.  ``negatives``: what a negative
    coordinate means (:data:`beetles.formats.tps.NEGATIVES`); the readers'
    notes on missing landmarks come first in ``notes``.
    """
    manual, pred = Path(manual), Path(pred)
    read_notes: list[str] = []
    names_m, points_m = _read(manual, negatives, read_notes)
    names_p, points_p = _read(pred, negatives, read_notes)
    read_notes = list(dict.fromkeys(read_notes))  # the same file twice: said once
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
        return Pairs(names, points_m, points_p, "order", notes=[*read_notes, note])

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
        notes=read_notes,
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


def names_text(names: list[str]) -> str:
    """The first names of ``names`` joined with commas, and how many more there are."""
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
            f"and centroid sizes: {names_text([nm for nm, c in zip(names, complete) if not c])}"
        )
    size_m = np.full(count, np.nan)
    size_p = np.full(count, np.nan)
    size_m[complete] = centroid_size(manual[complete])
    size_p[complete] = centroid_size(predicted[complete])
    flat = complete & ((size_m <= 0) | (size_p <= 0))
    if flat.any():
        notes.append(
            f"{int(flat.sum())} specimen(s) with all landmarks on one point left out of the Procrustes analysis: "
            f"{names_text([nm for nm, f in zip(names, flat) if f])}"
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
        aligned = gpa(np.concatenate([manual[usable], predicted[usable]])).aligned
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
