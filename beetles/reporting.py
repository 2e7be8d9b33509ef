"""Writing results: CSV tables laid out like the paper's, and its figures.

Every file is written atomically (:mod:`beetles.files`).  Figures use
matplotlib's non-interactive Agg backend.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from beetles.evaluation import distance_bins
from beetles.files import atomic_write, write_bytes

#: Decimals of every value in the CSV tables.
DECIMALS = 4


def format_value(value) -> str:
    """A table cell: numbers with :data:`DECIMALS` decimals, ``nan``/``None`` empty."""
    if value is None:
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.{DECIMALS}f}"
    return str(value)


def write_table(path, header, rows) -> Path:
    """Write a CSV table (header row, then ``rows``), values via :func:`format_value`."""
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([format_value(v) for v in row])
    return Path(path)


def landmark_table(path, columns: dict) -> Path:
    """Write ``landmark,<column>,…``: one row per 1-based landmark.

    ``columns`` maps a column name to a ``(n,)`` array; shorter columns
    (parts with fewer landmarks) leave empty cells, as the paper's Table 4.
    """
    length = max(len(v) for v in columns.values())
    rows = [
        [k + 1, *(float(v[k]) if k < len(v) else None for v in columns.values())] for k in range(length)
    ]
    return write_table(path, ["landmark", *columns], rows)


def _save(figure, path) -> Path:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return write_bytes(path, buffer.getvalue())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_distance_histogram(distances, path, title: str) -> Path:
    """Fig. 12: histogram of one landmark's ``(N,)`` distances with its mean,
    and the share of specimens under the mean, up to 10 px, and over."""
    plt = _pyplot()
    bins = distance_bins(distances)
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.hist(np.asarray(distances)[~np.isnan(distances)], bins=30, color="#4c72b0", edgecolor="white")
    axes.axvline(bins.mean, color="#c44e52", lw=2, label=f"mean {bins.mean:.2f} px")
    axes.axvline(bins.threshold, color="gray", ls="--", lw=1, label=f"{bins.threshold:g} px")
    axes.set_xlabel("distance manual–predicted (px, 256×192)")
    axes.set_ylabel("specimens")
    axes.set_title(title)
    axes.legend(
        title=(
            f"< mean: {100 * bins.under_mean:.2f}%\n"
            f"mean–{bins.threshold:g} px: {100 * bins.mean_to_threshold:.2f}%\n"
            f"> {bins.threshold:g} px: {100 * bins.over_threshold:.2f}%"
        )
    )
    return _save(figure, path)


def plot_scratch_vs_finetune(scratch, finetune, path, title: str) -> Path:
    """Fig. 15: per-landmark mean distance, from scratch vs fine-tuned."""
    plt = _pyplot()
    numbers = np.arange(1, len(scratch) + 1)
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(numbers, scratch, "o-", label="from scratch")
    axes.plot(numbers, finetune, "s-", label="fine-tune")
    axes.set_xticks(numbers)
    axes.set_xlabel("landmark")
    axes.set_ylabel("mean distance (px, 256×192)")
    axes.set_ylim(bottom=0)
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    return _save(figure, path)


def plot_losses(losses, path, title: str) -> Path:
    """Figs. 10 and 11: training and validation loss per epoch (log scale).

    ``losses``: a structured array with ``epoch``, ``train_loss`` and
    ``valid_loss`` fields (:func:`beetles.training.read_losses`).
    """
    return plot_loss_curves({"": losses}, path, title)


def plot_loss_curves(curves: dict, path, title: str) -> Path:
    """Training (solid) and validation (dashed) loss per epoch of several
    runs, ``{label: losses}`` (see :func:`plot_losses`), log scale."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    for index, (label, losses) in enumerate(curves.items()):
        losses = np.atleast_1d(losses)
        colour = f"C{index}"
        prefix = f"{label}: " if label else ""
        axes.plot(losses["epoch"], losses["train_loss"], color=colour, label=f"{prefix}training loss")
        axes.plot(losses["epoch"], losses["valid_loss"], color=colour, ls="--", label=f"{prefix}validation loss")
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean squared error (normalised coordinates)")
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3, which="both")
    return _save(figure, path)


def plot_test_images(specimens, manual, predicted, path, columns: int = 3) -> Path:
    """Figs. 13 and 16: test photos (256×192, gray) with manual (green) and
    predicted (red, numbered) landmarks.  ``manual``/``predicted``:
    ``(N, n, 2)`` in the network frame, y down."""
    from beetles.augment import luma
    from beetles.preprocess import network_rgb

    plt = _pyplot()
    count = len(specimens)
    rows = max(1, -(-count // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, specimen, m, p in zip(axes.ravel(), specimens, manual, predicted):
        ax.imshow(luma(network_rgb(specimen)), cmap="gray", vmin=0, vmax=255)
        ax.scatter(m[:, 0], m[:, 1], s=18, c="#2ca02c", label="manual")
        ax.scatter(p[:, 0], p[:, 1], s=18, c="#d62728", marker="x", label="predicted")
        for k, (x, y) in enumerate(p, start=1):
            ax.annotate(str(k), (x, y), xytext=(3, 3), textcoords="offset points", color="#d62728", fontsize=7)
        ax.set_title(specimen.name, fontsize=8)
    axes.ravel()[0].legend(loc="lower left", fontsize=7)
    figure.tight_layout()
    return _save(figure, path)


def plot_model_comparison(table: dict, path, title: str) -> Path:
    """Grouped bars: per part (groups), each model's mean distance (px,
    256×192 frame) and the trivial predictor's.  ``table`` maps
    ``part -> {label: distance}``."""
    plt = _pyplot()
    parts = list(table)
    labels = list(dict.fromkeys(label for row in table.values() for label in row))
    figure, axes = plt.subplots(figsize=(1.6 + 1.5 * len(parts), 4))
    width = 0.8 / max(1, len(labels))
    for k, label in enumerate(labels):
        values = [table[part].get(label, np.nan) for part in parts]
        x = np.arange(len(parts)) + (k - (len(labels) - 1) / 2) * width
        bars = axes.bar(x, values, width, label=label, color="0.7" if label == "trivial" else f"C{k}")
        axes.bar_label(bars, fmt="%.1f", fontsize=7)
    axes.set_xticks(np.arange(len(parts)), [p.replace("_", " ") for p in parts])
    axes.set_ylabel("mean distance per landmark (px, 256×192)")
    axes.set_title(title)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3, axis="y")
    return _save(figure, path)
