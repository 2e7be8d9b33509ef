"""Pre-training on pooled parts, and fine-tuning per part (paper section 7).

Pre-training: model 3 with 8 landmarks on the pronotum, elytra and head
together; each part contributes its first round's training specimens, seven-
fold augmented, and the elytra and head lose the landmarks listed in
:data:`beetles.paper.settings.POOLING_DROPPED_LANDMARKS` so that every
specimen has 8.  Fine-tuning: every layer's weights but the output's come
from the pre-trained net, a new output layer has 2 × the part's landmarks,
and all layers (or all but the first ``--freeze K``) train on the part's
rounds with the published fixed learning rate 0.01 and momentum 0.9.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beetles.core.errors import BeetlesError, DataError
from beetles.core.files import write_text
from beetles.core.history import EpochLog, plot_losses, read_losses
from beetles.core.metrics import improvement_percent
from beetles.core.specimen import PartData
from beetles.core.versions import stack_versions
from beetles.formats.results import landmark_table
from beetles.model import Schedule
from beetles.paper import settings as paper
from beetles.paper.checkpoint import CHECKPOINT_FILE, DEFAULT_MINUTES, Checkpointing
from beetles.paper.engines import make_engine
from beetles.paper.settings import part_rounds
from beetles.paper.weights import save_params
from beetles.registry import build_model, check_model, model_info
from beetles.studies.crossval import Budget
from beetles.studies.experiment import ExperimentOptions, describe, experiment_from_options, load_experiment_data, run
from beetles.studies.figures import plot_scratch_vs_finetune
from beetles.studies.outputs import RunSummary, report

POOLED_PARTS = ("pronotum", "elytra", "head")
#: The model pre-trained and fine-tuned (paper section 7).
PRETRAINED_MODEL = "3"
POOLED_LANDMARKS = 8
PRETRAINED_FILE = "pretrained.pkl"
#: What fine-tuning loads by default, the first that exists: the Theano
#: engine's pickled net, the torch engine's whole net, the parameters alone.
PRETRAINED_CANDIDATES = (PRETRAINED_FILE, "pretrained.pt", "params.npz")
DEFAULT_PRETRAIN_OUT = "results/pretrain_pooled"
#: Default budget of the pooled pre-training on 2 CPU cores (README, "Default runs").
PRETRAIN_BUDGET = Budget(epochs=6, specimens=100)
#: Fine-tuning schedule, published: fixed learning rate and momentum.
FINETUNE_LEARNING_RATE = (paper.FINETUNE_LEARNING_RATE, paper.FINETUNE_LEARNING_RATE)
FINETUNE_MOMENTUM = (paper.FINETUNE_MOMENTUM, paper.FINETUNE_MOMENTUM)


def drop_landmarks(landmarks, part_name: str) -> np.ndarray:
    """Remove the part's pooling landmarks: ``(..., n, 2)`` → ``(..., n - k, 2)``.

    Elytra lose 1, 6, 9 and head 5, 6 (1-based); other parts keep all.
    """
    landmarks = np.asarray(landmarks)
    dropped = [k - 1 for k in paper.POOLING_DROPPED_LANDMARKS.get(part_name, ())]
    return np.delete(landmarks, dropped, axis=-2)


def pooled_specimens(parts: dict[str, PartData]) -> list:
    """The pre-training specimens: each pooled part's first-round training
    specimens with 8 landmarks; a :class:`DataError` if any has another count."""
    pooled = []
    for name in POOLED_PARTS:
        if name not in parts:
            raise DataError(f"pre-training pools {', '.join(POOLED_PARTS)}: the {name} is missing")
        data = parts[name]
        first = part_rounds(name, len(data))[0]
        for index in first.train:
            specimen = data[index]
            kept = specimen.with_landmarks(drop_landmarks(specimen.landmarks, name))
            if kept.n_landmarks != POOLED_LANDMARKS:
                raise DataError(
                    f"{specimen.image} ({name}): {kept.n_landmarks} landmarks after dropping "
                    f"{paper.POOLING_DROPPED_LANDMARKS.get(name, ())}, pre-training needs {POOLED_LANDMARKS}"
                )
            pooled.append(kept)
    return pooled


def pretrain(parts: dict[str, PartData], out, schedule: Schedule, progress: bool = True,
             engine: str | None = None, device: str = "cpu", checkpoint=(None, DEFAULT_MINUTES)) -> dict:
    """Pre-train model 3 on the pooled parts and write ``out/pretrained.pkl``
    (the whole pickled net; ``pretrained.pt`` with the torch engine),
    ``params.npz``, ``losses.csv``, ``fig_losses.png`` and ``pretrain.json``
    (the returned record).  A finished pre-training with the same schedule,
    data and engine is not redone; an unfinished one resumes from
    ``out/checkpoint.npz``, written every ``checkpoint`` = ``(epochs,
    minutes)`` (:mod:`beetles.paper.checkpoint`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = model_info(schedule.model)  # model 3
    built_engine = make_engine(check_model(info, engine, device, schedule.minutes), device)
    whole = out / f"pretrained{built_engine.whole_suffix}"
    specimens = pooled_specimens(parts)
    key = {"schedule": schedule.key(), "images": [str(s.image) for s in specimens]}
    if built_engine.name != "theano":
        key["engine"] = built_engine.name
    record_path = out / "pretrain.json"
    if record_path.is_file() and whole.is_file():
        record = json.loads(record_path.read_text())
        if record.get("key") == key:
            print(f"pre-training finished earlier ({whole}), skipped", flush=True)
            return record
    started = time.perf_counter()
    model = build_model(info, POOLED_LANDMARKS, schedule, engine=engine, device=device)
    inputs = model.prepare(specimens, augment=True, progress=progress, desc="pooled images")
    log = EpochLog(out / "losses.csv", total=model.planned_epochs(schedule), desc="pre-training epochs",
                   progress=progress)
    saving = Checkpointing(out / CHECKPOINT_FILE, hashlib.sha1(json.dumps(key).encode()).hexdigest()[:12], *checkpoint)
    try:
        model.fit(inputs, listeners=[log], checkpoint=saving)
    finally:
        log.close()
    save_params(model.params(), out / "params.npz")
    model.save_whole(whole)
    plot_losses(read_losses(out / "losses.csv"), out / "fig_losses.png", "Pooled pre-training: loss per epoch")
    last = model.history[-1]
    record = {
        "key": key,
        "parts": {name: len(parts[name]) for name in POOLED_PARTS},
        "pooled_specimens": len(specimens),
        "train_samples": len(inputs),
        "dropped_landmarks": {k: list(v) for k, v in paper.POOLING_DROPPED_LANDMARKS.items()},
        "schedule": dataclasses.asdict(schedule),
        "train_loss": float(last.train_loss),
        "valid_loss": float(last.valid_loss),
        "seconds": time.perf_counter() - started,
        "versions": stack_versions(),
        **model.record(),
        "pretrained": str(whole),
    }
    write_text(record_path, json.dumps(record, indent=2))
    saving.remove()  # the pre-training's files hold what it held
    return record


def default_weights(folder=DEFAULT_PRETRAIN_OUT) -> Path:
    """The pre-trained weights fine-tuning starts from by default: the first
    of :data:`PRETRAINED_CANDIDATES` in ``folder`` that exists (else the first)."""
    candidates = [Path(folder) / name for name in PRETRAINED_CANDIDATES]
    return next((path for path in candidates if path.is_file()), candidates[0])


def compare_with_scratch(out, scratch_dir, title: str) -> dict | None:
    """If ``scratch_dir/distances.csv`` exists, write ``out/comparison.csv``
    (``landmark,from_scratch,fine_tune``) and ``out/fig15.png``; returns the
    means and the improvement in percent (``None`` without scratch results)."""
    out, scratch_dir = Path(out), Path(scratch_dir)
    if not (scratch_dir / "distances.csv").is_file():
        return None
    read = lambda path: np.genfromtxt(path, delimiter=",", names=True)["distance"]  # noqa: E731
    scratch, finetuned = np.atleast_1d(read(scratch_dir / "distances.csv")), np.atleast_1d(read(out / "distances.csv"))
    if len(scratch) != len(finetuned):
        raise DataError(f"{scratch_dir}: {len(scratch)} landmarks, but the fine-tuned run has {len(finetuned)}")
    landmark_table(out / "comparison.csv", {"from_scratch": scratch, "fine_tune": finetuned})
    plot_scratch_vs_finetune(scratch, finetuned, out / "fig15.png", title)
    return {
        "from_scratch_px": float(scratch.mean()),
        "fine_tune_px": float(finetuned.mean()),
        "improvement_percent": improvement_percent(scratch, finetuned),
        "scratch_results": str(scratch_dir),
    }


@dataclass
class PretrainOptions:
    """What ``experiments/pretrain_pooled.py`` is asked for: ``None`` for the
    default :data:`PRETRAIN_BUDGET`; ``paper``: all specimens, 10000 epochs."""

    out: Path = Path(DEFAULT_PRETRAIN_OUT)
    data: Path | None = None
    epochs: int | None = None
    specimens: int | None = None
    paper: bool = False
    progress: bool = True
    engine: str | None = None
    device: str = "cpu"
    checkpoint_epochs: int | None = None
    checkpoint_minutes: float | None = DEFAULT_MINUTES


def run_pretraining(options: PretrainOptions, log=print) -> dict:
    """Load the pooled parts and :func:`pretrain` as ``options`` say."""
    if options.paper and (options.epochs or options.specimens):
        raise BeetlesError("--paper cannot be combined with --epochs or --specimens")
    engine = make_engine(check_model(PRETRAINED_MODEL, options.engine, options.device), options.device)
    epochs = paper.MAX_EPOCHS_PRETRAIN if options.paper else options.epochs or PRETRAIN_BUDGET.epochs
    specimens = None if options.paper else options.specimens or PRETRAIN_BUDGET.specimens
    parts = {name: load_experiment_data(options.data, name, specimens, progress=options.progress)
             for name in POOLED_PARTS}
    schedule = model_info(PRETRAINED_MODEL).schedule(epochs=epochs)
    log(f"pretrain_pooled: engine {engine.describe()}, model 3, 8 landmarks, {epochs} epochs, parts "
        + ", ".join(f"{n} ({len(p)} specimens)" for n, p in parts.items()))
    record = pretrain(parts, options.out, schedule, progress=options.progress, engine=options.engine,
                      device=options.device, checkpoint=(options.checkpoint_epochs, options.checkpoint_minutes))
    log(f"pretrain_pooled: {record['train_samples']} training samples, final train loss "
        f"{record['train_loss']:.5f}, valid loss {record['valid_loss']:.5f}; wrote {record['pretrained']}")
    return record


def run_finetuning(options: ExperimentOptions, part_name: str, weights=None, scratch=None, freeze: int = 0,
                   log=print) -> RunSummary:
    """Fine-tune the pre-trained model 3 on ``part_name`` (the published
    fixed learning rate and momentum, the part's rounds), from ``weights``
    (default: :func:`default_weights`) with ``freeze`` layers frozen; compare
    with the from-scratch results in ``scratch`` when they exist."""
    weights = Path(weights) if weights is not None else default_weights()
    if not weights.is_file():
        raise BeetlesError(f"{weights}: pre-trained weights not found; run experiments/pretrain_pooled.py first")
    experiment = experiment_from_options(options, f"{part_name}_finetune", part_name, paper.MAX_EPOCHS_FINETUNE)
    experiment.schedule = dataclasses.replace(experiment.schedule, learning_rate=FINETUNE_LEARNING_RATE,
                                              momentum=FINETUNE_MOMENTUM)
    experiment.weights, experiment.freeze = weights, freeze
    log(describe(experiment) + f"\n  starting from {weights}, first {freeze} layer(s) frozen")
    summary = run(experiment)
    scratch = Path(scratch) if scratch is not None else Path(f"results/{part_name}_scratch")
    comparison = compare_with_scratch(experiment.out, scratch, f"{part_name}: mean distance per landmark")
    log(report(summary, experiment.info))
    if comparison:
        summary.notes["comparison"] = comparison
        summary.write(experiment.out)
        log(f"  from scratch {comparison['from_scratch_px']:.2f} px -> fine-tuned {comparison['fine_tune_px']:.2f} "
            f"px: {comparison['improvement_percent']:+.1f}% improvement of the mean distance per landmark")
    else:
        log(f"  no from-scratch results in {scratch}: no comparison.csv")
    return summary
