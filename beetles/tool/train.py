"""``beetles train``: a folder of landmarked photos → a model folder.

:func:`train` loads the photos (:mod:`beetles.tool.inputs`), holds a seeded
share out for validation, trains any registered model on the rest
(:mod:`beetles.registry`; the compact models read photos of any size and
aspect ratio letterboxed, the paper's models 4:3 photos as the paper did),
validates it on the held-out photos exactly as ``beetles predict`` would
place their landmarks (:mod:`beetles.tool.validate`), and writes the model
folder (:mod:`beetles.tool.modelfolder`).  :mod:`beetles.cli` only parses
the options into a :class:`TrainSettings`.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from beetles.core.calibration import CALIBRATION_JSON
from beetles.core.errors import BeetlesError
from beetles.core.files import write_text
from beetles.core.history import EpochLog, plot_losses, read_losses
from beetles.core.locks import held
from beetles.model import FINE_TUNE_SHARE, Inputs
from beetles.registry import DEFAULT_MODEL, build_model, check_model, model_info
from beetles.tool.inputs import DEFAULT_SEED, DEFAULT_VALIDATION, load_training_data, split_specimens
from beetles.tool.modelfolder import (
    SETTINGS_JSON,
    check_out,
    load_folder,
    publish,
    read_settings,
    settings_record,
    staging_folder,
)
from beetles.tool.validate import summary_lines, validate, write_validation


@dataclass
class TrainSettings:
    """What ``beetles train`` is asked for.

    ``data``: a part folder (``images/`` + ``landmarks.tps``); ``landmarks``:
    a TPS or long CSV naming the photos instead, or ``out``: the model folder;
    several such files, later ones replacing earlier ones' landmarks of a
    photo (a file written by ``beetles review``: only its photos reviewed);
    ``model``: a registered model's name (``None``: the default, or
    ``parent``'s); ``parent``: a model folder to start from (``--from``:
    its weights, a third of the default budget); ``epochs`` and
    ``minutes``: the budget (``None``: the model's default); ``engine``
    (``None``: the model's) and ``device``; ``validation``: the share held
    out; ``force``: replace a model already in ``out``; ``command``:
    recorded in ``settings.json`` (default: this process's command line);
    ``names``: a file naming the landmarks, one per line (kept in
    ``settings.json``); ``negatives``: what a negative coordinate means
    (:data:`beetles.formats.tps.NEGATIVES`)."""

    out: Path
    data: Path | None = None
    landmarks: Path | list | None = None
    model: str | None = None
    parent: Path | None = None
    epochs: int | None = None
    minutes: float | None = None
    engine: str | None = None
    device: str = "cpu"
    validation: float = DEFAULT_VALIDATION
    seed: int = DEFAULT_SEED
    progress: bool = True
    force: bool = False
    command: str | None = None
    names: Path | None = None
    negatives: str = "auto"


def check_settings(run: TrainSettings):
    """The model's :class:`~beetles.registry.ModelInfo` and engine, or a
    :class:`BeetlesError` for settings that cannot work (before any photo is read)."""
    name = run.model or DEFAULT_MODEL
    if run.parent is not None:
        parent = read_settings(run.parent)
        name = str(parent.get("model"))
        if run.model is not None and run.model != name:
            raise BeetlesError(f"--model {run.model}: {run.parent} holds a '{name}' model, and --from continues "
                               "the same model; drop --model (or --from to train another from scratch)")
        if Path(run.parent).resolve() == Path(run.out).resolve():
            raise BeetlesError(f"--out {run.out}: is the --from model folder; give another, so the earlier model "
                               "is kept")
    try:
        info = model_info(name)
    except ValueError as error:
        raise BeetlesError(str(error)) from None
    if run.epochs is not None and run.epochs < 1:
        raise BeetlesError(f"--epochs {run.epochs}: give at least 1")
    if run.minutes is not None and run.minutes <= 0:
        raise BeetlesError(f"--minutes {run.minutes:g}: give a positive budget")
    if info.needs_budget and run.epochs is None and run.minutes is None:
        raise BeetlesError(
            f"--model {info.name}: the paper's models have no sensible CPU default (the paper trained 5000 epochs, "
            f"days on a CPU): give --epochs N or --minutes M, or use the default model, {DEFAULT_MODEL}")
    if not 0 <= run.validation < 1:
        raise BeetlesError(f"--validation {run.validation:g}: give a fraction in [0, 1), e.g. 0.1")
    return info, check_model(info, run.engine, run.device, run.minutes)


def train(run: TrainSettings, log=print) -> dict:
    """Train the model ``run`` asks for and write its model folder (see
    :mod:`beetles.tool.modelfolder`: filled beside ``out`` and put in place
    whole at the end, under ``out``'s lock, so a second training into the
    same folder is refused and a killed one leaves the old model).  Returns
    the validation summary (``validation.json``) with ``settings`` added.
    ``log`` prints the lines a user reads."""
    started = time.perf_counter()
    info, engine = check_settings(run)
    out = Path(run.out)
    with held(out, "training a model into it"):
        check_out(out, run.force, log)
        part = load_training_data(run.data, run.landmarks, log=log, names=run.names, negatives=run.negatives)
        staged = staging_folder(out)
        try:
            summary, settings, calibration = _train_into(staged, run, info, engine, part, started, log)
            publish(staged, out)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    for line in summary_lines(summary):
        log(line)
    log(f"model folder: {out} ({info.weights_file}, {SETTINGS_JSON}, losses.csv, fig_losses.png, validation.csv, "
        f"validation.json{', ' + CALIBRATION_JSON if calibration is not None else ''})")
    return {**summary, "settings": settings}


def _train_into(folder: Path, run: TrainSettings, info, engine, part, started: float, log):
    """Train on ``part`` and write every file of the model folder into
    ``folder`` (``settings.json`` last): ``(summary, settings, calibration)``."""
    train_index, valid_index = split_specimens(len(part), run.validation, run.seed)
    training = [part[i] for i in train_index]
    held_out = [part[i] for i in valid_index]
    log(f"beetles train: model {info.name}, {part.n_landmarks} landmarks, {len(part)} specimens "
        f"({len(training)} to train, {len(held_out)} held out for validation), engine {engine} on {run.device}")
    schedule = info.schedule(epochs=run.epochs, minutes=run.minutes, seed=run.seed)
    model = build_model(info, part.n_landmarks, schedule, engine=engine, device=run.device)
    if run.parent is not None:
        share = FINE_TUNE_SHARE if run.epochs is None and run.minutes is None else 1.0
        model.start_from(load_folder(run.parent), share)
        log(f"starting from {run.parent} (its weights" + (f"; {share:.0%} of the default budget)" if share < 1 else ")"))
    model.check_specimens(training + held_out)
    train_inputs = model.prepare(training, augment=True, letterbox=True, progress=run.progress,
                                 desc="training photos")
    valid_inputs = model.prepare(held_out, letterbox=True, progress=run.progress,
                                 desc="validation photos") if held_out else Inputs.empty()
    epoch_log = EpochLog(folder / "losses.csv", total=model.planned_epochs(model.schedule, train_inputs),
                         desc="epochs", progress=run.progress)
    try:
        model.fit(train_inputs, valid_inputs, listeners=[epoch_log])
    finally:
        epoch_log.close()
    weights = folder / info.weights_file
    model.save(weights)
    title = f"model {info.name}: loss per epoch" + (f" ({', then '.join(info.stages)})" if len(info.stages) > 1
                                                      else "")
    plot_losses(read_losses(folder / "losses.csv"), folder / "fig_losses.png", title)
    summary, calibration = validate(model, training, held_out)
    write_validation(folder, summary)
    if calibration is not None:
        calibration.write(folder / CALIBRATION_JSON)
    settings = settings_record(run, part, model, training, held_out, time.perf_counter() - started, weights)
    write_text(folder / SETTINGS_JSON, json.dumps(settings, indent=2, ensure_ascii=False) + "\n")
    return summary, settings, calibration
