"""What a synthetic specimen's photo shows, before it is painted: pieces of
cuticle (polygons with a :class:`Material`), grooves, ridges, pits and hairs,
legs and antennae (:class:`Scene`), in network-frame units (y down).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from beetles.synth.geometry import ellipse_points, rotate, unit_vector


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


def beetle_material(rng) -> Material:
    """A dark, glossy cuticle :class:`Material` with a random tint, drawn with ``rng``."""
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


def material_variant(material: Material, **changes) -> Material:
    """A copy of ``material`` with ``changes`` applied to its fields."""
    values = dict(material.__dict__)
    values.update(changes)
    return Material(**values)


def _limb_piece(base, direction, segments, material, rng) -> Piece:
    """A leg or antenna: a chain of spindle segments ``(length, width, bend)``."""
    polygons = []
    p = np.asarray(base, float)
    d = unit_vector(direction)
    for length, width, bend in segments:
        d = unit_vector(rotate(d, bend + rng.normal(0, 0.06)))
        q = p + d * length
        polygons.append(ellipse_points((p + q) / 2, d, length / 2 + width * 0.15, width / 2, 20))
        p = q
    return Piece(polygons, material_variant(material, relief=1.2, texture=0.1))


def leg_piece(base, direction, size, material, rng, side) -> Piece:
    """Femur, tibia and five tarsal segments; ``size`` sets the scale, ``side``
    (+1 right, -1 left) the bending sense."""
    bend1 = side * rng.uniform(0.3, 1.1)
    bend2 = -side * rng.uniform(0.0, 0.6)
    segs = [(size * rng.uniform(0.32, 0.4), size * 0.085, 0.0), (size * rng.uniform(0.36, 0.44), size * 0.055, bend1)]
    segs += [(size * 0.065, size * 0.035, bend2 if k == 0 else side * rng.normal(0, 0.08)) for k in range(5)]
    return _limb_piece(base, direction, segs, material, rng)


def antenna_piece(base, direction, size, material, rng, side) -> Piece:
    """Scape, pedicel and nine flagellomeres, gently curving."""
    curl = side * rng.uniform(-0.12, 0.12)
    segs = [(size * 0.14, size * 0.05, 0.0), (size * 0.05, size * 0.035, curl)]
    segs += [(size * rng.uniform(0.09, 0.11), size * 0.032, curl) for _ in range(9)]
    return _limb_piece(base, direction, segs, material_variant(material, colour=tuple(np.array(material.colour) * 1.3)), rng)


def grooved_line(scene, line, width, strength=0.55):
    """Add a groove along ``line`` ``(m, 2)`` (network frame) of ``width`` to ``scene``."""
    scene.grooves.append((np.asarray(line, float), width, strength))
