"""A review: photos, their landmarks and each photo's status, saved at every change.

Points are in each upright photo's own pixels, **y down** (as everywhere in
beetles); ``nan`` is a landmark that is missing or not placed yet.  Two
files are written at every change, each atomically:

``OUT.tps``           what the biologist uses: tpsDig's layout (y up, ``-1 -1`` for a
                      missing landmark, ``IMAGE=``, ``ID=``, ``SCALE=``, ``COMMENT=`` kept
                      from the predictions it started from)
``OUT.review.json``   the journal (:func:`sidecar_path`): every photo's points, the
                      model's points, its 90 % radius, its status, and the hash of the TPS
                      text it belongs to

The journal is written first, then the TPS; reopening compares the TPS on
disk with the hashes the journal records, so a crash between the two
writes is repaired (the TPS is rewritten from the journal) and a TPS
changed by another program is never overwritten.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beetles.core.errors import BeetlesError, DataError
from beetles.core.files import write_text
from beetles.core.frames import photo_frame
from beetles.core.specimen import Specimen
from beetles.formats.tps import format_tps

NOT_SEEN, REVIEWED, EDITED = "not seen", "reviewed", "edited"
#: The statuses whose landmarks ``beetles train`` learns from.
TRAINABLE = (REVIEWED, EDITED)
JOURNAL_FORMAT = 1
#: A moved landmark differs from the model's by more than this (photo pixels).
MOVED = 1e-3


def sidecar_path(tps) -> Path:
    """The journal beside a review's TPS file: ``corrected.tps`` → ``corrected.review.json``."""
    tps = Path(tps)
    return tps.with_name(f"{tps.stem}.review.json")


def reviewed_names(tps) -> set[str] | None:
    """The ``IMAGE=`` names of the photos reviewed or edited in the review that
    wrote ``tps`` (its journal), or ``None`` when ``tps`` has no journal."""
    path = sidecar_path(tps)
    if not path.is_file():
        return None
    journal = _read_journal(path)
    return {p["name"] for p in journal["photos"] if p.get("status") in TRAINABLE}


@dataclass
class ReviewPhoto:
    """One photo of a review.  ``points`` ``(n, 2)``: photo pixels, y down,
    ``nan`` where missing or not placed; ``absent`` ``(n,)``: marked missing
    by the reviewer; ``predicted``: the model's points (``None``: placed by
    hand); ``radius`` ``(n,)``: the 90 % radius (or the spread) in photo
    pixels, ``nan``: none; ``accepted``: the reviewer accepted it."""

    path: Path
    name: str
    width: int
    height: int
    points: np.ndarray
    predicted: np.ndarray | None = None
    radius: np.ndarray | None = None
    absent: np.ndarray | None = None
    accepted: bool = False
    id: str | None = None
    scale: float | None = None
    comment: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.points)
        self.points = np.asarray(self.points, np.float64).reshape(n, 2)
        self.radius = np.full(n, np.nan) if self.radius is None else np.asarray(self.radius, np.float64).reshape(n)
        self.absent = np.zeros(n, bool) if self.absent is None else np.asarray(self.absent, bool).reshape(n)

    @property
    def changed(self) -> bool:
        """The reviewer moved, placed or removed a landmark."""
        if self.predicted is None:
            return bool(np.isfinite(self.points).all(-1).any() or self.absent.any())
        both = np.isfinite(self.points).all(-1) & np.isfinite(self.predicted).all(-1)
        same_gaps = np.array_equal(np.isnan(self.points).any(-1), np.isnan(self.predicted).any(-1))
        return not same_gaps or bool((np.abs(self.points[both] - self.predicted[both]) > MOVED).any())

    @property
    def status(self) -> str:
        """``"edited"``, ``"reviewed"`` (accepted as the model placed it) or ``"not seen"``."""
        return EDITED if self.changed else REVIEWED if self.accepted else NOT_SEEN

    @property
    def uncertainty(self) -> float:
        """The largest radius of any landmark (``-inf``: none), what orders the queue."""
        finite = self.radius[np.isfinite(self.radius)]
        return float(finite.max()) if len(finite) else float("-inf")

    def as_json(self) -> dict:
        """What the page and the journal read (points as ``[x, y]`` or ``null``)."""
        return {"name": self.name, "width": self.width, "height": self.height, "status": self.status,
                "points": _point_list(self.points), "predicted": None if self.predicted is None
                else _point_list(self.predicted), "radius": [None if gap else r for r, gap in
                                                             zip(np.round(self.radius, 3).tolist(),
                                                                 (~np.isfinite(self.radius)).tolist())],
                "absent": self.absent.tolist(), "accepted": self.accepted}


class ReviewSession:
    """The photos of one review and the files it writes (see the module
    docstring).  ``mode``: ``"review"`` (predictions to check) or
    ``"manual"`` (landmarks placed by hand); ``names``: the landmarks' names
    (``None``: numbers); ``source``: where the predictions came from."""

    def __init__(self, out, photos: list[ReviewPhoto], n_landmarks: int, names=None, mode: str = "review",
                 source: str = ""):
        self.out = Path(out)
        self.n_landmarks = int(n_landmarks)
        self.names = list(names) if names else None
        self.mode = mode
        self.source = source
        self.tps_sha256: str | None = None
        self.by_name: dict[str, int] = {}
        #: The photos the page may show (those given this time; a resumed
        #: review keeps the others in its files).
        self.served: list[int] = []
        self.photos: list[ReviewPhoto] = []
        self.add(photos)

    def add(self, photos) -> None:
        """Append ``photos`` (:class:`ReviewPhoto`) to the review, served."""
        for photo in photos:
            self.by_name[photo.name] = len(self.photos)
            self.served.append(len(self.photos))
            self.photos.append(photo)

    @property
    def journal_path(self) -> Path:
        """``OUT.review.json``."""
        return sidecar_path(self.out)

    def queue(self) -> list[int]:
        """Photo indices, the least certain first (largest radius of any
        landmark), then by name; a manual review in the photos' order."""
        if self.mode == "manual":
            return list(self.served)
        return sorted(self.served, key=lambda i: (-self.photos[i].uncertainty, self.photos[i].name))

    def counts(self) -> dict:
        """Photos per status."""
        counts = {NOT_SEEN: 0, REVIEWED: 0, EDITED: 0}
        for index in self.served:
            counts[self.photos[index].status] += 1
        return counts

    def update(self, index: int, points, absent=None, accept: bool = False) -> ReviewPhoto:
        """Set photo ``index``'s landmarks: ``points`` ``n`` × ``[x, y]`` (photo
        pixels, y down) or ``None`` (missing / not placed), ``absent`` which
        are marked missing; ``accept``: the reviewer accepts the photo.  Saved
        at once (:meth:`save`).  A :class:`DataError` for anything malformed."""
        if not 0 <= index < len(self.photos):
            raise DataError(f"photo {index}: there are {len(self.photos)} photos")
        photo = self.photos[index]
        photo.points = _checked_points(points, self.n_landmarks, photo)
        if absent is not None:
            if not isinstance(absent, list) or len(absent) != self.n_landmarks or \
                    not all(isinstance(a, bool) for a in absent):
                raise DataError(f"absent: expected {self.n_landmarks} true/false values")
            photo.absent = np.array(absent, bool)
        photo.points[photo.absent] = np.nan
        photo.accepted = photo.accepted or bool(accept)
        self.save()
        return photo

    def specimens(self) -> list[Specimen]:
        """The TPS file's specimens (``ID=`` kept, else :func:`beetles.formats.tps.default_ids`)."""
        return [Specimen(Path(p.name), p.points, photo_frame(p.width, p.height), id=p.id, scale=p.scale,
                         comment=p.comment, extra=dict(p.extra)) for p in self.photos]

    def save(self) -> None:
        """Write the journal, then the TPS file (each atomically)."""
        text = format_tps(self.specimens(), image_dir=Path("."))
        sha = _sha256(text.encode("utf-8"))
        journal = {"format": JOURNAL_FORMAT, "written_by": "beetles review", "tps": self.out.name,
                   "tps_sha256": sha, "previous_tps_sha256": self.tps_sha256, "landmarks": self.n_landmarks,
                   "names": self.names, "mode": self.mode, "source": self.source,
                   "frame": "photo pixels, y down (the TPS file: y up)",
                   "photos": [{**p.as_json(), "path": str(p.path), "id": p.id, "scale": p.scale, "comment": p.comment}
                              for p in self.photos]}
        write_text(self.journal_path, json.dumps(journal, separators=(",", ":")) + "\n")
        write_text(self.out, text)
        self.tps_sha256 = sha

    @classmethod
    def resume(cls, out, log=print) -> "ReviewSession | None":
        """The review ``out`` holds (``None`` when there is none), its TPS
        repaired when a crash came between the two writes; a
        :class:`BeetlesError` when ``out`` exists but is not a review's, or was
        changed by another program since."""
        out, path = Path(out), sidecar_path(out)
        if not path.is_file():
            if out.exists():
                raise BeetlesError(f"{out}: exists and was not written by beetles review (no {path.name} beside it); "
                                   "beetles never overwrites a landmark file: give another --out")
            return None
        journal = _read_journal(path)
        photos = [ReviewPhoto(path=Path(p["path"]), name=p["name"], width=int(p["width"]), height=int(p["height"]),
                              points=_points_array(p["points"]), radius=[np.nan if r is None else r for r in p["radius"]],
                              predicted=None if p.get("predicted") is None else _points_array(p["predicted"]),
                              absent=p["absent"], accepted=bool(p["accepted"]), id=p.get("id"), scale=p.get("scale"),
                              comment=p.get("comment")) for p in journal["photos"]]
        session = cls(out, photos, journal["landmarks"], journal.get("names"), journal.get("mode", "review"),
                      journal.get("source", ""))
        on_disk = _sha256(out.read_bytes()) if out.is_file() else None
        if on_disk == journal["tps_sha256"]:
            session.tps_sha256 = on_disk
        elif on_disk is None or on_disk == journal.get("previous_tps_sha256"):
            session.tps_sha256 = on_disk
            session.save()
            log(f"{out}: brought up to date with {path.name} (the last change had not reached it)")
        else:
            raise BeetlesError(f"{out}: changed by another program since beetles review wrote it; move it (or "
                               f"{path.name}) aside, or give another --out, so that nothing is overwritten")
        return session


def _read_journal(path: Path) -> dict:
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable beetles review journal ({error})") from None
    if not isinstance(journal, dict) or journal.get("format") != JOURNAL_FORMAT or \
            not isinstance(journal.get("photos"), list):
        raise DataError(f"{path}: not a beetles review journal of format {JOURNAL_FORMAT}")
    return journal


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _point_list(points) -> list:
    gaps = ~np.isfinite(points).all(-1)
    return [None if gap else point for point, gap in zip(np.round(points, 3).tolist(), gaps.tolist())]


def _points_array(values) -> np.ndarray:
    return np.array([[np.nan, np.nan] if v is None else v for v in values], np.float64).reshape(-1, 2)


def _checked_points(values, n: int, photo: ReviewPhoto) -> np.ndarray:
    """``(n, 2)`` from the page's ``[x, y]`` / ``null`` list, inside the photo."""
    if not isinstance(values, list) or len(values) != n:
        raise DataError(f"points: expected a list of {n} [x, y] pairs or nulls")
    points = np.full((n, 2), np.nan)
    for k, value in enumerate(values):
        if value is None:
            continue
        if not (isinstance(value, list) and len(value) == 2 and
                all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise DataError(f"landmark {k + 1}: expected [x, y] or null, got {str(value)[:40]}")
        x, y = float(value[0]), float(value[1])
        if not (np.isfinite(x) and np.isfinite(y) and 0 <= x <= photo.width and 0 <= y <= photo.height):
            raise DataError(f"landmark {k + 1}: ({x:g}, {y:g}) is outside the {photo.width}×{photo.height} photo "
                            f"{photo.name}")
        points[k] = x, y
    return points
