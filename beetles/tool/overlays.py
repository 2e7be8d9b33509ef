"""Overlays: each photo with its predicted landmarks drawn on it, for a quick look.

The photo, upright and at most :data:`OVERLAY_WIDTH` pixels wide, with every
landmark as a dot labelled with its number (or name) and a circle (its 90 % radius, or its spread for a
model folder without a calibration); JPEG for
JPEG photos, PNG otherwise.  Points and spreads are in the photo's own
pixels (y down).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from beetles.core.files import write_bytes
from beetles.core.images import load_rgb

#: Overlays are at most this many pixels wide.
OVERLAY_WIDTH = 1600
_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4",
            "#469990", "#9a6324", "#800000", "#808000", "#000075"]


def overlay_photo(path, width: int = OVERLAY_WIDTH) -> Image.Image:
    """The photo upright (EXIF orientation applied) as RGB, at most ``width``
    pixels wide (JPEG draft mode for large photos)."""
    image = load_rgb(path, reduce_to=(width, 1))
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    return image


def write_overlay(folder: Path, path: Path, box, points, spread, used: set, names=None) -> Path:
    """Draw ``points`` ``(n, 2)`` (photo pixels, y down) labelled with their
    number (or ``names``) and circles of radius ``spread`` ``(n,)`` on the
    photo at ``path`` (whose :class:`~beetles.core.frames.Letterbox` is
    ``box``) into ``folder``; a name already in ``used`` gets a number."""
    image = overlay_photo(path)
    sx, sy = image.width / box.photo_width, image.height / box.photo_height
    draw = ImageDraw.Draw(image)
    dot = max(2.0, image.width / 400)
    font = ImageFont.load_default(size=max(12, image.width // 70))
    for k, ((x, y), s) in enumerate(zip(points, spread, strict=True)):
        if not np.isfinite([x, y]).all():
            continue
        colour = _COLOURS[k % len(_COLOURS)]
        cx, cy = x * sx, y * sy
        if np.isfinite(s):
            r = max(float(s) * sx, dot + 1)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=max(1, int(dot / 2)))
        draw.ellipse([cx - dot, cy - dot, cx + dot, cy + dot], fill=colour, outline="white")
        draw.text((cx + 2 * dot, cy - 2 * dot), names[k] if names else str(k + 1), fill=colour, font=font, stroke_width=2,
                  stroke_fill="white", anchor="ls")
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    suffix = ".jpg" if jpeg else ".png"
    name, count = f"{path.stem}{suffix}", 1
    while name in used:
        count += 1
        name = f"{path.stem}_{count}{suffix}"
    used.add(name)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG" if jpeg else "PNG", **({"quality": 90} if jpeg else {}))
    return write_bytes(folder / name, buffer.getvalue())
