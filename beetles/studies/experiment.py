"""Running a cross-validation experiment, and the data it runs on.

:func:`run` trains (or resumes) every chosen round of an
:class:`~beetles.studies.crossval.Experiment` and gathers them
(:func:`beetles.studies.outputs.write_outputs`); :func:`load_experiment_data`
loads a part (the synthetic beetles by default); :func:`describe` says what
is about to run.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from beetles.core.errors import BeetlesError, DataError
from beetles.core.specimen import PartData
from beetles.model import Schedule
from beetles.paper.checkpoint import DEFAULT_MINUTES
from beetles.paper.engines import make_engine
from beetles.registry import DEFAULT_PAPER_MODEL, check_model, model_info
from beetles.studies.crossval import DEFAULT_BUDGET, Budget, Experiment, finished_round, train_round
from beetles.studies.outputs import RunSummary, write_outputs


def run(experiment: Experiment) -> RunSummary:
    """Run (or resume) every chosen round, then write the outputs; returns
    the :class:`~beetles.studies.outputs.RunSummary` that ``run.json`` records."""
    experiment.out.mkdir(parents=True, exist_ok=True)
    rounds = experiment.chosen_rounds()
    records = {}
    for round_ in rounds:
        record = finished_round(experiment, round_)
        if record is not None:
            tqdm.write(f"round {round_.number}: finished earlier, skipped")
            records[round_.number] = record
    todo = [r for r in rounds if r.number not in records]
    if todo and (experiment.workers > 1 or experiment.ray is not None):
        from beetles.studies.parallel import train_rounds

        records.update(zip([r.number for r in todo], train_rounds(experiment, todo, log=tqdm.write)))
    else:
        for round_ in tqdm(todo, desc=f"{experiment.name} rounds", unit="round", disable=not experiment.progress):
            record = train_round(experiment, round_)
            tqdm.write(f"round {round_.number}: train loss {record.train_loss:.5f}, valid loss "
                       f"{record.valid_loss:.5f}, {record.seconds / 60:.1f} min")
            records[round_.number] = record
    return write_outputs(experiment, rounds, [records[r.number] for r in rounds])


def load_experiment_data(data, part_name: str, specimens: int | None = None, progress: bool = True) -> PartData:
    """The part's data: ``data/<part>/`` (or ``data`` itself if it is a part
    folder), or the synthetic default dataset when ``data`` is ``None``;
    only the first ``specimens`` when given."""
    from beetles.formats.dataset import load_part

    if data is None:
        from beetles.synth.dataset import default_dataset

        folder = Path(default_dataset(parts=[part_name], progress=progress)) / part_name
    else:
        data = Path(data)
        folder = data / part_name if (data / part_name).is_dir() else data
    part_data = load_part(folder, name=part_name)
    if specimens is not None:
        if specimens < 2:
            raise DataError(f"--specimens {specimens}: cross-validation needs at least 2")
        part_data = part_data[: min(specimens, len(part_data))]
    return part_data


def budget_text(schedule: Schedule) -> str:
    """``"6 epochs"``, ``"15 min"`` or ``"at most 60 epochs or 15 min"``."""
    parts = []
    if schedule.epochs is not None and not (schedule.minutes is not None and schedule.epochs >= 1000):
        parts.append(f"{schedule.epochs} epochs")
    if schedule.minutes is not None:
        parts.append(f"{schedule.minutes:g} min")
    return ("at most " + " or ".join(parts)) if len(parts) > 1 else parts[0]


def describe(experiment: Experiment) -> str:
    """The lines printed when an experiment starts."""
    rounds = experiment.chosen_rounds()
    total = len(experiment.all_rounds())
    s = experiment.schedule
    engine = make_engine(experiment.engine_name(), experiment.device)
    return (
        f"{experiment.name}: engine {engine.describe()}, model {s.model}, {experiment.data.n_landmarks} landmarks, "
        f"{len(experiment.data)} specimens from {experiment.data.folder}\n"
        f"  rounds {[r.number for r in rounds]} of {total}, {budget_text(s)} each, "
        f"learning rate {s.learning_rate[0]:g}→{s.learning_rate[1]:g}, momentum {s.momentum[0]:g}→{s.momentum[1]:g}, "
        f"batch {s.batch_size}; output {experiment.out}"
    )


@dataclass
class ExperimentOptions:
    """What an experiment script was asked for (its command line, typed).

    ``data``: the dataset folder (``None``: the synthetic beetles);
    ``epochs``, ``rounds`` (1-based), ``specimens``, ``minutes``: ``None``
    for the script's default :class:`~beetles.studies.crossval.Budget`;
    ``paper``: exactly the paper's settings (all rounds and specimens, the
    paper's epochs); ``model``: a registered model's name;
    ``checkpoint_epochs`` / ``checkpoint_minutes``: how often a round
    checkpoints (:mod:`beetles.paper.checkpoint`); ``workers`` / ``ray``:
    rounds at once, or on a Ray cluster (:mod:`beetles.studies.parallel`)."""

    out: Path
    data: Path | None = None
    epochs: int | None = None
    rounds: list[int] | None = None
    specimens: int | None = None
    model: str = DEFAULT_PAPER_MODEL
    minutes: float | None = None
    paper: bool = False
    save_net: bool = False
    progress: bool = True
    engine: str | None = None
    device: str = "cpu"
    checkpoint_epochs: int | None = None
    checkpoint_minutes: float | None = DEFAULT_MINUTES
    workers: int = 1
    ray: str | None = None


def experiment_from_options(options: ExperimentOptions, name: str, part_name: str, paper_epochs: int,
                            default_budget: Budget = DEFAULT_BUDGET) -> Experiment:
    """The :class:`~beetles.studies.crossval.Experiment` ``name`` on
    ``part_name`` that ``options`` ask for: ``--paper`` runs ``paper_epochs``
    on every round and specimen, otherwise ``default_budget`` fills what
    the options leave out.  The model, engine, device and budget are checked
    before the data are read."""
    if options.paper and any(v is not None for v in (options.epochs, options.rounds, options.specimens)):
        raise BeetlesError("--paper runs the paper's settings: it cannot be combined with --epochs, --rounds or "
                           "--specimens")
    info = model_info(options.model)
    check_model(info, options.engine, options.device, options.minutes)  # fails before the data load
    budget = Budget(epochs=paper_epochs) if options.paper else default_budget
    data = load_experiment_data(options.data, part_name, options.specimens or budget.specimens,
                                progress=options.progress)
    rounds = options.rounds if options.rounds is not None else (list(budget.rounds) if budget.rounds else None)
    epochs = options.epochs
    if epochs is None and info.needs_budget and (options.minutes is None or options.paper):
        epochs = budget.epochs  # the compact models have a CPU default of their own
    return Experiment(
        name=name, data=data, out=Path(options.out), schedule=info.schedule(epochs=epochs, minutes=options.minutes),
        rounds=rounds, save_net=options.save_net, progress=options.progress,
        notes={"paper_settings": bool(options.paper), "synthetic_data": options.data is None},
        engine=options.engine, device=options.device, checkpoint_epochs=options.checkpoint_epochs,
        checkpoint_minutes=options.checkpoint_minutes, workers=options.workers, ray=options.ray,
    )
