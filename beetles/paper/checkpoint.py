"""Checkpoints inside a round: a 5000-epoch round killed at epoch 4999
resumes from its last checkpoint, not from epoch 1.

A :class:`Checkpointing` says where a round's checkpoint lives, what it must
match to be resumed (the experiment's key and the round's test specimens)
and how often it is written: every ``every_epochs`` epochs or
``every_minutes`` minutes, whichever comes first, and after the last epoch.
A checkpoint (``checkpoint.npz``, written atomically) holds everything the
training loop's next epoch depends on, as its engine gives it
(:meth:`beetles.paper.engines.TheanoEngine.checkpoint`,
:meth:`beetles.paper.engines.TorchEngine.checkpoint`): the weights, the
momentum buffers, the learning rate and momentum, every random generator's
state (Theano's dropout streams; torch's CPU and CUDA generators) and the
loss history; the data shuffle and the split are functions of the seed.  A
resumed round therefore ends with the same weights as one never
interrupted, on the same machine and engine (``tests/paper/test_checkpoint.py``).
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from beetles.core.files import write_bytes

CHECKPOINT_FILE = "checkpoint.npz"
#: What a long run checkpoints by default: every 10 minutes (a 2-core CPU
#: epoch of model 3 takes about a minute; a GPU one seconds).
DEFAULT_MINUTES = 10.0
_META = "__meta__"


@dataclass
class Checkpointing:
    """Where and how often a round checkpoints (see the module docstring);
    ``every_epochs``/``every_minutes`` ``None``: not on that count."""

    path: Path
    key: str
    every_epochs: int | None = None
    every_minutes: float | None = DEFAULT_MINUTES
    _last: float = field(default_factory=time.monotonic, repr=False)

    def due(self, epoch: int, last_epoch: bool) -> bool:
        """Whether to write one after ``epoch`` (1-based)."""
        if last_epoch or (self.every_epochs and epoch % self.every_epochs == 0):
            return True
        return self.every_minutes is not None and time.monotonic() - self._last >= 60 * self.every_minutes

    def write(self, arrays: dict, meta: dict) -> Path:
        """Write ``arrays`` (``{name: ndarray}``) and ``meta`` (JSON) with this
        checkpoint's key, atomically."""
        buffer = io.BytesIO()
        np.savez(buffer, **arrays, **{_META: np.array(json.dumps({**meta, "key": self.key}))})
        write_bytes(self.path, buffer.getvalue())
        self._last = time.monotonic()
        return self.path

    def read(self) -> tuple[dict, dict] | None:
        """``(arrays, meta)`` of the checkpoint when there is one with this
        key (``None`` otherwise: none yet, another run's, or damaged)."""
        try:
            with np.load(self.path, allow_pickle=False) as data:
                meta = json.loads(str(data[_META]))
                arrays = {k: data[k] for k in data.files if k != _META}
        except (OSError, ValueError, KeyError):
            return None
        return (arrays, meta) if meta.get("key") == self.key else None

    def remove(self) -> None:
        """Delete the checkpoint (its round finished and wrote its files)."""
        self.path.unlink(missing_ok=True)


def plain(value):
    """``value`` with NumPy scalars made Python numbers (for JSON)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
