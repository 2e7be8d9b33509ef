"""A radius per predicted landmark within which the true landmark lies 90 % of the time.

A model's spread ranks its landmarks by how unsure it is, but its scale is
the model's own.  :func:`fit_calibration` turns it into photo pixels by
split-conformal prediction on held-out specimens (Vovk et al. 2005; Angelopoulos
and Bates 2021): each held-out landmark's error is divided by its spread
times a per-landmark factor (the median error/spread ratio of that landmark,
shrunk towards the pooled median by :data:`PRIOR` pseudo-specimens, so a
landmark the model systematically under-rates gets wider radii), and the
conformal quantile ``q`` of these scores (the ``ceil((m + 1) level)``-th
smallest of ``m``) makes ``radius = q × factor × spread`` (:meth:`Calibration.radius`).

The guarantee (marginal, over specimens and landmarks): for a new photo
drawn like the held-out ones, a landmark lies within its radius with
probability at least ``level``.  It does not hold for photos unlike the
training photos (another species, magnification, lighting, another
annotator), and it is approximate when the held-out set is small (fewer
than :data:`FEW` scores: the largest score is used).  Models without a
spread get one radius per landmark (the spread taken as 1).
:func:`cross_checked` measures the coverage honestly, on halves of the
held-out set each calibrated on the other.  Errors and spreads are
``(N, n)`` in photo pixels.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from beetles.core.errors import DataError
from beetles.core.files import write_text

#: The coverage the radius aims at.
LEVEL = 0.9
#: Pseudo-specimens pulling a landmark's factor towards the pooled one.
PRIOR = 5.0
#: Fewer calibration scores than this: the radius uses the largest.
FEW = 10
CALIBRATION_JSON = "calibration.json"


@dataclass
class Calibration:
    """``radius = quantile × landmark_factor[k] × spread`` (photo pixels); see the module docstring."""

    level: float
    quantile: float
    landmark_factor: list
    scores: int
    uses_spread: bool
    source: str = ""

    def radius(self, spread) -> np.ndarray:
        """Radii ``(N, n)`` in photo pixels for spreads ``(N, n)`` (photo pixels; ``nan``: none)."""
        spread = np.asarray(spread, np.float64)
        base = spread if self.uses_spread else np.ones_like(spread)
        return self.quantile * np.asarray(self.landmark_factor)[None, :] * base

    def write(self, path) -> Path:
        """``calibration.json``, atomically."""
        return write_text(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path) -> "Calibration":
        """Read :meth:`write`'s file; a :class:`DataError` naming it when it is not one."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**data)
        except (ValueError, TypeError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a calibration file ({error})") from None


def _usable(errors, spread):
    errors, spread = np.asarray(errors, np.float64), np.asarray(spread, np.float64)
    uses_spread = bool(np.isfinite(spread).any())
    if not uses_spread:
        spread = np.ones_like(errors)
    ok = np.isfinite(errors) & np.isfinite(spread) & (spread > 0)
    return errors, spread, ok, uses_spread


def conformal_quantile(scores, level: float = LEVEL) -> float:
    """The ``ceil((m + 1) level)``-th smallest of ``m`` scores (the largest when there are too few)."""
    scores = np.sort(np.asarray(scores, np.float64))
    if not len(scores):
        return float("nan")
    rank = min(len(scores), math.ceil((len(scores) + 1) * level))
    return float(scores[rank - 1])


def fit_calibration(errors, spread, level: float = LEVEL, source: str = "") -> Calibration | None:
    """The calibration of held-out ``errors`` and ``spread`` ``(N, n)``
    (photo pixels); ``None`` when no landmark has both."""
    errors, spread, ok, uses_spread = _usable(errors, spread)
    if not ok.any():
        return None
    ratio = np.where(ok, errors / np.where(ok, spread, 1.0), np.nan)
    pooled = float(np.nanmedian(ratio)) or 1.0
    factors = []
    for k in range(errors.shape[1]):
        column = ratio[:, k][ok[:, k]]
        median = float(np.median(column)) if len(column) else pooled
        factors.append((len(column) * median + PRIOR * pooled) / (len(column) + PRIOR) or pooled)
    factors = np.maximum(np.array(factors), 1e-6 * pooled + 1e-12)
    scores = (ratio / factors[None, :])[ok]
    return Calibration(level=level, quantile=conformal_quantile(scores, level), landmark_factor=factors.tolist(),
                       scores=int(ok.sum()), uses_spread=uses_spread, source=source)


def coverage(errors, radius) -> float | None:
    """The share of landmarks (finite error and radius) within their radius."""
    errors, radius = np.asarray(errors, np.float64), np.asarray(radius, np.float64)
    ok = np.isfinite(errors) & np.isfinite(radius)
    return float(np.mean(errors[ok] <= radius[ok])) if ok.any() else None


def radius_summary(errors, radius) -> dict:
    """Coverage and Spearman's rank correlation of radius and error over
    every (specimen, landmark), and over landmarks (per-landmark means)."""
    from scipy.stats import spearmanr

    errors, radius = np.asarray(errors, np.float64), np.asarray(radius, np.float64)
    ok = np.isfinite(errors) & np.isfinite(radius)
    summary = {"coverage": coverage(errors, radius), "radius_error_spearman": None,
               "radius_error_spearman_landmark_means": None, "mean_radius_px": None}
    if ok.sum() >= 3 and np.ptp(radius[ok]) > 0:
        summary["radius_error_spearman"] = float(spearmanr(radius[ok], errors[ok])[0])
        summary["mean_radius_px"] = float(np.mean(radius[ok]))
    with np.errstate(invalid="ignore"):
        means_r = np.array([np.mean(radius[ok[:, k], k]) if ok[:, k].any() else np.nan for k in range(radius.shape[1])])
        means_e = np.array([np.mean(errors[ok[:, k], k]) if ok[:, k].any() else np.nan for k in range(radius.shape[1])])
    good = np.isfinite(means_r) & np.isfinite(means_e)
    if good.sum() >= 3 and np.ptp(means_r[good]) > 0:
        summary["radius_error_spearman_landmark_means"] = float(spearmanr(means_r[good], means_e[good])[0])
    return summary


def cross_checked(errors, spread, level: float = LEVEL, seed: int = 0) -> dict:
    """Coverage and rank correlation measured out of sample: the specimens
    split in two halves (seeded), each half's radii calibrated on the other
    (:func:`radius_summary` of the pooled result; ``None`` with fewer than
    four specimens)."""
    errors, spread = np.asarray(errors, np.float64), np.asarray(spread, np.float64)
    n = len(errors)
    if n < 4:
        return {"coverage": None, "radius_error_spearman": None, "radius_error_spearman_landmark_means": None,
                "mean_radius_px": None, "note": "fewer than 4 held-out specimens"}
    order = np.random.default_rng(seed).permutation(n)
    halves = (order[: n // 2], order[n // 2:])
    radius = np.full_like(errors, np.nan)
    for fit_on, apply_to in (halves, halves[::-1]):
        calibration = fit_calibration(errors[fit_on], spread[fit_on], level)
        if calibration is not None:
            radius[apply_to] = calibration.radius(spread[apply_to])
    return radius_summary(errors, radius)
