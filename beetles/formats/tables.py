"""CSV landmark layouts (y down, image rows, in both).

* The original study's wide layout: one row per image, ``x1,y1,…,xn,yn``
  then an ``Image`` column (:func:`read_study_csv`, :func:`write_study_csv`).
  The study's CSVs held 256×192 network-frame coordinates.
* A plain long layout: ``image,landmark,x,y``, one row per landmark, 1-based
  landmark numbers (:func:`read_long_csv`, :func:`write_long_csv`).

Empty cells or negative coordinates mean a missing landmark (``nan``).
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from beetles.errors import DataError, FormatError
from beetles.files import atomic_write
from beetles.frames import NETWORK
from beetles.images import resolve_frame
from beetles.specimen import Specimen

_WIDE_COLUMN = re.compile(r"^([xy])(\d+)$", re.IGNORECASE)


def _open_rows(path) -> tuple[list[str], list[list[str]]]:
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise DataError(f"{path}: landmark file not found") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise FormatError(path, None, "empty CSV file (no header)")
    return [cell.strip() for cell in rows[0]], rows[1:]


def _value(cell: str, path, lineno: int, column: str) -> float:
    cell = cell.strip()
    if cell == "":
        return np.nan
    try:
        value = float(cell)
    except ValueError:
        raise FormatError(path, lineno, f"column {column!r}: non-numeric value {cell!r}") from None
    return np.nan if value < 0 else value


def read_study_csv(path, image_dir=None, size=NETWORK.size) -> list[Specimen]:
    """Read the study's wide CSV (``x1,y1,…,Image``; y down).

    ``size`` is the frame of the coordinates (default 256×192, as in the
    study); ``size=None`` reads each photo's size from ``image_dir``.
    """
    path = Path(path)
    header, rows = _open_rows(path)
    lowered = [h.lower() for h in header]
    if "image" not in lowered:
        raise FormatError(path, 1, "no 'Image' column in the header")
    image_col = lowered.index("image")
    pairs: dict[int, dict[str, int]] = {}
    for col, name in enumerate(header):
        match = _WIDE_COLUMN.match(name)
        if match:
            pairs.setdefault(int(match.group(2)), {})[match.group(1).lower()] = col
    numbers = sorted(pairs)
    if not numbers or numbers != list(range(1, len(numbers) + 1)) or any(len(pairs[k]) != 2 for k in numbers):
        raise FormatError(path, 1, "header needs columns x1,y1,…,xn,yn for landmarks 1..n")
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    specimens = []
    for lineno, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise FormatError(path, lineno, f"{len(row)} cells, but the header has {len(header)}")
        image = image_dir / row[image_col].strip()
        points = [
            [_value(row[pairs[k]["x"]], path, lineno, f"x{k}"), _value(row[pairs[k]["y"]], path, lineno, f"y{k}")]
            for k in numbers
        ]
        specimens.append(
            Specimen(image, points, resolve_frame(image, size, f"line {lineno} of {path}"), extra={"number": lineno - 1})
        )
    return specimens


def _cell(value: float) -> str:
    return "" if np.isnan(value) else f"{value:.5f}"


def write_study_csv(path, specimens) -> Path:
    """Write specimens in the study's wide layout (y down, their own frame)."""
    specimens = list(specimens)
    n = specimens[0].n_landmarks if specimens else 0
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([f"{axis}{k}" for k in range(1, n + 1) for axis in "xy"] + ["Image"])
        for specimen in specimens:
            writer.writerow([_cell(v) for v in specimen.landmarks.ravel()] + [specimen.image.name])
    return Path(path)


def read_long_csv(path, image_dir=None, size=None, problems: list | None = None) -> list[Specimen]:
    """Read a long CSV ``image,landmark,x,y`` (y down, 1-based landmarks).

    Rows of one image may come in any order; every image must list
    landmarks 1..n with the same n.  ``size=None`` (default) reads each
    photo's size from ``image_dir`` (default: the CSV's folder); with a
    ``problems`` list, images that cannot be opened are skipped and reported
    in it, as :func:`beetles.formats.tps.read_tps` does.
    """
    path = Path(path)
    header, rows = _open_rows(path)
    lowered = [h.lower() for h in header]
    missing = [c for c in ("image", "landmark", "x", "y") if c not in lowered]
    if missing:
        raise FormatError(path, 1, f"header lacks column(s) {', '.join(missing)} (need image,landmark,x,y)")
    col = {name: lowered.index(name) for name in ("image", "landmark", "x", "y")}
    points: dict[str, dict[int, tuple[float, float]]] = {}
    for lineno, row in enumerate(rows, start=2):
        if len(row) < len(header):
            raise FormatError(path, lineno, f"{len(row)} cells, but the header has {len(header)}")
        image = row[col["image"]].strip()
        try:
            number = int(row[col["landmark"]])
        except ValueError:
            raise FormatError(path, lineno, f"landmark number {row[col['landmark']]!r} is not a whole number") from None
        if number < 1:
            raise FormatError(path, lineno, f"landmark numbers start at 1, found {number}")
        landmarks = points.setdefault(image, {})
        if number in landmarks:
            raise FormatError(path, lineno, f"landmark {number} of {image} given twice")
        landmarks[number] = (_value(row[col["x"]], path, lineno, "x"), _value(row[col["y"]], path, lineno, "y"))
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    specimens = []
    for number, (image, landmarks) in enumerate(points.items(), start=1):
        n = max(landmarks)
        if sorted(landmarks) != list(range(1, n + 1)):
            gaps = sorted(set(range(1, n + 1)) - set(landmarks))
            raise FormatError(path, None, f"image {image}: landmark(s) {gaps} missing from the file")
        photo = image_dir / image
        frame = resolve_frame(photo, size, f"{image} in {path}", problems)
        if frame is not None:
            specimens.append(Specimen(photo, [landmarks[k] for k in range(1, n + 1)], frame, extra={"number": number}))
    return specimens


def write_long_csv(path, specimens) -> Path:
    """Write specimens as ``image,landmark,x,y`` (y down, their own frame)."""
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image", "landmark", "x", "y"])
        for specimen in specimens:
            for number, (x, y) in enumerate(specimen.landmarks, start=1):
                writer.writerow([specimen.image.name, number, _cell(x), _cell(y)])
    return Path(path)
