"""Generalised Procrustes analysis, one for the shape models and for ``beetles evaluate``
(:mod:`beetles.core.procrustes`)."""
import numpy as np

from beetles.core.procrustes import centroid_size, gpa, rotation

LM = 6


def rotate(shape, angle):
    c, s = np.cos(angle), np.sin(angle)
    return shape @ np.array([[c, -s], [s, c]]).T


def test_gpa_aligns_similar_shapes_to_one_and_keeps_unit_size():
    rng = np.random.default_rng(3)
    shape = rng.normal(0, 10, (LM, 2))
    configs = np.stack([rotate(shape, a) * s + t for a, s, t in [(0.3, 2, 5), (-1.2, 0.5, -40), (2.5, 1, 100)]])
    result = gpa(configs)
    aligned, mean = result.aligned, result.mean
    assert aligned.shape == configs.shape and mean.shape == (LM, 2)
    np.testing.assert_allclose(centroid_size(aligned), 1.0)
    np.testing.assert_allclose(aligned, np.broadcast_to(mean, aligned.shape), atol=1e-9)
    np.testing.assert_allclose(aligned.mean(axis=1), 0, atol=1e-12)


def test_gpa_never_reflects():
    shape = np.random.default_rng(4).normal(0, 10, (LM, 2))
    mirrored = shape * [-1, 1]
    aligned = gpa(np.stack([shape, mirrored])).aligned
    assert np.abs(aligned[0] - aligned[1]).max() > 0.05  # a mirror image is another shape


def test_each_input_is_its_centroid_size_and_angle_applied_to_its_aligned_shape():
    rng = np.random.default_rng(5)
    configs = rng.normal(0, 10, (LM, 2)) + rng.normal(0, 1.5, (8, LM, 2)) + rng.uniform(0, 200, (8, 1, 2))
    result = gpa(configs)
    rebuilt = result.centroids[:, None] + result.sizes[:, None, None] * np.einsum(
        "inj,ijk->ink", result.aligned, rotation(result.angles))
    np.testing.assert_allclose(rebuilt, configs, atol=1e-9)
    np.testing.assert_allclose(centroid_size(result.mean), 1.0)
    # the mean keeps the configurations' own orientation: their average, aligned, points the same way
    average = configs - configs.mean(axis=1, keepdims=True)
    average = (average / centroid_size(average)[:, None, None]).mean(axis=0)
    assert np.sum(average * result.mean) > 0.9 * np.sqrt(np.sum(average**2))
