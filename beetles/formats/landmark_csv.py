"""CSV landmark layouts (y down, image rows, in both).

* The original study's wide layout: one row per image, ``x1,y1,…,xn,yn``
  then an ``Image`` column (:func:`read_study_csv`, :func:`write_study_csv`).
  The study's CSVs held 256×192 network-frame coordinates.
* Long layouts: one row per image and landmark, ``image,landmark,<values>``
  with 1-based landmark numbers, optionally a ``name`` column with the
  landmark's name (:func:`read_landmark_names`), coordinates in the columns
  ``x,y_down`` (:data:`XY`: the header says y points down, the opposite of
  TPS; the older ``x,y`` is read alike).  :func:`write_landmark_values` and
  :func:`read_landmark_values` write and read any such table (predictions
  with their spread, held-out predictions beside the manual landmarks, a
  model's spread); :func:`read_long_csv` / :func:`write_long_csv` are the
  plain ``image,landmark,x,y_down`` landmark file, read into specimens.

In a landmark file an empty cell or ``NA`` means a missing landmark (``nan``),
and so does a negative coordinate unless the reader is told otherwise (photo
pixels are never negative; :data:`beetles.formats.tps.NEGATIVES`); in the
other tables an empty cell is ``nan``.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from beetles.core.errors import FormatError, shorten
from beetles.core.files import atomic_write
from beetles.core.frames import NETWORK
from beetles.core.images import resolve_frame
from beetles.core.specimen import Specimen
from beetles.core.textfiles import read_text
from beetles.formats.photonames import PhotoFinder

_WIDE_COLUMN = re.compile(r"^([xy])(\d+)$", re.IGNORECASE)
#: The coordinate columns of the long CSV beetles writes (x right, y down, photo pixels).
XY = ("x", "y_down")
#: The coordinate columns a long CSV may have, in the order they are looked for.
XY_CHOICES = (XY, ("x", "y"))
#: The optional column of landmark names in a long CSV.
NAME_COLUMN = "name"


def _csv_rows(path, what: str):
    """``(line, row)`` of every row of the CSV file at ``path`` that is not
    blank, read with :func:`~beetles.core.textfiles.read_text` (any byte-order
    mark, UTF-8, else Latin-1); ``line`` is the row's first line.  A row the
    csv module cannot read (a cell over its size limit) is a :class:`FormatError`."""
    reader = csv.reader(io.StringIO(read_text(path, what), newline=""))
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FormatError(path, reader.line_num, f"not readable as CSV ({shorten(error)})") from None
        if any(cell.strip() for cell in row):
            yield line, row
        line = reader.line_num + 1


def _shown(text: str) -> str:
    """A cell's text as a message names it: shortened, and quoted when it
    holds a line break or another character that does not print."""
    text = shorten(text)
    return text if text.isprintable() else repr(text)


def _open_rows(path) -> tuple[list[str], list[list[str]]]:
    path = Path(path)
    rows = [row for _, row in _csv_rows(path, "landmark file")]
    if not rows:
        raise FormatError(path, None, "empty CSV file (no header)")
    return [cell.strip() for cell in rows[0]], rows[1:]


def _value(cell: str, path, lineno: int, column: str) -> float:
    """A landmark coordinate: empty or negative is missing (``nan``)."""
    value = _cell_value(cell, path, lineno, column)
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


def _format(value, digits: int | None) -> str:
    value = float(value)
    if np.isnan(value):
        return ""
    return repr(value) if digits is None else f"{value:.{digits}f}"


def write_landmark_values(path, names, columns: dict, digits: int | None = 4, landmark_names=None) -> Path:
    """Write ``image,landmark,<column>,…``: one row per image of ``names`` and
    1-based landmark, ``columns`` mapping each column name to an ``(N, n)``
    array, or ``N`` arrays ``(n_i,)`` (``nan``: an empty cell), values with
    ``digits`` decimals (``None``: every digit, as ``repr``); with
    ``landmark_names`` (one per landmark), a ``name`` column after
    ``landmark``.  Atomic."""
    arrays = list(columns.values())
    rows = ((name, [a[index] for a in arrays]) for index, name in enumerate(names))
    return write_landmark_rows(path, list(columns), rows, digits, landmark_names)


def write_landmark_rows(path, header, rows, digits: int | None = 4, landmark_names=None) -> Path:
    """:func:`write_landmark_values` from ``rows``, an iterable (an iterator
    is written as it comes) of ``(image, [values of each column of header,
    (n,) each])``.  Atomic."""
    label = list(landmark_names) if landmark_names is not None else None
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image", "landmark", *([NAME_COLUMN] if label else []), *header])
        for name, values in rows:
            values = [np.asarray(v, dtype=np.float64) for v in values]
            for k in range(len(values[0]) if values else 0):
                named = [label[k] if k < len(label) else ""] if label else []
                writer.writerow([name, k + 1, *named, *(_format(v[k], digits) for v in values)])
    return Path(path)


def read_landmark_names(path) -> list[str] | None:
    """The landmark names of a long CSV's ``name`` column, landmark 1 first
    (``None`` without the column); a :class:`FormatError` when one landmark
    has two names."""
    path = Path(path)
    header, rows = _open_rows(path)
    lowered = [h.lower() for h in header]
    if NAME_COLUMN not in lowered or "landmark" not in lowered:
        return None
    col, number_col = lowered.index(NAME_COLUMN), lowered.index("landmark")
    found: dict[int, str] = {}
    for line, row in enumerate(rows, start=2):
        if len(row) <= max(col, number_col) or not row[col].strip():
            continue
        try:
            number = int(row[number_col])
        except ValueError:
            continue  # read_landmark_values names the bad number
        if not 1 <= number <= len(rows):  # no image can list landmarks 1..number: read_landmark_values says so
            continue
        name = row[col].strip()
        if found.setdefault(number, name) != name:
            raise FormatError(path, line, f"landmark {shorten(number)} is named both {shorten(found[number])!r} "
                                          f"and {shorten(name)!r}")
    if not found:
        return None
    return [found.get(k, str(k)) for k in range(1, max(found) + 1)]


def read_landmark_values(path, columns) -> dict[str, np.ndarray]:
    """Read a long table: ``{image: (n, len(columns)) array}`` in file order.

    ``columns``: the value columns to read (header names, any case), or
    several such lists, the first one the header holds being read.  Rows of
    one image may come in any order; every image must list landmarks 1..n,
    each once (the count may differ between images).  An empty cell is
    ``nan``.  A :class:`FormatError` names the file and line of any problem.
    """
    path = Path(path)
    choices = [[c.lower() for c in columns]] if isinstance(columns[0], str) else [[c.lower() for c in cs] for cs in columns]
    values: dict[str, dict[int, list[float]]] = {}
    rows = _csv_rows(path, "file")
    header_line, header = next(rows, (1, None))
    if header is None:
        raise FormatError(path, None, "empty CSV file (no header)")
    lowered = [cell.strip().lower() for cell in header]
    chosen = next((c for c in choices if {"image", "landmark", *c} <= set(lowered)), None)
    if chosen is None:
        need = " or ".join(",".join(["image", "landmark", *c]) for c in choices)
        raise FormatError(path, header_line, f"header lacks the columns {need}")
    index = [lowered.index(name) for name in ("image", "landmark", *chosen)]
    for line, row in rows:
        if len(row) <= max(index):
            raise FormatError(path, line, f"{len(row)} cells, but the header has {len(header)}")
        image = row[index[0]].strip()
        try:
            number = int(row[index[1]])
        except ValueError:  # also a number of more than 4300 digits (Python's limit)
            raise FormatError(path, line, f"landmark number {shorten(row[index[1]])!r} is not a whole number") from None
        if number < 1:
            raise FormatError(path, line, f"landmark numbers start at 1, found {shorten(number)}")
        landmarks = values.setdefault(image, {})
        if number in landmarks:
            raise FormatError(path, line, f"landmark {shorten(number)} of {_shown(image)} given twice")
        landmarks[number] = [_cell_value(row[i], path, line, column) for i, column in zip(index[2:], chosen)]
    tables = {}
    for image, landmarks in values.items():
        n = max(landmarks)
        if len(landmarks) != n:  # numbers are distinct and from 1: some of 1..n are missing
            gaps = _gaps(landmarks, n)
            raise FormatError(path, None, f"image {_shown(image)}: landmark(s) {gaps} missing from the file")
        tables[image] = np.array([landmarks[k] for k in range(1, n + 1)], dtype=np.float64)
    return tables


def _gaps(numbers, n: int, listed: int = 10) -> str:
    """The first ``listed`` of 1..``n`` not in ``numbers``, as a list, with how
    many there are in all when more (``n`` may be huge: 1..n is never built)."""
    gaps = []
    k = 1
    while len(gaps) < listed and k <= n:  # at most len(numbers) + listed steps
        if k not in numbers:
            gaps.append(k)
        k += 1
    missing = n - len(numbers)
    if missing <= len(gaps):
        return str(gaps)
    return f"[{', '.join(map(str, gaps))}, …] ({shorten(missing, 20)} in all)"


def _cell_value(cell: str, path, line: int, column: str) -> float:
    cell = cell.strip()
    if cell == "" or cell.lower() == "na":  # R's write.csv writes NA
        return np.nan
    try:
        return float(cell)
    except ValueError:
        raise FormatError(path, line, f"column {column!r}: non-numeric value {shorten(cell)!r}") from None


def read_long_csv(path, image_dir=None, size=None, problems: list | None = None,
                  notes: list | None = None, negatives: str = "auto") -> list[Specimen]:
    """Read a long CSV ``image,landmark,x,y_down`` (or ``x,y``; y down,
    1-based landmarks).

    Rows of one image may come in any order; every image must list
    landmarks 1..n.  ``size=None`` (default) reads each photo's size from
    ``image_dir`` (default: the CSV's folder); with a ``problems`` list,
    images that cannot be opened are skipped and reported in it, as
    :func:`beetles.formats.tps.read_tps` does, and found as it finds them
    (``notes``: the names not matched by their path, and how many landmarks
    were taken as missing).  Every row names a photo, so ``negatives="auto"``
    takes a negative coordinate as missing, as ``"missing"`` does.
    """
    from beetles.formats.tps import MissingTally, negatives_are_missing

    path = Path(path)
    tables = read_landmark_values(path, XY_CHOICES)
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    finder = PhotoFinder(image_dir) if size is None else None
    tally = MissingTally(negatives == "auto" or negatives_are_missing([], negatives))
    specimens = []
    for number, (image, points) in enumerate(tables.items(), start=1):
        tally.apply(points)
        photo = finder.find(image, str(path)) if finder else image_dir / image
        frame = resolve_frame(photo, size, f"{_shown(image)} in {path}", problems)
        if frame is not None:
            specimens.append(Specimen(photo, points, frame, extra={"number": number}))
    if notes is not None:
        notes.extend(finder.notes(path) if finder is not None else [])
        note = tally.note(path)
        notes.extend([note] if note else [])
    return specimens


def write_long_csv(path, specimens, names=None) -> Path:
    """Write specimens as ``image,landmark[,name],x,y_down`` (y down, their
    own frame, 5 decimals; ``names``: the landmarks' names)."""
    specimens = list(specimens)
    return write_landmark_values(path, [s.image.name for s in specimens],
                                 {XY[0]: [s.landmarks[:, 0] for s in specimens],
                                  XY[1]: [s.landmarks[:, 1] for s in specimens]}, digits=5, landmark_names=names)
