"""The paper's tables and figures, recomputed from the published landmarks.

:func:`write_paper_tables` reads :func:`beetles.paper.settings.published_dir` (or
another folder laid out the same way) and writes, with 4-decimal values:

=====================================  =========================================
``table02_pronotum_correlation.csv``   ``metric,score``: r², explained variance, Pearson
``table03_pronotum_distances.csv``     ``landmark,distance`` (from scratch)
``table04_scratch_distances.csv``      ``landmark,right_mandible,left_mandible,elytra,head``
``table06_pronotum.csv`` … ``table12_right_mandible.csv``
                                       ``landmark,from_scratch,fine_tune``
``improvements.csv``                   ``part,from_scratch,fine_tune,improvement_percent``
``fig12_pronotum_landmark1.png``       histogram of landmark 1's distances
``fig15_<part>.png``                   per-landmark distance, scratch vs fine-tune
=====================================  =========================================

From-scratch distances come from ``<prefix>_scratch_pred.csv``, fine-tuned
ones from ``<prefix>_manual.tps`` vs ``<prefix>_finetune_pred.tps``, all in
pixels of the 256×192 frame.  :func:`gather_run_tables` writes the same
files from this project's own experiment runs (``experiments/all_tables.py``),
plus the loss tables 1, 5, 7 and 9.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beetles.core.errors import DataError
from beetles.core.files import write_text
from beetles.core.frames import NETWORK
from beetles.core.metrics import correlation_scores, improvement_percent, landmark_distances, mean_distances
from beetles.formats.published import read_paired_csv
from beetles.formats.results import landmark_table, write_table
from beetles.formats.tps import read_tps
from beetles.paper.settings import PART_NAMES, part, published_dir
from beetles.studies.figures import plot_distance_histogram, plot_scratch_vs_finetune

#: File name of each part's "from scratch vs fine-tune" table (paper numbering).
COMPARISON_TABLES = {
    "pronotum": "table06_pronotum.csv",
    "elytra": "table08_elytra.csv",
    "head": "table10_head.csv",
    "left_mandible": "table11_left_mandible.csv",
    "right_mandible": "table12_right_mandible.csv",
}
#: Column order of Table 4, as printed in the paper.
TABLE4_PARTS = ("right_mandible", "left_mandible", "elytra", "head")


@dataclass
class PartResults:
    """One part's held-out predictions, all ``(N, n, 2)``, 256×192, y down:
    from scratch and, when available, fine-tuned (``None`` otherwise)."""

    name: str
    scratch_manual: np.ndarray
    scratch_pred: np.ndarray
    finetune_manual: np.ndarray | None = None
    finetune_pred: np.ndarray | None = None

    @property
    def scratch_distances(self) -> np.ndarray:
        """``(N, n)`` distances, manual vs from-scratch prediction."""
        return landmark_distances(self.scratch_manual, self.scratch_pred)

    @property
    def scratch_means(self) -> np.ndarray:
        """``(n,)`` per-landmark mean distance from scratch."""
        return mean_distances(self.scratch_manual, self.scratch_pred)

    @property
    def finetune_means(self) -> np.ndarray | None:
        """``(n,)`` per-landmark mean distance after fine-tuning (or ``None``)."""
        if self.finetune_pred is None:
            return None
        return mean_distances(self.finetune_manual, self.finetune_pred)


def reference_dir(folder=None) -> Path:
    """The folder of published landmarks: ``folder``, or the copy installed
    with beetles (:func:`beetles.paper.settings.published_dir`)."""
    folder = Path(folder) if folder is not None else published_dir()
    if not folder.is_dir():
        raise DataError(f"{folder}: folder of published landmarks not found")
    return folder


def load_published(name: str, folder=None) -> PartResults:
    """Read the published landmarks of part ``name`` from ``folder``."""
    folder = reference_dir(folder)
    prefix = part(name).published_prefix
    paired = read_paired_csv(folder / f"{prefix}_scratch_pred.csv")

    def tps(suffix):
        return np.stack([s.landmarks for s in read_tps(folder / f"{prefix}_{suffix}.tps", size=NETWORK.size)])

    return PartResults(name, paired.manual, paired.predicted, tps("manual"), tps("finetune_pred"))


def write_paper_tables(out, reference=None) -> list[Path]:
    """Write every table and figure listed in the module doc into ``out``
    from the published landmarks; returns the paths written."""
    return write_tables({name: load_published(name, reference) for name in PART_NAMES}, out)


def write_tables(parts: dict[str, PartResults], out) -> list[Path]:
    """Write the paper's tables and figures for the ``parts`` given into
    ``out``; tables whose parts or fine-tuned results are missing are left
    out.  Returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    pronotum = parts.get("pronotum")
    if pronotum is not None:
        scores = correlation_scores(pronotum.scratch_manual, pronotum.scratch_pred)
        written += [
            write_table(
                out / "table02_pronotum_correlation.csv",
                ["metric", "score"],
                [["r2", scores.r2], ["explained_variance", scores.explained_variance], ["pearson", scores.pearson]],
            ),
            landmark_table(out / "table03_pronotum_distances.csv", {"distance": pronotum.scratch_means}),
        ]
    if all(name in parts for name in TABLE4_PARTS):
        written.append(
            landmark_table(
                out / "table04_scratch_distances.csv", {name: parts[name].scratch_means for name in TABLE4_PARTS}
            )
        )
    summary = []
    for name, data in parts.items():
        if data.finetune_means is None:
            continue
        written.append(
            landmark_table(
                out / COMPARISON_TABLES[name], {"from_scratch": data.scratch_means, "fine_tune": data.finetune_means}
            )
        )
        summary.append(
            [
                name,
                float(np.mean(data.scratch_means)),
                float(np.mean(data.finetune_means)),
                improvement_percent(data.scratch_means, data.finetune_means),
            ]
        )
        written.append(
            plot_scratch_vs_finetune(
                data.scratch_means,
                data.finetune_means,
                out / f"fig15_{name}.png",
                f"{part(name).title}: mean distance per landmark",
            )
        )
    if summary:
        written.append(
            write_table(
                out / "improvements.csv", ["part", "from_scratch", "fine_tune", "improvement_percent"], summary
            )
        )
    if pronotum is not None:
        written.append(
            plot_distance_histogram(
                pronotum.scratch_distances[:, 0],
                out / "fig12_pronotum_landmark1.png",
                "Pronotum, landmark 1, from scratch",
            )
        )
    return written


#: Loss tables of the paper gathered from runs: (run folder, table file).
LOSS_TABLES = {
    ("pronotum_scratch", "table01_pronotum_losses.csv"),  # Table 1
    ("pronotum_finetune", "table05_pronotum_finetune_losses.csv"),  # Table 5
    ("elytra_finetune", "table07_elytra_finetune_losses.csv"),  # Table 7
    ("head_finetune", "table09_head_finetune_losses.csv"),  # Table 9
}


def load_run_results(results, name: str) -> PartResults | None:
    """A part's held-out predictions from experiment runs under ``results``
    (``<part>_scratch/predictions.csv`` and, if present,
    ``<part>_finetune/predictions.csv``); ``None`` without a scratch run."""
    results = Path(results)
    scratch = results / f"{name}_scratch" / "predictions.csv"
    if not scratch.is_file():
        return None
    paired = read_paired_csv(scratch)
    tuned_path = results / f"{name}_finetune" / "predictions.csv"
    tuned = read_paired_csv(tuned_path) if tuned_path.is_file() else None
    return PartResults(
        name, paired.manual, paired.predicted, tuned.manual if tuned else None, tuned.predicted if tuned else None
    )


def gather_run_tables(results, out) -> list[Path]:
    """The paper's tables from experiment runs under ``results`` (the
    scripts' default output folders), written into ``out`` with the file
    names of ``beetles tables``, plus the loss tables 1, 5, 7 and 9."""
    results, out = Path(results), Path(out)
    parts = {name: r for name in PART_NAMES if (r := load_run_results(results, name)) is not None}
    if not parts:
        raise DataError(f"{results}: no from-scratch results (<part>_scratch/predictions.csv) to gather")
    written = write_tables(parts, out)
    for run_name, table in sorted(LOSS_TABLES):
        source = results / run_name / "table01_losses.csv"
        if source.is_file():
            written.append(write_text(out / table, source.read_text()))
    return written
