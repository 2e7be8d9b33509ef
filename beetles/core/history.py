"""Training history: one :class:`Epoch` per epoch, whatever trains.

Every training loop (nolearn's, the PyTorch engine's, the compact models')
reports each finished epoch as an :class:`Epoch` to its listeners
(:class:`EpochListener`): :class:`EpochLog` rewrites ``losses.csv``
atomically after every epoch and moves a progress bar.  :func:`read_losses`
reads the file back and :func:`plot_losses` draws it (Figs. 10 and 11).
Losses are mean squared errors on the normalised coordinates
(:func:`beetles.core.frames.normalise`).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from beetles.core.figures import pyplot, save_figure
from beetles.core.files import atomic_write

#: The columns of ``losses.csv``.
LOSS_COLUMNS = ["epoch", "train_loss", "valid_loss", "learning_rate", "momentum", "seconds", "held_out_px"]


@dataclass(frozen=True)
class Epoch:
    """One finished epoch: its 1-based ``number`` (counting every stage of a
    model that trains in stages), the training and validation losses (``nan``
    without validation data), the learning rate and momentum (Adam's beta1
    for the compact models) it ended with, its duration, and, where the
    training loop was given held-out specimens to watch, their mean distance
    per landmark after the epoch in network pixels with dropout off
    (``held_out``; ``nan`` where nothing was watched)."""

    number: int
    train_loss: float
    valid_loss: float
    learning_rate: float
    momentum: float
    seconds: float
    held_out: float = float("nan")

    def row(self) -> list:
        """The ``losses.csv`` row (:data:`LOSS_COLUMNS`)."""
        return [self.number, self.train_loss, self.valid_loss, self.learning_rate, self.momentum, self.seconds,
                self.held_out]


class EpochListener(Protocol):
    """What a training loop calls after every epoch."""

    def __call__(self, epoch: Epoch) -> None:
        ...


class EpochLog:
    """An :class:`EpochListener` that writes the loss history to ``path`` (CSV,
    atomically, after every epoch) and advances a progress bar of ``total``
    epochs (``None``: unknown, e.g. a time budget)."""

    def __init__(self, path=None, total: int | None = None, desc: str = "epochs", progress: bool = True):
        self.path = Path(path) if path is not None else None
        self.rows: list[list] = []
        self.bar = tqdm(total=total, desc=desc, unit="epoch", disable=not progress, leave=False)

    def __call__(self, epoch: Epoch) -> None:
        self.rows.append(epoch.row())
        if self.path is not None:
            write_losses(self.path, self.rows)
        self.bar.set_postfix(train=f"{epoch.train_loss:.5f}", valid=f"{epoch.valid_loss:.5f}")
        self.bar.update(1)

    def close(self) -> None:
        """Close the progress bar."""
        self.bar.close()

    def __getstate__(self):  # a pickled net carries no open progress bar
        state = dict(self.__dict__)
        state["bar"] = tqdm(disable=True)
        return state


def write_losses(path, rows) -> Path:
    """Write loss rows (:data:`LOSS_COLUMNS`) to ``path`` as CSV, atomically."""
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LOSS_COLUMNS)
        for row in rows:
            writer.writerow([row[0], *(f"{float(v):.8g}" for v in row[1:])])
    return Path(path)


def read_losses(path) -> np.ndarray:
    """Read a loss CSV back: a structured array with :data:`LOSS_COLUMNS` fields."""
    return np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")


def plot_losses(losses, path, title: str, trivial: float | None = None) -> Path:
    """Figs. 10 and 11: training and validation loss per epoch (log scale);
    where the file has held-out distances (``held_out_px``), a second panel
    draws them against the epochs beside ``trivial``, the mean-shape
    predictor's distance on the same specimens (network pixels).

    ``losses``: a structured array with ``epoch``, ``train_loss`` and
    ``valid_loss`` fields (:func:`read_losses`).
    """
    losses = np.atleast_1d(losses)
    if "held_out_px" not in (losses.dtype.names or ()) or not np.isfinite(losses["held_out_px"]).any():
        return plot_loss_curves({"": losses}, path, title)
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    _draw_losses(left, {"": losses})
    left.set_title(title)
    right.plot(losses["epoch"], losses["held_out_px"], color="C0", label="held-out specimens, dropout off")
    if trivial is not None:
        right.axhline(trivial, color="C3", ls=":", label=f"trivial mean-shape predictor ({trivial:.2f} px)")
    right.set_xlabel("epoch")
    right.set_ylabel("mean distance per landmark (network pixels)")
    right.set_title("held-out error per epoch")
    right.legend()
    right.grid(alpha=0.3)
    return save_figure(figure, path)


def plot_loss_curves(curves: dict, path, title: str) -> Path:
    """Training (solid) and validation (dashed) loss per epoch of several
    runs, ``{label: losses}`` (see :func:`plot_losses`), log scale."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    _draw_losses(axes, curves)
    axes.set_title(title)
    return save_figure(figure, path)


def _draw_losses(axes, curves: dict) -> None:
    """Training (solid) and validation (dashed) losses of ``curves`` on ``axes``."""
    for index, (label, losses) in enumerate(curves.items()):
        losses = np.atleast_1d(losses)
        colour = f"C{index}"
        prefix = f"{label}: " if label else ""
        axes.plot(losses["epoch"], losses["train_loss"], color=colour, label=f"{prefix}training loss")
        axes.plot(losses["epoch"], losses["valid_loss"], color=colour, ls="--", label=f"{prefix}validation loss")
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean squared error (normalised coordinates)")
    axes.legend()
    axes.grid(alpha=0.3, which="both")
