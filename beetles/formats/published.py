"""The result files the study's authors published (``data/reference/``).

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

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beetles.errors import DataError, FormatError
from beetles.files import atomic_write

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
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    with handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        columns = next((c for c in _COLUMN_SETS if set(c) <= set(header)), None)
        if columns is None:
            raise FormatError(path, 1, "expected columns " + " or ".join(",".join(c) for c in _COLUMN_SETS))
        index = [header.index(c) for c in columns]
        per_image: dict[str, dict[int, list[float]]] = {}
        for lineno, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                image, number = row[index[0]].strip(), int(row[index[1]])
                values = [float(row[i]) for i in index[2:]]
            except (ValueError, IndexError):
                raise FormatError(path, lineno, f"cannot read {row!r} as image, landmark and four numbers") from None
            per_image.setdefault(image, {})[number] = values
    counts = {len(v) for v in per_image.values()}
    if len(counts) != 1:
        raise FormatError(path, None, f"images have different landmark counts: {sorted(counts)}")
    n = counts.pop()
    images = list(per_image)
    table = np.array([[per_image[i][k] for k in range(1, n + 1)] for i in images])
    return PairedLandmarks(images, table[..., 0:2], table[..., 2:4])


def write_paired_csv(path, images, manual, predicted) -> Path:
    """Write ``image,landmark,x_manual,y_manual,x_pred,y_pred`` (1-based
    landmarks; ``manual``/``predicted`` ``(N, n, 2)`` in the caller's frame,
    y down).  Atomic."""
    manual, predicted = np.asarray(manual), np.asarray(predicted)
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(_COLUMN_SETS[1])
        for image, m_rows, p_rows in zip(images, manual, predicted):
            for number, (m, p) in enumerate(zip(m_rows, p_rows), start=1):
                writer.writerow([image, number, *(f"{v:.4f}" for v in (*m, *p))])
    return Path(path)
