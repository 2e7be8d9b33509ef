"""The data model: a :class:`Specimen` and a part's :class:`PartData`.

A specimen is a photo (a path) plus its landmarks as an ``(n, 2)`` float
array of ``(x, y)``, y down, in a named :class:`~beetles.core.frames.Frame`.  The
model knows nothing of file formats: the readers and writers in
:mod:`beetles.formats` convert to and from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from beetles.core.frames import Frame, as_points, rescale


@dataclass
class Specimen:
    """One photographed specimen and its landmarks.

    ``landmarks``: ``(n, 2)`` float64, x right, y down, pixels of ``frame``;
    ``nan`` marks a missing landmark.  ``image`` is the photo's path (it
    need not exist, e.g. for the published landmarks whose photos were never
    released).  ``id``, ``scale`` and ``comment`` carry TPS ``ID=``,
    ``SCALE=`` and ``COMMENT=``.
    """

    image: Path
    landmarks: np.ndarray
    frame: Frame
    id: str | None = None
    scale: float | None = None
    comment: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.image = Path(self.image)
        self.landmarks = as_points(self.landmarks, f"landmarks of {self.image.name}")

    @property
    def n_landmarks(self) -> int:
        """Number of landmarks, missing ones included."""
        return len(self.landmarks)

    @property
    def name(self) -> str:
        """The photo's file name, used to label the specimen in messages."""
        return self.image.name

    @property
    def missing(self) -> np.ndarray:
        """Boolean ``(n,)``: which landmarks are missing."""
        return np.isnan(self.landmarks).any(axis=1)

    def in_frame(self, frame: Frame) -> "Specimen":
        """A copy with the landmarks mapped into ``frame`` (same field of view)."""
        return replace(self, landmarks=rescale(self.landmarks, self.frame, frame), frame=frame)

    def with_landmarks(self, landmarks, frame: Frame | None = None) -> "Specimen":
        """A copy with other landmarks (e.g. predictions), in ``frame`` or this one."""
        return replace(self, landmarks=as_points(landmarks), frame=frame or self.frame)


@dataclass
class PartData:
    """The specimens of one anatomical part, all with the same landmark count.

    ``folder`` is the part folder they were loaded from (``None`` when built
    in memory); ``landmark_names``: one per landmark, when the data names
    them (:mod:`beetles.formats.names`).
    """

    name: str
    specimens: list[Specimen]
    folder: Path | None = None
    landmark_names: list[str] | None = None

    def __len__(self) -> int:
        return len(self.specimens)

    def __getitem__(self, index):
        if isinstance(index, (slice, np.ndarray, list)):
            chosen = np.arange(len(self.specimens))[index]
            return PartData(self.name, [self.specimens[i] for i in chosen], self.folder, self.landmark_names)
        return self.specimens[index]

    def __iter__(self):
        return iter(self.specimens)

    @property
    def n_landmarks(self) -> int:
        """The landmark count shared by every specimen (0 when empty)."""
        return self.specimens[0].n_landmarks if self.specimens else 0

    def landmarks(self, frame: Frame) -> np.ndarray:
        """All landmarks mapped into ``frame``: ``(N, n, 2)``, y down."""
        return np.stack([s.in_frame(frame).landmarks for s in self.specimens])
