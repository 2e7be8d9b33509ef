"""Model selection (paper section 5, Figs. 10 and 11): models 1, 2 and 3 on the pronotum.

:func:`select_models` runs one cross-validation experiment per model into
``<out>/model<k>/`` (resumable per round) and writes ``<out>/models.csv``
(``model,train_loss,valid_loss,mean_distance,trivial_distance``; the final
epoch's losses of the last round, held-out distances in pixels of the
256×192 frame), ``fig10_models_1_2.png`` and ``fig11_model3.png``.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from beetles.core.history import plot_loss_curves, read_losses
from beetles.formats.results import write_table
from beetles.paper import settings as paper
from beetles.studies.crossval import Budget, round_dir
from beetles.studies.experiment import ExperimentOptions, describe, experiment_from_options, run
from beetles.studies.outputs import report

#: Default budget of ``experiments/model_selection.py``: three models share
#: the 10–15 CPU minutes, so each sees fewer specimens.
MODEL_SELECTION_BUDGET = Budget(epochs=3, rounds=(1,), specimens=150)
#: The models compared, in the paper's order, and those of Figs. 10 and 11.
SELECTED_MODELS = ("1", "2", "3")
FIG10_MODELS, FIG11_MODELS = SELECTED_MODELS[:2], SELECTED_MODELS[2:]


def select_models(options: ExperimentOptions, log=print) -> list[list]:
    """Train models 1, 2 and 3 as ``options`` say (``options.model`` is not
    used); write ``models.csv`` and Figs. 10 and 11 into ``options.out``;
    returns the table's rows."""
    out = Path(options.out)
    rows, curves = [], {}
    for model in SELECTED_MODELS:
        experiment = experiment_from_options(replace(options, model=model, out=out / f"model{model}"),
                                             f"model{model}", "pronotum", paper.MAX_EPOCHS_SCRATCH,
                                             default_budget=MODEL_SELECTION_BUDGET)
        log(describe(experiment))
        summary = run(experiment)
        log(report(summary, experiment.info))
        curves[model] = read_losses(round_dir(experiment, experiment.chosen_rounds()[0]) / "losses.csv")
        last = summary.rounds[-1]
        rows.append([int(model), last.train_loss, last.valid_loss, summary.results.mean_distance_px,
                     summary.results.trivial_mean_distance_px])
    write_table(out / "models.csv", ["model", "train_loss", "valid_loss", "mean_distance", "trivial_distance"], rows)
    plot_loss_curves({f"model {k}": curves[k] for k in FIG10_MODELS}, out / "fig10_models_1_2.png",
                     "Models 1 and 2 (pronotum): loss per epoch")
    plot_loss_curves({f"model {k}": curves[k] for k in FIG11_MODELS}, out / "fig11_model3.png",
                     "Model 3 (pronotum): loss per epoch")
    log(f"wrote {out / 'models.csv'}, {out / 'fig10_models_1_2.png'}, {out / 'fig11_model3.png'}")
    return rows
