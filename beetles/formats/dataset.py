"""Dataset folders: loading and checking a lab's (or the study's) data.

Layout::

    <root>/<part>/images/<photo files>
    <root>/<part>/landmarks.tps        IMAGE= names the files in images/

A *part folder* is one ``<part>`` folder; a *dataset* is a root holding
several (the study's are named ``pronotum``, ``elytra``, ``head``,
``left_mandible``, ``right_mandible``).

Loading checks every specimen and reports all problems at once, each naming
the file and the specimen: a photo that is missing or does not decode, a
landmark count that differs from the others, a landmark outside its photo,
a missing landmark (unless allowed).  Nothing in the folder is modified.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from beetles.core.errors import DataError
from beetles.core.images import load_rgb
from beetles.core.specimen import PartData
from beetles.formats.landmark_csv import read_long_csv
from beetles.formats.tps import read_tps

LANDMARKS_FILE = "landmarks.tps"
IMAGES_FOLDER = "images"
#: How many problems one error message lists before summarising the rest.
MAX_LISTED_PROBLEMS = 10


def _problems_error(folder: Path, problems: list[str]) -> DataError:
    listed = problems[:MAX_LISTED_PROBLEMS]
    more = len(problems) - len(listed)
    tail = f"\n  … and {more} more" if more else ""
    return DataError(f"{folder}: {len(problems)} problem(s) in the data:\n  " + "\n  ".join(listed) + tail)


def check_specimens(specimens, folder, decode: bool = True, allow_missing: bool = False, problems=None) -> None:
    """Raise one :class:`DataError` listing every unusable specimen.

    Checks that no specimen is ``LM=0`` (a list of photos to landmark), that
    no photo is named twice, that each photo exists and (``decode=True``)
    decodes fully, that
    every specimen has the landmark count of the first, that landmarks lie
    inside their photo (``0 <= x <= width``, ``0 <= y <= height``), and that
    none is missing unless ``allow_missing``.  ``problems`` are earlier
    messages (e.g. from the reader) to report with these.  Specimens are
    numbered by ``extra["number"]`` (their place in the landmark file).
    """
    problems = list(problems or [])
    if not specimens and not problems:
        raise DataError(f"{folder}: no specimens")
    empty = [s for s in specimens if s.n_landmarks == 0]
    if specimens and len(empty) == len(specimens):
        raise DataError(f"{folder}: every specimen has LM=0 (no landmarks): a list of photos still to landmark "
                        "(tpsUtil writes these); give it to beetles predict or beetles review, not to training")
    if empty:
        problems.extend(f"specimen {s.extra.get('number', '?')} ({s.name}): LM=0, no landmarks to learn from"
                        for s in empty)
        specimens = [s for s in specimens if s.n_landmarks]
    expected = specimens[0].n_landmarks if specimens else 0
    first = specimens[0].extra.get("number", 1) if specimens else 1
    seen: dict[Path, int] = {}
    for position, specimen in enumerate(specimens, start=1):
        number = specimen.extra.get("number", position)
        earlier = seen.setdefault(Path(specimen.image).resolve(), number)
        if earlier != number:
            problems.append(f"specimen {number} ({specimen.name}): the same photo as specimen {earlier}; one photo "
                            "can have one set of landmarks (remove one of the two)")
    for position, specimen in enumerate(specimens, start=1):
        number = specimen.extra.get("number", position)
        label = f"specimen {number} ({specimen.name})"
        if specimen.n_landmarks != expected:
            problems.append(f"{label}: {specimen.n_landmarks} landmarks, but specimen {first} has {expected}")
            continue
        if decode:
            try:
                load_rgb(specimen.image, label, reduce_to=(256, 192)).close()
            except DataError as error:
                problems.append(str(error))
                continue
        if specimen.missing.any():
            if not allow_missing:
                numbers = (np.flatnonzero(specimen.missing) + 1).tolist()
                problems.append(f"{label}: landmark(s) {numbers} missing (negative or empty coordinates)")
            continue
        points = specimen.landmarks
        outside = (points[:, 0] < 0) | (points[:, 0] > specimen.frame.width) | (points[:, 1] < 0) | (
            points[:, 1] > specimen.frame.height
        )
        if outside.any():
            k = int(np.flatnonzero(outside)[0])
            problems.append(
                f"{label}: landmark {k + 1} at ({points[k, 0]:.1f}, {points[k, 1]:.1f}) (y down) lies outside "
                f"the {specimen.frame.width:g}×{specimen.frame.height:g} photo"
            )
    if problems:
        raise _problems_error(Path(folder), problems)


def load_part(folder, name: str | None = None, landmarks=None, decode: bool = True, allow_missing: bool = False,
              notes: list | None = None, negatives: str = "auto") -> PartData:
    """Load and check one part folder (``images/`` + ``landmarks.tps``).

    ``landmarks`` may name another landmark file: a ``.tps``, or a long CSV
    (``image,landmark,x,y``) whose ``image`` names files in ``images/``.
    ``name`` defaults to the folder's name.  Landmarks come back y down in
    each photo's own pixel frame.  ``notes`` gets a line for photo names not
    matched by their path (:mod:`beetles.formats.photonames`) and for
    landmarks taken as missing (``negatives``: :data:`beetles.formats.tps.NEGATIVES`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: part folder not found")
    image_dir = folder / IMAGES_FOLDER
    if not image_dir.is_dir():
        raise DataError(f"{folder}: no '{IMAGES_FOLDER}/' folder of photos")
    landmark_file = Path(landmarks) if landmarks is not None else folder / LANDMARKS_FILE
    if not landmark_file.is_file():
        raise DataError(f"{landmark_file}: landmark file not found")
    problems: list[str] = []
    reader = read_long_csv if landmark_file.suffix.lower() == ".csv" else read_tps
    specimens = reader(landmark_file, image_dir=image_dir, problems=problems, notes=notes, negatives=negatives)
    check_specimens(specimens, landmark_file, decode=decode, allow_missing=allow_missing, problems=problems)
    return PartData(name or folder.name, specimens, folder)


def load_dataset(root, parts=None, **kwargs) -> dict[str, PartData]:
    """Load the part folders ``root/<part>/`` for ``parts`` (default: every
    folder under ``root`` that holds a ``landmarks.tps``, by name); keyword
    arguments go to :func:`load_part`."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    if parts is None:
        parts = sorted(path.name for path in root.iterdir() if (path / LANDMARKS_FILE).is_file())
        if not parts:
            raise DataError(f"{root}: no part folder (a folder with images/ and {LANDMARKS_FILE}) found")
    return {name: load_part(root / name, name=name, **kwargs) for name in parts}
