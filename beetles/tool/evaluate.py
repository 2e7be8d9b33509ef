"""``beetles evaluate``: compare two TPS files and write the agreement's files.

:func:`evaluate_files` pairs the specimens of a manual and a predicted TPS
file (:func:`beetles.tool.agreement.read_pairs`), measures their agreement
(:func:`beetles.tool.agreement.compare`: pixel distances, Procrustes
distances, centroid sizes) and, with an output folder, writes
``landmarks.csv`` (per landmark), ``specimens.csv`` (per specimen),
``summary.json`` and ``report.png``; :func:`format_summary` is the text the
command prints.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from beetles.core.errors import DataError
from beetles.core.figures import pyplot, save_figure
from beetles.core.files import write_text
from beetles.formats.results import write_table
from beetles.tool.agreement import SHOWN, Agreement, compare, names_text, read_pairs

#: The files :func:`write_outputs` writes into its folder.
OUTPUT_FILES = ("landmarks.csv", "specimens.csv", "summary.json", "report.png")



def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _check_out(out: Path, inputs) -> None:
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder")
    targets = {(out / name).resolve() for name in OUTPUT_FILES}
    for path in inputs:
        if Path(path).resolve() in targets:
            raise DataError(f"--out {out}: would overwrite the input file {path}")


def plot_report(agreement: Agreement, path, summary: dict | None = None) -> Path:
    """One page (PNG, Agg): per-landmark mean distance, the distance
    histogram, Procrustes distance per specimen (sorted), centroid size
    manual vs predicted, the GPA mean shapes with landmark numbers, and the
    text of ``summary`` (default: :meth:`Agreement.summary`)."""
    plt = pyplot()
    summary = summary or agreement.summary()
    figure, axes = plt.subplots(2, 3, figsize=(15, 9))
    (bars, hist, procr), (sizes, shapes, text) = axes

    rows = summary["landmarks"]
    numbers = [r["landmark"] for r in rows]
    bars.bar(numbers, [r["mean"] for r in rows], yerr=[0 if math.isnan(r["sd"]) else r["sd"] for r in rows],
             color="#4c72b0", capsize=3)
    bars.set_xticks(numbers)
    bars.set_xlabel("landmark")
    bars.set_ylabel("mean distance (px) ± sd")
    bars.set_title("distance per landmark")

    d = agreement.distances[~np.isnan(agreement.distances)]
    hist.hist(d, bins=min(40, max(5, d.size // 5)), color="#4c72b0", edgecolor="white")
    if d.size:
        hist.axvline(d.mean(), color="#c44e52", lw=2, label=f"mean {d.mean():.2f} px")
        hist.legend()
    hist.set_xlabel("distance manual–predicted (px)")
    hist.set_ylabel("landmarks")
    hist.set_title("distance distribution")

    ok = ~np.isnan(agreement.procrustes)
    if ok.any():
        order = np.sort(agreement.procrustes[ok])
        procr.plot(np.arange(1, order.size + 1), order, "o-", ms=3, color="#55a868")
        procr.axhline(order.mean(), color="#c44e52", ls="--", label=f"mean {order.mean():.4f}")
        procr.legend()
    else:
        procr.text(0.5, 0.5, "not available", ha="center", va="center", transform=procr.transAxes)
    procr.set_xlabel("specimen (sorted)")
    procr.set_ylabel("Procrustes distance")
    procr.set_title("shape: manual vs predicted after GPA")

    both = ~(np.isnan(agreement.size_manual) | np.isnan(agreement.size_predicted))
    if both.any():
        a, b = agreement.size_manual[both], agreement.size_predicted[both]
        sizes.scatter(a, b, s=12, color="#8172b2")
        low, high = min(a.min(), b.min()), max(a.max(), b.max())
        sizes.plot([low, high], [low, high], color="gray", ls="--", label="identity")
        r = summary["centroid_size"]["pearson_r"]
        sizes.legend(title=f"r = {r:.4f}" if not math.isnan(r) else None)
    sizes.set_xlabel("centroid size, manual (px)")
    sizes.set_ylabel("centroid size, predicted (px)")
    sizes.set_title("size")

    if agreement.mean_manual is not None:
        for shape, colour, marker, label in (
            (agreement.mean_manual, "#2ca02c", "o", "manual"),
            (agreement.mean_predicted, "#d62728", "x", "predicted"),
        ):
            shapes.scatter(shape[:, 0], shape[:, 1], c=colour, marker=marker, s=30, label=label)
        for k, (x, y) in enumerate(agreement.mean_manual, start=1):
            shapes.annotate(str(k), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
        shapes.set_aspect("equal", adjustable="datalim")
        shapes.invert_yaxis()  # y down, as in the photo
        shapes.legend()
    else:
        shapes.text(0.5, 0.5, "not available", ha="center", va="center", transform=shapes.transAxes)
    shapes.set_title("GPA mean shapes")

    text.axis("off")
    text.text(0, 1, format_summary(summary), va="top", family="monospace", fontsize=8, wrap=True)
    if "manual" in summary and "pred" in summary:
        figure.suptitle(f"{Path(summary['manual']).name} (manual) vs {Path(summary['pred']).name} (predicted)")
    figure.tight_layout()
    return save_figure(figure, path)


def write_outputs(agreement: Agreement, summary: dict, out) -> list[Path]:
    """Write ``landmarks.csv``, ``specimens.csv``, ``summary.json`` and
    ``report.png`` into ``out`` (created if missing), each atomically."""
    out = Path(out)
    rows = summary["landmarks"]
    header = ["landmark", "mean", "sd", "median", "max", "n"]
    written = [write_table(out / "landmarks.csv", header, [[r[h] for h in header] for r in rows])]
    specimens = summary["specimens"]
    header = ["image", "mean_distance", "procrustes_distance", "centroid_size_manual", "centroid_size_predicted"]
    written.append(write_table(out / "specimens.csv", header, [[r[h] for h in header] for r in specimens]))
    written.append(write_text(out / "summary.json", json.dumps(_jsonable(summary), indent=2) + "\n"))
    written.append(plot_report(agreement, out / "report.png", summary))
    return written


def evaluate_files(manual, pred, out=None, negatives: str = "auto") -> dict:
    """Compare the TPS files ``manual`` and ``pred`` (see the module doc).

    Returns :meth:`Agreement.summary` plus ``manual``, ``pred``,
    ``pairing``, ``only_manual`` / ``only_predicted`` (count and first
    names) and, with ``out``, ``files`` (the paths written there).  The
    input files are only read; ``negatives``: what a negative coordinate
    means (:data:`beetles.formats.tps.NEGATIVES`).
    """
    manual, pred = Path(manual), Path(pred)
    if out is not None:
        _check_out(Path(out), (manual, pred))
    pairs = read_pairs(manual, pred, negatives)
    agreement = compare(pairs.manual, pairs.predicted, pairs.names)
    notes = list(pairs.notes)
    for path, left in ((manual, pairs.only_manual), (pred, pairs.only_predicted)):
        if left:
            notes.append(f"{len(left)} specimen(s) only in {path}, left out: {names_text(left)}")
    agreement.notes[:0] = notes
    summary = {
        "manual": str(manual),
        "pred": str(pred),
        "pairing": pairs.pairing,
        "only_manual": {"count": len(pairs.only_manual), "first": pairs.only_manual[:SHOWN]},
        "only_predicted": {"count": len(pairs.only_predicted), "first": pairs.only_predicted[:SHOWN]},
        **agreement.summary(),
    }
    if out is not None:
        summary["files"] = [str(p) for p in write_outputs(agreement, summary, out)]
    return summary


def _number(value, digits: int) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def format_summary(summary: dict) -> str:
    """A short text summary of :func:`evaluate_files`' (or
    :meth:`Agreement.summary`'s) result."""
    pairing = {"name": " paired by IMAGE= name", "order": " paired by order"}.get(summary.get("pairing"), "")
    lines = [f"specimens: {summary['n_specimens']}{pairing}, {summary['n_landmarks']} landmarks"]
    lines.append(f"mean distance: {_number(summary['mean_distance'], 2)} px")
    procr = summary["procrustes"]
    lines.append(
        f"Procrustes distance: mean {_number(procr['mean'], 4)}, max {_number(procr['max'], 4)} "
        f"({procr['n_specimens']} specimens)"
    )
    size = summary["centroid_size"]
    lines.append(
        f"centroid size: r = {_number(size['pearson_r'], 4)}, "
        f"predicted/manual = {_number(size['mean_ratio_predicted_manual'], 4)}"
    )
    if summary["worst_specimens"]:
        lines.append("worst specimens (mean distance px, Procrustes distance):")
        width = max(len(r["image"]) for r in summary["worst_specimens"])
        for r in summary["worst_specimens"]:
            lines.append(
                f"  {r['image']:<{width}}  {_number(r['mean_distance'], 2)}  {_number(r['procrustes_distance'], 4)}"
            )
    lines.extend(f"note: {note}" for note in summary["notes"])
    return "\n".join(lines)
