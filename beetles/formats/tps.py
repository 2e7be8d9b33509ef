"""TPS landmark files, as tpsDig writes them.

One block per specimen::

    LM=3            landmark count, then that many "x y" lines (y up)
    12.5 180.0
    -1 -1           a negative coordinate: missing, in a file that names its photos
    NA NA           NA or nan (geomorph, ktch): the landmark is missing
    40 31
    CURVES=1        optional: curve blocks, each POINTS=m then m lines
    POINTS=2
    1 2
    3 4
    IMAGE=beetle_001.jpg
    ID=0
    SCALE=0.0125
    COMMENT=any text   (COMMENTS= is read alike)

Keywords are case-insensitive.  A negative coordinate means "missing" only
where coordinates are photo pixels, which tpsDig's files that name a photo
for every specimen are (:data:`NEGATIVES`, :func:`negatives_are_missing`);
elsewhere (a centred or Procrustes-aligned file, as ktch and geomorph write
them) it is a coordinate.  Coordinates have y pointing **up**
(``row = image height - y``); in memory beetles keeps y down, so turning a
:class:`TpsRecord` into a :class:`~beetles.core.specimen.Specimen` needs the
image's height (:func:`read_tps`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beetles.core.errors import DataError, FormatError, shorten
from beetles.core.files import atomic_write
from beetles.core.frames import flip_y
from beetles.core.specimen import Specimen
from beetles.core.textfiles import read_text
from beetles.formats.photonames import PhotoFinder

# The value is stripped apart: a lazy "(.*?)\s*$" takes quadratic time on a long line of spaces.
_KEY = re.compile(r"\s*([A-Za-z]+)\s*=(.*)", re.DOTALL)
_BLOCK_KEYS = ("CURVES", "OUTLINES")


@dataclass
class TpsRecord:
    """One TPS block as written in the file.

    ``landmarks_up``: ``(n, 2)`` float64 with **y up**, ``nan`` where the file
    writes NA/nan, or (after :func:`read_tps_records` decided so) a negative
    coordinate.  ``curves`` holds the points of any
    ``CURVES=``/``OUTLINES=`` blocks (y up), which are not landmarks.
    ``line`` is the 1-based line of ``LM=`` (for messages).
    """

    landmarks_up: np.ndarray
    image: str | None = None
    id: str | None = None
    scale: float | None = None
    comment: str | None = None
    curves: list = field(default_factory=list)
    line: int = 0


#: How geomorph's ``writeland.tps`` and ktch write a missing coordinate (any case).
MISSING_WORDS = ("na", "nan")


def _coordinates(text: str, path, lineno: int) -> tuple[float, float]:
    fields = text.replace(",", " ").split()
    if len(fields) != 2:
        raise FormatError(path, lineno, f"expected two coordinates 'x y', found {shorten(text.strip())!r}")
    if any(f.lower() in MISSING_WORDS for f in fields):
        return np.nan, np.nan  # a missing landmark, as geomorph and ktch write it
    try:
        x, y = float(fields[0]), float(fields[1])
    except ValueError:
        raise FormatError(path, lineno, f"non-numeric coordinate in {shorten(text.strip())!r}") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise FormatError(path, lineno, f"coordinate is not a finite number: {shorten(text.strip())!r}")
    return x, y


def _count(value: str, key: str, path, lineno: int) -> int:
    try:
        count = int(value)
    except ValueError:  # also a number of more than 4300 digits (Python's limit)
        raise FormatError(path, lineno, f"{key}= needs a whole number, found {shorten(value)!r}") from None
    if count < 0:
        raise FormatError(path, lineno, f"{key}= cannot be negative ({shorten(count)})")
    return count


def parse_tps(text: str, path="<string>") -> list[TpsRecord]:
    """Parse TPS ``text``; ``path`` is only used in error messages."""
    lines = text.splitlines()
    records: list[TpsRecord] = []
    index = 0

    def read_points(count: int, key: str, start_line: int) -> np.ndarray:
        nonlocal index
        points = []
        for k in range(count):
            if index >= len(lines) or _KEY.match(lines[index]) or not lines[index].strip():
                found = lines[index].strip() if index < len(lines) else "end of file"
                raise FormatError(  # a huge count ends here too, at the end of the file: nothing is allocated for it
                    path,
                    index + 1 if index < len(lines) else len(lines),
                    f"{key}={shorten(count)} (line {start_line}) but only {k} coordinate lines "
                    f"follow (found {shorten(found)!r})",
                )
            points.append(_coordinates(lines[index], path, index + 1))
            index += 1
        return np.array(points, dtype=np.float64).reshape(count, 2)

    while index < len(lines):
        raw = lines[index]
        lineno = index + 1
        index += 1
        if not raw.strip():
            continue
        match = _KEY.match(raw)
        if not match:
            raise FormatError(path, lineno, f"expected 'KEYWORD=value' (e.g. LM=8), found {shorten(raw.strip())!r}")
        key, value = match.group(1).upper(), match.group(2).strip()
        if key == "LM":
            points = read_points(_count(value, "LM", path, lineno), "LM", lineno)
            points[np.isnan(points).any(axis=1)] = np.nan
            records.append(TpsRecord(landmarks_up=points, line=lineno))
            continue
        if not records:
            raise FormatError(path, lineno, f"{shorten(key, 20)}= before the first LM= line")
        record = records[-1]
        if key in _BLOCK_KEYS:
            for _ in range(_count(value, key, path, lineno)):
                while index < len(lines) and not lines[index].strip():
                    index += 1
                sub = _KEY.match(lines[index]) if index < len(lines) else None
                if not sub or sub.group(1).upper() != "POINTS":
                    raise FormatError(path, min(index + 1, len(lines)), f"{key}= block needs POINTS= lines")
                index += 1
                record.curves.append(read_points(_count(sub.group(2).strip(), "POINTS", path, index), "POINTS", index))
        elif key == "IMAGE":
            record.image = value
        elif key == "ID":
            record.id = value
        elif key == "SCALE":
            try:
                record.scale = float(value)
            except ValueError:
                raise FormatError(path, lineno, f"SCALE= needs a number, found {shorten(value)!r}") from None
        elif key in ("COMMENT", "COMMENTS"):  # ktch and some tpsDig versions write COMMENTS=
            record.comment = value
        # Other keywords (VARIABLES=, ...) carry nothing beetles uses.
    return records


#: What a negative coordinate means: ``auto`` (missing in a file that names a
#: photo for every specimen, else a coordinate), always ``missing``, or always a coordinate.
NEGATIVES = ("auto", "missing", "coordinates")


def negatives_are_missing(records, negatives: str = "auto") -> bool:
    """Whether negative coordinates of ``records`` mean "missing landmark":
    ``negatives`` one of :data:`NEGATIVES`; ``auto``: when every specimen
    names its photo (``IMAGE=``), so that coordinates are photo pixels, which
    are never negative (tpsDig writes ``-1 -1`` for a landmark it skipped)."""
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives must be one of {NEGATIVES}, not {negatives!r}")
    if negatives != "auto":
        return negatives == "missing"
    return bool(records) and all(r.image and r.image.strip() for r in records)


@dataclass
class MissingTally:
    """Takes the missing landmarks of a file's specimens, one after another
    (:meth:`apply`), and says how many it took (:meth:`note`).

    ``as_missing``: whether a negative coordinate is a missing landmark
    (:func:`negatives_are_missing`); NA/nan always is."""

    as_missing: bool
    written: int = 0
    negative: int = 0
    specimens: int = 0

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Set the missing landmarks of ``points`` ``(n, 2)`` to ``nan`` in place; returns it."""
        nan = np.isnan(points).any(axis=1)
        below = ~nan & (points < 0).any(axis=1)
        self.written += int(nan.sum())
        self.negative += int(below.sum())
        taken = nan | below if self.as_missing else nan
        points[taken] = np.nan
        self.specimens += int(taken.any())
        return points

    def note(self, path) -> str | None:
        """The line a reader reports (``None``: nothing missing and no negative coordinate)."""
        written, negative = self.written, self.negative
        if self.as_missing and written + negative:
            parts = ([f"{negative} with a negative coordinate (photo pixels are never negative; "
                      "--negatives coordinates reads them as coordinates)"] if negative else []) + (
                     [f"{written} written NA, nan or empty"] if written else [])
            return (f"{path}: {written + negative} landmark(s) of {self.specimens} specimen(s) taken as missing: "
                    + ", ".join(parts))
        if negative:
            return (f"{path}: {negative} landmark(s) with a negative coordinate read as coordinates (not every "
                    "specimen names a photo, so these are not photo pixels; --negatives missing reads them as "
                    "missing)" + (f"; {written} written NA or nan taken as missing" if written else ""))
        return f"{path}: {written} landmark(s) written NA or nan taken as missing" if written else None


def read_tps_records(path, negatives: str = "auto", notes: list | None = None) -> list[TpsRecord]:
    """Read a TPS file into :class:`TpsRecord` objects (coordinates y up).

    Negative coordinates become missing (``nan``) as :func:`negatives_are_missing`
    decides; ``notes`` gets :meth:`MissingTally.note`'s line."""
    path = Path(path)
    records = parse_tps(read_text(path, "landmark file"), path)
    tally = MissingTally(negatives_are_missing(records, negatives))
    for record in records:
        tally.apply(record.landmarks_up)
    note = tally.note(path)
    if note and notes is not None:
        notes.append(note)
    return records


def read_tps(path, image_dir=None, size=None, require_image: bool = True, problems: list | None = None,
             notes: list | None = None, negatives: str = "auto") -> list[Specimen]:
    """Read a TPS file into specimens with y-down landmarks.

    The y axis is flipped with each photo's height: ``size=(width, height)``
    gives one frame for all (e.g. ``(256, 192)`` for the published
    landmarks); otherwise each photo named by ``IMAGE=`` is looked up in
    ``image_dir`` (default: the TPS file's folder) and its header read for
    its size.  Specimen images are ``image_dir / IMAGE``; ``extra["number"]``
    is the specimen's 1-based position in the file.  With a ``problems``
    list, specimens whose photo cannot be opened are skipped and the reason
    appended to it instead of raised.  Photos are found by their path, file
    name, or file name in another case
    (:class:`~beetles.formats.photonames.PhotoFinder`); ``notes`` gets a line
    for the names not matched by their path, for the landmarks taken as
    missing (``negatives``: see :func:`read_tps_records`), and for
    coordinates that look already multiplied by ``SCALE=``
    (:func:`scaled_note`).
    """
    from beetles.core.images import resolve_frame  # images imports Pillow; keep it lazy

    path = Path(path)
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    finder = PhotoFinder(image_dir) if size is None else None
    specimens = []
    for number, record in enumerate(read_tps_records(path, negatives, notes), start=1):
        if not record.image:
            if require_image:
                raise FormatError(path, record.line, f"specimen {number} (LM= at line {record.line}) has no IMAGE= line")
            record.image = f"specimen_{number:04d}"
        image = finder.find(record.image, f"{path}: specimen {number}") if finder else image_dir / record.image
        frame = resolve_frame(image, size, f"specimen {number} of {path}", problems)
        if frame is None:
            continue
        extra = {"number": number}
        if record.curves:
            extra["curves"] = [flip_y(c, frame.height) for c in record.curves]
        specimens.append(
            Specimen(
                image=image,
                landmarks=flip_y(record.landmarks_up, frame.height),
                frame=frame,
                id=record.id,
                scale=record.scale,
                comment=record.comment,
                extra=extra,
            )
        )
    if finder is not None and notes is not None:
        notes.extend(finder.notes(path))
        note = scaled_note(path, specimens)
        if note:
            notes.append(note)
    return specimens


def scaled_note(path, specimens) -> str | None:
    """A warning when the coordinates look already multiplied by ``SCALE=``
    (millimetres, not pixels): every specimen with a scale below 0.5 has all
    its landmarks inside its photo's size × that scale, a corner of the photo
    where no specimen lies whole.  beetles reads TPS coordinates as pixels."""
    scaled = [s for s in specimens if s.scale and 0 < s.scale < 0.5 and (~s.missing).any()]
    if not scaled:
        return None
    inside = [s for s in scaled
              if np.nanmax(s.landmarks[:, 0]) <= s.frame.width * s.scale
              and np.nanmax(s.frame.height - s.landmarks[:, 1]) <= s.frame.height * s.scale]
    if len(inside) < len(scaled):
        return None
    return (f"{path}: the landmarks of all {len(scaled)} specimen(s) with SCALE= lie within photo size × SCALE "
            f"(e.g. {scaled[0].name}: SCALE={scaled[0].scale:g}): they look already multiplied by the scale; "
            "beetles reads TPS coordinates as photo pixels (divide them by SCALE first)")


def _number(value: float) -> str:
    return f"{value:.5f}"


def unwritable_name(name: str) -> str | None:
    """Why ``name`` (a photo's name, an ``ID=`` or ``COMMENT=``) cannot be
    written on a TPS line that reads back the same: words to follow "the
    name" (``"holds a line break ..."``); ``None`` when it can.  The reasons:
    a line break (a newline, carriage return or any other character
    :meth:`str.splitlines` splits at, which would end the line), characters
    that are not UTF-8 (a file named in another encoding: Python holds its
    bytes as surrogates), or a space at either end (readers drop it)."""
    if len(f"x{name}x".splitlines()) > 1:
        return "holds a line break (newline or carriage return), which would end the TPS line"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 (a file named in another encoding); rename it"
    if name != name.strip():
        return "begins or ends with a space, which TPS readers drop"
    return None


def shown_name(name, limit: int = 80) -> str:
    """``name`` as messages show it: its ``repr`` (line breaks and
    undecodable bytes visible), shortened to about ``limit`` characters."""
    text = repr(str(name))
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def write_tps(path, specimens, image_dir=None) -> Path:
    """Write specimens as TPS (y up, with each specimen's frame height).

    ``IMAGE=`` is the photo's path relative to ``image_dir`` (default: its
    file name); ``ID=`` always (ktch requires it).  Missing landmarks are
    written ``-1 -1``.  Atomic; ``specimens`` may be an iterator, written
    one block at a time (a collection is never held whole).
    """
    with atomic_write(path) as handle:
        for block in tps_blocks(specimens, image_dir):
            handle.write(block)
    return Path(path)


def default_ids(specimens) -> list[str]:
    """``ID=`` for specimens that have none: the position in the file from 0,
    as tpsDig numbers them (py-tps reads ``ID=`` as a whole number; geomorph's
    ``readland.tps(specID="imageID")`` names specimens by ``IMAGE=``)."""
    return [str(k) for k in range(len(list(specimens)))]


def format_tps(specimens, image_dir=None) -> str:
    """The text :func:`write_tps` writes (y up, ``-1 -1`` for a missing landmark,
    ``ID=`` always: the specimen's, else :func:`default_ids`)."""
    return "".join(tps_blocks(specimens, image_dir))


def tps_blocks(specimens, image_dir=None):
    """Each specimen's block of :func:`format_tps`, one at a time."""
    for position, specimen in enumerate(specimens):
        name = specimen.image.relative_to(image_dir).as_posix() if image_dir else specimen.image.name
        curves = [flip_y(c, specimen.frame.height) for c in specimen.extra.get("curves") or []]
        ident = str(specimen.id) if specimen.id is not None else str(position)  # default_ids
        yield format_block(flip_y(specimen.landmarks, specimen.frame.height), ident, name, specimen.scale,
                           specimen.comment, curves)


def format_block(points_up, ident: str, image: str | None = None, scale: float | None = None,
                 comment: str | None = None, curves=(), number=_number) -> str:
    """One specimen's TPS block: ``points_up`` ``(n, 2)`` (y up; ``nan``:
    written ``-1 -1``), ``curves`` (y up) as ``CURVES=``, then ``IMAGE=`` (when
    given), ``ID=``, ``SCALE=``, ``COMMENT=``; ``number`` formats a coordinate.
    A field that cannot be written is a :class:`DataError` naming the photo."""
    _check_writable(image or ident, [*([("IMAGE", image)] if image else []), ("ID", ident),
                                     ("COMMENT", comment or "")])
    out = [f"LM={len(points_up)}"]
    out += ["-1 -1" if np.isnan(xy).any() else f"{number(xy[0])} {number(xy[1])}" for xy in points_up]
    if curves:
        out.append(f"CURVES={len(curves)}")
        for curve in curves:
            out.append(f"POINTS={len(curve)}")
            out.extend(f"{number(x)} {number(y)}" for x, y in curve)
    out += [f"IMAGE={image}"] if image else []
    out.append(f"ID={ident}")
    out += [f"SCALE={scale:.10g}"] if scale is not None else []
    out += [f"COMMENT={comment}"] if comment else []
    return "\n".join(out) + "\n"


def _check_writable(photo: str, fields) -> None:
    """A :class:`DataError` naming ``photo`` when one of ``fields``
    (``(keyword, value)``) cannot be written (:func:`unwritable_name`)."""
    for key, value in fields:
        reason = unwritable_name(value if key == "IMAGE" else value.strip())  # readers strip ID=, COMMENT=
        if reason is not None:
            what = "the name" if key == "IMAGE" else f"its {key}= {shown_name(value)}"
            raise DataError(f"photo {shown_name(photo)}: cannot be written in a TPS file: {what} {reason}")
