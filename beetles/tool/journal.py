"""What an unfinished ``beetles predict`` run has finished, chunk by chunk.

A collection is placed in *chunks*: the photos, in the order given, cut
every ``save_every`` photos (:func:`chunks`).  Each chunk is placed on its
own (its batches start at its first photo), so a chunk's landmarks are the
same whether the run is serial, resumed, or spread over a Ray cluster.  As
each chunk is finished it is written into the run's :class:`Journal`, the
folder ``<out>.incomplete`` beside the output file, one ``chunk-NNNNNN.npz``
atomically per chunk.  The output files themselves are written only at the
end, from the journal, which is then removed: a killed run leaves the old
output files and the ``.incomplete`` folder, never a mixture, and
``beetles predict --resume`` takes up the chunks already there.

A chunk is taken up only if it was placed by the same model (the weight
file's SHA-256), calibration and passes (:func:`journal_key`) and holds the
same photos, unchanged (each path with its size and modification time).
"""
from __future__ import annotations

import hashlib
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beetles.core.errors import BeetlesError
from beetles.core.files import write_bytes, write_text
from beetles.core.frames import Letterbox

JOURNAL_FILE = "journal.json"
#: Photos per chunk by default (``beetles predict --save-every``).
SAVE_EVERY = 256


@dataclass(frozen=True)
class Chunk:
    """Chunk ``index`` (from 0): ``photos`` (paths, in order) and its
    identity, the photos' resolved paths with size and modification time."""

    index: int
    photos: list

    @property
    def identity(self) -> list[str]:
        """What must be unchanged for the chunk's saved landmarks to be reused."""
        marks = []
        for path in self.photos:
            try:
                stat = Path(path).stat()
                marks.append(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}")
            except OSError:
                marks.append(f"{Path(path).resolve()}|missing")
        return marks


def chunks(photos, save_every: int) -> list[Chunk]:
    """``photos`` cut every ``save_every`` (>= 1) into :class:`Chunk`\\ s."""
    photos = list(photos)
    return [Chunk(k, photos[start:start + save_every])
            for k, start in enumerate(range(0, len(photos), save_every))]


def journal_key(model_dir, settings: dict, passes: int, save_every: int) -> str:
    """What a journal's chunks depend on besides their photos: the model
    folder's weights (the SHA-256 its ``settings``, ``settings.json``, hold)
    and calibration, the passes, and the chunk size."""
    folder = Path(model_dir)
    calibration = folder / "calibration.json"
    parts = {
        "weights": settings.get("weights_sha256") or str(folder.resolve()),
        "calibration": hashlib.sha256(calibration.read_bytes()).hexdigest() if calibration.is_file() else None,
        "passes": int(passes), "save_every": int(save_every),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def journal_folder(out) -> Path:
    """``<out>.incomplete``, beside the output file."""
    out = Path(out)
    return out.with_name(f"{out.name}.incomplete")


class Journal:
    """The ``.incomplete`` folder of one output file (see the module docstring)."""

    def __init__(self, folder, key: str, total: int | None = None):
        self.folder, self.key, self.total = Path(folder), key, total

    def saved_key(self) -> str | None:
        """The key the folder's chunks were placed under; ``None``: no journal."""
        try:
            return json.loads((self.folder / JOURNAL_FILE).read_text())["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def start(self, total: int) -> None:
        """Begin a new journal for a run of ``total`` photos (the folder is
        made with the first chunk: a run that places none leaves nothing)."""
        self.clear()
        self.total = total

    def _make(self) -> None:
        if not (self.folder / JOURNAL_FILE).is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text(self.folder / JOURNAL_FILE,
                       json.dumps({"key": self.key, "photos": self.total}) + "\n")

    def chunk_file(self, index: int) -> Path:
        return self.folder / f"chunk-{index:06d}.npz"

    def saved(self) -> list[int]:
        """Indices of the chunks written so far."""
        return sorted(int(p.stem.split("-")[1]) for p in self.folder.glob("chunk-*.npz")) \
            if self.folder.is_dir() else []

    def write(self, chunk: Chunk, placed, skipped) -> Path:
        """Write ``chunk``'s results (:class:`~beetles.tool.predict.Placed`
        list and ``(path, reason)`` list), atomically."""
        buffer = io.BytesIO()
        arrays = {
            "identity": np.array(json.dumps(chunk.identity)),
            "placed": np.array([str(p.path) for p in placed], dtype=str),
            "size": np.array([[p.box.photo_width, p.box.photo_height] for p in placed], np.float64).reshape(-1, 2),
            "skipped": np.array(json.dumps([[str(path), reason] for path, reason in skipped])),
        }
        if placed:
            arrays.update(points=np.stack([p.points for p in placed]), spread=np.stack([p.spread for p in placed]),
                          radius=np.stack([p.radius for p in placed]))
        np.savez(buffer, **arrays)
        self._make()
        return write_bytes(self.chunk_file(chunk.index), buffer.getvalue())

    def read(self, chunk: Chunk, check: bool = True):
        """``(placed, skipped)`` of ``chunk`` as saved, or ``None`` when it
        was not saved or (``check``) its photos have changed since."""
        from beetles.tool.predict import Placed

        try:
            with np.load(self.chunk_file(chunk.index), allow_pickle=False) as saved:
                if check and json.loads(str(saved["identity"])) != chunk.identity:
                    return None
                by_name = {str(p): p for p in chunk.photos}
                names = [str(n) for n in saved["placed"]]
                placed = [Placed(by_name[name], Letterbox(*size), saved["points"][k], saved["spread"][k],
                                 saved["radius"][k]) for k, (name, size) in enumerate(zip(names, saved["size"]))]
                skipped = [(by_name[path], reason) for path, reason in json.loads(str(saved["skipped"]))]
        except (OSError, ValueError, KeyError) as error:
            if isinstance(error, FileNotFoundError):
                return None
            raise BeetlesError(f"{self.chunk_file(chunk.index)}: damaged ({error}); remove {self.folder} to "
                               "place every photo again") from None
        return placed, skipped

    def clear(self) -> None:
        """Remove the folder (the run is finished, or started over)."""
        if self.folder.is_dir():
            shutil.rmtree(self.folder)
