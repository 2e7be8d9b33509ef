"""Difficulty matched to the real landmarks through the trivial predictor (:mod:`beetles.synth.difficulty`)."""
import numpy as np
import pytest

from beetles.paper.settings import PART_NAMES
from beetles.synth.difficulty import (
    REAL_TRIVIAL_ERRORS,
    TRIVIAL_TOLERANCE,
    real_trivial_errors,
    trivial_errors,
    trivial_report,
)
from beetles.synth.shapes import shape_model
from beetles.synth.specimens import sample_landmarks


def test_trivial_predictor_matches_the_real_difficulty():
    """The trivial predictor (mean training landmarks) errs on the synthetic
    landmarks (full study counts, cross-validation rounds) within ±25% of what
    it does on the real beetles."""
    synthetic_errors = trivial_errors({name: sample_landmarks(name) for name in PART_NAMES})
    report = trivial_report(synthetic_errors)
    print(report)
    for name in PART_NAMES:
        ratio = synthetic_errors[name] / REAL_TRIVIAL_ERRORS[name]
        assert abs(ratio - 1) <= TRIVIAL_TOLERANCE, report
    assert "NO" not in report


def test_trivial_predictor_definition_reproduces_the_real_figures():
    real = real_trivial_errors()
    for name in PART_NAMES:
        assert real[name] == pytest.approx(REAL_TRIVIAL_ERRORS[name], rel=0.03)
    # Without the pose variation the task would be far easier: the test can fail.
    model = shape_model("pronotum")
    rng = np.random.default_rng(0)
    no_pose = np.stack([model.place(model.sample_shape(rng), model.pose_mean) for _ in range(293)])
    assert trivial_errors({"pronotum": no_pose})["pronotum"] < 0.75 * REAL_TRIVIAL_ERRORS["pronotum"]
