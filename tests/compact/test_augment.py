"""Augmentation that moves landmarks with the pixels (:mod:`beetles.compact.augment`, :mod:`beetles.core.warp`)."""
import numpy as np
import torch

from beetles.compact.augment import augment_batch
from beetles.core.frames import NETWORK, denormalise, normalise
from beetles.core.warp import random_affine


def test_augmentation_moves_landmarks_with_the_pixels():
    """A bright dot drawn at a landmark is still under the landmark after a
    random affine map (rotation, scale, shift on the 4:3 frame)."""
    generator = torch.Generator().manual_seed(3)
    points_px = np.array([[60.0, 50.0], [190.0, 140.0], [128.0, 96.0]])
    images = torch.zeros(6, 3, 192, 256)
    yy, xx = torch.meshgrid(torch.arange(192) + 0.5, torch.arange(256) + 0.5, indexing="ij")
    for x, y in points_px:
        images[:, :, ((xx - x) ** 2 + (yy - y) ** 2) < 2.5**2] = 1.0
    points = torch.tensor(normalise(points_px), dtype=torch.float32).view(1, 3, 2).repeat(6, 1, 1)
    moved, moved_points = augment_batch(images, points, generator)
    moved_px = denormalise(moved_points.reshape(6, -1).numpy())
    assert not np.allclose(moved_px, points_px[None], atol=2)  # the maps did move them
    for b in range(6):
        gray = moved[b].mean(0).numpy()
        for x, y in moved_px[b]:
            row, col = int(y), int(x)
            window = gray[row - 2:row + 3, col - 2:col + 3]
            assert window.max() > gray.mean() + 0.3, (b, x, y)


def test_affine_maps_rotate_on_the_pixel_grid():
    theta = random_affine(50, torch.Generator().manual_seed(0), "cpu", rotation=15.0, shift=0.0, scale=(1.0, 1.0))
    half = torch.tensor([NETWORK.width / 2, NETWORK.height / 2])
    a_pixels = theta[:, :, :2] * half[:, None] / half[None, :]  # D A D^-1: a rotation
    identity = a_pixels @ a_pixels.transpose(1, 2)
    np.testing.assert_allclose(identity.numpy(), np.broadcast_to(np.eye(2), identity.shape), atol=1e-5)
