"""Synthetic specimens' landmarks and sizes (:mod:`beetles.synth.specimens`)."""
import numpy as np
import pytest

from beetles.synth.specimens import parse_size, sample_landmarks


def test_a_specimen_does_not_depend_on_the_dataset_size():
    few = sample_landmarks("head", 2, seed=3)
    many = sample_landmarks("head", 5, seed=3)
    np.testing.assert_array_equal(few, many[:2])


def test_sizes_parse_and_are_checked():
    assert parse_size("1024x768") == (1024, 768)
    assert parse_size("3264×2448") == (3264, 2448)
    for bad in ("1024x1024", "200x150", "big"):
        with pytest.raises(ValueError):
            parse_size(bad)
