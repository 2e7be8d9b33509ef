import numpy as np
import pytest

from beetles.core.metrics import (
    correlation_scores,
    distance_bins,
    improvement_percent,
    landmark_distances,
    mean_distances,
    trivial_predictor_distances,
)


def test_distances_per_landmark():
    manual = np.zeros((2, 2, 2))
    predicted = np.array([[[3, 4], [0, 1]], [[6, 8], [0, 3]]], dtype=float)
    np.testing.assert_allclose(landmark_distances(manual, predicted), [[5, 1], [10, 3]])
    np.testing.assert_allclose(mean_distances(manual, predicted), [7.5, 2])
    predicted[1, 1] = np.nan  # a missing landmark is left out of its mean
    np.testing.assert_allclose(mean_distances(manual, predicted), [7.5, 1])
    with pytest.raises(ValueError, match=r"\(N, n, 2\)"):
        mean_distances(manual, predicted[:, :1])


def test_trivial_predictor():
    train = np.array([[[0, 0]], [[2, 0]]], dtype=float)  # mean shape (1, 0)
    test = np.array([[[1, 3]], [[4, 4]]], dtype=float)
    np.testing.assert_allclose(trivial_predictor_distances(train, test), [(3 + 5) / 2])


def test_distance_bins():
    bins = distance_bins([1, 2, 3, 4, 15])  # mean 5
    assert bins.mean == 5
    assert (bins.under_mean, bins.mean_to_threshold, bins.over_threshold) == (0.8, 0.0, 0.2)
    bins = distance_bins([1, 1, 7, 11])  # mean 5
    assert (bins.under_mean, bins.mean_to_threshold, bins.over_threshold) == (0.5, 0.25, 0.25)


def test_correlation_scores_use_rows_of_xy_and_pearson_on_x():
    rng = np.random.default_rng(0)
    manual = rng.uniform(0, 200, size=(30, 4, 2))
    noise = rng.normal(0, [1.0, 20.0], size=manual.shape)  # noisy y only
    scores = correlation_scores(manual, manual + noise)
    assert scores.pearson > 0.999  # x coordinates barely disturbed
    assert 0.9 < scores.r2 < 0.98  # uniform average of x (≈1) and y (worse)
    perfect = correlation_scores(manual, manual)
    assert perfect.r2 == perfect.explained_variance == pytest.approx(1.0)


def test_improvement_percent():
    assert improvement_percent([4.0, 6.0], [2.0, 3.0]) == pytest.approx(50.0)
