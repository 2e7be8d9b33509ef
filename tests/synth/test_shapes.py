"""Shape models of the published landmarks (:mod:`beetles.synth.shapes`)."""
import numpy as np

from beetles.paper.settings import PART_NAMES, PARTS
from beetles.synth.shapes import real_landmarks
from beetles.synth.specimens import sample_landmarks


def test_shape_model_reproduces_the_real_mean_shape():
    for name in PART_NAMES:
        real = real_landmarks(name)
        drawn = sample_landmarks(name)
        assert drawn.shape == (PARTS[name].specimens, PARTS[name].landmarks, 2)
        assert np.abs(drawn.mean(axis=0) - real.mean(axis=0)).max() < 6.0
