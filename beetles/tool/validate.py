"""How well a freshly trained model places the held-out specimens' landmarks.

:func:`validate` predicts the held-out photos exactly as ``beetles predict``
would (decoded and letterboxed by the model, :data:`PASSES` passes for a
model whose spread needs them) and measures the errors in each photo's own
pixels and in pixels of the 256×192 network frame, next to the trivial
predictor that always answers the training specimens' mean landmarks
(:func:`beetles.core.metrics.mean_shape`, in the network frame), and how well
the spread ranks the errors (:func:`beetles.core.metrics.spread_summary`), and calibrates the 90 %
radius on their errors (:mod:`beetles.core.calibration`; its coverage
measured out of sample, on halves of the held-out set).
:func:`write_validation` writes ``validation.csv`` (per landmark) and
``validation.json``; :func:`summary_lines` is what the user reads.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from beetles.core.calibration import LEVEL, cross_checked, fit_calibration
from beetles.core.files import write_text
from beetles.core.frames import Letterbox
from beetles.core.metrics import mean_shape, spread_summary
from beetles.formats.results import write_table
from beetles.model import to_photo

#: Monte-Carlo dropout (or test-time augmentation) passes of the paper's models.
PASSES = 8
#: Photos decoded before one batch goes through the network.
BATCH = 16
VALIDATION_COLUMNS = ["landmark", "error_photo_px", "error_network_px", "spread_photo_px", "spread_network_px",
                      "trivial_error_photo_px", "specimens"]


def predict_in_batches(model, photos: list, passes: int = PASSES):
    """Landmarks and spread of decoded ``photos`` in network pixels, :data:`BATCH`
    at a time: ``(N, n, 2)`` and ``(N, n)`` (``nan`` without a spread)."""
    points, spreads = [], []
    for start in range(0, len(photos), BATCH):
        prediction = model.predict(model.inputs(photos[start:start + BATCH]), passes)
        points.append(prediction.points)
        spreads.append(prediction.spread_or_nan())
    return np.concatenate(points), np.concatenate(spreads)


def validate(model, training, held_out):
    """Errors of ``model`` on the ``held_out`` specimens (see the module
    docstring): ``(summary, calibration)``, the summary ``validation.json``
    records and the :class:`~beetles.core.calibration.Calibration` of the
    radius (``None`` without held-out specimens)."""
    n = model.n_landmarks
    summary = {"specimens": len(held_out), "names": [s.name for s in held_out], "landmarks": n}
    if not held_out:
        summary["note"] = "no validation specimens (fewer than 5 specimens, or --validation 0)"
        return summary, None
    mean_net = mean_shape([Letterbox.for_size(s.frame.size).to_network(s.landmarks) for s in training])
    decoded = [model.decode(s.image, s.name) for s in held_out]
    predicted, spread_net = predict_in_batches(model, decoded)
    boxes = [d.letterbox for d in decoded]
    manual = np.stack([s.landmarks for s in held_out])
    manual_net = np.stack([b.to_network(m) for b, m in zip(boxes, manual, strict=True)])
    predicted_photo = np.stack([to_photo(b, p) for b, p in zip(boxes, predicted, strict=True)])
    predicted = np.stack([b.to_network(p) for b, p in zip(boxes, predicted_photo, strict=True)])
    trivial_photo = np.stack([b.to_photo(mean_net) for b in boxes])
    scale = np.array([b.scale for b in boxes])[:, None]
    errors = {
        "photo": np.linalg.norm(predicted_photo - manual, axis=-1),
        "network": np.linalg.norm(predicted - manual_net, axis=-1),
        "trivial_photo": np.linalg.norm(trivial_photo - manual, axis=-1),
        "trivial_network": np.linalg.norm(mean_net[None] - manual_net, axis=-1),
    }
    spread_photo = spread_net / scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a landmark missing in every held-out specimen
        per_landmark = {key: np.nanmean(value, axis=0) for key, value in errors.items()}
        per_landmark["spread_photo"] = np.nanmean(spread_photo, axis=0)
        per_landmark["spread_network"] = np.nanmean(spread_net, axis=0)
        means = {key: float(np.nanmean(value)) for key, value in per_landmark.items()}
    confidence = spread_summary(spread_photo, errors["photo"])
    calibration = fit_calibration(errors["photo"], spread_photo, source=f"{len(held_out)} held-out specimens")
    summary.update({
        "mean_error_photo_px": means["photo"],
        "mean_error_network_px": means["network"],
        "trivial_error_photo_px": means["trivial_photo"],
        "trivial_error_network_px": means["trivial_network"],
        "ratio_to_trivial": means["network"] / means["trivial_network"] if means["trivial_network"] else None,
        "mean_spread_photo_px": confidence["mean_spread_px"],
        "mean_spread_network_px": means["spread_network"],
        "spread_error_spearman_landmarks": confidence["spread_error_spearman"],
        "spread_error_spearman_specimens": confidence["spread_error_spearman_per_specimen"],
        "uncertainty": model.info.uncertainty,
        "per_landmark": {key: [None if np.isnan(v) else float(v) for v in value]
                         for key, value in per_landmark.items()},
        "specimens_per_landmark": np.isfinite(errors["photo"]).sum(axis=0).tolist(),
        "radius90": {"level": LEVEL, "calibration_scores": calibration.scores if calibration else 0,
                     "measured_on": "each half of the held-out specimens calibrated on the other half",
                     **cross_checked(errors["photo"], spread_photo)},
    })
    return summary, calibration


def write_validation(out: Path, summary: dict) -> None:
    """``validation.csv`` (per landmark) and ``validation.json`` (the summary)."""
    rows = []
    per = summary.get("per_landmark")
    if per:
        for k in range(summary["landmarks"]):
            rows.append([k + 1, per["photo"][k], per["network"][k], per["spread_photo"][k],
                         per["spread_network"][k], per["trivial_photo"][k], summary["specimens_per_landmark"][k]])
    write_table(out / "validation.csv", VALIDATION_COLUMNS, rows)
    write_text(out / "validation.json", json.dumps(summary, indent=2) + "\n")


def summary_lines(summary: dict) -> list[str]:
    """The validation summary a user reads after training."""
    if not summary.get("specimens"):
        return [f"validation: {summary.get('note', 'no validation specimens')}"]
    lines = [
        f"validation on {summary['specimens']} held-out specimen(s): mean error "
        f"{summary['mean_error_photo_px']:.2f} px in the photos ({summary['mean_error_network_px']:.2f} px at "
        f"256×192); trivial mean-shape predictor {summary['trivial_error_photo_px']:.2f} px "
        f"({summary['trivial_error_network_px']:.2f} px)",
    ]
    if summary.get("mean_spread_photo_px") is not None:
        rho = summary.get("spread_error_spearman_landmarks")
        rho_s = summary.get("spread_error_spearman_specimens")
        text = f"  mean spread {summary['mean_spread_photo_px']:.2f} px"
        if rho is not None:
            text += f"; rank correlation of spread with error {rho:.2f} over landmarks"
            if rho_s is not None:
                text += f", {rho_s:.2f} over specimens"
        lines.append(text)
    radius = summary.get("radius90") or {}
    if radius.get("coverage") is not None:
        text = (f"  radius90_px: {100 * radius['coverage']:.0f} % of held-out landmarks within it (calibrated on "
                "the other half)")
        if radius.get("radius_error_spearman") is not None:
            text += f"; rank correlation with the error {radius['radius_error_spearman']:.2f}"
        lines.append(text)
    ratio = summary.get("ratio_to_trivial")
    if ratio is not None and ratio >= 1:
        lines.append("  The model has not learned past the trivial predictor: train longer (--epochs, --minutes) "
                     "or on more photos.")
    return lines
