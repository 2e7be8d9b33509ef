"""Plane geometry of the synthetic anatomy, in network-frame units (256×192, y down).

Vectors and polylines are ``(2,)`` and ``(m, 2)`` float arrays; the
outlines of :mod:`beetles.synth.anatomy` are smooth closed curves through
the landmarks (Catmull-Rom splines with bulges between them).
"""
from __future__ import annotations

import numpy as np


def unit_vector(v) -> np.ndarray:
    """The ``(2,)`` vector ``v`` scaled to unit length; ``(0, -1)`` (up) for a zero vector."""
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v)
    return v / n if n > 1e-12 else np.array([0.0, -1.0])


def perpendicular(v) -> np.ndarray:
    """Turns an "anterior" (up on screen) direction into "right" on screen."""
    return np.array([-v[1], v[0]])


def rotate(v, angle) -> np.ndarray:
    """The ``(2,)`` vector ``v`` turned by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def polygon_area(points) -> float:
    """Signed area of a closed polygon ``(m, 2)`` (shoelace formula)."""
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


def smooth_curve(nodes, closed=True, step=0.4) -> np.ndarray:
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


def outline_polygon(spec, closed=True) -> np.ndarray:
    """Outline from a spec list: ``(point, 'c' | 's')`` nodes and
    ``('bulge', i, j, amount, t)`` entries that refer to node points ``i``, ``j``."""
    return smooth_curve(_resolve(spec), closed)


def _resolve(spec):
    anchors = [np.asarray(item[0], float) for item in spec if item[0] is not None and not isinstance(item[0], str)]
    orient = 1.0 if polygon_area(anchors) >= 0 else -1.0
    nodes = []
    for item in spec:
        if isinstance(item[0], str):  # ('bulge', a, b, amount[, t])
            _, a, b, amount, *rest = item
            nodes.append((_bulge(a, b, amount, orient, rest[0] if rest else 0.5), False))
        else:
            nodes.append((np.asarray(item[0], float), item[1] == "c"))
    return nodes


def ellipse_points(center, axis, a, b, count=36) -> np.ndarray:
    """Ellipse polygon: semi-axis ``a`` along unit ``axis``, ``b`` across it."""
    axis = unit_vector(axis)
    across = perpendicular(axis)
    t = np.linspace(0, 2 * np.pi, count, endpoint=False)[:, None]
    return np.asarray(center, float) + a * np.cos(t) * axis + b * np.sin(t) * across


def tube(centre_line, widths) -> np.ndarray:
    """Polygon around a polyline with a half-width per point (tapering blades)."""
    c = np.asarray(centre_line, float)
    d = np.gradient(c, axis=0)
    n = np.stack([-d[:, 1], d[:, 0]], 1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    w = np.asarray(widths, float)[:, None]
    return np.concatenate([c + n * w, (c - n * w)[::-1]])


def offset_curve(curve, distance, orient) -> np.ndarray:
    """A closed curve moved ``distance`` inward (``orient``: sign of its area)."""
    d = np.roll(curve, -1, axis=0) - np.roll(curve, 1, axis=0)
    n = orient * np.stack([d[:, 1], -d[:, 0]], 1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    return curve - distance * n


def resample_polyline(polyline, count) -> np.ndarray:
    """``count`` points evenly spaced along ``polyline`` ``(m, 2)``: ``(count, 2)``."""
    p = np.asarray(polyline, float)
    s = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    t = np.linspace(0, s[-1], count)
    return np.stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])], 1)
