"""``beetles convert IN OUT``: landmarks from one tool's file into another's.

:data:`FORMATS` names what is read and written: TPS (tpsDig, geomorph,
MorphoJ, ktch, py-tps; y up), the long CSV (``image,landmark[,name],x,y_down``),
the original study's wide CSV (``x1,y1,…,Image``), and, through sleap-io
(:mod:`beetles.formats.pose`), SLEAP ``.slp``, COCO keypoints ``.json``,
DeepLabCut's labelled data (read) and a napari points CSV.  The format is
the one given (``--from``, ``--to``), else the suffix's, else (a ``.csv``
being read) the one its header shows (:func:`sniff_csv`).

Every file is turned into :class:`~beetles.core.specimen.Specimen` objects
(photo pixels, origin at the photo's corner, y down) and written from them:
the y axis is flipped with each photo's height for TPS, the half-pixel
between the corner origin and the pose tools' pixel centres is added or
taken away in :mod:`beetles.formats.pose`.  Photos are needed where a file
lacks their size (TPS, the CSVs): they are found beside the input file or
in ``image_dir``.  Landmark names pass through where both sides hold them
(the long CSV's ``name`` column, a pose file's skeleton) or come from
``names`` (a file, one per line).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

from beetles.core.errors import BeetlesError, DataError
from beetles.formats.landmark_csv import (
    read_landmark_names,
    read_long_csv,
    read_study_csv,
    write_long_csv,
    write_study_csv,
)
from beetles.formats.names import check_names, read_names
from beetles.formats.tps import read_tps, write_tps

#: Every format, with what it is.
FORMATS = {
    "tps": "TPS (tpsDig; y up)",
    "csv": "long CSV image,landmark[,name],x,y_down",
    "study": "the study's wide CSV x1,y1,...,Image (y down)",
    "slp": "SLEAP labels (.slp)",
    "coco": "COCO keypoints (.json)",
    "dlc": "DeepLabCut labelled data (CollectedData_*.csv; read only: its .h5 needs PyTables)",
    "napari": "napari points layer CSV (index,axis-0,axis-1)",
}
_BY_SUFFIX = {".tps": "tps", ".slp": "slp", ".json": "coco", ".h5": "dlc"}


@dataclass
class Converted:
    """What :func:`convert` did: specimens, landmarks, the formats, and the
    readers' notes (photo names matched loosely, landmarks taken as missing)."""

    specimens: int
    landmarks: int
    source: str
    target: str
    path: Path
    names: list | None = None
    notes: list = field(default_factory=list)


def sniff_csv(path) -> str:
    """The format of a ``.csv`` from its first line: ``csv`` (``image`` and
    ``landmark`` columns), ``study`` (``x1`` … ``Image``), ``dlc`` (``scorer``)
    or ``napari`` (``axis-0``); a :class:`DataError` otherwise."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = [cell.strip().lower() for cell in next(csv.reader(handle), [])]
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    if {"image", "landmark"} <= set(header):
        return "csv"
    if header and header[0] == "scorer":
        return "dlc"
    if "axis-0" in header and "axis-1" in header:
        return "napari"
    if "image" in header and "x1" in header and "y1" in header:
        return "study"
    raise DataError(f"{path}: a CSV beetles does not know (header {','.join(header[:6])}…); give --from "
                    f"({', '.join(FORMATS)})")


def format_of(path, given: str | None, reading: bool) -> str:
    """``given`` (checked), else the format ``path``'s suffix names (a ``.csv``
    read: :func:`sniff_csv`; written: the long CSV)."""
    if given is not None:
        if given not in FORMATS:
            raise BeetlesError(f"unknown format {given!r}: give one of {', '.join(FORMATS)}")
        return given
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return sniff_csv(path) if reading else "csv"
    if suffix not in _BY_SUFFIX:
        raise BeetlesError(f"{path}: cannot tell the format from the suffix {suffix or '(none)'}; give "
                           f"--{'from' if reading else 'to'} ({', '.join(FORMATS)})")
    return _BY_SUFFIX[suffix]


def read_landmarks(path, kind: str, image_dir=None, negatives: str = "auto", notes: list | None = None,
                   names=None):
    """``(specimens, names or None)`` from ``path`` in format ``kind``
    (photo pixels, y down; photos looked up in ``image_dir``, default the
    file's folder); ``names``: the landmarks' names when known (a napari CSV
    leaves missing landmarks out: they tell which)."""
    path = Path(path)
    if kind == "tps":
        return read_tps(path, image_dir=image_dir, notes=notes, negatives=negatives), None
    if kind == "csv":
        return read_long_csv(path, image_dir=image_dir, notes=notes, negatives=negatives), read_landmark_names(path)
    if kind == "study":
        return read_study_csv(path, image_dir=image_dir, size=None), None
    from beetles.formats.pose import read_pose

    return read_pose(path, kind, image_dir=image_dir, names=names)


def write_landmarks(path, specimens, kind: str, names=None) -> Path:
    """Write ``specimens`` to ``path`` in format ``kind`` (atomically); TPS
    names each photo by its path from the output's folder when it lies
    under it, else by its file name."""
    path = Path(path)
    if kind == "tps":
        folder = path.parent.resolve()
        resolved = [replace(s, image=Path(s.image).resolve()) for s in specimens]
        under = all(folder in s.image.parents for s in resolved)
        return write_tps(path, resolved if under else specimens, image_dir=folder if under else None)
    if kind == "csv":
        return write_long_csv(path, specimens, names)
    if kind == "study":
        return write_study_csv(path, specimens)
    from beetles.formats.pose import WRITABLE, write_pose

    if kind not in WRITABLE:
        raise BeetlesError(f"{FORMATS[kind]}: beetles reads it but cannot write it (sleap-io does not); write "
                           f"one of {', '.join(k for k in FORMATS if k in WRITABLE or k in ('tps', 'csv', 'study'))}")
    return write_pose(path, specimens, kind, names=names)


def convert(source, target, source_format=None, target_format=None, image_dir=None, names=None,
            negatives: str = "auto", force: bool = False) -> Converted:
    """Convert the landmark file ``source`` into ``target`` (see the module
    doc); ``names``: a file naming the landmarks (else the source's names);
    an existing ``target`` is replaced only with ``force``, never the source."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise DataError(f"{source}: file not found")
    if target.resolve() == source.resolve():
        raise BeetlesError(f"{target}: is the file being converted; give another name")
    if target.exists() and not force:
        raise BeetlesError(f"{target}: exists; use --force to replace it, or give another name")
    kind_in, kind_out = format_of(source, source_format, True), format_of(target, target_format, False)
    notes: list[str] = []
    given = read_names(names) if names is not None else None
    specimens, found_names = read_landmarks(source, kind_in, image_dir, negatives, notes, given)
    if not specimens:
        raise DataError(f"{source}: no specimens")
    counts = {s.n_landmarks for s in specimens}
    if len(counts) > 1 and kind_out not in ("tps", "csv"):
        raise DataError(f"{source}: specimens have {sorted(counts)} landmarks; {FORMATS[kind_out]} needs one count")
    n = specimens[0].n_landmarks
    landmark_names = check_names(given, n, names) if given is not None else (
        check_names(found_names, n, source) if found_names else None)
    written = write_landmarks(target, specimens, kind_out, landmark_names)
    return Converted(len(specimens), n, kind_in, kind_out, written, landmark_names, notes)
