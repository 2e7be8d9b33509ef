"""Landmarks in the pose-estimation tools' files, read and written with sleap-io.

:data:`POSE_FORMATS`: ``slp`` (SLEAP), ``coco`` (COCO keypoints JSON), ``dlc``
(DeepLabCut's ``CollectedData_*.csv``; read only: sleap-io 0.9.5 has no
DeepLabCut writer, and reads the CSV, not DLC's ``.h5`` copy) and ``napari``
(a points layer saved as CSV, which sleap-io does not handle: done here with
the csv module).  The skeleton's nodes are the landmarks; one image, one specimen.

**Pixel origin.**  beetles, like tpsDig, measures from the photo's top-left
*corner*: the top-left pixel's centre is (0.5, 0.5).  SLEAP, DeepLabCut,
napari and sleap-io count pixel *centres* from 0: that centre is (0, 0).  So
``beetles = theirs + PIXEL_CENTRE_OFFSET`` on both axes, applied only by
:func:`from_pixel_centres` / :func:`to_pixel_centres`.  sleap-io's COCO reader
and writer copy keypoints' x, y unchanged (``decode_keypoints`` /
``encode_keypoints``: no shift), as its DeepLabCut reader does; COCO keypoints
are pixel indices (detectron2 adds 0.5 loading them), so COCO is shifted too.

**Photos.**  Relative paths are taken from the file's folder, or ``image_dir``
(not for ``dlc``: sleap-io looks from the CSV's folder).  A photo's size is
the file's where it records one for that photo (COCO's width/height, a
one-photo SLEAP video's shape), else its header's.  Frames of a movie (or
embedded in a ``.pkg.slp``) are no photos: refused.  So is an image with
several instances (one specimen per photo; SLEAP's user instance is taken over
predictions); one with none has every landmark missing.  A missing keypoint
(invisible, nan, COCO visibility 0, an empty DLC cell) is ``nan``.

**napari.**  One CSV per photo, columns ``index,axis-0,axis-1,label``, as
napari writes a 2-D points layer with a ``label`` property (``axis-0`` the row,
y down; ``axis-1`` the column, x).  Missing landmarks are left out (napari
cannot show a point at nan): give :func:`read_pose` the ``names`` to put them
back.  The photo is ``image=``, else the one beside the CSV (or in
``image_dir``) with the CSV's name (``img001.csv`` → ``img001.png``).  3-D
points (``axis-2``, a stack) are refused.
"""
from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np

from beetles.core.errors import BeetlesError, DataError, FormatError
from beetles.core.files import atomic_path, atomic_write
from beetles.core.frames import photo_frame
from beetles.core.specimen import Specimen

#: The pose formats beetles reads; :data:`WRITABLE` those it writes.
POSE_FORMATS = ("slp", "coco", "dlc", "napari")
WRITABLE = ("slp", "coco", "napari")
#: beetles (origin at the top-left corner) = pose tools (pixel centres at integers) + this.
PIXEL_CENTRE_OFFSET = 0.5
#: The columns of the napari points CSV written here.
NAPARI_COLUMNS = ("index", "axis-0", "axis-1", "label")


def from_pixel_centres(points) -> np.ndarray:
    """Pose-tool points ``(..., 2)`` (x, y; pixel centres at integers) → beetles'."""
    return np.asarray(points, dtype=np.float64) + PIXEL_CENTRE_OFFSET


def to_pixel_centres(points) -> np.ndarray:
    """beetles' points ``(..., 2)`` (origin at the photo's corner) → pose-tool points."""
    return np.asarray(points, dtype=np.float64) - PIXEL_CENTRE_OFFSET


def _sleap_io():
    try:
        import sleap_io
    except ImportError:
        raise BeetlesError("reading and writing SLEAP, COCO and DeepLabCut files needs sleap-io: "
                           "pip install 'beetles[formats]'") from None
    return sleap_io


def _kind(path, kind, allowed) -> None:
    if kind not in allowed:
        what = "cannot write DeepLabCut files (sleap-io can't)" if kind == "dlc" else f"unknown pose format {kind!r}"
        raise DataError(f"{path}: {what}; the formats: {', '.join(allowed)}")


def _short(error) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def read_pose(path, kind: str, image_dir=None, *, names=None, image=None) -> tuple[list[Specimen], list[str]]:
    """Read a ``kind`` file (:data:`POSE_FORMATS`): its specimens, one per
    labelled photo (landmarks ``(n, 2)``, x right, y down, photo pixels from
    its corner, ``nan`` missing; ``extra["number"]`` 1-based), and the ``n``
    landmark names (the skeleton's nodes, in order; DeepLabCut's bodyparts
    in the file's order).  ``names`` and ``image``: napari only (see above)."""
    path = Path(path)
    _kind(path, kind, POSE_FORMATS)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    root = Path(image_dir) if image_dir is not None else path.parent
    if kind == "napari":
        return _read_napari(path, image, root, names)
    sio = _sleap_io()
    order = rows = None
    if kind == "dlc":
        if path.suffix.lower() != ".csv":
            raise DataError(f"{path}: sleap-io reads DeepLabCut's CSV only: use the CollectedData_*.csv beside it")
        order, rows = _dlc_header(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if kind == "slp":
                labels = sio.load_slp(str(path), open_videos=False)
            elif kind == "coco":
                labels = sio.load_coco(str(path.absolute()), dataset_root=str(root.absolute()))
            else:
                labels = sio.load_dlc(str(path.absolute()), config=False)
        except Exception as error:
            raise DataError(f"{path}: not a readable {kind} file ({_short(error)})") from None
    for warning in caught:
        if kind == "coco" and "were not found" in str(warning.message):  # sleap-io skipped those photos
            raise DataError(f"{path}: photos it names are not found under {root} (give their folder: image_dir)")
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if len(labels.skeletons) != 1:
        raise DataError(f"{path}: holds {len(labels.skeletons)} skeletons (landmark sets); beetles reads one")
    nodes = labels.skeletons[0].node_names
    order = order if order and set(order) == set(nodes) else nodes  # sleap-io sorts DeepLabCut's bodyparts
    take = [nodes.index(name) for name in order]
    found = sum(len(v.filename) for v in labels.videos) if kind == "dlc" else rows
    if found != rows:  # sleap-io skips a photo it cannot find, and misnumbers the rest of its folder
        raise DataError(f"{path}: {rows - found} of {rows} photos not found (by the CSV's path from its folder, "
                        "or by file name beside it)")
    specimens = []
    for number, frame in enumerate(labels.labeled_frames, start=1):
        photo = _photo(path, frame, root if kind == "slp" else None)
        chosen = frame.user_instances or frame.predicted_instances
        if len(chosen) > 1:
            raise DataError(f"{path}: {photo.name} has {len(chosen)} instances; beetles reads one specimen per photo")
        points = chosen[0].numpy() if chosen else np.full((len(nodes), 2), np.nan)
        specimens.append(Specimen(photo, from_pixel_centres(np.asarray(points)[take]),
                                  _photo_frame(photo, frame.video, kind, path), extra={"number": number}))
    return specimens, list(order)


def _photo(path: Path, frame, root: Path | None) -> Path:
    filename = frame.video.filename
    if not isinstance(filename, list):
        raise DataError(f"{path}: labels frames of the video {filename}, not photos (export the frames as images)")
    photo = Path(filename[frame.frame_idx])
    return photo if root is None or photo.is_absolute() else root / photo


def _photo_frame(photo: Path, video, kind: str, path: Path):
    from beetles.core.images import resolve_frame  # images imports Pillow; keep it lazy

    shape = video.backend_metadata.get("shape")  # (frames, height, width, channels), as the file records it
    if shape is not None and (kind == "coco" or len(video.filename) == 1) and shape[1] and shape[2]:
        return photo_frame(int(shape[2]), int(shape[1]))
    return resolve_frame(photo, None, f"in {path}")


def _dlc_header(path: Path) -> tuple[list[str], int]:
    """The bodyparts of a DeepLabCut CSV in the file's order, and its number of photos."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    firsts = [row[0].strip() for row in rows[:4]]
    if "bodyparts" not in firsts or "coords" not in firsts:
        raise DataError(f"{path}: not a DeepLabCut CSV (needs header rows 'bodyparts' and 'coords')")
    parts = rows[firsts.index("bodyparts")][1:]
    return list(dict.fromkeys(cell for cell in parts if cell.strip())), len(rows) - firsts.index("coords") - 1


def write_pose(path, specimens, kind: str, names=None) -> Path:
    """Write ``specimens`` (their landmarks ``(n, 2)`` in each one's frame,
    y down) as a ``kind`` file (:data:`WRITABLE`), atomically; ``names``: the
    ``n`` landmark names (default ``"1"`` … ``"n"``).  Photo paths are written
    relative to the file's folder where possible.  napari: one specimen."""
    path = Path(path)
    _kind(path, kind, WRITABLE)
    specimens = list(specimens)
    counts = sorted({s.n_landmarks for s in specimens})
    if len(counts) != 1:
        raise DataError(f"{path}: {'specimens with different landmark counts' if counts else 'no specimens'} {counts}")
    n = counts[0]
    names = [str(name) for name in names] if names is not None else [str(k) for k in range(1, n + 1)]
    if len(names) != n or len(set(names)) != n:
        raise DataError(f"{path}: {n} landmarks need {n} different names, got {len(names)}: {names}")
    if kind == "napari":
        return _write_napari(path, specimens, names)
    sio = _sleap_io()
    skeleton = sio.Skeleton(names, name="specimen")
    photos = [_relative(s.image, path.parent) for s in specimens]
    frames = []
    for specimen, photo in zip(specimens, photos):
        width, height = int(round(specimen.frame.width)), int(round(specimen.frame.height))
        # A closed single-photo video, described as sleap-io describes one it loaded.
        video = sio.Video(filename=[photo], open_backend=False, backend_metadata={
            "type": "ImageVideo", "shape": (1, height, width, 3), "filename": photo, "filenames": [photo],
            "height_": height, "width_": width, "channels_": 3, "grayscale": False, "fps": None})
        instance = sio.Instance.from_numpy(to_pixel_centres(specimen.landmarks), skeleton=skeleton)
        frames.append(sio.LabeledFrame(video=video, frame_idx=0, instances=[instance]))
    labels = sio.Labels(labeled_frames=frames, videos=[f.video for f in frames], skeletons=[skeleton])
    with atomic_path(path) as temporary:
        if kind == "slp":
            sio.save_slp(labels, str(temporary), verbose=False)
        else:
            sio.save_coco(labels, str(temporary), image_filenames=photos)
    return path


def _relative(image: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(image.absolute(), folder.absolute())).as_posix()
    except ValueError:  # another drive (Windows)
        return image.absolute().as_posix()


def _write_napari(path: Path, specimens, names) -> Path:
    if len(specimens) != 1:
        raise DataError(f"{path}: a napari CSV holds one photo's landmarks ({len(specimens)} given): write one each")
    (specimen,) = specimens
    kept = [(name, x, y) for name, (x, y), gone in zip(names, to_pixel_centres(specimen.landmarks), specimen.missing)
            if not gone]
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(NAPARI_COLUMNS)
        writer.writerows([index, repr(float(y)), repr(float(x)), name] for index, (name, x, y) in enumerate(kept))
    return path


def _read_napari(path: Path, image, root: Path, names) -> tuple[list[Specimen], list[str]]:
    from beetles.core.images import resolve_frame

    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = [(k, row) for k, row in enumerate(csv.reader(handle), start=1) if any(c.strip() for c in row)]
    header = [cell.strip() for cell in rows[0][1]] if rows else []
    if "axis-0" not in header or "axis-1" not in header:
        raise FormatError(path, 1, "not a napari points CSV (needs the columns axis-0 and axis-1)")
    if "axis-2" in header:
        raise FormatError(path, 1, "3-D points (axis-2): beetles reads one 2-D photo per napari CSV")
    rows = rows[1:]
    names = [str(name) for name in names] if names is not None else None
    if "label" in header:
        labels = [row[header.index("label")].strip() if len(row) > header.index("label") else "" for _, row in rows]
    else:
        labels = names if names and len(names) == len(rows) else [str(k) for k in range(1, len(rows) + 1)]
    names = names or labels
    if len(set(labels)) != len(labels) or not set(labels) <= set(names):
        raise FormatError(path, None, f"landmark labels {labels} are repeated or not among {names}")
    landmarks = np.full((len(names), 2), np.nan)
    for (lineno, row), label in zip(rows, labels):
        try:
            landmarks[names.index(label)] = from_pixel_centres([float(row[header.index("axis-1")]),
                                                                float(row[header.index("axis-0")])])
        except (ValueError, IndexError):
            raise FormatError(path, lineno, f"expected numbers in axis-0 and axis-1, found {row}") from None
    found = [Path(image)] if image is not None else sorted(
        p for p in (root.iterdir() if root.is_dir() else ()) if p.stem == path.stem and p.suffix.lower() != ".csv")
    if len(found) != 1:
        raise DataError(f"{path}: {len(found) or 'no'} photos named {path.stem}.* in {root}; give the photo (image=)")
    return [Specimen(found[0], landmarks, resolve_frame(found[0], None, f"in {path}"), extra={"number": 1})], names
