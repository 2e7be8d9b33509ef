"""The compact networks' heads: soft-argmax, spread, target maps
(:mod:`beetles.compact.networks`, :mod:`beetles.compact.losses`)."""
import numpy as np
import torch

from beetles.compact.losses import gaussian_targets
from beetles.compact.networks import heatmap_spread, soft_argmax


def test_soft_argmax_finds_a_peak_and_its_spread():
    logits = torch.full((1, 2, 24, 32), -50.0)
    logits[0, 0, 5, 7] = 50.0  # cell centre: x = (2*7+1)/32 - 1, y = (2*5+1)/24 - 1
    logits[0, 1] = 0.0  # uniform
    coords = soft_argmax(logits)
    np.testing.assert_allclose(coords[0, 0].numpy(), [15 / 32 - 1, 11 / 24 - 1], atol=1e-5)
    np.testing.assert_allclose(coords[0, 1].numpy(), [0, 0], atol=1e-5)
    spread = heatmap_spread(logits, coords)[0].numpy()
    assert spread[0] < 1e-3
    # a uniform map over 256×192 px: sd sqrt(W²/12 + H²/12) (minus the cell discretisation)
    assert abs(spread[1] - np.sqrt((256**2 - 8**2) / 12 + (192**2 - 8**2) / 12)) < 0.5


def test_gaussian_targets_are_normalised_and_centred():
    target = torch.tensor([[[0.1, -0.3], [-0.7, 0.5]]])
    maps = gaussian_targets(target, 24, 32)
    np.testing.assert_allclose(maps.sum(dim=(-2, -1)).numpy(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(soft_argmax(maps.log()).numpy(), target.numpy(), atol=0.01)
