"""The 90 % radius: split-conformal calibration of a model's spread in photo pixels."""
import numpy as np
import pytest

from beetles.core.calibration import (
    Calibration,
    conformal_quantile,
    coverage,
    cross_checked,
    fit_calibration,
    radius_summary,
)


def draw(rng, n, scale_per_landmark):
    """Errors whose size follows a spread (per specimen and landmark) times a
    landmark's own factor the spread does not know: ``(errors, spread)``."""
    spread = rng.uniform(1, 10, (n, len(scale_per_landmark)))
    errors = spread * np.asarray(scale_per_landmark) * np.sqrt(rng.chisquare(2, spread.shape))
    return errors, spread


def test_conformal_quantile_is_the_rank_it_promises():
    assert conformal_quantile(np.arange(1, 20), 0.9) == 18  # ceil(20 × 0.9) = 18th of 19
    assert conformal_quantile([3.0, 1.0], 0.9) == 3.0  # too few: the largest
    assert np.isnan(conformal_quantile([], 0.9))


def test_radius_covers_90_percent_of_new_landmarks_and_ranks_them():
    rng = np.random.default_rng(0)
    factors = [0.5, 1, 2, 4]
    calibration = fit_calibration(*draw(rng, 200, factors))
    assert calibration.uses_spread and calibration.scores == 800
    assert np.argsort(calibration.landmark_factor).tolist() == [0, 1, 2, 3]  # the landmark the spread under-rates
    errors, spread = draw(rng, 5000, factors)
    radius = calibration.radius(spread)
    assert 0.87 <= coverage(errors, radius) <= 0.93
    summary = radius_summary(errors, radius)
    assert summary["radius_error_spearman"] > 0.5 and summary["radius_error_spearman_landmark_means"] == 1.0


def test_without_a_spread_each_landmark_gets_its_own_radius(tmp_path):
    rng = np.random.default_rng(1)
    errors = np.abs(rng.normal(0, [1, 10], (300, 2)))
    calibration = fit_calibration(errors, np.full_like(errors, np.nan))
    assert not calibration.uses_spread
    radius = calibration.radius(np.full((1, 2), np.nan))[0]
    assert radius[1] > 5 * radius[0]
    path = calibration.write(tmp_path / "calibration.json")
    assert Calibration.read(path) == calibration
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(Exception, match="bad.json: not a calibration file"):
        Calibration.read(tmp_path / "bad.json")


def test_cross_checked_coverage_is_measured_out_of_sample():
    rng = np.random.default_rng(2)
    summary = cross_checked(*draw(rng, 400, [1, 1, 3]))
    assert 0.85 <= summary["coverage"] <= 0.95
    assert cross_checked(*draw(rng, 3, [1]))["coverage"] is None
    assert fit_calibration(np.full((2, 2), np.nan), np.ones((2, 2))) is None
