"""Synthetic beetle photos with landmarks: the data every experiment runs on
until real photos are given.

The study's 293 photos were never published, so this module draws realistic
stand-ins and writes them in exactly the layout of real data
(:mod:`beetles.dataset`)::

    <out>/<part>/images/<part>_0001.jpg ...   4:3 RGB JPEG photos
    <out>/<part>/landmarks.tps                y up, in each photo's own frame

How a specimen is made:

1. **Landmarks** come from the part's statistical shape model
   (:mod:`beetles.shapes`): Procrustes mean and principal modes of the
   published manual landmarks, plus the pose (position, size, orientation) of
   the real photos, all fitted to ``data/reference/``.  They are drawn in the
   256×192 network frame and scaled to the photo.  :func:`sample_landmarks`
   gives them without rendering anything.
2. **Anatomy** is drawn through them: each landmark is a corner of an outline
   or the end of an internal feature (pronotum midline, elytral suture and
   scutellum, eye and labrum corners, mandible teeth), so that it can be
   found from the image alone.  Body parts are dark, glossy domes with
   micro-texture, punctures and grooves, lit by one lamp, with the
   neighbouring parts of the beetle around them (head, pronotum, elytra),
   legs and antennae crossing the frame, on a light, uneven background with a
   soft shadow.  Mandibles are translucent brown, alone on a clean background.
3. **Camera**: per specimen lighting gradient, contrast and gamma, a slight
   colour cast, optical blur, sensor noise and JPEG compression (quality 75–95).

All randomness of specimen ``i`` of part ``p`` comes from generators seeded by
``(seed, p, i)``: a specimen does not depend on how many others are made, on
the order, or on the number of worker processes, and the same seed gives
byte-identical files (with the same NumPy and Pillow).

Difficulty is matched to the real data through the trivial predictor (always
answer the training set's mean landmarks): see :func:`trivial_errors` and
:data:`REAL_TRIVIAL_ERRORS`.
"""
from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from beetles.dataset import IMAGES_FOLDER, LANDMARKS_FILE
from beetles.frames import NETWORK, photo_frame
from beetles.paper import ASPECT_TOLERANCE, PART_NAMES
from beetles.paper import part as paper_part
from beetles.shapes import shape_model

#: Default photo size (width, height): 4:3 like the study's camera, larger
#: than 256×192 so that the downsampling path is exercised, and fast to draw.
DEFAULT_SIZE = (1024, 768)

#: Seed of the embedded default dataset (``data/synthetic/``).
DEFAULT_SEED = 0

#: Bumped whenever the generator's output changes, so that a cached default
#: dataset made by an older version is regenerated.
GENERATOR_VERSION = "1"

#: The trivial predictor's error on the real beetles (pixels, 256×192, mean
#: over landmarks), from the issue; the synthetic data must stay within
#: :data:`TRIVIAL_TOLERANCE` of these.  (With the cross-validation rounds of
#: :func:`trivial_errors` the published manual landmarks give 10.95, 13.28,
#: 11.87, 24.56 and 27.01; the figures below are the same predictor fitted on
#: all specimens at once.)
REAL_TRIVIAL_ERRORS = {
    "pronotum": 10.8,
    "elytra": 13.1,
    "head": 11.8,
    "left_mandible": 24.4,
    "right_mandible": 26.7,
}

#: Allowed relative deviation of the synthetic trivial-predictor error.
TRIVIAL_TOLERANCE = 0.25

#: Written first in a part folder made by the generator (protects real data
#: from being overwritten) and last (``.complete``, when the part is whole).
SYNTHETIC_MARKER = ".synthetic"
COMPLETE_MARKER = ".complete"
PREVIEW_FILE = "preview.png"

#: Shading fields are computed at most this wide and scaled up.
_LOWRES_WIDTH = 640

_PART_CODES = {name: code for code, name in enumerate(PART_NAMES)}


# --------------------------------------------------------------------------
# Randomness and landmarks
# --------------------------------------------------------------------------


def _check_part(name: str) -> str:
    paper_part(name)  # clear error for unknown names
    return name


def specimen_rng(seed: int, part: str, index: int, stream: int) -> np.random.Generator:
    """The generator of one specimen: ``stream`` 0 draws its landmarks, 1 its picture."""
    entropy = [int(seed) & 0xFFFFFFFF, _PART_CODES[_check_part(part)], int(index), int(stream), 0x5EE7]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def specimen_landmarks(part: str, index: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Landmarks ``(n, 2)`` of specimen ``index`` (0-based) in the 256×192 frame, y down."""
    return shape_model(part).sample(specimen_rng(seed, part, index, 0))


def sample_landmarks(part: str, count: int | None = None, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The landmarks of specimens ``0 .. count-1`` as :func:`generate_dataset`
    draws them, without rendering: ``(count, n, 2)``, 256×192 frame, y down.

    ``count`` defaults to the study's number of specimens of the part.
    """
    count = paper_part(part).specimens if count is None else int(count)
    return np.stack([specimen_landmarks(part, i, seed) for i in range(count)])


def _check_size(size) -> tuple[int, int]:
    width, height = (int(v) for v in size)
    if width < NETWORK.width or height < NETWORK.height:
        raise ValueError(f"photo size {width}×{height} is smaller than the network's {NETWORK.width:g}×{NETWORK.height:g}")
    if abs(width / height - 4 / 3) > ASPECT_TOLERANCE * 4 / 3:
        raise ValueError(f"photo size {width}×{height} is not 4:3 (the study's photos are 3264×2448)")
    return width, height


def parse_size(text: str) -> tuple[int, int]:
    """``"1024x768"`` (or ``1024×768``) → ``(1024, 768)``, checked: 4:3, at least 256×192."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×*,]\s*(\d+)\s*", str(text))
    if not match:
        raise ValueError(f"size must look like WIDTHxHEIGHT (e.g. 1024x768), not {text!r}")
    return _check_size((int(match.group(1)), int(match.group(2))))


# --------------------------------------------------------------------------
# Geometry (network-frame units, y down)
# --------------------------------------------------------------------------


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v)
    return v / n if n > 1e-12 else np.array([0.0, -1.0])


def _perp(v) -> np.ndarray:
    """Turns an "anterior" (up on screen) direction into "right" on screen."""
    return np.array([-v[1], v[0]])


def _rot(v, angle) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _area(points) -> float:
    x, y = np.asarray(points, dtype=np.float64).T
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _bulge(a, b, amount, orient, t=0.5) -> np.ndarray:
    """A point at fraction ``t`` of segment ab pushed outward by ``amount`` × |ab|
    (inward when negative); ``orient`` is the sign of the outline's area."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    return a + t * d + amount * orient * np.array([d[1], -d[0]])


def _catmull_rom(p0, p1, p2, p3, count) -> np.ndarray:
    """Centripetal Catmull–Rom points from p1 (included) to p2 (excluded)."""
    def knot(t, a, b):
        return t + max(np.linalg.norm(b - a), 1e-6) ** 0.5

    t0 = 0.0
    t1 = knot(t0, p0, p1)
    t2 = knot(t1, p1, p2)
    t3 = knot(t2, p2, p3)
    t = np.linspace(t1, t2, count, endpoint=False)[:, None]
    a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
    a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
    a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
    b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
    b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
    return (t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2


def _curve(nodes, closed=True, step=0.4) -> np.ndarray:
    """A smooth curve through ``nodes`` = ``[(point, corner), ...]``: it passes
    through every node; corners break the tangent."""
    points = [np.asarray(p, dtype=np.float64) for p, _ in nodes]
    corner = [bool(c) for _, c in nodes]
    m = len(points)
    out = []
    last = m if closed else m - 1
    for i in range(last):
        p1, p2 = points[i], points[(i + 1) % m]
        has_prev = closed or i > 0
        has_next = closed or i + 2 < m
        p0 = points[(i - 1) % m] if has_prev and not corner[i] else 2 * p1 - p2
        p3 = points[(i + 2) % m] if has_next and not corner[(i + 1) % m] else 2 * p2 - p1
        count = max(2, int(np.linalg.norm(p2 - p1) / step))
        out.append(_catmull_rom(p0, p1, p2, p3, count))
    if not closed:
        out.append(points[-1][None, :])
    return np.concatenate(out)


def _outline(spec, closed=True) -> np.ndarray:
    """Outline from a spec list: ``(point, 'c' | 's')`` nodes and
    ``('bulge', i, j, amount, t)`` entries that refer to node points ``i``, ``j``."""
    return _curve(_resolve(spec), closed)


def _resolve(spec):
    anchors = [np.asarray(item[0], float) for item in spec if item[0] is not None and not isinstance(item[0], str)]
    orient = 1.0 if _area(anchors) >= 0 else -1.0
    nodes = []
    for item in spec:
        if isinstance(item[0], str):  # ('bulge', a, b, amount[, t])
            _, a, b, amount, *rest = item
            nodes.append((_bulge(a, b, amount, orient, rest[0] if rest else 0.5), False))
        else:
            nodes.append((np.asarray(item[0], float), item[1] == "c"))
    return nodes


def _ellipse(center, axis, a, b, count=36) -> np.ndarray:
    """Ellipse polygon: semi-axis ``a`` along unit ``axis``, ``b`` across it."""
    axis = _unit(axis)
    across = _perp(axis)
    t = np.linspace(0, 2 * np.pi, count, endpoint=False)[:, None]
    return np.asarray(center, float) + a * np.cos(t) * axis + b * np.sin(t) * across


def _tube(centre_line, widths) -> np.ndarray:
    """Polygon around a polyline with a half-width per point (tapering blades)."""
    c = np.asarray(centre_line, float)
    d = np.gradient(c, axis=0)
    n = np.stack([-d[:, 1], d[:, 0]], 1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    w = np.asarray(widths, float)[:, None]
    return np.concatenate([c + n * w, (c - n * w)[::-1]])


def _offset(curve, distance, orient) -> np.ndarray:
    """A closed curve moved ``distance`` inward (``orient``: sign of its area)."""
    d = np.roll(curve, -1, axis=0) - np.roll(curve, 1, axis=0)
    n = orient * np.stack([d[:, 1], -d[:, 0]], 1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    return curve - distance * n


def _resample(polyline, count) -> np.ndarray:
    p = np.asarray(polyline, float)
    s = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    t = np.linspace(0, s[-1], count)
    return np.stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])], 1)


# --------------------------------------------------------------------------
# Scene description
# --------------------------------------------------------------------------


@dataclass
class Material:
    """How a piece of cuticle looks: albedo, gloss, relief and texture."""

    colour: tuple
    gloss: float = 0.5
    shine: float = 25.0
    relief: float = 1.3  # surface slope at the rim of the dome
    dome: float = 1.0  # rounding radius, as a fraction of the piece's inradius
    texture: float = 0.25
    absorb: tuple | None = None  # translucent cuticle: absorbance per channel


@dataclass
class Piece:
    """One opaque piece: polygons (network frame) painted with a material."""

    polygons: list
    material: Material


@dataclass
class Scene:
    """Everything drawn for one specimen, back to front, plus fine details."""

    pieces: list = field(default_factory=list)
    grooves: list = field(default_factory=list)  # (polyline, width, strength)
    ridges: list = field(default_factory=list)  # (polyline, width, strength)  bright lines
    pits: list = field(default_factory=list)  # (points (m, 2), radius, strength)
    hairs: list = field(default_factory=list)  # (polyline, width, strength) dark thin lines
    clean: bool = False  # mandibles: plain background


def _beetle_material(rng) -> Material:
    tints = np.array(
        [
            [0.070, 0.066, 0.064],  # black
            [0.095, 0.072, 0.050],  # dark bronze
            [0.060, 0.078, 0.062],  # greenish black
            [0.100, 0.060, 0.050],  # coppery
            [0.075, 0.060, 0.055],  # brown-black
        ]
    )
    colour = tints[rng.integers(len(tints))] * rng.uniform(0.75, 1.3)
    return Material(
        colour=tuple(colour),
        gloss=float(rng.uniform(0.35, 0.75)),
        shine=float(rng.uniform(12, 40)),
        relief=float(rng.uniform(1.0, 1.8)),
        texture=float(rng.uniform(0.08, 0.2)),
    )


def _variant(material: Material, **changes) -> Material:
    values = dict(material.__dict__)
    values.update(changes)
    return Material(**values)


def _limb_piece(base, direction, segments, material, rng) -> Piece:
    """A leg or antenna: a chain of spindle segments ``(length, width, bend)``."""
    polygons = []
    p = np.asarray(base, float)
    d = _unit(direction)
    for length, width, bend in segments:
        d = _unit(_rot(d, bend + rng.normal(0, 0.06)))
        q = p + d * length
        polygons.append(_ellipse((p + q) / 2, d, length / 2 + width * 0.15, width / 2, 20))
        p = q
    return Piece(polygons, _variant(material, relief=1.2, texture=0.1))


def _leg(base, direction, size, material, rng, side) -> Piece:
    """Femur, tibia and five tarsal segments; ``size`` sets the scale, ``side``
    (+1 right, -1 left) the bending sense."""
    bend1 = side * rng.uniform(0.3, 1.1)
    bend2 = -side * rng.uniform(0.0, 0.6)
    segs = [(size * rng.uniform(0.32, 0.4), size * 0.085, 0.0), (size * rng.uniform(0.36, 0.44), size * 0.055, bend1)]
    segs += [(size * 0.065, size * 0.035, bend2 if k == 0 else side * rng.normal(0, 0.08)) for k in range(5)]
    return _limb_piece(base, direction, segs, material, rng)


def _antenna(base, direction, size, material, rng, side) -> Piece:
    """Scape, pedicel and nine flagellomeres, gently curving."""
    curl = side * rng.uniform(-0.12, 0.12)
    segs = [(size * 0.14, size * 0.05, 0.0), (size * 0.05, size * 0.035, curl)]
    segs += [(size * rng.uniform(0.09, 0.11), size * 0.032, curl) for _ in range(9)]
    return _limb_piece(base, direction, segs, _variant(material, colour=tuple(np.array(material.colour) * 1.3)), rng)


def _grooved_line(scene, line, width, strength=0.55):
    scene.grooves.append((np.asarray(line, float), width, strength))


# --------------------------------------------------------------------------
# The five parts
# --------------------------------------------------------------------------


def _pronotum_shape(front_mid, ant, width, length, rng):
    """A pronotum polygon (for the neighbours of head and elytra): anterior
    margin centred at ``front_mid``, ``ant`` forward."""
    right = _perp(ant)
    w = width / 2
    f = np.asarray(front_mid, float)

    def at(u, v):
        return f + u * w * right + v * length * ant

    spec = [
        (at(-0.72, 0.05), "c"),
        (at(0.0, 0.0), "s"),
        (at(0.72, 0.05), "c"),
        (at(0.95, -0.3), "s"),
        (at(0.92, -0.8), "s"),
        (at(0.85, -1.0), "c"),
        (at(0.0, -1.02), "s"),
        (at(-0.85, -1.0), "c"),
        (at(-0.92, -0.8), "s"),
        (at(-0.95, -0.3), "s"),
    ]
    return _outline(spec)


def _elytra_shapes(top_mid, ant, width, length):
    """Two elytra below ``top_mid`` (the neighbours of the pronotum)."""
    right = _perp(ant)
    w = width / 2
    t = np.asarray(top_mid, float)
    shapes = []
    for side in (-1, 1):
        def at(u, v):
            return t + side * u * w * right - v * length * ant

        spec = [
            (at(0.0, 0.0), "c"),
            (at(0.8, 0.02), "s"),
            (at(0.98, 0.08), "s"),
            (at(1.0, 0.4), "s"),
            (at(0.9, 0.85), "s"),
            (at(0.35, 1.0), "s"),
            (at(0.0, 1.02), "c"),
        ]
        shapes.append(_outline(spec))
    return shapes


def _head_shape(back_mid, ant, width, rng):
    """A head seen from above, behind ``back_mid`` going forward along ``ant``:
    capsule, eyes and mandibles (the neighbour of the pronotum)."""
    right = _perp(ant)
    w = width / 2
    b = np.asarray(back_mid, float)

    def at(u, v):
        return b + u * w * right + v * width * ant

    capsule = _outline(
        [
            (at(-0.75, 0.0), "c"),
            (at(-0.95, 0.35), "s"),
            (at(-0.8, 0.8), "s"),
            (at(-0.45, 1.05), "s"),
            (at(0.45, 1.05), "s"),
            (at(0.8, 0.8), "s"),
            (at(0.95, 0.35), "s"),
            (at(0.75, 0.0), "c"),
        ]
    )
    eyes = [_ellipse(at(s * 0.93, 0.5), ant, 0.17 * width, 0.1 * width) for s in (-1, 1)]
    jaws = []
    for s in (-1, 1):
        line = _curve([(at(s * 0.45, 0.95), True), (at(s * 0.55, 1.25), False), (at(s * 0.05, 1.45), True)], closed=False)
        widths = np.linspace(0.09 * width, 0.005 * width, len(line))
        jaws.append(_tube(line, widths))
    return capsule, eyes, jaws


def _legs_and_antennae(scene, rng, material, anchors):
    """Add legs/antennae ``(base, direction, size, side, kind)`` behind the body."""
    for base, direction, size, side, kind in anchors:
        if kind == "leg":
            if rng.random() < 0.9:
                scene.pieces.append(_leg(base, direction, size, material, rng, side))
        else:
            if rng.random() < 0.95:
                scene.pieces.append(_antenna(base, direction, size, material, rng, side))


def _scene_pronotum(L, rng) -> Scene:
    P = [np.asarray(p) for p in L]  # P[0]=lm1 ... P[7]=lm8
    ant = _unit(P[0] - P[4])
    right = _perp(ant)
    w_ant = np.linalg.norm(P[1] - P[7])
    w_post = np.linalg.norm(P[3] - P[5])
    length = np.linalg.norm(P[0] - P[4])
    body = _beetle_material(rng)
    scene = Scene()
    jitter = lambda: rng.uniform(-0.25, 0.25)  # noqa: E731

    # Behind the body: legs, antennae, then the neighbouring parts.
    anchors = []
    for side, front, back in ((1, P[2], P[3]), (-1, P[6], P[5])):
        out = side * right
        anchors.append((front * 0.55 + back * 0.45 - out * 0.12 * w_post, _rot(out, -side * (0.5 + jitter())), 1.2 * w_post, side, "leg"))
        anchors.append((back - out * 0.1 * w_post, _rot(out, side * (0.55 + jitter())), 1.3 * w_post, side, "leg"))
        anchors.append((back - ant * 0.7 * length - out * 0.1 * w_post, _rot(out, side * (0.9 + jitter())), 1.4 * w_post, side, "leg"))
        head_side = P[0] + ant * 0.45 * w_ant + out * 0.42 * w_ant
        anchors.append((head_side, _rot(out, side * rng.uniform(0.6, 1.6)), 1.6 * length, side, "antenna"))
    _legs_and_antennae(scene, rng, body, anchors)

    waist = P[4] - ant * 0.08 * length
    scene.pieces.append(Piece([_ellipse(waist, ant, 0.14 * length, 0.22 * w_post)], _variant(body, colour=(0.16, 0.09, 0.06), gloss=0.15)))
    elytra_top = P[4] - ant * rng.uniform(0.1, 0.16) * length
    for shape in _elytra_shapes(elytra_top, ant, 0.97 * w_post, 1.7 * length):
        scene.pieces.append(Piece([shape], _variant(body)))
    neck = P[0] + ant * 0.02 * length
    scene.pieces.append(Piece([_ellipse(neck + ant * 0.06 * length, ant, 0.1 * length, 0.33 * w_ant)], _variant(body, colour=(0.15, 0.09, 0.06), gloss=0.15)))
    capsule, eyes, jaws = _head_shape(P[0] + ant * rng.uniform(0.05, 0.1) * length, ant, 0.85 * w_ant, rng)
    for jaw in jaws:
        scene.pieces.append(Piece([jaw], _variant(body)))
    scene.pieces.append(Piece([capsule], _variant(body)))
    for eye in eyes:
        scene.pieces.append(Piece([eye], _variant(body, colour=(0.16, 0.15, 0.13), gloss=0.9, shine=60)))

    # The pronotum itself: outline through all eight landmarks.
    spec = [
        (P[6], "c"), ("bulge", P[6], P[7], 0.10), (P[7], "c"), (P[0], "s"), (P[1], "c"), ("bulge", P[1], P[2], 0.10),
        (P[2], "c"), ("bulge", P[2], P[3], 0.10, 0.3), ("bulge", P[2], P[3], 0.075, 0.68), (P[3], "c"),
        ("bulge", P[3], P[4], 0.03), (P[4], "s"), ("bulge", P[4], P[5], 0.03), (P[5], "c"),
        ("bulge", P[5], P[6], 0.075, 0.32), ("bulge", P[5], P[6], 0.10, 0.7),
    ]
    outline = _outline(spec)
    scene.pieces.append(Piece([outline], _variant(body)))
    # Median line from landmark 1 to 5, lateral beads, basal foveae, punctures.
    mid = (P[0] + P[4]) / 2 + right * rng.normal(0, 0.01) * w_post
    _grooved_line(scene, _curve([(P[0], True), (mid, False), (P[4], True)], closed=False), 0.45)
    orient = 1.0 if _area(outline) >= 0 else -1.0
    bead = _offset(outline, 1.1, orient)
    scene.ridges.append((np.vstack([bead, bead[:1]]), 0.35, 0.35))
    for corner, inner in ((P[3], P[4]), (P[5], P[4])):
        centre = corner + 0.2 * (inner - corner) + ant * 0.12 * length
        scene.pits.append((centre[None, :], 0.05 * w_post, 0.35))
        scene.pits.append((centre + rng.normal(0, 0.03 * w_post, (12, 2)), 0.5, 0.5))
    transverse = _curve([(P[7] * 0.7 + P[4] * 0.3 - ant * 0.05 * length, True), (P[0] * 0.82 + P[4] * 0.18, False), (P[1] * 0.7 + P[4] * 0.3 - ant * 0.05 * length, True)], closed=False)
    _grooved_line(scene, transverse, 0.3, 0.25)
    _pits_inside(scene, rng, outline, 60, 0.35, 0.35)
    return scene


def _pits_inside(scene, rng, polygon, count, radius, strength):
    low, high = polygon.min(0), polygon.max(0)
    candidates = rng.uniform(low, high, (count * 3, 2))
    from matplotlib.path import Path as MplPath

    inside = MplPath(polygon).contains_points(candidates)
    scene.pits.append((candidates[inside][:count], radius, strength))


def _scene_elytra(L, rng) -> Scene:
    E = [np.asarray(p) for p in L]  # E[0]=lm1 scutellum tip ... E[10]=lm11
    ant = _unit((E[1] + E[2]) / 2 - (E[6] + E[7]) / 2)
    right = _perp(ant)
    width = np.linalg.norm(E[4] - E[9])
    length = np.linalg.norm((E[1] + E[2]) / 2 - (E[6] + E[7]) / 2)
    body = _beetle_material(rng)
    scene = Scene()
    jitter = lambda: rng.uniform(-0.25, 0.25)  # noqa: E731

    anchors = []
    for side, shoulder, pre in ((1, E[4], E[5]), (-1, E[9], E[8])):
        out = side * right
        anchors.append((shoulder * 0.85 + pre * 0.15 - out * 0.15 * width, _rot(out, side * (0.45 + jitter())), 1.1 * width, side, "leg"))
        anchors.append((shoulder * 0.5 + pre * 0.5 - out * 0.15 * width, _rot(out, side * (0.8 + jitter())), 1.3 * width, side, "leg"))
        if rng.random() < 0.5:
            anchors.append((shoulder + ant * 0.45 * length + out * 0.4 * width, _rot(out, side * rng.uniform(1.2, 1.8)), 1.2 * length, side, "antenna"))
    _legs_and_antennae(scene, rng, body, anchors)

    top = (E[1] + E[2]) / 2
    scene.pieces.append(Piece([_ellipse(top + ant * 0.04 * length, ant, 0.06 * length, 0.3 * width)], _variant(body, colour=(0.16, 0.09, 0.06), gloss=0.15)))
    pronotum = _pronotum_shape(top + ant * rng.uniform(0.55, 0.7) * length, ant, 1.12 * width, rng.uniform(0.5, 0.6) * length, rng)
    scene.pieces.append(Piece([pronotum], _variant(body)))

    notch = (E[6] + E[7]) / 2 + ant * max(0.8 * np.linalg.norm(E[6] - E[7]), 0.6)
    left = _outline(
        [
            (E[10], "c"), ("bulge", E[10], E[9], 0.04), (E[9], "c"), ("bulge", E[9], E[8], 0.05, 0.3),
            ("bulge", E[9], E[8], 0.045, 0.72), (E[8], "c"), ("bulge", E[8], E[7], 0.16), (E[7], "c"), (notch, "c"), (E[0], "c"),
        ]
    )
    right_el = _outline(
        [
            (E[0], "c"), (notch, "c"), (E[6], "c"), ("bulge", E[6], E[5], 0.16), (E[5], "c"), ("bulge", E[5], E[4], 0.045, 0.28),
            ("bulge", E[5], E[4], 0.05, 0.7), (E[4], "c"), ("bulge", E[4], E[3], 0.04), (E[3], "c"),
        ]
    )
    scene.pieces.append(Piece([left], _variant(body)))
    scene.pieces.append(Piece([right_el], _variant(body)))
    scutellum = np.array([E[2], E[1], E[3], E[0], E[10]])
    scene.pieces.append(Piece([scutellum], _variant(body, texture=0.05, colour=tuple(np.array(body.colour) * 1.25))))
    _grooved_line(scene, np.array([E[0], notch]), 0.45, 0.6)
    _grooved_line(scene, np.array([E[2], E[1]]), 0.3, 0.4)

    # Striae: lines between the suture and the lateral margin, with punctures.
    for el, suture, lateral in ((left, [E[0], notch], [E[9], E[8], E[7]]), (right_el, [E[0], notch], [E[4], E[5], E[6]])):
        s = _resample(np.array(suture), 60)
        lat = _resample(_curve([(lateral[0], True), (lateral[1], False), (lateral[2], True)], closed=False), 60)
        for k in range(1, 8):
            f = k / 8.3
            line = (1 - f) * s + f * lat
            line = line[3 : int(60 * (0.95 - 0.25 * f))]
            _grooved_line(scene, line, 0.32, 0.35)
            scene.pits.append((_resample(line, 22) + rng.normal(0, 0.15, (22, 2)), 0.45, 0.35))
    return scene


def _scene_head(L, rng) -> Scene:
    H = [np.asarray(p) for p in L]  # H[0]=lm1 ... H[9]=lm10
    base_mid = (H[0] + H[1]) / 2
    ant = _unit((H[8] + H[9]) / 2 - base_mid)
    right = _perp(ant)
    w = np.linalg.norm(H[0] - H[1])
    body = _beetle_material(rng)
    scene = Scene()
    jitter = lambda: rng.uniform(-0.3, 0.3)  # noqa: E731

    anchors = []
    for side, eye_front, clyp in ((1, H[2], H[6]), (-1, H[3], H[7])):
        out = side * right
        base = eye_front * 0.55 + clyp * 0.45 - out * 0.05 * w
        anchors.append((base, _rot(out, -side * rng.uniform(0.35, 1.1)), 2.2 * w, side, "antenna"))
        anchors.append((base_mid - ant * 0.75 * w + out * 0.7 * w, _rot(out, -side * (0.4 + jitter())), 1.3 * w, side, "leg"))
    _legs_and_antennae(scene, rng, body, anchors)

    neck_len = rng.uniform(0.22, 0.3) * w
    pronotum = _pronotum_shape(base_mid - ant * (neck_len + 0.04 * w), ant, rng.uniform(1.45, 1.6) * w, 1.1 * w, rng)
    scene.pieces.append(Piece([pronotum], _variant(body)))

    # Mandibles under the labrum, crossing in front.
    front = (H[8] + H[9]) / 2
    front_w = np.linalg.norm(H[8] - H[9])
    for side, clyp in ((1, H[6]), (-1, H[7])):
        out = side * right
        start = clyp - out * 0.12 * front_w
        line = _curve(
            [(start, True), (start + ant * 0.5 * front_w + out * 0.25 * front_w, False),
             (front + ant * 0.75 * front_w - out * rng.uniform(0.0, 0.3) * front_w, True)],
            closed=False,
        )
        widths = np.linspace(0.22, 0.01, len(line)) * front_w
        scene.pieces.append(Piece([_tube(line, widths)], _variant(body, colour=tuple(np.array(body.colour) * 1.4))))

    # Capsule through all ten landmarks, temples and neck behind landmarks 1, 2.
    neck_r = H[0] - ant * neck_len - right * 0.1 * w
    neck_l = H[1] - ant * neck_len + right * 0.1 * w
    capsule = _outline(
        [
            (H[1], "c"), (H[3], "c"), ("bulge", H[3], H[5], -0.04), (H[5], "c"), ("bulge", H[5], H[7], 0.05), (H[7], "c"),
            (H[9], "c"), ("bulge", H[9], H[8], 0.06), (H[8], "c"), (H[6], "c"), ("bulge", H[6], H[4], 0.05), (H[4], "c"),
            ("bulge", H[4], H[2], -0.04), (H[2], "c"), (H[0], "c"), ("bulge", H[0], neck_r, 0.08), (neck_r, "c"),
            (neck_l, "c"), ("bulge", neck_l, H[1], 0.08),
        ]
    )
    scene.pieces.append(Piece([capsule], _variant(body)))
    # Labrum: the plate in front of the clypeus corners (landmarks 7, 8).
    labrum = _outline([(H[7], "c"), (H[9], "c"), ("bulge", H[9], H[8], 0.06), (H[8], "c"), (H[6], "c")])
    scene.pieces.append(Piece([labrum], _variant(body, colour=tuple(np.array(body.colour) * 1.6 + [0.02, 0.0, 0.0]))))
    # Eyes: bulging between landmarks 1–3 (right) and 2–4 (left).
    for a, b in ((H[0], H[2]), (H[1], H[3])):
        axis = b - a
        half = np.linalg.norm(axis) / 2
        outward = _unit(np.array([axis[1], -axis[0]]))
        if np.dot(outward, right) * np.dot((a + b) / 2 - base_mid, right) < 0:
            outward = -outward
        t = np.linspace(0, np.pi, 24)[:, None]
        arc = (a + b) / 2 - np.cos(t) * axis / 2 + np.sin(t) * outward * half * rng.uniform(0.75, 0.95)
        eye = np.vstack([arc, ((a + b) / 2 - outward * 0.15 * half)[None, :]])
        scene.pieces.append(Piece([eye], _variant(body, colour=(0.13, 0.125, 0.115), gloss=0.8, shine=50, texture=0.3)))
    _grooved_line(scene, np.array([H[7], H[6]]), 0.4, 0.55)
    for side in (-1, 1):
        a = H[5] * 0.5 + H[4] * 0.5 + side * right * 0.22 * w
        _grooved_line(scene, np.array([a - ant * 0.12 * w, a + ant * 0.1 * w - side * right * 0.05 * w]), 0.5, 0.35)
    _pits_inside(scene, rng, capsule, 40, 0.35, 0.3)
    return scene


def _scene_mandible(L, rng, outer_index: int) -> Scene:
    """Either mandible: landmarks run around its outline in order; the last
    one (``outer_index``) marks the outer kink where the dorsal groove starts."""
    M = [np.asarray(p) for p in L]
    n = len(M)
    teeth_end = n - 7  # last tooth/molar landmark before the base
    spec = [(M[0], "c"), ("bulge", M[0], M[1], -0.09, 0.45)]
    for i in range(1, teeth_end + 1):
        spec.append((M[i], "c"))
    spec.append(("bulge", M[teeth_end], M[teeth_end + 1], 0.06))
    for i in range(teeth_end + 1, n):
        spec.append((M[i], "c"))
        j = (i + 1) % n
        amount = {n - 6: 0.0, n - 5: 0.12, n - 4: 0.1, n - 3: 0.1, n - 2: 0.05, n - 1: 0.13}[i]
        if amount:
            spec.append(("bulge", M[i], M[j], amount, 0.45 if i == n - 1 else 0.5))
    outline = _outline(spec)
    size = np.sqrt(abs(_area(outline)))
    colour = np.array([0.93, 0.9, 0.86])
    k = rng.uniform(0.8, 1.3)
    material = Material(
        colour=tuple(colour),
        gloss=float(rng.uniform(0.25, 0.55)),
        shine=float(rng.uniform(15, 40)),
        relief=float(rng.uniform(0.8, 1.4)),
        texture=0.06,
        absorb=(1.7 * k, 2.3 * k, 3.0 * k),
    )
    scene = Scene(clean=True)
    scene.pieces.append(Piece([outline], material))
    # Dorsal groove from the outer kink towards the base, a ridge along the blade.
    centre = np.mean(np.array(M[teeth_end + 1 : n - 1]), axis=0)
    kink = M[outer_index]
    _grooved_line(scene, _curve([(kink, True), (kink * 0.5 + centre * 0.5 + rng.normal(0, 0.02 * size, 2), False), (kink * 0.15 + centre * 0.85, True)], closed=False), 0.45, 0.5)
    blade = _curve([(M[0] * 0.9 + centre * 0.1, True), (M[0] * 0.45 + centre * 0.55, False), (centre, True)], closed=False)
    scene.ridges.append((blade, 0.6, 0.15))
    # Setae on the outer base.
    orient = 1.0 if _area(outline) >= 0 else -1.0
    for _ in range(int(rng.integers(3, 8))):
        i = int(rng.integers(n - 5, n - 1))
        p = M[i] * 0.5 + M[i + 1] * 0.5 + rng.normal(0, 0.5, 2)
        d = M[i + 1] - M[i]
        out = _unit(orient * np.array([d[1], -d[0]]))
        tip = p + _rot(out, rng.normal(0, 0.4)) * rng.uniform(0.04, 0.1) * size
        scene.hairs.append((np.array([p - out * 0.5, tip]), 0.25, 0.6))
    return scene


def _scene(part: str, L: np.ndarray, rng) -> Scene:
    if part == "pronotum":
        return _scene_pronotum(L, rng)
    if part == "elytra":
        return _scene_elytra(L, rng)
    if part == "head":
        return _scene_head(L, rng)
    return _scene_mandible(L, rng, outer_index=len(L) - 1)


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


class _Canvas:
    """Full-resolution RGB float image plus a low-resolution grid for shading."""

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.kx, self.ky = width / NETWORK.width, height / NETWORK.height
        self.low_scale = min(1.0, _LOWRES_WIDTH / width)
        self.lw = max(1, int(round(width * self.low_scale)))
        self.lh = max(1, int(round(height * self.low_scale)))
        self.rgb = np.zeros((height, width, 3), np.float32)

    def full(self, points) -> np.ndarray:
        """Network-frame points → full-resolution pixel coordinates."""
        return np.asarray(points, float) * [self.kx, self.ky]

    def low(self, points) -> np.ndarray:
        return self.full(points) * self.low_scale


def _draw_polygons(size, polygons, offset=(0.0, 0.0), scale=1.0) -> Image.Image:
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for poly in polygons:
        pts = (np.asarray(poly, float) * scale - np.asarray(offset) - 0.5).ravel().tolist()
        draw.polygon(pts, fill=255)
    return mask


def _smooth_noise(rng, shape, cell) -> np.ndarray:
    """Smooth random field ``shape`` (h, w) with features ~``cell`` pixels, unit std."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / cell)) + 2), max(2, int(np.ceil(w / cell)) + 2)
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    image = Image.fromarray(coarse, "F").resize((w, h), Image.BICUBIC, box=(1, 1, gw - 1, gh - 1))
    out = np.asarray(image, np.float32)
    return out / max(float(out.std()), 1e-6)


def _upsample(array, box, size) -> np.ndarray:
    """Resample a float (h, w) array: the ``box`` of it onto ``size`` (w, h)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(array, np.float32), "F").resize(size, Image.BILINEAR, box=box), np.float32)


def _paint_piece(canvas: _Canvas, piece: Piece, light, texture) -> None:
    """Composite one piece: a glossy dome (or translucent slab) shaded on a
    grid coarse enough for its rounding, edges and texture at full resolution."""
    full = [canvas.full(p) for p in piece.polygons]
    allpts = np.vstack(full)
    m = piece.material
    pad = 2
    x0 = int(np.floor(max(allpts[:, 0].min() - pad, 0)))
    y0 = int(np.floor(max(allpts[:, 1].min() - pad, 0)))
    x1 = int(np.ceil(min(allpts[:, 0].max() + pad, canvas.width)))
    y1 = int(np.ceil(min(allpts[:, 1].max() + pad, canvas.height)))
    if x1 <= x0 or y1 <= y0:
        return
    # The dome: a rounded cap over the piece (height from the distance to
    # its edge), on a grid where its rounding radius spans ~8 cells, computed
    # over the whole piece (also the part outside the photo).
    area = sum(abs(_area(p)) for p in full)
    perimeter = sum(np.linalg.norm(np.diff(np.vstack([p, p[:1]]), axis=0), axis=1).sum() for p in full)
    radius_px = max(m.dome * 2 * area / max(perimeter, 1e-9), 0.5)  # dome × inradius
    s = min(1.0, 8.0 / radius_px)
    radius = radius_px * s
    margin = 3
    ex0 = max(int(np.floor(allpts[:, 0].min() * s)) - margin, int(np.floor(x0 * s)) - int(3 * radius) - margin)
    ey0 = max(int(np.floor(allpts[:, 1].min() * s)) - margin, int(np.floor(y0 * s)) - int(3 * radius) - margin)
    ex1 = min(int(np.ceil(allpts[:, 0].max() * s)) + margin, int(np.ceil(x1 * s)) + int(3 * radius) + margin)
    ey1 = min(int(np.ceil(allpts[:, 1].max() * s)) + margin, int(np.ceil(y1 * s)) + int(3 * radius) + margin)
    low_mask = np.asarray(_draw_polygons((ex1 - ex0, ey1 - ey0), full, offset=(ex0, ey0), scale=s)) > 127
    distance = ndimage.distance_transform_edt(low_mask)
    d = np.clip(distance / radius, 0, 1)
    height = np.sqrt(np.clip(1 - (1 - d) ** 2, 0, 1)).astype(np.float32)
    height = ndimage.gaussian_filter(height, max(0.6, 0.12 * radius))
    gy, gx = np.gradient(height * radius * m.relief * 0.8)
    nx, ny = -gx, -gy
    norm = np.sqrt(nx * nx + ny * ny + 1.0)
    lxd, lyd, lzd = light
    diffuse = np.clip((nx * lxd + ny * lyd + lzd) / norm, 0, 1)
    hx, hy, hz = _unit3((lxd, lyd, lzd + 1.0))
    spec = np.clip((nx * hx + ny * hy + hz) / norm, 0, 1) ** m.shine
    # Broad second reflection (the diffuser, the room) for a glossy look.
    sheen = np.clip((nx * hx * 0.5 + ny * hy * 0.5 + 1.0) / norm, 0, 1) ** (m.shine * 0.15)
    gloss_low = m.gloss * (spec + 0.06 * sheen)

    box = (x0 * s - ex0, y0 * s - ey0, x1 * s - ex0, y1 * s - ey0)
    size = (x1 - x0, y1 - y0)
    tex = texture[y0:y1, x0:x1]
    gloss = _upsample(gloss_low, box, size) * (1 + 1.5 * m.texture * tex).clip(0)
    colour = np.asarray(m.colour, np.float32)
    if m.absorb is not None:
        thick_low = 0.25 + 0.75 * height
        light_low = 0.75 + 0.35 * diffuse
        thickness = _upsample(thick_low, box, size) * (1 + 0.08 * tex)
        lit = _upsample(light_low, box, size)
        absorb = np.asarray(m.absorb, np.float32)
        rgb = colour * np.exp(-absorb * thickness[..., None]) * lit[..., None]
    else:
        lit = _upsample(0.35 + 0.9 * diffuse, box, size) * (1 + m.texture * tex)
        rgb = colour * lit[..., None]
    rgb += gloss[..., None] * np.array([0.95, 0.95, 1.0], np.float32)

    mask_img = _draw_polygons(size, full, offset=(x0, y0))
    if canvas.kx > 2:
        mask_img = mask_img.filter(ImageFilter.BoxBlur(0.2 * canvas.kx))
    alpha = (np.asarray(mask_img, np.float32) / 255.0)[..., None]
    region = canvas.rgb[y0:y1, x0:x1]
    rgb -= region
    rgb *= alpha
    region += rgb


def _unit3(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _line_width(canvas, width) -> int:
    return max(1, int(round(width * canvas.kx)))


def _draw_details(canvas: _Canvas, scene: Scene, light, rng) -> None:
    """Grooves, ridges, pits and hairs: full-resolution multiplicative and additive layers."""
    if not (scene.grooves or scene.ridges or scene.pits or scene.hairs):
        return
    dark = Image.new("L", (canvas.width, canvas.height), 0)
    bright = Image.new("L", (canvas.width, canvas.height), 0)
    dd, bd = ImageDraw.Draw(dark), ImageDraw.Draw(bright)
    shift = -np.array(light[:2]) / max(np.linalg.norm(light[:2]), 1e-6)  # towards the lamp

    def pts(line, offset=0.0):
        return (canvas.full(np.asarray(line) + offset * shift) - 0.5).ravel().tolist()

    for line, width, strength in scene.grooves:
        wpx = _line_width(canvas, width)
        dd.line(pts(line), fill=int(255 * strength), width=wpx, joint="curve")
        bd.line(pts(line, -0.6 * width - 0.25), fill=int(min(255, 300 * strength)), width=max(1, wpx // 2), joint="curve")
    for line, width, strength in scene.ridges:
        bd.line(pts(line), fill=int(255 * strength), width=_line_width(canvas, width), joint="curve")
    for line, width, strength in scene.hairs:
        dd.line(pts(line), fill=int(255 * strength), width=_line_width(canvas, width))
    for centres, radius, strength in scene.pits:
        for c in canvas.full(np.atleast_2d(centres)):
            r = max(radius * canvas.kx, 0.7)
            dd.ellipse([c[0] - r - 0.5, c[1] - r - 0.5, c[0] + r - 0.5, c[1] + r - 0.5], fill=int(255 * strength))
            hl = c - shift * r * 0.9 * canvas.kx / max(canvas.kx, 1)
            rr = max(r * 0.45, 0.5)
            bd.ellipse([hl[0] - rr - 0.5, hl[1] - rr - 0.5, hl[0] + rr - 0.5, hl[1] + rr - 0.5], fill=int(110 * strength))
    blur = 0.3 * canvas.kx
    if blur > 0.5:
        dark = dark.filter(ImageFilter.BoxBlur(blur))
        bright = bright.filter(ImageFilter.BoxBlur(blur))
    d = np.asarray(dark, np.float32) / 255.0
    b = np.asarray(bright, np.float32) / 255.0
    canvas.rgb *= (1 - 0.85 * d)[..., None]
    canvas.rgb += (0.45 * b)[..., None] * np.array([0.9, 0.88, 0.85], np.float32)


def _background(canvas: _Canvas, rng, clean: bool) -> None:
    lh, lw = canvas.lh, canvas.lw
    if clean:
        base = np.array([0.93, 0.93, 0.92]) + rng.normal(0, 0.012, 3)
        base = base * rng.uniform(0.93, 1.03)
        uneven = 0.015 * _smooth_noise(rng, (lh, lw), lw / 3)
        grain = 0.004 * _smooth_noise(rng, (lh, lw), 2)
    else:
        tints = np.array([[0.86, 0.85, 0.82], [0.88, 0.86, 0.8], [0.84, 0.85, 0.86], [0.87, 0.84, 0.8]])
        base = tints[rng.integers(len(tints))] * rng.uniform(0.88, 1.05) + rng.normal(0, 0.006, 3)
        uneven = rng.uniform(0.03, 0.07) * _smooth_noise(rng, (lh, lw), lw / rng.uniform(3, 6))
        grain = rng.uniform(0.01, 0.025) * _smooth_noise(rng, (lh, lw), rng.uniform(1.5, 4) * lw / 256)
    field_low = (1 + uneven + grain).astype(np.float32)
    field = _upsample(field_low, (0, 0, lw, lh), (canvas.width, canvas.height))
    canvas.rgb[:] = field[..., None] * np.asarray(base, np.float32)


def _shadow(canvas: _Canvas, scene: Scene, light, rng) -> None:
    """A soft shadow of the whole specimen on the background, away from the lamp."""
    s = min(1.0, 192 / canvas.width)
    sw, sh = max(1, int(round(canvas.width * s))), max(1, int(round(canvas.height * s)))
    distance = rng.uniform(1.0, 3.0) * canvas.kx * s
    direction = -np.array(light[:2]) / max(np.linalg.norm(light[:2]), 1e-6)
    polys = [canvas.full(p) + direction / s * distance for piece in scene.pieces for p in piece.polygons]
    mask = np.asarray(_draw_polygons((sw, sh), polys, scale=s), np.float32) / 255.0
    mask = ndimage.gaussian_filter(mask, rng.uniform(1.5, 4.0) * canvas.kx * s)
    strength = rng.uniform(0.12, 0.3) * (0.4 if scene.clean else 1.0)
    shade = _upsample(1 - strength * mask, (0, 0, sw, sh), (canvas.width, canvas.height))
    canvas.rgb *= shade[..., None]


def _camera(canvas: _Canvas, rng) -> tuple[Image.Image, int]:
    """Lighting, colour cast, contrast, blur, noise; returns the image and a JPEG quality."""
    lh, lw = canvas.lh, canvas.lw
    yy, xx = np.mgrid[0:lh, 0:lw].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((xx / lw - 0.5) * np.cos(angle) + (yy / lh - 0.5) * np.sin(angle)) * rng.uniform(0.0, 0.2)
    vignette = ((xx / lw - 0.5) ** 2 + (yy / lh - 0.5) ** 2) * rng.uniform(0.0, 0.35)
    exposure = rng.uniform(0.88, 1.08)
    light_field = (1 + ramp - vignette + 0.03 * _smooth_noise(rng, (lh, lw), lw / 4)) * exposure
    light_field = _upsample(light_field.astype(np.float32), (0, 0, lw, lh), (canvas.width, canvas.height))
    img = canvas.rgb
    img *= light_field[..., None]
    img *= 255.0
    img += 0.5
    np.clip(img, 0, 255, out=img)
    image = Image.fromarray(img.astype(np.uint8), "RGB")
    # Colour cast, gamma and contrast as one lookup table per channel.
    cast = 1 + rng.normal(0, 0.012, 3)
    gamma = rng.uniform(0.85, 1.15)
    contrast = rng.uniform(0.85, 1.15)
    offset = 0.5 + rng.uniform(-0.03, 0.03)
    levels = np.arange(256) / 255.0
    table = []
    for c in range(3):
        v = np.clip(levels * cast[c], 0, 1) ** gamma
        v = np.clip((v - 0.5) * contrast + offset, 0, 1)
        table.extend(np.round(v * 255).astype(int).tolist())
    image = image.point(table)
    blur = rng.uniform(0.2, 0.6) * canvas.kx
    if blur > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    noisy = np.asarray(image, np.float32)
    sigma = rng.uniform(1.0, 4.0)
    noise = rng.standard_normal(noisy.shape, dtype=np.float32)
    noise *= noisy * np.float32(sigma / 255.0) + np.float32(0.5 * sigma)
    noise += noisy
    noise += 0.5
    np.clip(noise, 0, 255, out=noise)
    image = Image.fromarray(noise.astype(np.uint8), "RGB")
    quality = int(rng.integers(75, 96))
    return image, quality


def render_specimen(part: str, index: int, seed: int = DEFAULT_SEED, size=DEFAULT_SIZE):
    """Draw specimen ``index`` (0-based) of ``part``.

    Returns ``(image, landmarks, quality)``: an RGB :class:`PIL.Image.Image`
    of ``size`` (width, height), its landmarks ``(n, 2)`` in the photo's own
    frame (y down) and the JPEG quality to save it with.
    """
    width, height = _check_size(size)
    landmarks = specimen_landmarks(part, index, seed)
    rng = specimen_rng(seed, part, index, 1)
    scene = _scene(part, landmarks, rng)
    canvas = _Canvas(width, height)
    azimuth = rng.normal(-2.1, 0.5)  # lamp above, somewhat to the left
    elevation = rng.uniform(0.75, 1.15)
    light = np.array([np.cos(azimuth) * np.cos(elevation), np.sin(azimuth) * np.cos(elevation), np.sin(elevation)])
    _background(canvas, rng, scene.clean)
    _shadow(canvas, scene, light, rng)
    fine = _smooth_noise(rng, (canvas.lh, canvas.lw), max(1.2, 0.8 * canvas.kx * canvas.low_scale))
    texture = _upsample(fine, (0, 0, canvas.lw, canvas.lh), (canvas.width, canvas.height))
    for piece in scene.pieces:
        _paint_piece(canvas, piece, light, texture)
    _draw_details(canvas, scene, light, rng)
    image, quality = _camera(canvas, rng)
    return image, canvas.full(landmarks), quality


def specimen_jpeg(part: str, index: int, seed: int = DEFAULT_SEED, size=DEFAULT_SIZE) -> tuple[bytes, np.ndarray]:
    """JPEG bytes and photo-frame landmarks (y down) of one specimen; deterministic."""
    image, landmarks, quality = render_specimen(part, index, seed, size)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, subsampling=2, optimize=False, progressive=False)
    return buffer.getvalue(), landmarks


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------


def image_name(part: str, index: int) -> str:
    """File name of specimen ``index`` (0-based): ``<part>_0001.jpg`` …"""
    return f"{part}_{index + 1:04d}.jpg"


def _write_specimen(job) -> tuple[int, np.ndarray]:
    from beetles.files import write_bytes

    folder, part, index, seed, size = job
    data, landmarks = specimen_jpeg(part, index, seed, size)
    write_bytes(Path(folder) / IMAGES_FOLDER / image_name(part, index), data)
    return index, landmarks


def _descriptor(part, count, seed, size) -> str:
    return json.dumps(
        {"generator": "beetles.synthetic", "version": GENERATOR_VERSION, "part": part, "specimens": count, "seed": int(seed), "size": list(size)},
        sort_keys=True,
    )


def _count_for(part: str, specimens) -> int:
    if specimens is None:
        return paper_part(part).specimens
    if isinstance(specimens, Mapping):
        return int(specimens.get(part, paper_part(part).specimens))
    count = int(specimens)
    if count < 1:
        raise ValueError(f"the number of specimens must be at least 1, not {count}")
    return count


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def generate_part(folder, part: str, count: int, seed: int = DEFAULT_SEED, size=DEFAULT_SIZE, progress: bool = True, workers: int | None = None) -> Path:
    """Write one part folder (``images/`` and ``landmarks.tps``) of ``count`` specimens.

    Refuses to write into a folder that holds a ``landmarks.tps`` not made by
    this generator.  The ``.complete`` marker is written last.
    """
    from beetles.files import write_text
    from beetles.formats.tps import write_tps
    from beetles.specimen import Specimen

    folder = Path(folder)
    size = _check_size(size)
    _check_part(part)
    if (folder / LANDMARKS_FILE).exists() and not (folder / SYNTHETIC_MARKER).exists():
        raise FileExistsError(f"{folder} holds landmarks not made by the synthetic generator; not overwriting them")
    (folder / IMAGES_FOLDER).mkdir(parents=True, exist_ok=True)
    descriptor = _descriptor(part, count, seed, size)
    (folder / COMPLETE_MARKER).unlink(missing_ok=True)
    write_text(folder / SYNTHETIC_MARKER, descriptor + "\n")
    jobs = [(str(folder), part, i, int(seed), size) for i in range(count)]
    workers = _default_workers() if workers is None else max(1, int(workers))
    bar = _progress(count, f"synthetic {part}", progress)
    results = {}
    try:
        if workers > 1 and count > 1:
            from concurrent.futures import ProcessPoolExecutor

            chunk = 4 if count >= 16 * workers else 1
            with ProcessPoolExecutor(max_workers=min(workers, count)) as pool:
                for index, landmarks in pool.map(_write_specimen, jobs, chunksize=chunk):
                    results[index] = landmarks
                    bar.update(1)
        else:
            for job in jobs:
                index, landmarks = _write_specimen(job)
                results[index] = landmarks
                bar.update(1)
    finally:
        bar.close()
    # Remove photos of an earlier, larger synthetic run (our own names only).
    pattern = re.compile(rf"^{re.escape(part)}_(\d{{4,}})\.jpg$")
    for path in (folder / IMAGES_FOLDER).iterdir():
        match = pattern.match(path.name)
        if match and int(match.group(1)) > count:
            path.unlink()
    frame = photo_frame(*size)
    specimens = [
        Specimen(image=folder / IMAGES_FOLDER / image_name(part, i), landmarks=results[i], frame=frame, id=str(i + 1))
        for i in range(count)
    ]
    write_tps(folder / LANDMARKS_FILE, specimens, image_dir=folder / IMAGES_FOLDER)
    write_text(folder / COMPLETE_MARKER, descriptor + "\n")
    return folder


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress(total, desc, enabled):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="photo", file=sys.stderr, leave=True)


class SyntheticDataset(dict):
    """What :func:`generate_dataset` returns: a ``dict`` part name → part
    folder, with ``root``, ``seed``, ``size`` and ``preview`` (the contact
    sheet's path, or ``None``)."""

    def __init__(self, parts, root: Path, seed: int, size, preview: Path | None = None):
        super().__init__(parts)
        self.root = root
        self.seed = seed
        self.size = size
        self.preview = preview

    @property
    def parts(self) -> dict:
        return dict(self)


def generate_dataset(out, parts=None, specimens=None, seed: int = DEFAULT_SEED, size=DEFAULT_SIZE, preview: bool = False, progress: bool = True, workers: int | None = None) -> SyntheticDataset:
    """Write a synthetic dataset in the real data's layout.

    ``out/<part>/images/<part>_0001.jpg …`` and ``out/<part>/landmarks.tps``
    (y up, photo frame) for each of ``parts`` (default: all five).
    ``specimens``: a count for every part, a ``{part: count}`` mapping, or
    ``None`` for the study's counts (293; 286 left and 290 right mandibles).
    ``size``: ``(width, height)``, 4:3, at least 256×192.  ``preview=True``
    also writes ``out/preview.png``, a contact sheet of the first specimens of
    each part with their numbered landmarks.  ``workers``: processes
    (default: the CPUs available).  Returns a :class:`SyntheticDataset`
    (a dict part → folder; ``.preview`` is the sheet's path).
    """
    out = Path(out)
    size = _check_size(size)
    names = list(PART_NAMES) if parts is None else [_check_part(p) for p in ([parts] if isinstance(parts, str) else parts)]
    folders = {}
    for name in names:
        folders[name] = generate_part(out / name, name, _count_for(name, specimens), seed, size, progress, workers)
    sheet = contact_sheet(out, names, out / PREVIEW_FILE) if preview else None
    return SyntheticDataset(folders, out, int(seed), size, sheet)


def contact_sheet(root, parts=None, path=None, per_part: int = 4, thumb=(320, 240)) -> Path:
    """A PNG grid: one row per part, its first ``per_part`` specimens with
    their landmarks numbered (read back from ``landmarks.tps``)."""
    from PIL import ImageFont

    from beetles.files import write_bytes
    from beetles.formats.tps import read_tps

    root = Path(root)
    names = [p for p in (parts or PART_NAMES) if (root / p / LANDMARKS_FILE).exists()]
    path = Path(path) if path is not None else root / PREVIEW_FILE
    tw, th = thumb
    label_h = 18
    sheet = Image.new("RGB", (tw * per_part, max(1, len(names)) * (th + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for row, name in enumerate(names):
        specimens = read_tps(root / name / LANDMARKS_FILE, image_dir=root / name / IMAGES_FOLDER)[:per_part]
        top = row * (th + label_h)
        draw.text((4, top + 3), f"{paper_part(name).title} ({len(specimens[0].landmarks)} landmarks)", fill=(0, 0, 0), font=font)
        for col, specimen in enumerate(specimens):
            with Image.open(specimen.image) as photo:
                small = photo.convert("RGB").resize((tw, th), Image.LANCZOS)
            d = ImageDraw.Draw(small)
            pts = specimen.landmarks * [tw / specimen.frame.width, th / specimen.frame.height]
            for k, (x, y) in enumerate(pts, start=1):
                d.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], outline=(255, 40, 40), fill=(255, 230, 0))
                d.text((x + 3, y - 11), str(k), fill=(255, 40, 40), font=font)
            sheet.paste(small, (col * tw, top + label_h))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue())
    return path


# --------------------------------------------------------------------------
# Difficulty: the trivial predictor
# --------------------------------------------------------------------------


def trivial_error(part: str, landmarks) -> float:
    """Mean over landmarks and cross-validation rounds (:func:`beetles.rounds.part_rounds`)
    of the distance between the held-out landmarks and the mean landmarks of
    the round's training specimens; ``landmarks`` ``(N, n, 2)`` in the
    256×192 frame."""
    from beetles.evaluation import trivial_predictor_distances
    from beetles.rounds import part_rounds

    landmarks = np.asarray(landmarks, dtype=np.float64)
    rounds = part_rounds(part, len(landmarks))
    return float(np.mean([np.nanmean(trivial_predictor_distances(landmarks[r.train], landmarks[r.test])) for r in rounds]))


def trivial_errors(root_or_parts) -> dict[str, float]:
    """Per-part error of the trivial predictor (pixels, 256×192; see :func:`trivial_error`).

    ``root_or_parts``: a dataset folder (its ``<part>/landmarks.tps`` are
    read, each photo's size from its header), or a mapping part name →
    :class:`~beetles.specimen.PartData` or ``(N, n, 2)`` landmarks in the
    256×192 frame.
    """
    if isinstance(root_or_parts, Mapping):
        items = root_or_parts.items()
    else:
        from beetles.formats.tps import read_tps

        root = Path(root_or_parts)
        items = []
        for name in PART_NAMES:
            tps = root / name / LANDMARKS_FILE
            if tps.exists():
                items.append((name, read_tps(tps, image_dir=tps.parent / IMAGES_FOLDER)))
        if not items:
            raise FileNotFoundError(f"{root}: no <part>/{LANDMARKS_FILE} found")
    errors = {}
    for name, data in items:
        if hasattr(data, "landmarks") and callable(data.landmarks):  # PartData
            landmarks = data.landmarks(NETWORK)
        elif isinstance(data, (list, tuple)) and data and hasattr(data[0], "in_frame"):
            landmarks = np.stack([s.in_frame(NETWORK).landmarks for s in data])
        else:
            landmarks = np.asarray(data, dtype=np.float64)
        errors[name] = trivial_error(name, landmarks)
    return errors


def real_trivial_errors() -> dict[str, float]:
    """:func:`trivial_errors` of the published manual landmarks (same definition)."""
    from beetles.shapes import real_landmarks

    return {name: trivial_error(name, real_landmarks(name)) for name in PART_NAMES}


def trivial_report(errors: Mapping[str, float], tolerance: float = TRIVIAL_TOLERANCE) -> str:
    """A table of synthetic vs real trivial-predictor errors, one line per part."""
    lines = [f"{'part':<16}{'synthetic px':>13}{'real px':>9}{'ratio':>7}  within ±{tolerance:.0%}"]
    for name, value in errors.items():
        real = REAL_TRIVIAL_ERRORS.get(name)
        if real is None:
            lines.append(f"{name:<16}{value:>13.2f}{'-':>9}{'-':>7}  -")
            continue
        ratio = value / real
        ok = "yes" if abs(ratio - 1) <= tolerance else "NO"
        lines.append(f"{name:<16}{value:>13.2f}{real:>9.1f}{ratio:>7.2f}  {ok}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# The embedded default dataset
# --------------------------------------------------------------------------


def default_root() -> Path:
    """``data/synthetic/`` of this checkout."""
    return Path(__file__).resolve().parent.parent / "data" / "synthetic"


def _study_count(name: str) -> int:
    return paper_part(name).specimens


def _is_complete(folder: Path, descriptor: str) -> bool:
    marker = folder / COMPLETE_MARKER
    try:
        return marker.read_text().strip() == descriptor
    except OSError:
        return False


def default_dataset(root=None, parts=None, progress: bool = True) -> Path:
    """The dataset every experiment uses when no ``--data`` is given.

    ``root`` (default ``data/synthetic/`` of the checkout) holding the
    requested ``parts`` (default all five) at :data:`DEFAULT_SIZE`, seed
    :data:`DEFAULT_SEED` and the study's specimen counts; a part that is
    missing, half-written (no ``.complete`` marker) or made by another
    generator version is generated first.  Prints one line to stderr saying
    that the data are synthetic.  Returns ``root``.
    """
    root = Path(root) if root is not None else default_root()
    names = list(PART_NAMES) if parts is None else [_check_part(p) for p in ([parts] if isinstance(parts, str) else parts)]
    size = DEFAULT_SIZE
    missing = [n for n in names if not _is_complete(root / n, _descriptor(n, _study_count(n), DEFAULT_SEED, size))]
    if missing:
        print(
            f"beetles: no --data given: generating synthetic beetles (not real photos; seed {DEFAULT_SEED}, "
            f"{size[0]}×{size[1]}) for {', '.join(missing)} in {root}",
            file=sys.stderr,
        )
        for name in missing:
            generate_part(root / name, name, _study_count(name), DEFAULT_SEED, size, progress)
    else:
        print(f"beetles: no --data given: using the synthetic beetles in {root} (not real photos; seed {DEFAULT_SEED})", file=sys.stderr)
    return root
