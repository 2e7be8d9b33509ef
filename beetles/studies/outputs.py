"""An experiment's outputs: every finished round gathered into the paper's tables and figures.

:func:`write_outputs` writes into the experiment's folder:

``table01_losses.csv``   ``round,train_loss,valid_loss`` (final epoch; Tables 1, 5, 7, 9)
``learning_curves.csv``  every round's every epoch: ``round`` and the columns of ``losses.csv``
                         (:data:`~beetles.core.history.LOSS_COLUMNS`, with ``held_out_px``,
                         and the round's ``trivial_px``)
``distances.csv``        ``landmark,distance`` over held-out specimens (Tables 3, 4)
``spread.csv``           ``landmark,mean_spread`` (models that measure a spread)
``predictions.tps``      held-out predictions, photo frame, y up
``predictions.csv``      ``image,landmark,x_manual,y_manual,x_pred,y_pred``, 256×192, y down
``fig_losses_round<k>.png``, ``fig12_landmark1.png``, ``fig13_test_images.png``
``run.json``             :class:`RunSummary`: settings, engine and device, versions, seed, results, rounds

Distances are in pixels of the 256×192 network frame, next to the trivial
predictor's (the training specimens' mean shape, per round).
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from beetles.core.files import write_text
from beetles.core.frames import NETWORK, rescale
from beetles.core.history import LOSS_COLUMNS, plot_losses, read_losses
from beetles.core.metrics import mean_distances, spread_summary, trivial_predictor_distances
from beetles.core.versions import stack_versions
from beetles.formats.landmark_csv import read_landmark_values
from beetles.formats.published import read_paired_csv, write_paired_csv
from beetles.formats.results import landmark_table, write_table
from beetles.formats.tps import write_tps
from beetles.paper.engines import make_engine
from beetles.studies.crossval import SPREAD_COLUMN, Experiment, RoundRecord, round_dir
from beetles.studies.figures import plot_distance_histogram, plot_test_images


@dataclass
class Results:
    """An experiment's held-out error (pixels, 256×192): the model's mean
    distance per landmark, the trivial predictor's, their ratio, and for
    models with a spread how well it ranks the errors
    (:func:`beetles.core.metrics.spread_summary`)."""

    mean_distance_px: float
    trivial_mean_distance_px: float
    ratio_to_trivial: float
    confidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The ``results`` entry of ``run.json``."""
        return {"mean_distance_px": self.mean_distance_px, "trivial_mean_distance_px": self.trivial_mean_distance_px,
                "ratio_to_trivial": self.ratio_to_trivial, **self.confidence}


@dataclass
class RunSummary:
    """What ``run.json`` records of an experiment (:meth:`to_json`)."""

    experiment: str
    part: str
    data: str | None
    specimens: int
    landmarks: int
    engine: dict
    schedule: dict
    weights: str | None
    frozen_layers: int
    rounds_run: list[int]
    rounds_total: int
    held_out_specimens: int
    versions: dict
    command: str
    results: Results
    rounds: list[RoundRecord]
    notes: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """``run.json``'s content, in its key order."""
        head = {key: getattr(self, key) for key in ("experiment", "part", "data", "specimens", "landmarks")}
        middle = {key: getattr(self, key) for key in ("schedule", "weights", "frozen_layers", "rounds_run",
                                                      "rounds_total", "held_out_specimens", "versions", "command")}
        return {**head, **self.engine, **middle, "results": self.results.to_json(),
                "rounds": [asdict(record) for record in self.rounds], **self.notes}

    def write(self, folder) -> Path:
        """Write ``folder/run.json``, atomically."""
        return write_text(Path(folder) / "run.json", json.dumps(self.to_json(), indent=2))


def _digits(value) -> str:
    """A learning-curve cell: 8 significant digits (losses reach 1e-4), empty for nan."""
    value = float(value)
    return "" if np.isnan(value) else f"{value:.8g}"


def write_outputs(experiment: Experiment, rounds, records: list[RoundRecord]) -> RunSummary:
    """Gather the finished rounds into the experiment's tables and figures."""
    out, data = experiment.out, experiment.data
    write_table(out / "table01_losses.csv", ["round", "train_loss", "valid_loss"],
                [[r.round, r.train_loss, r.valid_loss] for r in records])
    manual, predicted, tested, trivial, curves = [], [], [], [], []
    for round_ in rounds:
        paired = read_paired_csv(round_dir(experiment, round_) / "predictions.csv")
        manual.append(paired.manual)
        predicted.append(paired.predicted)
        tested.extend(int(i) for i in round_.test)
        train = np.stack([data[i].in_frame(NETWORK).landmarks for i in round_.train])
        trivial.append((len(round_.test), trivial_predictor_distances(train, paired.manual)))
        losses, trivial_px = np.atleast_1d(read_losses(round_dir(experiment, round_) / "losses.csv")), \
            float(np.nanmean(trivial[-1][1]))
        plot_losses(losses, out / f"fig_losses_round{round_.number}.png",
                    f"{experiment.name}, round {round_.number}: loss per epoch", trivial=trivial_px)
        names = losses.dtype.names or ()  # files written before held_out_px: nan there
        curves += [[round_.number, *(_digits(row[n]) if n in names else "" for n in LOSS_COLUMNS),
                    _digits(trivial_px)] for row in losses]
    write_table(out / "learning_curves.csv", ["round", *LOSS_COLUMNS, "trivial_px"], curves)
    manual, predicted = np.concatenate(manual), np.concatenate(predicted)
    distances = mean_distances(manual, predicted)
    spread_files = [round_dir(experiment, r) / "spread.csv" for r in rounds]
    confidence = {}
    if all(path.is_file() for path in spread_files):
        spread = np.concatenate([np.stack(list(read_landmark_values(path, [SPREAD_COLUMN]).values()))[..., 0]
                                 for path in spread_files])
        confidence = spread_summary(spread, np.linalg.norm(manual - predicted, axis=2))
        landmark_table(out / "spread.csv", {"mean_spread": np.nanmean(spread, axis=0)})
    trivial_means = sum(n * d for n, d in trivial) / sum(n for n, _ in trivial)
    landmark_table(out / "distances.csv", {"distance": distances})
    specimens = [data[i].with_landmarks(rescale(p, NETWORK, data[i].frame)) for i, p in zip(tested, predicted)]
    write_tps(out / "predictions.tps", specimens)
    write_paired_csv(out / "predictions.csv", [data[i].name for i in tested], manual, predicted)
    plot_distance_histogram(np.linalg.norm(manual - predicted, axis=2)[:, 0], out / "fig12_landmark1.png",
                            f"{experiment.name}: landmark 1, held-out specimens")
    plot_test_images([data[i] for i in tested[:6]], manual[:6], predicted[:6], out / "fig13_test_images.png")
    summary = RunSummary(
        experiment=experiment.name, part=data.name, data=str(data.folder) if data.folder else None,
        specimens=len(data), landmarks=data.n_landmarks,
        engine=make_engine(experiment.engine_name(), experiment.device).record(),
        schedule=asdict(experiment.schedule), weights=str(experiment.weights) if experiment.weights else None,
        frozen_layers=experiment.freeze, rounds_run=[r.number for r in rounds],
        rounds_total=len(experiment.all_rounds()), held_out_specimens=len(tested), versions=stack_versions(),
        command=" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        results=Results(float(np.mean(distances)), float(np.mean(trivial_means)),
                        float(np.mean(distances) / np.mean(trivial_means)), confidence),
        rounds=list(records), notes=dict(experiment.notes),
    )
    summary.write(out)
    return summary


def report(summary: RunSummary, info) -> str:
    """The closing lines: the model's error next to the trivial predictor's;
    ``info`` is the model's :class:`~beetles.registry.ModelInfo`."""
    r = summary.results
    lines = [
        f"{summary.experiment}: {summary.held_out_specimens} held-out specimens in rounds {summary.rounds_run}",
        f"  mean distance per landmark: model {r.mean_distance_px:.2f} px, "
        f"trivial mean-shape predictor {r.trivial_mean_distance_px:.2f} px, ratio {r.ratio_to_trivial:.2f}",
    ]
    if r.confidence.get("spread_error_spearman") is not None:
        per_specimen = r.confidence.get("spread_error_spearman_per_specimen")
        lines.append(f"  per-landmark spread {r.confidence['mean_spread_px']:.2f} px on average; rank correlation "
                     f"with the error {r.confidence['spread_error_spearman']:.2f} (landmarks)"
                     + (f", {per_specimen:.2f} (specimens)" if per_specimen is not None else ""))
    if r.ratio_to_trivial >= 1:
        lines.append(f"  The model has not learned past the trivial predictor in this budget: {info.undertrained_hint}")
    return "\n".join(lines)
