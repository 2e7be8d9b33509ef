"""Generalised Procrustes analysis of landmark configurations (one module for all).

A configuration is ``(n, 2)`` (``n`` landmarks, ``x, y``); several are
``(M, n, 2)``, all in one pixel frame and y direction.  Rotations are
proper (determinant +1): a reflection would change the specimen's side.

:func:`gpa` centres each configuration, scales it to unit centroid size and
rotates it onto a mean shape that is recomputed until it stops moving; the
mean keeps the orientation of the raw configurations' average, so that it
can be drawn as the specimens lie in their photos.  The shape models of
:mod:`beetles.synth.shapes` and ``beetles evaluate``
(:mod:`beetles.tool.agreement`) both use it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def centroid_size(configs) -> np.ndarray:
    """Centroid size: root of the summed squared distances of the landmarks
    from their centroid.  ``(..., n, 2)`` → ``(...)``."""
    configs = np.asarray(configs, dtype=np.float64)
    centred = configs - configs.mean(axis=-2, keepdims=True)
    return np.sqrt((centred**2).sum(axis=(-2, -1)))


def rotation(angle) -> np.ndarray:
    """2×2 rotation matrices for ``angle`` (scalar or ``(m,)``), acting on row
    vectors as ``points @ R``; in a y-down frame a positive angle turns
    clockwise on screen."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def align_angle(moving, target) -> float:
    """The angle ``a`` that minimises ``|moving @ rotation(a) - target|`` for
    centred ``(n, 2)`` configurations (the least-squares rotation)."""
    moving, target = np.asarray(moving), np.asarray(target)
    cross = np.sum(moving[:, 0] * target[:, 1] - moving[:, 1] * target[:, 0])
    dot = np.sum(moving * target)
    return float(np.arctan2(cross, dot))


@dataclass(frozen=True)
class Alignment:
    """What :func:`gpa` returns.

    ``aligned`` ``(M, n, 2)``: centred unit-size shapes rotated onto
    ``mean`` ``(n, 2)``; each input is ``centroids[i] + sizes[i] ·
    aligned[i] @ rotation(angles[i])`` (``centroids`` ``(M, 2)``, ``sizes``
    and ``angles`` ``(M,)``)."""

    aligned: np.ndarray
    centroids: np.ndarray
    sizes: np.ndarray
    angles: np.ndarray
    mean: np.ndarray


def gpa(configurations, iterations: int = 50, tol: float = 1e-12) -> Alignment:
    """Generalised Procrustes alignment of complete ``(M, n, 2)`` configurations.

    The mean starts as the normalised average of the unit-size
    configurations; every configuration is rotated onto it, the mean is
    recomputed, rescaled to unit size and turned back onto the starting
    orientation, until no coordinate of it moves more than ``tol`` (at most
    ``iterations`` times)."""
    x = np.asarray(configurations, dtype=np.float64)
    centroids = x.mean(axis=1)
    centred = x - centroids[:, None, :]
    sizes = np.sqrt((centred**2).sum(axis=(1, 2)))
    unit = centred / sizes[:, None, None]
    reference = unit.mean(axis=0)
    reference /= np.sqrt((reference**2).sum())
    mean = reference.copy()
    for _ in range(iterations):
        angles = np.array([align_angle(u, mean) for u in unit])
        aligned = np.einsum("inj,ijk->ink", unit, rotation(angles))
        new_mean = aligned.mean(axis=0)
        new_mean /= np.sqrt((new_mean**2).sum())
        new_mean = new_mean @ rotation(align_angle(new_mean, reference))  # keep the photos' orientation
        if np.abs(new_mean - mean).max() < tol:
            mean = new_mean
            break
        mean = new_mean
    angles = np.array([align_angle(u, mean) for u in unit])
    aligned = np.einsum("inj,ijk->ink", unit, rotation(angles))
    # aligned = unit @ R(a)  =>  unit = aligned @ R(-a)
    return Alignment(aligned, centroids, sizes, -angles, mean)
