"""Evaluation as in the paper: distances between manual and predicted landmarks.

All inputs are ``(N, n, 2)`` arrays of the same specimens in the same frame
(the paper reports pixels of the 256×192 network frame); the y direction does
not matter for distances, but both arrays must use the same one.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import explained_variance_score, r2_score

#: The paper's Fig. 12 bins: under the mean distance, from the mean to this
#: many pixels, and over it.
FIG12_THRESHOLD = 10.0


def _pair(manual, predicted) -> tuple[np.ndarray, np.ndarray]:
    manual = np.asarray(manual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if manual.shape != predicted.shape or manual.ndim != 3 or manual.shape[2] != 2:
        raise ValueError(
            f"manual and predicted landmarks must both be (N, n, 2); got {manual.shape} and {predicted.shape}"
        )
    return manual, predicted


def landmark_distances(manual, predicted) -> np.ndarray:
    """Euclidean distance per specimen and landmark: ``(N, n)`` pixels."""
    manual, predicted = _pair(manual, predicted)
    return np.linalg.norm(manual - predicted, axis=2)


def mean_distances(manual, predicted) -> np.ndarray:
    """Per-landmark mean distance over specimens: ``(n,)`` pixels (Tables 3, 4, 6, 8, 10–12).

    Missing landmarks (``nan`` in either array) are left out of their mean.
    """
    return np.nanmean(landmark_distances(manual, predicted), axis=0)


def mean_shape(landmarks) -> np.ndarray:
    """The trivial predictor's answer: the mean of ``(N, n, 2)`` landmarks
    over specimens, ``(n, 2)`` (missing landmarks left out; ``nan`` for a
    landmark missing in every specimen)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a landmark missing everywhere
        return np.nanmean(np.asarray(landmarks, dtype=np.float64), axis=0)


def trivial_predictor_distances(train_landmarks, test_landmarks) -> np.ndarray:
    """Per-landmark mean distance of the predictor that always answers the
    mean training landmarks (:func:`mean_shape`): ``(n,)``.  Inputs
    ``(N_train, n, 2)``, ``(N_test, n, 2)``, in one frame."""
    test = np.asarray(test_landmarks, dtype=np.float64)
    return mean_distances(test, np.broadcast_to(mean_shape(train_landmarks), test.shape))


@dataclass(frozen=True)
class DistanceBins:
    """The paper's Fig. 12 summary of one landmark's distances."""

    mean: float
    under_mean: float  # fraction of specimens with distance < mean
    mean_to_threshold: float  # mean <= distance <= threshold
    over_threshold: float  # distance > threshold
    threshold: float


def distance_bins(distances, threshold: float = FIG12_THRESHOLD) -> DistanceBins:
    """Fractions of one landmark's ``(N,)`` distances under the mean, from the
    mean to ``threshold`` pixels, and over it (Fig. 12: 56.66%, 40.27%, 3.07%
    for pronotum landmark 1)."""
    d = np.asarray(distances, dtype=np.float64)
    d = d[~np.isnan(d)]
    mean = float(d.mean())
    return DistanceBins(
        mean=mean,
        under_mean=float(np.mean(d < mean)),
        mean_to_threshold=float(np.mean((d >= mean) & (d <= threshold))),
        over_threshold=float(np.mean(d > threshold)),
        threshold=threshold,
    )


@dataclass(frozen=True)
class CorrelationScores:
    """Table 2: agreement of manual and predicted coordinates."""

    r2: float
    explained_variance: float
    pearson: float


def correlation_scores(manual, predicted) -> CorrelationScores:
    """Table 2's scores from ``(N, n, 2)`` landmark arrays.

    As the published numbers were computed: every landmark is one row of an
    ``(N·n, 2)`` array of ``x, y``; r² and explained variance are
    scikit-learn's with the uniform average over x and y; Pearson's r is
    SciPy's on the x coordinates.
    """
    manual, predicted = _pair(manual, predicted)
    rows_m, rows_p = manual.reshape(-1, 2), predicted.reshape(-1, 2)
    keep = ~(np.isnan(rows_m).any(axis=1) | np.isnan(rows_p).any(axis=1))
    rows_m, rows_p = rows_m[keep], rows_p[keep]
    return CorrelationScores(
        r2=float(r2_score(rows_m, rows_p)),
        explained_variance=float(explained_variance_score(rows_m, rows_p)),
        pearson=float(pearsonr(rows_m[:, 0], rows_p[:, 0])[0]),
    )


def improvement_percent(scratch_means, finetune_means) -> float:
    """Improvement of the mean distance per landmark, in percent, as the paper
    reports it: ``100 × (mean(scratch) − mean(fine-tune)) / mean(scratch)``."""
    scratch = float(np.mean(scratch_means))
    return 100.0 * (scratch - float(np.mean(finetune_means))) / scratch


def spread_summary(spread, errors) -> dict:
    """How well the per-landmark spread ranks the errors: the mean spread,
    Spearman's rank correlation over every (specimen, landmark)
    (``spread_error_spearman``) and over specimens (mean spread vs mean
    error; ``spread_error_spearman_per_specimen``); ``None`` where too few.
    ``spread``, ``errors``: ``(N, n)`` pixels."""
    from scipy.stats import spearmanr

    spread, errors = np.asarray(spread, float), np.asarray(errors, float)
    ok = np.isfinite(spread) & np.isfinite(errors)
    summary = {"mean_spread_px": float(np.mean(spread[ok])) if ok.any() else None,
               "spread_error_spearman": None, "spread_error_spearman_per_specimen": None}
    if ok.sum() >= 3:
        summary["spread_error_spearman"] = float(spearmanr(spread[ok], errors[ok])[0])
    if len(spread) >= 3:
        summary["spread_error_spearman_per_specimen"] = float(
            spearmanr(np.nanmean(spread, axis=1), np.nanmean(errors, axis=1))[0])
    return summary
