"""The five parts' anatomy, drawn through their landmarks.

Each landmark is a corner of an outline or the end of an internal feature
(pronotum midline, elytral suture and scutellum, eye and labrum corners,
mandible teeth), so that it can be found from the image alone.  Body parts
are dark, glossy domes with the neighbouring parts of the beetle around them
(head, pronotum, elytra) and legs and antennae crossing the frame; mandibles
are translucent brown and alone.  :func:`part_scene` builds the
:class:`~beetles.synth.scene.Scene` of one specimen from its landmarks
``(n, 2)`` (network frame, y down).
"""
from __future__ import annotations

import numpy as np

from beetles.synth.geometry import (
    ellipse_points,
    offset_curve,
    outline_polygon,
    perpendicular,
    polygon_area,
    resample_polyline,
    rotate,
    smooth_curve,
    tube,
    unit_vector,
)
from beetles.synth.scene import (
    Material,
    Piece,
    Scene,
    antenna_piece,
    beetle_material,
    grooved_line,
    leg_piece,
    material_variant,
)


def _pronotum_shape(front_mid, ant, width, length, rng):
    """A pronotum polygon (for the neighbours of head and elytra): anterior
    margin centred at ``front_mid``, ``ant`` forward."""
    right = perpendicular(ant)
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
    return outline_polygon(spec)


def _elytra_shapes(top_mid, ant, width, length):
    """Two elytra below ``top_mid`` (the neighbours of the pronotum)."""
    right = perpendicular(ant)
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
        shapes.append(outline_polygon(spec))
    return shapes


def _head_shape(back_mid, ant, width, rng):
    """A head seen from above, behind ``back_mid`` going forward along ``ant``:
    capsule, eyes and mandibles (the neighbour of the pronotum)."""
    right = perpendicular(ant)
    w = width / 2
    b = np.asarray(back_mid, float)

    def at(u, v):
        return b + u * w * right + v * width * ant

    capsule = outline_polygon(
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
    eyes = [ellipse_points(at(s * 0.93, 0.5), ant, 0.17 * width, 0.1 * width) for s in (-1, 1)]
    jaws = []
    for s in (-1, 1):
        line = smooth_curve([(at(s * 0.45, 0.95), True), (at(s * 0.55, 1.25), False), (at(s * 0.05, 1.45), True)], closed=False)
        widths = np.linspace(0.09 * width, 0.005 * width, len(line))
        jaws.append(tube(line, widths))
    return capsule, eyes, jaws


def _legs_and_antennae(scene, rng, material, anchors):
    """Add legs/antennae ``(base, direction, size, side, kind)`` behind the body."""
    for base, direction, size, side, kind in anchors:
        if kind == "leg":
            if rng.random() < 0.9:
                scene.pieces.append(leg_piece(base, direction, size, material, rng, side))
        else:
            if rng.random() < 0.95:
                scene.pieces.append(antenna_piece(base, direction, size, material, rng, side))


def _scene_pronotum(L, rng) -> Scene:
    P = [np.asarray(p) for p in L]  # P[0]=lm1 ... P[7]=lm8
    ant = unit_vector(P[0] - P[4])
    right = perpendicular(ant)
    w_ant = np.linalg.norm(P[1] - P[7])
    w_post = np.linalg.norm(P[3] - P[5])
    length = np.linalg.norm(P[0] - P[4])
    body = beetle_material(rng)
    scene = Scene()
    jitter = lambda: rng.uniform(-0.25, 0.25)  # noqa: E731

    # Behind the body: legs, antennae, then the neighbouring parts.
    anchors = []
    for side, front, back in ((1, P[2], P[3]), (-1, P[6], P[5])):
        out = side * right
        anchors.append((front * 0.55 + back * 0.45 - out * 0.12 * w_post, rotate(out, -side * (0.5 + jitter())), 1.2 * w_post, side, "leg"))
        anchors.append((back - out * 0.1 * w_post, rotate(out, side * (0.55 + jitter())), 1.3 * w_post, side, "leg"))
        anchors.append((back - ant * 0.7 * length - out * 0.1 * w_post, rotate(out, side * (0.9 + jitter())), 1.4 * w_post, side, "leg"))
        head_side = P[0] + ant * 0.45 * w_ant + out * 0.42 * w_ant
        anchors.append((head_side, rotate(out, side * rng.uniform(0.6, 1.6)), 1.6 * length, side, "antenna"))
    _legs_and_antennae(scene, rng, body, anchors)

    waist = P[4] - ant * 0.08 * length
    scene.pieces.append(Piece([ellipse_points(waist, ant, 0.14 * length, 0.22 * w_post)], material_variant(body, colour=(0.16, 0.09, 0.06), gloss=0.15)))
    elytra_top = P[4] - ant * rng.uniform(0.1, 0.16) * length
    for shape in _elytra_shapes(elytra_top, ant, 0.97 * w_post, 1.7 * length):
        scene.pieces.append(Piece([shape], material_variant(body)))
    neck = P[0] + ant * 0.02 * length
    scene.pieces.append(Piece([ellipse_points(neck + ant * 0.06 * length, ant, 0.1 * length, 0.33 * w_ant)], material_variant(body, colour=(0.15, 0.09, 0.06), gloss=0.15)))
    capsule, eyes, jaws = _head_shape(P[0] + ant * rng.uniform(0.05, 0.1) * length, ant, 0.85 * w_ant, rng)
    for jaw in jaws:
        scene.pieces.append(Piece([jaw], material_variant(body)))
    scene.pieces.append(Piece([capsule], material_variant(body)))
    for eye in eyes:
        scene.pieces.append(Piece([eye], material_variant(body, colour=(0.16, 0.15, 0.13), gloss=0.9, shine=60)))

    # The pronotum itself: outline through all eight landmarks.
    spec = [
        (P[6], "c"), ("bulge", P[6], P[7], 0.10), (P[7], "c"), (P[0], "s"), (P[1], "c"), ("bulge", P[1], P[2], 0.10),
        (P[2], "c"), ("bulge", P[2], P[3], 0.10, 0.3), ("bulge", P[2], P[3], 0.075, 0.68), (P[3], "c"),
        ("bulge", P[3], P[4], 0.03), (P[4], "s"), ("bulge", P[4], P[5], 0.03), (P[5], "c"),
        ("bulge", P[5], P[6], 0.075, 0.32), ("bulge", P[5], P[6], 0.10, 0.7),
    ]
    outline = outline_polygon(spec)
    scene.pieces.append(Piece([outline], material_variant(body)))
    # Median line from landmark 1 to 5, lateral beads, basal foveae, punctures.
    mid = (P[0] + P[4]) / 2 + right * rng.normal(0, 0.01) * w_post
    grooved_line(scene, smooth_curve([(P[0], True), (mid, False), (P[4], True)], closed=False), 0.45)
    orient = 1.0 if polygon_area(outline) >= 0 else -1.0
    bead = offset_curve(outline, 1.1, orient)
    scene.ridges.append((np.vstack([bead, bead[:1]]), 0.35, 0.35))
    for corner, inner in ((P[3], P[4]), (P[5], P[4])):
        centre = corner + 0.2 * (inner - corner) + ant * 0.12 * length
        scene.pits.append((centre[None, :], 0.05 * w_post, 0.35))
        scene.pits.append((centre + rng.normal(0, 0.03 * w_post, (12, 2)), 0.5, 0.5))
    transverse = smooth_curve([(P[7] * 0.7 + P[4] * 0.3 - ant * 0.05 * length, True), (P[0] * 0.82 + P[4] * 0.18, False), (P[1] * 0.7 + P[4] * 0.3 - ant * 0.05 * length, True)], closed=False)
    grooved_line(scene, transverse, 0.3, 0.25)
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
    ant = unit_vector((E[1] + E[2]) / 2 - (E[6] + E[7]) / 2)
    right = perpendicular(ant)
    width = np.linalg.norm(E[4] - E[9])
    length = np.linalg.norm((E[1] + E[2]) / 2 - (E[6] + E[7]) / 2)
    body = beetle_material(rng)
    scene = Scene()
    jitter = lambda: rng.uniform(-0.25, 0.25)  # noqa: E731

    anchors = []
    for side, shoulder, pre in ((1, E[4], E[5]), (-1, E[9], E[8])):
        out = side * right
        anchors.append((shoulder * 0.85 + pre * 0.15 - out * 0.15 * width, rotate(out, side * (0.45 + jitter())), 1.1 * width, side, "leg"))
        anchors.append((shoulder * 0.5 + pre * 0.5 - out * 0.15 * width, rotate(out, side * (0.8 + jitter())), 1.3 * width, side, "leg"))
        if rng.random() < 0.5:
            anchors.append((shoulder + ant * 0.45 * length + out * 0.4 * width, rotate(out, side * rng.uniform(1.2, 1.8)), 1.2 * length, side, "antenna"))
    _legs_and_antennae(scene, rng, body, anchors)

    top = (E[1] + E[2]) / 2
    scene.pieces.append(Piece([ellipse_points(top + ant * 0.04 * length, ant, 0.06 * length, 0.3 * width)], material_variant(body, colour=(0.16, 0.09, 0.06), gloss=0.15)))
    pronotum = _pronotum_shape(top + ant * rng.uniform(0.55, 0.7) * length, ant, 1.12 * width, rng.uniform(0.5, 0.6) * length, rng)
    scene.pieces.append(Piece([pronotum], material_variant(body)))

    notch = (E[6] + E[7]) / 2 + ant * max(0.8 * np.linalg.norm(E[6] - E[7]), 0.6)
    left = outline_polygon(
        [
            (E[10], "c"), ("bulge", E[10], E[9], 0.04), (E[9], "c"), ("bulge", E[9], E[8], 0.05, 0.3),
            ("bulge", E[9], E[8], 0.045, 0.72), (E[8], "c"), ("bulge", E[8], E[7], 0.16), (E[7], "c"), (notch, "c"), (E[0], "c"),
        ]
    )
    right_el = outline_polygon(
        [
            (E[0], "c"), (notch, "c"), (E[6], "c"), ("bulge", E[6], E[5], 0.16), (E[5], "c"), ("bulge", E[5], E[4], 0.045, 0.28),
            ("bulge", E[5], E[4], 0.05, 0.7), (E[4], "c"), ("bulge", E[4], E[3], 0.04), (E[3], "c"),
        ]
    )
    scene.pieces.append(Piece([left], material_variant(body)))
    scene.pieces.append(Piece([right_el], material_variant(body)))
    scutellum = np.array([E[2], E[1], E[3], E[0], E[10]])
    scene.pieces.append(Piece([scutellum], material_variant(body, texture=0.05, colour=tuple(np.array(body.colour) * 1.25))))
    grooved_line(scene, np.array([E[0], notch]), 0.45, 0.6)
    grooved_line(scene, np.array([E[2], E[1]]), 0.3, 0.4)

    # Striae: lines between the suture and the lateral margin, with punctures.
    for el, suture, lateral in ((left, [E[0], notch], [E[9], E[8], E[7]]), (right_el, [E[0], notch], [E[4], E[5], E[6]])):
        s = resample_polyline(np.array(suture), 60)
        lat = resample_polyline(smooth_curve([(lateral[0], True), (lateral[1], False), (lateral[2], True)], closed=False), 60)
        for k in range(1, 8):
            f = k / 8.3
            line = (1 - f) * s + f * lat
            line = line[3 : int(60 * (0.95 - 0.25 * f))]
            grooved_line(scene, line, 0.32, 0.35)
            scene.pits.append((resample_polyline(line, 22) + rng.normal(0, 0.15, (22, 2)), 0.45, 0.35))
    return scene


def _scene_head(L, rng) -> Scene:
    H = [np.asarray(p) for p in L]  # H[0]=lm1 ... H[9]=lm10
    base_mid = (H[0] + H[1]) / 2
    ant = unit_vector((H[8] + H[9]) / 2 - base_mid)
    right = perpendicular(ant)
    w = np.linalg.norm(H[0] - H[1])
    body = beetle_material(rng)
    scene = Scene()
    jitter = lambda: rng.uniform(-0.3, 0.3)  # noqa: E731

    anchors = []
    for side, eye_front, clyp in ((1, H[2], H[6]), (-1, H[3], H[7])):
        out = side * right
        base = eye_front * 0.55 + clyp * 0.45 - out * 0.05 * w
        anchors.append((base, rotate(out, -side * rng.uniform(0.35, 1.1)), 2.2 * w, side, "antenna"))
        anchors.append((base_mid - ant * 0.75 * w + out * 0.7 * w, rotate(out, -side * (0.4 + jitter())), 1.3 * w, side, "leg"))
    _legs_and_antennae(scene, rng, body, anchors)

    neck_len = rng.uniform(0.22, 0.3) * w
    pronotum = _pronotum_shape(base_mid - ant * (neck_len + 0.04 * w), ant, rng.uniform(1.45, 1.6) * w, 1.1 * w, rng)
    scene.pieces.append(Piece([pronotum], material_variant(body)))

    # Mandibles under the labrum, crossing in front.
    front = (H[8] + H[9]) / 2
    front_w = np.linalg.norm(H[8] - H[9])
    for side, clyp in ((1, H[6]), (-1, H[7])):
        out = side * right
        start = clyp - out * 0.12 * front_w
        line = smooth_curve(
            [(start, True), (start + ant * 0.5 * front_w + out * 0.25 * front_w, False),
             (front + ant * 0.75 * front_w - out * rng.uniform(0.0, 0.3) * front_w, True)],
            closed=False,
        )
        widths = np.linspace(0.22, 0.01, len(line)) * front_w
        scene.pieces.append(Piece([tube(line, widths)], material_variant(body, colour=tuple(np.array(body.colour) * 1.4))))

    # Capsule through all ten landmarks, temples and neck behind landmarks 1, 2.
    neck_r = H[0] - ant * neck_len - right * 0.1 * w
    neck_l = H[1] - ant * neck_len + right * 0.1 * w
    capsule = outline_polygon(
        [
            (H[1], "c"), (H[3], "c"), ("bulge", H[3], H[5], -0.04), (H[5], "c"), ("bulge", H[5], H[7], 0.05), (H[7], "c"),
            (H[9], "c"), ("bulge", H[9], H[8], 0.06), (H[8], "c"), (H[6], "c"), ("bulge", H[6], H[4], 0.05), (H[4], "c"),
            ("bulge", H[4], H[2], -0.04), (H[2], "c"), (H[0], "c"), ("bulge", H[0], neck_r, 0.08), (neck_r, "c"),
            (neck_l, "c"), ("bulge", neck_l, H[1], 0.08),
        ]
    )
    scene.pieces.append(Piece([capsule], material_variant(body)))
    # Labrum: the plate in front of the clypeus corners (landmarks 7, 8).
    labrum = outline_polygon([(H[7], "c"), (H[9], "c"), ("bulge", H[9], H[8], 0.06), (H[8], "c"), (H[6], "c")])
    scene.pieces.append(Piece([labrum], material_variant(body, colour=tuple(np.array(body.colour) * 1.6 + [0.02, 0.0, 0.0]))))
    # Eyes: bulging between landmarks 1–3 (right) and 2–4 (left).
    for a, b in ((H[0], H[2]), (H[1], H[3])):
        axis = b - a
        half = np.linalg.norm(axis) / 2
        outward = unit_vector(np.array([axis[1], -axis[0]]))
        if np.dot(outward, right) * np.dot((a + b) / 2 - base_mid, right) < 0:
            outward = -outward
        t = np.linspace(0, np.pi, 24)[:, None]
        arc = (a + b) / 2 - np.cos(t) * axis / 2 + np.sin(t) * outward * half * rng.uniform(0.75, 0.95)
        eye = np.vstack([arc, ((a + b) / 2 - outward * 0.15 * half)[None, :]])
        scene.pieces.append(Piece([eye], material_variant(body, colour=(0.13, 0.125, 0.115), gloss=0.8, shine=50, texture=0.3)))
    grooved_line(scene, np.array([H[7], H[6]]), 0.4, 0.55)
    for side in (-1, 1):
        a = H[5] * 0.5 + H[4] * 0.5 + side * right * 0.22 * w
        grooved_line(scene, np.array([a - ant * 0.12 * w, a + ant * 0.1 * w - side * right * 0.05 * w]), 0.5, 0.35)
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
    outline = outline_polygon(spec)
    size = np.sqrt(abs(polygon_area(outline)))
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
    grooved_line(scene, smooth_curve([(kink, True), (kink * 0.5 + centre * 0.5 + rng.normal(0, 0.02 * size, 2), False), (kink * 0.15 + centre * 0.85, True)], closed=False), 0.45, 0.5)
    blade = smooth_curve([(M[0] * 0.9 + centre * 0.1, True), (M[0] * 0.45 + centre * 0.55, False), (centre, True)], closed=False)
    scene.ridges.append((blade, 0.6, 0.15))
    # Setae on the outer base.
    orient = 1.0 if polygon_area(outline) >= 0 else -1.0
    for _ in range(int(rng.integers(3, 8))):
        i = int(rng.integers(n - 5, n - 1))
        p = M[i] * 0.5 + M[i + 1] * 0.5 + rng.normal(0, 0.5, 2)
        d = M[i + 1] - M[i]
        out = unit_vector(orient * np.array([d[1], -d[0]]))
        tip = p + rotate(out, rng.normal(0, 0.4)) * rng.uniform(0.04, 0.1) * size
        scene.hairs.append((np.array([p - out * 0.5, tip]), 0.25, 0.6))
    return scene


def part_scene(part: str, L: np.ndarray, rng) -> Scene:
    """The :class:`~beetles.synth.scene.Scene` of a specimen of ``part`` whose
    landmarks are ``L`` ``(n, 2)`` (network frame, y down), drawn with ``rng``."""
    if part == "pronotum":
        return _scene_pronotum(L, rng)
    if part == "elytra":
        return _scene_elytra(L, rng)
    if part == "head":
        return _scene_head(L, rng)
    return _scene_mandible(L, rng, outer_index=len(L) - 1)
