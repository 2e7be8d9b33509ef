"""What the tool is given: landmarked photos to train on, photos to place landmarks on.

:func:`load_training_data` reads a part folder or a landmark file naming
the photos; :func:`split_specimens` holds a seeded share out for
validation; :func:`expand_inputs` turns files and folders into photo paths
and :func:`photo_names` gives the names the outputs use.  Landmarks refer to
the upright photo (EXIF orientation applied), in its own pixels, y down,
as everywhere in beetles (:mod:`beetles.core.images`).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from beetles.core.errors import BeetlesError, DataError, FormatError, shorten
from beetles.core.files import probe
from beetles.core.specimen import PartData
from beetles.formats.dataset import IMAGES_FOLDER, check_specimens, load_part
from beetles.formats.landmark_csv import read_landmark_names, read_long_csv
from beetles.formats.names import check_names, read_names
from beetles.formats.photonames import PhotoFinder
from beetles.formats.tps import read_tps, read_tps_records
from beetles.tool.review.session import reviewed_names, sidecar_path

#: File names expanded from a folder given to ``beetles predict`` (any case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
DEFAULT_VALIDATION = 0.1
DEFAULT_SEED = 42


def load_training_data(data=None, landmarks=None, log=None, names=None, negatives: str = "auto") -> PartData:
    """The landmarked photos to train on.

    ``data``: a part folder (``images/`` + ``landmarks.tps``, as
    :func:`beetles.formats.dataset.load_part` reads it); ``landmarks``: a
    TPS or long CSV (``image,landmark,x,y``, y down) naming the photos,
    looked up in ``data/images/`` (or ``data``) when ``data`` is given, else
    beside the file, or a list of such files (a photo in two: the later
    file's landmarks).  A TPS file ``beetles review`` wrote gives only the
    photos reviewed or edited in it (its journal says which; ``log`` is told
    how many).  Photos are found by their path, file name, or file name in
    another case (``log`` hears of the last two, and of landmarks taken as
    missing: ``negatives``, :data:`beetles.formats.tps.NEGATIVES`).  Missing
    landmarks are allowed; specimens without any (``LM=0``) are not.  Every
    problem is listed at once, naming the file and specimen.  ``names``: a
    file of landmark names (:func:`beetles.formats.names.read_names`); else a
    long CSV's ``name`` column names them."""
    if data is None and landmarks is None:
        raise BeetlesError("give --data DIR (a folder with images/ and landmarks.tps) or --landmarks FILE")
    if names is not None:
        part = load_training_data(data, landmarks, log, None, negatives)
        part.landmark_names = read_names(names, part.n_landmarks)
        return part
    if landmarks is None:
        notes: list[str] = []
        part = load_part(data, allow_missing=True, notes=notes, negatives=negatives)
        _tell(log, notes)
        return part
    if isinstance(landmarks, (list, tuple)):
        parts = [load_training_data(data, one, log, None, negatives) for one in landmarks]
        if len(parts) == 1:
            return parts[0]
        merged = {}
        for part in parts:
            if merged and part.n_landmarks != next(iter(merged.values())).n_landmarks:
                raise DataError(f"{part.name}: {part.n_landmarks} landmarks, the other files "
                                f"{next(iter(merged.values())).n_landmarks}")
            merged.update({s.image.resolve(): s for s in part.specimens})
        named = next((p.landmark_names for p in parts if p.landmark_names), None)
        return PartData("+".join(p.name for p in parts), list(merged.values()), parts[0].folder, named)
    landmarks = Path(landmarks)
    if probe(landmarks) != "file":
        raise DataError(f"{landmarks}: landmark file not found")
    if data is not None:
        data = Path(data)
        if probe(data) != "folder":
            raise DataError(f"{data}: folder not found")
        image_dir = data / IMAGES_FOLDER if (data / IMAGES_FOLDER).is_dir() else data
    else:
        image_dir = landmarks.parent
    problems: list[str] = []
    reader = read_long_csv if landmarks.suffix.lower() == ".csv" else read_tps
    notes = []
    specimens = reader(landmarks, image_dir=image_dir, problems=problems, notes=notes, negatives=negatives)
    _tell(log, notes)
    reviewed = reviewed_names(landmarks)
    if reviewed is not None:
        kept = [s for s in specimens if s.image.relative_to(image_dir).as_posix() in reviewed]
        if not kept:
            raise DataError(f"{landmarks}: no photo reviewed yet ({sidecar_path(landmarks).name} says); review "
                            "some with beetles review first")
        if log is not None:
            log(f"{landmarks}: {len(kept)} photo(s) reviewed or edited in beetles review; "
                f"{len(specimens) - len(kept)} not yet reviewed left out")
        specimens = kept
    check_specimens(specimens, landmarks, allow_missing=True, problems=problems)
    named = read_landmark_names(landmarks) if reader is read_long_csv else None
    return PartData(landmarks.stem, specimens, image_dir,
                    check_names(named, specimens[0].n_landmarks, landmarks) if named else None)


def _tell(log, notes) -> None:
    for note in notes if log is not None else ():
        log(note)


def split_specimens(count: int, fraction: float = DEFAULT_VALIDATION, seed: int = DEFAULT_SEED):
    """``(train, validation)`` sorted index arrays: a seeded permutation,
    ``round(fraction × count)`` held out, at least one when ``count >= 5``
    and ``fraction > 0``, and always at least two left to train on."""
    if not 0 <= fraction < 1:
        raise BeetlesError(f"--validation {fraction:g}: give a fraction in [0, 1), e.g. 0.1")
    if count < 2:
        raise DataError(f"{count} specimen(s): training needs at least 2")
    n_valid = int(round(count * fraction))
    if fraction > 0 and count >= 5:
        n_valid = max(1, n_valid)
    n_valid = max(0, min(n_valid, count - 2))
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def listed_photos(path) -> list[Path]:
    """The photos a TPS file names (``IMAGE=``, found beside it as
    :class:`~beetles.formats.photonames.PhotoFinder` finds them), e.g.
    tpsUtil's list of photos still to landmark (``LM=0`` blocks); a
    :class:`DataError` naming the first that is not there."""
    return list(listed_records(path))


def listed_records(path) -> dict[Path, object]:
    """``{photo: TpsRecord}`` of the photos a TPS file names (see
    :func:`listed_photos`), the record carrying its ``ID=``, ``SCALE=`` and
    ``COMMENT=`` to the predictions."""
    path = Path(path)
    finder = PhotoFinder(path.parent)
    photos, missing = {}, []
    for number, record in enumerate(read_tps_records(path), start=1):
        if not record.image:
            raise FormatError(path, record.line, f"specimen {number} has no IMAGE= line: no photo to name")
        photo = finder.find(record.image)
        if photo.is_file():
            photos[photo] = record
        else:
            missing.append(photo)
    if missing:
        raise DataError(f"{path}: {len(missing)} named photo(s) not found beside it, e.g. {missing[0].name}")
    if not photos:
        raise DataError(f"{path}: names no photos")
    return photos


def expand_inputs(inputs, listed: dict | None = None) -> list[Path]:
    """Photo paths from files and folders (a folder: its files with an image
    suffix, sorted, not recursive; a ``.tps`` file: the photos it names, as
    :func:`listed_photos`); errors for a path that does not exist, an empty
    folder, or no photos at all.  ``listed`` gets ``{resolved photo:
    TpsRecord}`` of the photos ``.tps`` files name (their ``ID=``,
    ``SCALE=``, ``COMMENT=``)."""
    photos = []
    for item in inputs:
        path = Path(item)
        kind = probe(path)
        if kind == "file" and path.suffix.lower() == ".tps":
            records = listed_records(path)
            photos.extend(records)
            if listed is not None:
                listed.update({photo.resolve(): record for photo, record in records.items()})
        elif kind == "folder":
            try:
                found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            except OSError as error:
                raise DataError(f"{path}: cannot list the folder ({error.strerror or error})") from None
            if not found:
                raise DataError(f"{path}: no photos in this folder (looked for {', '.join(IMAGE_SUFFIXES)})")
            photos.extend(found)
        elif kind == "file":
            photos.append(path)
        else:
            raise DataError(f"{shorten(path, 200)}: no such file or folder")
    if not photos:
        raise DataError("no photos given")
    return list(dict.fromkeys(photos))


def photo_names(paths) -> tuple[list[str], Path | None]:
    """The names the outputs give the photos: file names, or paths relative
    to their common folder (returned too; else ``None``) when two photos
    share a file name."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names, None
    resolved = [p.resolve() for p in paths]
    common = Path(os.path.commonpath([str(p.parent) for p in resolved]))
    return [p.relative_to(common).as_posix() for p in resolved], common
