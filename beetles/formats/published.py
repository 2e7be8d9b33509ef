"""The result files the study's authors published (:func:`beetles.paper.settings.published_dir`).

Two layouts:

* ``<prefix>_manual.tps`` and ``<prefix>_finetune_pred.tps``: TPS in the
  256×192 frame, y up (read with :func:`beetles.formats.tps.read_tps`);
* ``<prefix>_scratch_pred.csv``: ``Image,Landmark,x1,y1,x2,y2``, manual
  (``x1, y1``) and predicted (``x2, y2``) per image and landmark, 256×192,
  y down.  beetles writes its own held-out predictions in the same long
  layout with clearer names (``image,landmark,x_manual,y_manual,x_pred,
  y_pred``); :func:`read_paired_csv` reads both.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beetles.core.errors import FormatError
from beetles.formats.landmark_csv import read_landmark_values, write_landmark_values

_COLUMN_SETS = (
    ("image", "landmark", "x1", "y1", "x2", "y2"),
    ("image", "landmark", "x_manual", "y_manual", "x_pred", "y_pred"),
)


@dataclass
class PairedLandmarks:
    """Manual and predicted landmarks of the same specimens.

    ``images``: ``(N,)`` image labels in file order; ``manual`` and
    ``predicted``: ``(N, n, 2)``, y down, in the file's frame.
    """

    images: list[str]
    manual: np.ndarray
    predicted: np.ndarray


def read_paired_csv(path) -> PairedLandmarks:
    """Read a long CSV of manual and predicted landmarks (see module doc)."""
    path = Path(path)
    tables = read_landmark_values(path, [c[2:] for c in _COLUMN_SETS])
    counts = {len(v) for v in tables.values()}
    if len(counts) != 1:
        raise FormatError(path, None, f"images have different landmark counts: {sorted(counts)}")
    table = np.stack(list(tables.values()))
    return PairedLandmarks(list(tables), table[..., 0:2], table[..., 2:4])


def write_paired_csv(path, images, manual, predicted) -> Path:
    """Write ``image,landmark,x_manual,y_manual,x_pred,y_pred`` (1-based
    landmarks; ``manual``/``predicted`` ``(N, n, 2)`` in the caller's frame,
    y down; 4 decimals, an empty cell for a missing landmark).  Atomic."""
    manual, predicted = np.asarray(manual, np.float64), np.asarray(predicted, np.float64)
    columns = dict(zip(_COLUMN_SETS[1][2:], (manual[..., 0], manual[..., 1], predicted[..., 0], predicted[..., 1])))
    return write_landmark_values(path, list(images), columns, digits=4)
