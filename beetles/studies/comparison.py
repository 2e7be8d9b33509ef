"""Model comparison (``experiments/model_comparison.py``): the paper's model 3,
the compact models of :mod:`beetles.compact` and the trivial mean-shape
predictor, per part, on the same cross-validation rounds and with the same
wall-clock budget per round.

Every model trains on the torch engine (model 3 with the paper's settings:
seven-fold augmentation, Nesterov momentum with the learning rate and
momentum linspaces over the epochs that fit the budget, planned from the
first epoch's duration; the torch engine is model 3's faster engine, so the
comparison favours model 3 if anything).  Each model's run is an ordinary
experiment folder, ``<out>/<part>/<model>/`` (resumable per round), and the
comparison writes ``<out>/comparison.csv`` and ``<out>/comparison.png``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from beetles.core.files import write_text
from beetles.formats.results import write_table
from beetles.paper import settings as paper
from beetles.registry import model_info
from beetles.studies.crossval import Experiment
from beetles.studies.experiment import describe, load_experiment_data, run
from beetles.studies.figures import plot_model_comparison
from beetles.studies.outputs import report

#: Defaults: model 3 and the cascade (the compact model chosen by measurement;
#: ``--models 3,regress,heatmap,cascade`` runs every candidate), 2 minutes per
#: model and round, round 1, every part.
DEFAULT_MODELS = ("3", "cascade")
DEFAULT_MINUTES = 2.0
DEFAULT_ROUNDS = (1,)
COMPARISON_COLUMNS = ["part", "model", "mean_distance_px", "ratio_to_trivial", "epochs", "train_minutes",
                      "held_out_specimens", "spread_error_spearman"]


def compare_models(parts, models, minutes: float, out, data=None, rounds=None, specimens: int | None = None,
                   device: str = "cpu", progress: bool = True) -> list[dict]:
    """Train every model of ``models`` (registered names) on every part for
    ``minutes`` per round and write the comparison; returns its rows (one
    per part and model, plus the trivial predictor's)."""
    out = Path(out)
    rows = []
    for part in parts:
        part_data = load_experiment_data(data, part, specimens, progress=progress)
        trivial = None
        for info in (model_info(model) for model in models):
            experiment = Experiment(
                name=f"{part}/{info.label}", data=part_data, out=out / part / info.label,
                schedule=info.schedule(minutes=minutes), rounds=rounds, progress=progress,
                notes={"comparison": str(out), "synthetic_data": data is None}, engine="torch", device=device,
            )
            print(describe(experiment), flush=True)
            summary = run(experiment)
            print(report(summary, info), flush=True)
            result = summary.results
            trivial = result.trivial_mean_distance_px
            rows.append({
                "part": part, "model": info.label, "mean_distance_px": result.mean_distance_px,
                "ratio_to_trivial": result.ratio_to_trivial,
                "epochs": sum(r.epochs for r in summary.rounds) / len(summary.rounds),
                "train_minutes": sum(r.seconds for r in summary.rounds) / 60 / len(summary.rounds),
                "held_out_specimens": summary.held_out_specimens,
                "spread_error_spearman": result.confidence.get("spread_error_spearman"),
            })
        rows.append({"part": part, "model": "trivial", "mean_distance_px": trivial, "ratio_to_trivial": 1.0,
                     "epochs": None, "train_minutes": None, "held_out_specimens": rows[-1]["held_out_specimens"],
                     "spread_error_spearman": None})
        write_comparison(out, rows, minutes)
    return rows


def merged_rows(out: Path, rows: list[dict]) -> list[dict]:
    """``rows`` merged into those an earlier comparison wrote to ``out`` with
    the same minutes: a (part, model) of this run replaces the earlier one,
    the others are kept (so models can be added one run at a time)."""
    path = out / "comparison.json"
    if not path.is_file():
        return rows
    earlier = json.loads(path.read_text())
    new = {(row["part"], row["model"]) for row in rows}
    kept = [row for row in earlier.get("rows", []) if (row["part"], row["model"]) not in new]
    merged = kept + rows
    order = {part: k for k, part in enumerate(paper.PART_NAMES)}
    models = list(dict.fromkeys(row["model"] for row in merged if row["model"] != "trivial")) + ["trivial"]
    return sorted(merged, key=lambda row: (order.get(row["part"], 99), row["part"], models.index(row["model"])))


def write_comparison(out: Path, rows: list[dict], minutes: float) -> None:
    """``comparison.csv``, ``comparison.png`` and ``comparison.json`` (settings,
    command), merged with an earlier comparison in ``out`` of the same minutes."""
    earlier = out / "comparison.json"
    if earlier.is_file() and json.loads(earlier.read_text()).get("minutes_per_round") == minutes:
        rows = merged_rows(out, rows)
    figure = {}
    for row in rows:
        figure.setdefault(row["part"], {})[row["model"]] = row["mean_distance_px"]
    write_table(out / "comparison.csv", COMPARISON_COLUMNS, [[row[c] for c in COMPARISON_COLUMNS] for row in rows])
    plot_model_comparison(figure, out / "comparison.png",
                          f"Held-out error with {minutes:g} CPU minutes of training per round")
    write_text(out / "comparison.json", json.dumps({
        "minutes_per_round": minutes,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "rows": rows,
    }, indent=2))
