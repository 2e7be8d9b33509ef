"""Pre-training on pooled parts, and fine-tuning per part (paper section 7).

Pre-training: model 3 with 8 landmarks on the pronotum, elytra and head
together; each part contributes its first round's training specimens, seven-
fold augmented, and the elytra and head lose the landmarks listed in
:data:`beetles.paper.POOLING_DROPPED_LANDMARKS` so that every specimen has 8.
Fine-tuning: every layer's weights but the output's come from the pre-trained
net, a new output layer has 2 × the part's landmarks, and all layers (or all
but the first ``--freeze K``) train on the part's rounds with the published
fixed learning rate 0.01 and momentum 0.9.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from beetles import paper
from beetles.errors import RESUME_HINT, BeetlesError, DataError, exit_status
from beetles.evaluation import improvement_percent
from beetles.experiment import (
    Schedule,
    add_experiment_options,
    describe,
    experiment_from_args,
    load_experiment_data,
    report,
    run,
    stack_versions,
)
from beetles.engines import DEFAULT_ENGINE, add_engine_options, make_engine, save_params
from beetles.files import write_text
from beetles.preprocess import network_arrays
from beetles.reporting import landmark_table, plot_losses, plot_scratch_vs_finetune
from beetles.rounds import part_rounds
from beetles.specimen import PartData

POOLED_PARTS = ("pronotum", "elytra", "head")
POOLED_LANDMARKS = 8
PRETRAINED_FILE = "pretrained.pkl"
#: What fine-tuning loads by default, the first that exists: the Theano
#: engine's pickled net, the torch engine's whole net, the parameters alone.
PRETRAINED_CANDIDATES = (PRETRAINED_FILE, "pretrained.pt", "params.npz")
DEFAULT_PRETRAIN_OUT = "results/pretrain_pooled"
#: Default budget of the pooled pre-training on 2 CPU cores (README, "Default runs").
PRETRAIN_BUDGET = {"epochs": 6, "specimens": 100}
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
             engine: str = DEFAULT_ENGINE, device: str = "cpu") -> dict:
    """Pre-train on the pooled parts and write ``out/pretrained.pkl`` (the
    whole pickled net; ``pretrained.pt`` with the torch engine),
    ``params.npz``, ``losses.csv``, ``fig_losses.png`` and ``pretrain.json``.
    A finished pre-training with the same schedule, data and engine is not
    redone."""
    from beetles.training import EpochLog, read_losses

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(engine, device)
    whole = out / f"pretrained{engine.whole_suffix}"
    specimens = pooled_specimens(parts)
    key = {"schedule": schedule.key(), "images": [str(s.image) for s in specimens]}
    if engine.name != "theano":
        key["engine"] = engine.name
    record_path = out / "pretrain.json"
    if record_path.is_file() and whole.is_file():
        record = json.loads(record_path.read_text())
        if record.get("key") == key:
            print(f"pre-training finished earlier ({whole}), skipped", flush=True)
            return record
    started = time.perf_counter()
    X, y, _ = network_arrays(specimens, augment=True, progress=progress, desc="pooled images")
    log = EpochLog(out / "losses.csv", total=schedule.epochs, desc="pre-training epochs", progress=progress)
    net = engine.build(schedule.model, POOLED_LANDMARKS, schedule, on_epoch_finished=[log])
    try:
        engine.fit(net, X, y, seed=schedule.seed)
    finally:
        log.close()
    save_params(engine.params(net), out / "params.npz")
    engine.save_whole(net, whole)
    plot_losses(read_losses(out / "losses.csv"), out / "fig_losses.png", "Pooled pre-training: loss per epoch")
    last = net.train_history_[-1]
    record = {
        "key": key,
        "parts": {name: len(parts[name]) for name in POOLED_PARTS},
        "pooled_specimens": len(specimens),
        "train_samples": int(len(X)),
        "dropped_landmarks": {k: list(v) for k, v in paper.POOLING_DROPPED_LANDMARKS.items()},
        "schedule": dataclasses.asdict(schedule),
        "train_loss": float(last["train_loss"]),
        "valid_loss": float(last["valid_loss"]),
        "seconds": time.perf_counter() - started,
        "versions": stack_versions(),
        **engine.record(),
        "pretrained": str(whole),
    }
    write_text(record_path, json.dumps(record, indent=2))
    return record


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


def pretrain_main(argv=None) -> int:
    """The command line of ``experiments/pretrain_pooled.py``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="pretrain_pooled.py",
        description="Pre-train model 3 (8 landmarks) on the pronotum, elytra and head pooled (paper section 7).",
    )
    parser.add_argument("--data", default=None, help="dataset folder (default: the synthetic dataset)")
    parser.add_argument("--epochs", type=int, default=None, help=f"epochs (default {PRETRAIN_BUDGET['epochs']}; --paper: 10000)")
    parser.add_argument("--specimens", type=int, default=None,
                        help=f"first N specimens of each part (default {PRETRAIN_BUDGET['specimens']}; --paper: all)")
    parser.add_argument("--out", default=DEFAULT_PRETRAIN_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--paper", action="store_true", help="the paper's settings: all specimens, 10000 epochs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_engine_options(parser)
    args = parser.parse_args(argv)

    def body() -> int:
        engine = make_engine(args.engine, args.device)
        if args.paper and (args.epochs or args.specimens):
            raise BeetlesError("--paper cannot be combined with --epochs or --specimens")
        epochs = paper.MAX_EPOCHS_PRETRAIN if args.paper else args.epochs or PRETRAIN_BUDGET["epochs"]
        specimens = None if args.paper else args.specimens or PRETRAIN_BUDGET["specimens"]
        parts = {name: load_experiment_data(args.data, name, specimens, progress=not args.quiet) for name in POOLED_PARTS}
        schedule = Schedule(model=3, epochs=epochs)
        print(f"pretrain_pooled: engine {engine.describe()}, model 3, 8 landmarks, {epochs} epochs, parts "
              + ", ".join(f"{n} ({len(p)} specimens)" for n, p in parts.items()), flush=True)
        record = pretrain(parts, args.out, schedule, progress=not args.quiet, engine=args.engine, device=args.device)
        print(f"pretrain_pooled: {record['train_samples']} training samples, final train loss "
              f"{record['train_loss']:.5f}, valid loss {record['valid_loss']:.5f}; wrote {record['pretrained']}")
        return 0

    return exit_status("pretrain_pooled", body, "interrupted; rerun to start the pre-training again")


def finetune_main(part_name: str, argv=None) -> int:
    """The command line of ``experiments/<part>_finetune.py``."""
    import argparse

    name = f"{part_name}_finetune"
    parser = argparse.ArgumentParser(
        prog=f"{name}.py",
        description=f"Fine-tune the pooled pre-trained model 3 on the {part_name} (paper section 7): new output "
        "layer, all layers trained with learning rate 0.01 and momentum 0.9, the same rounds as from scratch.",
    )
    add_experiment_options(parser, f"results/{name}")
    parser.add_argument("--weights", default=None,
                        help="pre-trained weights from either engine: a pickled net (.pkl), a torch net (.pt) or "
                        f"params .npz (default: the first of {', '.join(PRETRAINED_CANDIDATES)} in {DEFAULT_PRETRAIN_OUT})")
    parser.add_argument("--scratch", default=f"results/{part_name}_scratch",
                        help="the part's from-scratch results, for comparison.csv and fig15.png (default: %(default)s)")
    parser.add_argument("--freeze", type=int, default=0, metavar="K", help="freeze the first K layers (default 0)")
    args = parser.parse_args(argv)
    return exit_status(name, lambda: _finetune(args, name, part_name), RESUME_HINT)


def _finetune(args, name: str, part_name: str) -> int:
    """Fine-tune on one part from parsed options; print the comparison."""
    if args.weights is None:
        candidates = [Path(DEFAULT_PRETRAIN_OUT) / name for name in PRETRAINED_CANDIDATES]
        weights = next((path for path in candidates if path.is_file()), candidates[0])
    else:
        weights = Path(args.weights)
    if not weights.is_file():
        raise BeetlesError(f"{weights}: pre-trained weights not found; run experiments/pretrain_pooled.py first")
    experiment = experiment_from_args(args, name, part_name, paper.MAX_EPOCHS_FINETUNE)
    experiment.schedule = dataclasses.replace(
        experiment.schedule, learning_rate=FINETUNE_LEARNING_RATE, momentum=FINETUNE_MOMENTUM
    )
    experiment.weights, experiment.freeze = weights, args.freeze
    print(describe(experiment) + f"\n  starting from {weights}, first {args.freeze} layer(s) frozen", flush=True)
    summary = run(experiment)
    comparison = compare_with_scratch(experiment.out, args.scratch, f"{part_name}: mean distance per landmark")
    print(report(summary))
    if comparison:
        summary["comparison"] = comparison
        write_text(experiment.out / "run.json", json.dumps(summary, indent=2))
        print(f"  from scratch {comparison['from_scratch_px']:.2f} px -> fine-tuned {comparison['fine_tune_px']:.2f} px: "
              f"{comparison['improvement_percent']:+.1f}% improvement of the mean distance per landmark")
    else:
        print(f"  no from-scratch results in {args.scratch}: no comparison.csv")
    return 0
