"""Landmark names: what a lab's protocol (or DeepLabCut's config, SLEAP's
skeleton) calls each landmark.

Names are optional; without them a landmark is its 1-based number.  They
come from a text file (one per line, ``--names FILE``), a long CSV's
``name`` column, or a pose file's skeleton, are kept in the model folder
(``settings.json`` → ``landmark_names``) and are written wherever landmarks
are written that can hold them (the CSVs' ``name`` column, SLEAP and COCO
skeletons, overlays).  TPS has no place for them.
"""
from __future__ import annotations

from pathlib import Path

from beetles.core.errors import DataError


def read_names(path, count: int | None = None) -> list[str]:
    """The landmark names in ``path``, one per line (blank lines ignored),
    checked against ``count`` landmarks when given (:func:`check_names`)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as error:
        raise DataError(f"{path}: cannot read the landmark names ({error.strerror or error})") from None
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise DataError(f"{path}: no landmark names (one per line)")
    return check_names(names, count, path) if count is not None else names


def check_names(names, count: int, where) -> list[str]:
    """``names`` as a list when there is one per landmark and no two are the
    same; a :class:`DataError` naming ``where`` otherwise."""
    names = [str(n) for n in names]
    if len(names) != count:
        raise DataError(f"{where}: {len(names)} landmark name(s), but the landmarks number {count}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{where}: landmark name(s) given twice: {', '.join(repeated[:5])}")
    return names


def names_or_numbers(names, count: int) -> list[str]:
    """``names``, or ``"1"`` … ``"count"`` when there are none."""
    return list(names) if names else [str(k) for k in range(1, count + 1)]
