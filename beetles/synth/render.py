"""Painting a synthetic specimen's photo: shading, texture, background, camera.

:func:`render_specimen` draws specimen ``i`` of a part: its landmarks
(:func:`beetles.synth.specimens.specimen_landmarks`) and scene
(:func:`beetles.synth.anatomy.part_scene`), painted as glossy domes lit by
one lamp, with micro-texture, punctures and grooves, on a light uneven
background with a soft shadow (mandibles: translucent, clean background);
then the camera: per specimen lighting gradient, contrast and gamma, a slight
colour cast, optical blur, sensor noise and JPEG compression (quality 75–95,
:func:`specimen_jpeg`).  The same seed gives byte-identical files (with the
same NumPy and Pillow).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from beetles.core.frames import NETWORK
from beetles.synth.anatomy import part_scene
from beetles.synth.geometry import polygon_area
from beetles.synth.scene import Piece, Scene
from beetles.synth.specimens import DEFAULT_SEED, DEFAULT_SIZE, check_size, specimen_landmarks, specimen_rng

#: Shading fields are computed at most this wide and scaled up.
_LOWRES_WIDTH = 640


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
    area = sum(abs(polygon_area(p)) for p in full)
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
    width, height = check_size(size)
    landmarks = specimen_landmarks(part, index, seed)
    rng = specimen_rng(seed, part, index, 1)
    scene = part_scene(part, landmarks, rng)
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
