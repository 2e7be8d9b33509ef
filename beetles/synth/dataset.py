"""Synthetic datasets in the real data's layout, and the default dataset.

:func:`generate_dataset` writes ``<out>/<part>/images/<part>_0001.jpg …``
(4:3 RGB JPEG photos, :mod:`beetles.synth.render`) and
``<out>/<part>/landmarks.tps`` (y up, in each photo's own frame), in worker
processes; :func:`default_dataset` is the dataset every experiment uses when
no ``--data`` is given, generated once into :func:`default_root`.
"""
from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from beetles.core.frames import photo_frame
from beetles.core.resources import data_dir
from beetles.formats.dataset import IMAGES_FOLDER, LANDMARKS_FILE
from beetles.paper.settings import PART_NAMES
from beetles.paper.settings import part as paper_part
from beetles.synth.render import specimen_jpeg
from beetles.synth.specimens import DEFAULT_SEED, DEFAULT_SIZE, check_part, check_size

#: Bumped whenever the generator's output changes, so that a cached default
#: dataset made by an older version is regenerated.
GENERATOR_VERSION = "1"
#: The generator's name in the part folders' markers (kept from its first release).
GENERATOR_NAME = "beetles.synthetic"

#: Written first in a part folder made by the generator (protects real data
#: from being overwritten) and last (``.complete``, when the part is whole).
SYNTHETIC_MARKER = ".synthetic"
COMPLETE_MARKER = ".complete"
PREVIEW_FILE = "preview.png"


def image_name(part: str, index: int) -> str:
    """File name of specimen ``index`` (0-based): ``<part>_0001.jpg`` …"""
    return f"{part}_{index + 1:04d}.jpg"


def _write_specimen(job) -> tuple[int, np.ndarray]:
    from beetles.core.files import write_bytes

    folder, part, index, seed, size = job
    data, landmarks = specimen_jpeg(part, index, seed, size)
    write_bytes(Path(folder) / IMAGES_FOLDER / image_name(part, index), data)
    return index, landmarks


def _descriptor(part, count, seed, size) -> str:
    return json.dumps(
        {"generator": GENERATOR_NAME, "version": GENERATOR_VERSION, "part": part, "specimens": count, "seed": int(seed), "size": list(size)},
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
    from beetles.core.files import write_text
    from beetles.core.specimen import Specimen
    from beetles.formats.tps import write_tps

    folder = Path(folder)
    size = check_size(size)
    check_part(part)
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
        """The part folders, ``{name: folder}``."""
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
    size = check_size(size)
    names = list(PART_NAMES) if parts is None else [check_part(p) for p in ([parts] if isinstance(parts, str) else parts)]
    folders = {}
    for name in names:
        folders[name] = generate_part(out / name, name, _count_for(name, specimens), seed, size, progress, workers)
    sheet = contact_sheet(out, names, out / PREVIEW_FILE) if preview else None
    return SyntheticDataset(folders, out, int(seed), size, sheet)


def contact_sheet(root, parts=None, path=None, per_part: int = 4, thumb=(320, 240)) -> Path:
    """A PNG grid: one row per part, its first ``per_part`` specimens with
    their landmarks numbered (read back from ``landmarks.tps``)."""
    from PIL import ImageFont

    from beetles.core.files import write_bytes
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


def default_root() -> Path:
    """Where the default dataset lives: ``synthetic/`` in
    :func:`beetles.core.resources.data_dir` (``data/synthetic/`` of a checkout)."""
    return data_dir() / "synthetic"


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

    ``root`` (default :func:`default_root`) holding the
    requested ``parts`` (default all five) at :data:`DEFAULT_SIZE`, seed
    :data:`DEFAULT_SEED` and the study's specimen counts; a part that is
    missing, half-written (no ``.complete`` marker) or made by another
    generator version is generated first.  Prints one line to stderr saying
    that the data are synthetic.  Returns ``root``.
    """
    root = Path(root) if root is not None else default_root()
    names = list(PART_NAMES) if parts is None else [check_part(p) for p in ([parts] if isinstance(parts, str) else parts)]
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
