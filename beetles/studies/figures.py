"""The paper's figures (10-13, 15, 16) and the model comparison's, as PNG files.

Every figure is written atomically on matplotlib's Agg backend
(:mod:`beetles.core.figures`); distances are in pixels of the 256×192
network frame, y down.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from beetles.core.figures import pyplot, save_figure
from beetles.core.metrics import distance_bins


def plot_distance_histogram(distances, path, title: str) -> Path:
    """Fig. 12: histogram of one landmark's ``(N,)`` distances with its mean,
    and the share of specimens under the mean, up to 10 px, and over."""
    plt = pyplot()
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
    return save_figure(figure, path)


def plot_scratch_vs_finetune(scratch, finetune, path, title: str) -> Path:
    """Fig. 15: per-landmark mean distance, from scratch vs fine-tuned."""
    plt = pyplot()
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
    return save_figure(figure, path)


def plot_test_images(specimens, manual, predicted, path, columns: int = 3) -> Path:
    """Figs. 13 and 16: test photos (256×192, gray) with manual (green) and
    predicted (red, numbered) landmarks.  ``manual``/``predicted``:
    ``(N, n, 2)`` in the network frame, y down."""
    from beetles.paper.augment import luma
    from beetles.paper.preprocess import network_rgb

    plt = pyplot()
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
    return save_figure(figure, path)


def plot_model_comparison(table: dict, path, title: str) -> Path:
    """Grouped bars: per part (groups), each model's mean distance (px,
    256×192 frame) and the trivial predictor's.  ``table`` maps
    ``part -> {label: distance}``."""
    plt = pyplot()
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
    return save_figure(figure, path)
