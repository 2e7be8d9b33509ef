"""Statistical shape models of the five beetle parts, fitted to real landmarks.

The synthetic specimens of :mod:`beetles.synthetic` take their landmark
configurations from here.  For each part, the published manual landmarks
(``data/reference/beetles_published/<prefix>_manual.tps``, 256×192 frame)
are split into

* **shape**: the configurations after generalised Procrustes alignment
  (centred, scaled to unit centroid size, rotated onto their mean), summarised
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

from beetles.frames import NETWORK
from beetles.paper import part as paper_part

#: The published landmarks the models are fitted to.
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference" / "beetles_published"

#: Mode scores are drawn from a normal distribution truncated at this many
#: standard deviations (redrawn beyond), which keeps implausible shapes out.
TRUNCATE_SD = 3.0

#: Landmarks are kept at least this far (network-frame pixels) inside the
#: 256×192 frame.
MARGIN = 2.0

#: Fraction of the aligned shape variance the kept modes explain.
KEPT_VARIANCE = 0.999


def _rotation(angle) -> np.ndarray:
    """2×2 rotation matrices for ``angle`` (scalar or ``(m,)``), acting on row vectors
    as ``points @ R``; in the y-down frame a positive angle turns clockwise on screen."""
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def _align_angle(moving: np.ndarray, target: np.ndarray) -> float:
    """Angle that best rotates centred ``moving`` (n, 2) onto centred ``target``."""
    cross = np.sum(moving[:, 0] * target[:, 1] - moving[:, 1] * target[:, 0])
    dot = np.sum(moving * target)
    return float(np.arctan2(cross, dot))


def procrustes(configurations, iterations: int = 50):
    """Generalised Procrustes alignment of ``(N, n, 2)`` configurations.

    Returns ``(aligned, centroids, sizes, angles, mean)``: ``aligned`` are
    centred, unit-size shapes rotated onto ``mean`` (which keeps the
    orientation of the raw configurations' average), and each input is
    ``centroid + size · aligned @ R(angle)``.
    """
    x = np.asarray(configurations, dtype=np.float64)
    centroids = x.mean(axis=1)
    centred = x - centroids[:, None, :]
    sizes = np.sqrt((centred**2).sum(axis=(1, 2)))
    unit = centred / sizes[:, None, None]
    reference = unit.mean(axis=0)
    reference /= np.sqrt((reference**2).sum())
    mean = reference.copy()
    angles = np.zeros(len(x))
    for _ in range(iterations):
        angles = np.array([_align_angle(u, mean) for u in unit])
        aligned = np.einsum("inj,ijk->ink", unit, _rotation(angles))
        new_mean = aligned.mean(axis=0)
        new_mean /= np.sqrt((new_mean**2).sum())
        # Keep the mean in the photos' own orientation.
        new_mean = new_mean @ _rotation(_align_angle(new_mean, reference))
        if np.abs(new_mean - mean).max() < 1e-12:
            mean = new_mean
            break
        mean = new_mean
    angles = np.array([_align_angle(u, mean) for u in unit])
    aligned = np.einsum("inj,ijk->ink", unit, _rotation(angles))
    # aligned = unit @ R(a)  =>  unit = aligned @ R(-a)
    return aligned, centroids, sizes, -angles, mean


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
        return len(self.mean)

    def place(self, shape: np.ndarray, pose) -> np.ndarray:
        """Put a unit shape ``(n, 2)`` at ``pose = (cx, cy, log size, angle)``."""
        cx, cy, log_size, angle = pose
        return np.array([cx, cy]) + np.exp(log_size) * shape @ _rotation(angle)

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
    aligned, centroids, sizes, angles, mean = procrustes(configurations)
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

    folder = Path(folder) if folder is not None else REFERENCE_DIR
    path = folder / f"{paper_part(name).published_prefix}_manual.tps"
    return np.stack([s.landmarks for s in read_tps(path, size=NETWORK.size)])


@functools.lru_cache(maxsize=None)
def shape_model(name: str) -> ShapeModel:
    """The shape model of part ``name``, fitted to the published manual landmarks (cached)."""
    return fit_shape_model(name, real_landmarks(name))
