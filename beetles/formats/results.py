"""CSV tables of results, laid out like the paper's: one header row, values
with :data:`DECIMALS` decimals, written atomically.

``landmark,<column>,…`` tables (:func:`landmark_table`) hold one row per
1-based landmark; every other table is a plain header and rows
(:func:`write_table`).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from beetles.core.files import atomic_write

#: Decimals of every value in the CSV tables.
DECIMALS = 4


def format_value(value) -> str:
    """A table cell: numbers with :data:`DECIMALS` decimals, ``nan``/``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.{DECIMALS}f}"
    return str(value)


def write_table(path, header, rows) -> Path:
    """Write a CSV table (header row, then ``rows``), values via :func:`format_value`."""
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([format_value(v) for v in row])
    return Path(path)


def landmark_table(path, columns: dict) -> Path:
    """Write ``landmark,<column>,…``: one row per 1-based landmark.

    ``columns`` maps a column name to a ``(n,)`` array; shorter columns
    (parts with fewer landmarks) leave empty cells, as the paper's Table 4.
    """
    length = max(len(v) for v in columns.values())
    rows = [
        [k + 1, *(float(v[k]) if k < len(v) else None for v in columns.values())] for k in range(length)
    ]
    return write_table(path, ["landmark", *columns], rows)
