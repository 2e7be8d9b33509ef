"""``beetles shapes``: Procrustes shapes and centroid sizes for geomorph and MorphoJ.

``beetles shapes LANDMARKS... --out DIR`` reads TPS files and long CSVs
(``image,landmark,x,y_down`` or ``image,landmark,x,y``; y down) without
their photos (:func:`read_configurations`), runs a generalised Procrustes
analysis (:func:`procrustes_shapes`, :func:`beetles.core.procrustes.gpa`)
and writes (:func:`write_shapes`, every file atomically):

* ``aligned.tps``: the aligned shapes (centred, unit centroid size), one
  block per specimen: ``LM=``, coordinates, ``ID=`` always, no ``SCALE=``
  (shapes have no scale) and no ``IMAGE=`` (these are not the photo's
  pixels: tpsDig would draw them on it, and a file naming photos has its
  negative coordinates read as missing; ``shapes.csv`` names the photos).  ``ID=`` is a
  whole number, as py-tps requires: the specimens' own IDs when all are
  unique whole numbers, else the 0-based position in ``aligned.tps`` (as
  tpsDig numbers).  geomorph reads it with ``readland.tps(file,
  specID="ID")`` (its default ``negNA = FALSE`` keeps negative coordinates,
  which aligned shapes have); ktch and py-tps read it too.  Coordinates are
  fixed-point decimals, since ktch reads no exponent.
* ``shapes.csv``: one row per specimen, ``id,image,centroid_size,x1,y1,…,xn,yn``.
* ``shapes_morphoj.txt`` and ``covariates_morphoj.txt``, for MorphoJ (below).
* ``shapes.json``: counts, whether centroid sizes are scaled and their
  units, the GPA's convergence, the input files, warnings and notes.

**Frame.** Everything is y up, TPS's convention: TPS coordinates are used
as written; the CSVs' y-down ``y`` is negated (no photo height is needed,
since the analysis removes translation).  The GPA mean keeps the average
orientation of the specimens, so the shapes lie as in their photos.

**Scale.** When every specimen has ``SCALE=`` (units per pixel), its raw
coordinates are multiplied by it before its centroid size is measured, so
sizes are in those units; when only some have one nothing is scaled and a
warning says how many lack it (``scale=False``: never scaled).

**Missing landmarks** (``nan``: NA in a TPS, an empty cell in a CSV, or what
:func:`beetles.formats.tps.read_tps_records` takes as missing) cannot enter
a GPA: such specimens are refused, or left out with ``drop_missing``.

**MorphoJ.** MorphoJ's guide ("Input file types", row/column format,
https://morphometrics.uk/MorphoJ_guide/fundamentals/fileTypes.htm): one line
per specimen, the identifier first, then x, y of each landmark; entries
delimited by tabs, commas or semicolons (spaces are not delimiters); a first
line of column labels (``ID``, ``x1``, ``y1``, …) is skipped when any entry
after its first is not a number.  Every entry after the identifier is a
coordinate, so centroid size cannot be a column of that file:
``shapes_morphoj.txt`` is ``ID<tab>x1<tab>y1…`` and the sizes go to
``covariates_morphoj.txt`` (``ID<tab>CS``), for "Import Covariates", whose
files are laid out like the classifier files of
https://morphometrics.uk/MorphoJ_guide/file/ImpClassifiers.htm (a first
line of names whose first entry is ignored, then one line per specimen,
matched by identifier).  Identifiers may hold any character but tabs,
commas and semicolons (the guide's section on identifiers); ours are whole
numbers.  MorphoJ fits its own Procrustes superimposition on import, which
leaves these shapes unchanged, but its own centroid size of them is 1: use
the imported ``CS`` covariate for size.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beetles.core.errors import DataError
from beetles.core.files import write_text
from beetles.core.procrustes import align_angle, centroid_size, gpa, rotation
from beetles.formats.tps import format_block

#: The files :func:`write_shapes` writes into its folder.
OUTPUT_FILES = ("aligned.tps", "shapes.csv", "shapes_morphoj.txt", "covariates_morphoj.txt", "shapes.json")
#: How many specimens an error or note names.
SHOWN = 5
#: The GPA's iteration limit and tolerance (:func:`beetles.core.procrustes.gpa`).
GPA_ITERATIONS, GPA_TOL = 50, 1e-12
#: A GPA whose mean moves less than this when recomputed has converged.
CONVERGED = 1e-9
UNITS = {True: "scale units (SCALE=)", False: "pixels"}


@dataclass
class Configuration:
    """One specimen as read: ``points`` ``(n, 2)``, **y up**, ``nan`` where
    missing; ``number`` is its 1-based position in ``source``."""

    points: np.ndarray
    source: Path
    number: int
    image: str | None = None
    id: str | None = None
    scale: float | None = None

    @property
    def label(self) -> str:
        return f"{self.source} #{self.number}" + (f" ({self.image})" if self.image else "")


@dataclass(frozen=True)
class Shapes:
    """What :func:`procrustes_shapes` returns: ``aligned`` ``(M, n, 2)``
    (centred, unit centroid size, in the input's frame and y direction),
    ``centroid_sizes`` ``(M,)`` (scaled when ``scaled``), ``mean`` ``(n, 2)``;
    ``mean_shift``: how far the mean moves when recomputed from ``aligned``
    (the GPA's convergence)."""

    aligned: np.ndarray
    centroid_sizes: np.ndarray
    mean: np.ndarray
    scaled: bool
    mean_shift: float

    @property
    def converged(self) -> bool:
        return self.mean_shift < CONVERGED


@dataclass
class ShapesRun:
    """What :func:`shapes_files` did: the specimens analysed, their ``ids``,
    the ``shapes``, the ``files`` written, ``left_out`` (labels), warnings and notes."""

    configurations: list[Configuration]
    ids: list[str]
    shapes: Shapes
    inputs: list[Path]
    files: list[Path] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _names(labels) -> str:
    labels = list(labels)
    return ", ".join(labels[:SHOWN]) + (f" and {len(labels) - SHOWN} more" if len(labels) > SHOWN else "")


def read_configurations(paths, negatives: str = "auto", notes: list | None = None) -> list[Configuration]:
    """The specimens of TPS files and long CSVs (``.csv``), in file order, y
    up; negative coordinates as :func:`beetles.formats.tps.read_tps_records`
    takes them (a long CSV names photos: ``auto`` takes them as missing),
    the readers' notes on missing landmarks added to ``notes``."""
    from beetles.formats.landmark_csv import XY_CHOICES, read_landmark_values
    from beetles.formats.tps import MissingTally, negatives_are_missing, read_tps_records

    configurations = []
    for path in map(Path, paths):
        before = len(configurations)
        if path.suffix.lower() == ".csv":
            tally = MissingTally(negatives == "auto" or negatives_are_missing([], negatives))
            for number, (image, xy) in enumerate(read_landmark_values(path, XY_CHOICES).items(), 1):
                up = tally.apply(xy) * [1.0, -1.0]  # y down -> y up
                configurations.append(Configuration(up, path, number, image=image or None))
            note = tally.note(path)
            if note and notes is not None:
                notes.append(note)
        else:
            for number, r in enumerate(read_tps_records(path, negatives, notes), 1):
                image = r.image.strip() if r.image and r.image.strip() else None
                ident = r.id.strip() if r.id and r.id.strip() else None
                configurations.append(Configuration(np.array(r.landmarks_up, dtype=np.float64), path, number,
                                                    image, ident, r.scale))
        if len(configurations) == before:
            raise DataError(f"{path}: no specimens")
    return configurations


def complete(configurations, drop_missing: bool = False) -> tuple[list[Configuration], list[str]]:
    """``(the specimens with every landmark, labels of those left out)``; a
    :class:`DataError` for differing landmark counts, fewer than 3 landmarks,
    or (without ``drop_missing``) any missing landmark."""
    first = configurations[0]
    odd = next((c for c in configurations if len(c.points) != len(first.points)), None)
    if odd is not None:
        raise DataError(f"specimens have different landmark counts: {len(first.points)} in {first.label}, "
                        f"{len(odd.points)} in {odd.label}")
    if len(first.points) < 3:
        raise DataError(f"{first.source}: {len(first.points)} landmarks per specimen; a shape needs at least 3")
    missing = [c for c in configurations if np.isnan(c.points).any()]
    if missing and not drop_missing:
        raise DataError(f"{len(missing)} specimen(s) have missing landmarks, which a Procrustes analysis cannot "
                        f"take: {_names(c.label for c in missing)} (--drop-missing leaves them out)")
    kept = [c for c in configurations if not np.isnan(c.points).any()]
    if not kept:
        raise DataError(f"every one of the {len(configurations)} specimens has missing landmarks")
    return kept, [c.label for c in missing]


def scales_of(configurations, use_scale: bool = True) -> tuple[np.ndarray | None, str | None]:
    """``(scales (M,) or None, warning or None)``: scales when every specimen has ``SCALE=``."""
    lacking = [c for c in configurations if c.scale is None]
    if not use_scale or len(lacking) == len(configurations):
        return None, None
    if lacking:
        return None, (f"{len(lacking)} of {len(configurations)} specimens have no SCALE= (e.g. {lacking[0].label}): "
                      "centroid sizes are in pixels, not scaled")
    bad = next((c for c in configurations if not (np.isfinite(c.scale) and c.scale > 0)), None)
    if bad is not None:
        raise DataError(f"{bad.label}: SCALE={bad.scale:g} is not a positive number")
    return np.array([c.scale for c in configurations], dtype=np.float64), None


def specimen_ids(configurations) -> tuple[list[str], str | None]:
    """``ID=`` of each specimen and a note when they are not the specimens' own:
    own IDs when every specimen has one, no two are the same and none holds
    a space, tab, comma or semicolon (MorphoJ's delimiters), else 0-based
    positions; a note too when own IDs are not whole numbers (py-tps reads
    only those)."""
    own = [c.id for c in configurations]
    if all(i and not re.search(r"[\s,;]", i) for i in own) and len(set(own)) == len(own):
        whole = all(re.fullmatch(r"-?[0-9]+", i) for i in own)
        return list(own), None if whole else "ID= keeps the specimens' own IDs; py-tps reads only whole-number IDs"
    note = None
    if any(own):
        note = ("ID= numbers the specimens from 0 in file order: their own IDs are missing for some, repeated, "
                "or hold a space, tab, comma or semicolon")
    return [str(k) for k in range(len(configurations))], note


def procrustes_shapes(configs, scales=None) -> Shapes:
    """Generalised Procrustes analysis of complete ``(M, n, 2)`` configurations
    (any frame, one y direction for all; the shapes keep it); ``scales``
    ``(M,)`` multiply each configuration before its centroid size is measured."""
    x = np.asarray(configs, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 2 or not len(x):
        raise ValueError(f"configurations must be (M, n, 2), not {x.shape}")
    if not np.isfinite(x).all():
        raise DataError("a Procrustes analysis needs every landmark: configurations hold missing (nan) values")
    if scales is not None:
        x = x * np.asarray(scales, dtype=np.float64).reshape(len(x), 1, 1)
    sizes = centroid_size(x)
    if (sizes <= 0).any():
        raise DataError(f"specimen {int(np.argmin(sizes)) + 1}: all its landmarks coincide (centroid size 0)")
    alignment = gpa(x, iterations=GPA_ITERATIONS, tol=GPA_TOL)
    recomputed = alignment.aligned.mean(axis=0)
    recomputed /= np.sqrt((recomputed**2).sum())
    recomputed = recomputed @ rotation(align_angle(recomputed, alignment.mean))
    shift = float(np.abs(recomputed - alignment.mean).max())
    return Shapes(alignment.aligned, sizes, alignment.mean, scales is not None, shift)


def _coordinate(value: float) -> str:
    return f"{value:.10f}"  # fixed point: ktch reads no exponent


def _rows(ids, configurations, shapes: Shapes) -> list[list[str]]:
    return [[i, c.image or "", repr(float(cs)), *(_coordinate(v) for v in a.ravel())]
            for i, c, cs, a in zip(ids, configurations, shapes.centroid_sizes, shapes.aligned, strict=True)]


def _table(header, rows, delimiter=",") -> str:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()


def write_shapes(out, configurations, shapes: Shapes, ids=None, info: dict | None = None) -> list[Path]:
    """Write :data:`OUTPUT_FILES` into ``out`` (see the module doc) for
    ``configurations`` and their ``shapes`` (y up); ``ids`` default to
    :func:`specimen_ids`; ``info`` is added to ``shapes.json``.  Returns the paths."""
    out = Path(out)
    ids = list(ids) if ids is not None else specimen_ids(configurations)[0]
    n = shapes.aligned.shape[1]
    blocks = [format_block(a, str(i), number=_coordinate) for i, a in zip(ids, shapes.aligned, strict=True)]
    rows = _rows(ids, configurations, shapes)
    xy = [f"{axis}{k}" for k in range(1, n + 1) for axis in "xy"]
    summary = {
        "specimens": len(ids), "landmarks": n, "scaled": shapes.scaled, "units": UNITS[shapes.scaled],
        "frame": "y up (TPS)", "mean_centroid_size": float(shapes.centroid_sizes.mean()),
        "gpa": {"converged": shapes.converged, "mean_shift": shapes.mean_shift,
                "max_iterations": GPA_ITERATIONS, "tolerance": GPA_TOL},
        **(info or {}),
    }
    texts = {
        "aligned.tps": "\n".join(blocks),  # a blank line between blocks, as geomorph writes
        "shapes.csv": _table(["id", "image", "centroid_size", *xy], rows),
        "shapes_morphoj.txt": _table(["ID", *xy], [[r[0], *r[3:]] for r in rows], "\t"),
        "covariates_morphoj.txt": _table(["ID", "CS"], [[r[0], r[2]] for r in rows], "\t"),
        "shapes.json": json.dumps(summary, indent=2) + "\n",
    }
    return [write_text(out / name, texts[name]) for name in OUTPUT_FILES]


def shapes_files(paths, out, scale: bool = True, drop_missing: bool = False, negatives: str = "auto") -> ShapesRun:
    """Read ``paths``, align their specimens and write :data:`OUTPUT_FILES`
    into ``out`` (see the module doc; ``negatives``: what a negative
    coordinate means, :data:`beetles.formats.tps.NEGATIVES`).  The inputs are
    only read."""
    paths, out = [Path(p) for p in paths], Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")
    targets = {(out / name).resolve() for name in OUTPUT_FILES}
    for path in paths:
        if path.resolve() in targets:
            raise DataError(f"--out {out}: would overwrite the input file {path}")
    read_notes: list[str] = []
    configurations, left_out = complete(read_configurations(paths, negatives, read_notes), drop_missing)
    scales, warning = scales_of(configurations, scale)
    ids, id_note = specimen_ids(configurations)
    shapes = procrustes_shapes(np.stack([c.points for c in configurations]), scales)
    run = ShapesRun(configurations, ids, shapes, paths, left_out=left_out, warnings=[warning] if warning else [])
    run.notes.extend(read_notes)
    if left_out:
        run.notes.append(f"{len(left_out)} specimen(s) with missing landmarks left out: {_names(left_out)}")
    if id_note:
        run.notes.append(id_note)
    if not scale and all(c.scale is not None for c in configurations):
        run.notes.append("SCALE= not used (--no-scale): centroid sizes are in pixels")
    if not shapes.converged:
        run.warnings.append(f"the Procrustes mean still moved {shapes.mean_shift:.2g} after "
                            f"{GPA_ITERATIONS} iterations")
    info = {"inputs": [str(p) for p in paths], "left_out": left_out, "warnings": run.warnings, "notes": run.notes}
    run.files = write_shapes(out, configurations, shapes, ids, info)
    return run


def format_summary(run: ShapesRun) -> str:
    """The text ``beetles shapes`` prints about ``run``."""
    shapes = run.shapes
    sizes = shapes.centroid_sizes
    lines = [f"shapes: {len(run.ids)} specimens, {shapes.aligned.shape[1]} landmarks, from "
             f"{', '.join(str(p) for p in run.inputs)}",
             f"centroid size: mean {sizes.mean():.6g} (range {sizes.min():.6g} to {sizes.max():.6g})",
             f"units: {UNITS[shapes.scaled]}" + ("" if shapes.scaled else " (coordinates as written, not scaled)")]
    lines.extend(f"warning: {w}" for w in run.warnings)
    lines.extend(f"note: {n}" for n in run.notes)
    return "\n".join(lines)
