"""Statistical shape models of the five beetle parts, fitted to real landmarks.

The synthetic specimens of :mod:`beetles.synth.render` take their landmark
configurations from here.  For each part, the published manual landmarks
(``<prefix>_manual.tps`` of :func:`beetles.paper.settings.published_dir`,
256×192 frame) are split into

* **shape**: the configurations after generalised Procrustes alignment
  (:func:`beetles.core.procrustes.gpa`: centred, scaled to unit centroid
  size, rotated onto their mean), summarised
  by their mean and principal modes of variation (PCA of the aligned
  coordinates, each mode with its standard deviation);
* **pose**: what the alignment took out of each real photo, the centroid
  ``(cx, cy)``, the log centroid size and the orientation (radians, relative
  to the mean shape), summarised by their mean and 4×4 covariance.

A new configuration draws independent Gaussian mode scores (truncated at
:data:`TRUNCATE_SD` standard deviations) and a Gaussian pose, and is placed as
``centroid + size · R(angle) · shape``.  Configurations with a landmark
closer than :data:`MARGIN` to the edge of the frame are drawn again, so that
every landmark lies inside its photo.

Everything is in the 256×192 network frame, y down; :func:`shape_model`
caches the fitted model per part.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beetles.core.frames import NETWORK
from beetles.core.procrustes import gpa, rotation
from beetles.paper.settings import part as paper_part
from beetles.paper.settings import published_dir

#: Mode scores are drawn from a normal distribution truncated at this many
#: standard deviations (redrawn beyond), which keeps implausible shapes out.
TRUNCATE_SD = 3.0

#: Landmarks are kept at least this far (network-frame pixels) inside the
#: 256×192 frame.
MARGIN = 2.0

#: Fraction of the aligned shape variance the kept modes explain.
KEPT_VARIANCE = 0.999


@dataclass(frozen=True)
class ShapeModel:
    """A part's shape model (aligned shapes) and pose distribution (photos).

    ``mean``: ``(n, 2)`` unit-size mean shape; ``modes``: ``(k, n, 2)``
    orthonormal modes; ``sd``: ``(k,)`` their standard deviations;
    ``pose_mean`` / ``pose_cov``: Gaussian of ``(cx, cy, log size, angle)``
    in the 256×192 frame.
    """

    part: str
    mean: np.ndarray
    modes: np.ndarray
    sd: np.ndarray
    pose_mean: np.ndarray
    pose_cov: np.ndarray

    @property
    def n_landmarks(self) -> int:
        """The number of landmarks of the part."""
        return len(self.mean)

    def place(self, shape: np.ndarray, pose) -> np.ndarray:
        """Put a unit shape ``(n, 2)`` at ``pose = (cx, cy, log size, angle)``."""
        cx, cy, log_size, angle = pose
        return np.array([cx, cy]) + np.exp(log_size) * shape @ rotation(angle)

    def sample_shape(self, rng: np.random.Generator) -> np.ndarray:
        """One aligned unit shape ``(n, 2)``: mean plus truncated-Gaussian modes."""
        scores = rng.standard_normal(len(self.sd))
        bad = np.abs(scores) > TRUNCATE_SD
        while bad.any():
            scores[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(scores) > TRUNCATE_SD
        return self.mean + np.tensordot(scores * self.sd, self.modes, axes=1)

    def sample_pose(self, rng: np.random.Generator) -> np.ndarray:
        """One pose ``(cx, cy, log size, angle)`` from the fitted Gaussian."""
        return rng.multivariate_normal(self.pose_mean, self.pose_cov, method="cholesky")

    def sample(self, rng: np.random.Generator, margin: float = MARGIN, tries: int = 1000) -> np.ndarray:
        """One landmark configuration ``(n, 2)`` in the 256×192 frame, y down,
        every landmark at least ``margin`` inside the frame."""
        low = np.array([margin, margin])
        high = np.array([NETWORK.width - margin, NETWORK.height - margin])
        shape = self.sample_shape(rng)
        for attempt in range(tries):
            points = self.place(shape, self.sample_pose(rng))
            if (points >= low).all() and (points <= high).all():
                return points
            if attempt % 20 == 19:  # a shape that fits no pose: draw another
                shape = self.sample_shape(rng)
        return np.clip(points, low, high)


def fit_shape_model(name: str, configurations) -> ShapeModel:
    """Fit a :class:`ShapeModel` to ``(N, n, 2)`` configurations (256×192, y down)."""
    alignment = gpa(configurations)
    aligned, centroids, sizes, angles, mean = (alignment.aligned, alignment.centroids, alignment.sizes,
                                               alignment.angles, alignment.mean)
    flat = aligned.reshape(len(aligned), -1)
    centred = flat - mean.reshape(-1)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2 / (len(flat) - 1)
    explained = np.cumsum(variance) / variance.sum()
    k = int(np.searchsorted(explained, KEPT_VARIANCE) + 1)
    poses = np.column_stack([centroids, np.log(sizes), angles])
    return ShapeModel(
        part=name,
        mean=mean,
        modes=vt[:k].reshape(k, -1, 2),
        sd=np.sqrt(variance[:k]),
        pose_mean=poses.mean(axis=0),
        pose_cov=np.cov(poses, rowvar=False),
    )


def real_landmarks(name: str, folder=None) -> np.ndarray:
    """The published manual landmarks of part ``name``: ``(N, n, 2)``, 256×192, y down."""
    from beetles.formats.tps import read_tps

    folder = Path(folder) if folder is not None else published_dir()
    path = folder / f"{paper_part(name).published_prefix}_manual.tps"
    return np.stack([s.landmarks for s in read_tps(path, size=NETWORK.size)])


@functools.lru_cache(maxsize=None)
def shape_model(name: str) -> ShapeModel:
    """The shape model of part ``name``, fitted to the published manual landmarks (cached)."""
    return fit_shape_model(name, real_landmarks(name))
