"""Difficulty of the synthetic data, matched to the real beetles through the
trivial predictor (always answer the training set's mean landmarks):
:func:`trivial_errors` next to :data:`REAL_TRIVIAL_ERRORS`.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from beetles.core.frames import NETWORK
from beetles.formats.dataset import IMAGES_FOLDER, LANDMARKS_FILE
from beetles.paper.settings import PART_NAMES

#: The trivial predictor's error on the real beetles (pixels, 256×192, mean
#: over landmarks), from the issue; the synthetic data must stay within
#: :data:`TRIVIAL_TOLERANCE` of these.  (With the cross-validation rounds of
#: :func:`trivial_errors` the published manual landmarks give 10.95, 13.28,
#: 11.87, 24.56 and 27.01; the figures below are the same predictor fitted on
#: all specimens at once.)
REAL_TRIVIAL_ERRORS = {
    "pronotum": 10.8,
    "elytra": 13.1,
    "head": 11.8,
    "left_mandible": 24.4,
    "right_mandible": 26.7,
}

#: Allowed relative deviation of the synthetic trivial-predictor error.
TRIVIAL_TOLERANCE = 0.25


def trivial_error(part: str, landmarks) -> float:
    """Mean over landmarks and cross-validation rounds (:func:`beetles.paper.settings.part_rounds`)
    of the distance between the held-out landmarks and the mean landmarks of
    the round's training specimens; ``landmarks`` ``(N, n, 2)`` in the
    256×192 frame."""
    from beetles.core.metrics import trivial_predictor_distances
    from beetles.paper.settings import part_rounds

    landmarks = np.asarray(landmarks, dtype=np.float64)
    rounds = part_rounds(part, len(landmarks))
    return float(np.mean([np.nanmean(trivial_predictor_distances(landmarks[r.train], landmarks[r.test])) for r in rounds]))


def trivial_errors(root_or_parts) -> dict[str, float]:
    """Per-part error of the trivial predictor (pixels, 256×192; see :func:`trivial_error`).

    ``root_or_parts``: a dataset folder (its ``<part>/landmarks.tps`` are
    read, each photo's size from its header), or a mapping part name →
    :class:`~beetles.core.specimen.PartData` or ``(N, n, 2)`` landmarks in the
    256×192 frame.
    """
    if isinstance(root_or_parts, Mapping):
        items = root_or_parts.items()
    else:
        from beetles.formats.tps import read_tps

        root = Path(root_or_parts)
        items = []
        for name in PART_NAMES:
            tps = root / name / LANDMARKS_FILE
            if tps.exists():
                items.append((name, read_tps(tps, image_dir=tps.parent / IMAGES_FOLDER)))
        if not items:
            raise FileNotFoundError(f"{root}: no <part>/{LANDMARKS_FILE} found")
    errors = {}
    for name, data in items:
        if hasattr(data, "landmarks") and callable(data.landmarks):  # PartData
            landmarks = data.landmarks(NETWORK)
        elif isinstance(data, (list, tuple)) and data and hasattr(data[0], "in_frame"):
            landmarks = np.stack([s.in_frame(NETWORK).landmarks for s in data])
        else:
            landmarks = np.asarray(data, dtype=np.float64)
        errors[name] = trivial_error(name, landmarks)
    return errors


def real_trivial_errors() -> dict[str, float]:
    """:func:`trivial_errors` of the published manual landmarks (same definition)."""
    from beetles.synth.shapes import real_landmarks

    return {name: trivial_error(name, real_landmarks(name)) for name in PART_NAMES}


def trivial_report(errors: Mapping[str, float], tolerance: float = TRIVIAL_TOLERANCE) -> str:
    """A table of synthetic vs real trivial-predictor errors, one line per part."""
    lines = [f"{'part':<16}{'synthetic px':>13}{'real px':>9}{'ratio':>7}  within ±{tolerance:.0%}"]
    for name, value in errors.items():
        real = REAL_TRIVIAL_ERRORS.get(name)
        if real is None:
            lines.append(f"{name:<16}{value:>13.2f}{'-':>9}{'-':>7}  -")
            continue
        ratio = value / real
        ok = "yes" if abs(ratio - 1) <= tolerance else "NO"
        lines.append(f"{name:<16}{value:>13.2f}{real:>9.1f}{ratio:>7.2f}  {ok}")
    return "\n".join(lines)
