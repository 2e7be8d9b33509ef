"""Cross-validation experiments: train per round, predict the held-out
specimens, and write the paper's tables and figures.

One experiment = one part, one model, a schedule, and a set of rounds.  Each
round's files live in ``<out>/rounds/roundNN/`` and are written atomically;
``round.json`` is written last, so a round with a ``round.json`` whose
settings match is finished and a rerun skips it (resume after Ctrl-C or a
crash).  After the rounds, :func:`write_outputs` gathers every finished
round into the output folder:

``table01_losses.csv``   ``round,train_loss,valid_loss`` (final epoch; Tables 1, 5, 7, 9)
``distances.csv``        ``landmark,distance`` over held-out specimens (Tables 3, 4)
``predictions.tps``      held-out predictions, photo frame, y up
``predictions.csv``      ``image,landmark,x_manual,y_manual,x_pred,y_pred``, 256×192, y down
``fig_losses_round<k>.png``, ``fig12_landmark1.png``, ``fig13_test_images.png``
``run.json``             settings, engine and device, versions, seed, results, seconds per round

Training runs on an engine (:mod:`beetles.engines`): ``theano``, the paper's
stack and the default, or ``torch``, the same networks in PyTorch on the CPU
or a CUDA GPU (``--engine``, ``--device``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from beetles import paper
from beetles.engines import add_engine_options, make_engine, resolve_engine, save_params
from beetles.errors import RESUME_HINT, BeetlesError, DataError, exit_status
from beetles.evaluation import mean_distances, trivial_predictor_distances
from beetles.files import write_text
from beetles.formats.published import read_paired_csv, write_paired_csv
from beetles.formats.tps import write_tps
from beetles.frames import NETWORK, denormalise, rescale
from beetles.reporting import landmark_table, plot_distance_histogram, plot_losses, plot_test_images, write_table
from beetles.rounds import Round, part_rounds
from beetles.specimen import PartData


@dataclass
class Schedule:
    """What training does: the paper's values unless stated otherwise."""

    model: int | str = 3
    epochs: int | None = paper.MAX_EPOCHS_SCRATCH
    learning_rate: tuple = paper.LEARNING_RATE
    momentum: tuple = paper.MOMENTUM
    batch_size: int = paper.BATCH_SIZE
    validation_folds: int = paper.VALIDATION_FOLDS
    seed: int = paper.SHUFFLE_SEED
    #: A wall-clock budget per round (minutes): training stops when it is
    #: spent (models 1-3 on the torch engine, and the compact models).
    minutes: float | None = None

    @classmethod
    def for_model(cls, model, epochs: int | None = None, minutes: float | None = None) -> "Schedule":
        """The paper's schedule for models 1-3, the compact models' own
        (:data:`beetles.models.COMPACT_SCHEDULE`) for ``heatmap``/``regress``;
        ``epochs`` and ``minutes`` replace the defaults when given."""
        from beetles.models import COMPACT_SCHEDULE, is_compact_model

        if is_compact_model(model):
            fields = dict(COMPACT_SCHEDULE)
            if epochs is not None or minutes is not None:
                fields["epochs"] = epochs
            return cls(model=model, minutes=minutes, **fields)
        return cls(model=model, epochs=epochs or paper.MAX_EPOCHS_SCRATCH, minutes=minutes)

    def key(self) -> str:
        """A short hash of the schedule: rounds trained otherwise are not reused."""
        fields = dataclasses.asdict(self)
        if fields["minutes"] is None:
            del fields["minutes"]  # the keys of runs made before the field existed
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass
class Experiment:
    """One part's cross-validation experiment.

    ``rounds`` are 1-based round numbers to run (``None``: all); ``data``
    the loaded part; ``out`` the output folder; ``save_net`` also pickles
    each round's whole net (``net.pkl``, a ``NeuralNet``, ≈0.7 GB for model 3;
    ``net.pt`` with the torch engine) beside its parameters-only
    ``params.npz``.  ``engine`` (``"theano"`` or ``"torch"``) and ``device``
    (``"cpu"`` or ``"cuda"``) choose what trains (:mod:`beetles.engines`).  For fine-tuning, ``weights`` names
    pre-trained weights (a pickled net or ``.npz``) loaded into every layer
    but the output, which starts new, and ``freeze`` freezes that many
    layers after the input.
    """

    name: str
    data: PartData
    out: Path
    schedule: Schedule = field(default_factory=Schedule)
    rounds: list[int] | None = None
    save_net: bool = False
    progress: bool = True
    notes: dict = field(default_factory=dict)
    weights: Path | None = None
    freeze: int = 0
    engine: str | None = None
    device: str = "cpu"

    def engine_name(self) -> str:
        """``engine``, or the model's default engine when it is ``None``
        (:func:`beetles.engines.resolve_engine`)."""
        return resolve_engine(self.engine, self.schedule.model)

    def key(self) -> str:
        """What a finished round must match to be reused: the schedule, the
        starting weights, the frozen layers and the engine (not the device:
        both compute the same).  Theano's keys are those of the runs made
        before the torch engine existed, so those rounds are still reused."""
        weights = None
        if self.weights is not None:
            stat = Path(self.weights).stat()
            weights = [str(Path(self.weights).resolve()), stat.st_size, int(stat.st_mtime)]
        parts = [self.schedule.key(), weights, self.freeze]
        if self.engine_name() != "theano":
            parts.append(self.engine_name())
        text = json.dumps(parts)
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def make_engine(self):
        """The engine this experiment trains on (:func:`beetles.engines.make_engine`)."""
        return make_engine(self.engine, self.device, model=self.schedule.model)

    def all_rounds(self) -> list[Round]:
        """The paper's rounds over this data (contiguous test blocks)."""
        try:
            if self.data.name in paper.PARTS:
                return part_rounds(self.data.name, len(self.data))
            return part_rounds_generic(len(self.data))
        except ValueError as error:
            raise DataError(f"{self.data.folder or self.data.name}: {error}") from None

    def chosen_rounds(self) -> list[Round]:
        """The rounds this run trains, checked against the data."""
        rounds = self.all_rounds()
        if self.rounds is None:
            return rounds
        bad = [k for k in self.rounds if not 1 <= k <= len(rounds)]
        if bad:
            raise BeetlesError(f"round(s) {bad} do not exist: {len(self.data)} specimens give {len(rounds)} rounds")
        return [rounds[k - 1] for k in self.rounds]


def part_rounds_generic(n: int) -> list[Round]:
    """Rounds for a part the paper does not have: 9 rounds (as the paper's
    293-specimen parts), fewer for small data."""
    from beetles.rounds import make_rounds

    if n < 2:
        raise DataError(f"{n} specimen(s): cross-validation needs at least 2")
    return make_rounds(n, n_rounds=min(9, n))


def round_dir(experiment: Experiment, round_: Round) -> Path:
    """``<out>/rounds/roundNN``."""
    return experiment.out / "rounds" / f"round{round_.number:02d}"


def finished_round(experiment: Experiment, round_: Round) -> dict | None:
    """The round's ``round.json`` if it finished with the same schedule and
    test specimens, else ``None``."""
    path = round_dir(experiment, round_) / "round.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    test = [experiment.data[i].name for i in round_.test]
    if record.get("key") != experiment.key() or record.get("test_images") != test:
        return None
    return record


def train_round(experiment: Experiment, round_: Round) -> dict:
    """Train one round on its training images (seven-fold augmented), from
    scratch or from ``experiment.weights``; predict its test images, and
    write the round's files."""
    from beetles.training import EpochLog

    started = time.perf_counter()
    engine = experiment.make_engine()
    folder = round_dir(experiment, round_)
    folder.mkdir(parents=True, exist_ok=True)
    schedule = experiment.schedule
    (X, y, _), (X_test, _, source_test) = engine.round_arrays(experiment.data.specimens, round_,
                                                              progress=experiment.progress)
    log = EpochLog(folder / "losses.csv", total=schedule.epochs, desc=f"round {round_.number} epochs", progress=experiment.progress)
    net = engine.build(schedule.model, experiment.data.n_landmarks, schedule, on_epoch_finished=[log])
    if experiment.weights is not None:
        engine.freeze(net, experiment.freeze)
        engine.load_params(net, experiment.weights, skip_layers=("output",))
    try:
        engine.fit(net, X, y, seed=schedule.seed)
    finally:
        log.close()
    names = [experiment.data[i].name for i in source_test]
    if hasattr(engine, "predict_with_spread"):
        outputs, spread = engine.predict_with_spread(net, X_test)
        write_spread(folder / "spread.csv", names, spread)
    else:
        outputs = engine.predict(net, X_test)
    predicted = denormalise(outputs)  # (N_test, n, 2), network frame, y down
    manual = np.stack([experiment.data[i].in_frame(NETWORK).landmarks for i in source_test])
    write_paired_csv(folder / "predictions.csv", names, manual, predicted)
    save_params(engine.params(net), folder / "params.npz")
    if experiment.save_net:
        engine.save_whole(net, folder / f"net{engine.whole_suffix}")
    history = net.train_history_[-1]
    record = {
        "round": round_.number,
        "key": experiment.key(),
        "engine": engine.name,
        "device": engine.device,
        "test_images": [experiment.data[i].name for i in round_.test],
        "train_images": len(round_.train),
        "minutes_budget": schedule.minutes,
        "train_samples": int(len(X)),
        "epochs": len(net.train_history_),
        "train_loss": float(history["train_loss"]),
        "valid_loss": float(history["valid_loss"]),
        "seconds": time.perf_counter() - started,
    }
    write_text(folder / "round.json", json.dumps(record, indent=2))
    return record


SPREAD_COLUMNS = ["image", "landmark", "spread"]


def write_spread(path, names, spread) -> Path:
    """Per-landmark spread ``(N, n)`` (network pixels) of ``names`` as CSV
    ``image,landmark,spread`` (landmarks 1-based), atomically."""
    rows = [[name, k + 1, float(value)] for name, row in zip(names, np.asarray(spread)) for k, value in enumerate(row)]
    return write_table(path, SPREAD_COLUMNS, rows)


def read_spread(path) -> tuple[list[str], np.ndarray]:
    """Inverse of :func:`write_spread`: image names and ``(N, n)`` spread."""
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    names = list(dict.fromkeys(r["image"] for r in rows))
    n = max(int(r["landmark"]) for r in rows)
    spread = np.full((len(names), n), np.nan)
    index = {name: i for i, name in enumerate(names)}
    for r in rows:
        spread[index[r["image"]], int(r["landmark"]) - 1] = float(r["spread"])
    return names, spread


def run(experiment: Experiment) -> dict:
    """Run (or resume) every chosen round, then write the outputs; returns
    the summary that ``run.json`` records."""
    experiment.out.mkdir(parents=True, exist_ok=True)
    rounds = experiment.chosen_rounds()
    records = []
    bar = tqdm(rounds, desc=f"{experiment.name} rounds", unit="round", disable=not experiment.progress)
    for round_ in bar:
        record = finished_round(experiment, round_)
        if record is not None:
            tqdm.write(f"round {round_.number}: finished earlier, skipped")
        else:
            record = train_round(experiment, round_)
            tqdm.write(
                f"round {round_.number}: train loss {record['train_loss']:.5f}, valid loss "
                f"{record['valid_loss']:.5f}, {record['seconds'] / 60:.1f} min"
            )
        records.append(record)
    return write_outputs(experiment, rounds, records)


def stack_versions() -> dict:
    """Versions of Python and the libraries that computed the results."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "scikit-learn", "pillow", "theano", "lasagne", "nolearn", "torch"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_outputs(experiment: Experiment, rounds: list[Round], records: list[dict]) -> dict:
    """Gather the finished rounds into the experiment's tables and figures."""
    from beetles.training import read_losses

    out, data = experiment.out, experiment.data
    write_table(out / "table01_losses.csv", ["round", "train_loss", "valid_loss"],
                [[r["round"], r["train_loss"], r["valid_loss"]] for r in records])
    manual, predicted, tested = [], [], []
    trivial = []
    for round_, record in zip(rounds, records):
        paired = read_paired_csv(round_dir(experiment, round_) / "predictions.csv")
        manual.append(paired.manual)
        predicted.append(paired.predicted)
        tested.extend(int(i) for i in round_.test)
        train = np.stack([data[i].in_frame(NETWORK).landmarks for i in round_.train])
        trivial.append((len(round_.test), trivial_predictor_distances(train, paired.manual)))
        losses = read_losses(round_dir(experiment, round_) / "losses.csv")
        plot_losses(losses, out / f"fig_losses_round{round_.number}.png",
                    f"{experiment.name}, round {round_.number}: loss per epoch")
    manual, predicted = np.concatenate(manual), np.concatenate(predicted)
    distances = mean_distances(manual, predicted)
    spread_files = [round_dir(experiment, r) / "spread.csv" for r in rounds]
    confidence = {}
    if all(path.is_file() for path in spread_files):
        spread = np.concatenate([read_spread(path)[1] for path in spread_files])
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
    summary = {
        "experiment": experiment.name,
        "part": data.name,
        "data": str(data.folder) if data.folder else None,
        "specimens": len(data),
        "landmarks": data.n_landmarks,
        **experiment.make_engine().record(),
        "schedule": dataclasses.asdict(experiment.schedule),
        "weights": str(experiment.weights) if experiment.weights else None,
        "frozen_layers": experiment.freeze,
        "rounds_run": [r.number for r in rounds],
        "rounds_total": len(experiment.all_rounds()),
        "held_out_specimens": len(tested),
        "versions": stack_versions(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "results": {
            "mean_distance_px": float(np.mean(distances)),
            "trivial_mean_distance_px": float(np.mean(trivial_means)),
            "ratio_to_trivial": float(np.mean(distances) / np.mean(trivial_means)),
            **confidence,
        },
        "rounds": records,
        **experiment.notes,
    }
    write_text(out / "run.json", json.dumps(summary, indent=2))
    return summary


def spread_summary(spread, errors) -> dict:
    """How well the per-landmark spread ranks the errors: Spearman's rank
    correlation over every (specimen, landmark) and over specimens (mean
    spread vs mean error).  ``spread``, ``errors``: ``(N, n)`` pixels."""
    from scipy.stats import spearmanr

    spread, errors = np.asarray(spread, float), np.asarray(errors, float)
    ok = np.isfinite(spread) & np.isfinite(errors)
    summary = {"mean_spread_px": float(np.mean(spread[ok])) if ok.any() else None,
               "spread_error_spearman": None, "spread_error_spearman_per_specimen": None}
    if ok.sum() >= 3:
        summary["spread_error_spearman"] = float(spearmanr(spread[ok], errors[ok])[0])
    if len(spread) >= 3:
        summary["spread_error_spearman_per_specimen"] = float(
            spearmanr(np.nanmean(spread, axis=1), np.nanmean(errors, axis=1))[0])
    return summary


# --- The experiment scripts' command line ------------------------------------

#: The default budget of a from-scratch script without ``--paper``: what 2 CPU
#: cores run in about 10–15 minutes (see the README, "Default runs").  Only
#: the number of epochs (the learning-rate and momentum linspaces then run
#: over those epochs), the rounds and the specimens change; the network, the
#: loss, the update rule and deterministic prediction stay the paper's.
DEFAULT_BUDGET = {"epochs": 6, "rounds": [1], "specimens": None}


def load_experiment_data(data, part_name: str, specimens: int | None = None, progress: bool = True) -> PartData:
    """The part's data: ``data/<part>/`` (or ``data`` itself if it is a part
    folder), or the synthetic default dataset when ``data`` is ``None``;
    only the first ``specimens`` when given."""
    from beetles.dataset import load_part

    if data is None:
        from beetles.synthetic import default_dataset

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


def add_experiment_options(parser, default_out: str) -> None:
    """The options every experiment script shares."""
    parser.add_argument("--data", default=None, help="dataset folder (default: the synthetic dataset in data/synthetic/)")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"epochs per round (default {DEFAULT_BUDGET['epochs']}; --paper: the paper's)")
    parser.add_argument("--rounds", default=None,
                        help="rounds to run: a count K (the first K) or a list like 1,3,5 (default: 1; --paper: all)")
    parser.add_argument("--specimens", type=int, default=None, help="use only the first N specimens (default: all)")
    parser.add_argument("--model", type=_model_option, default=3, metavar="{1,2,3,heatmap,cascade,regress}",
                        help="the paper's model 1, 2 or 3 (default: 3), or a compact model of beetles/heatmap.py")
    parser.add_argument("--minutes", type=float, default=None,
                        help="wall-clock budget per round in minutes: training stops when it is spent "
                        "(the compact models, and models 1-3 with --engine torch)")
    parser.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    parser.add_argument("--paper", action="store_true",
                        help="exactly the paper's settings: all rounds, all specimens, the paper's epochs")
    parser.add_argument("--save-net", action="store_true",
                        help="also save each round's whole net: net.pkl, a pickled NeuralNet (model 3: about "
                        "0.7 GB per round), or net.pt with --engine torch")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_engine_options(parser)


def _model_option(text: str):
    """argparse type for ``--model``."""
    import argparse

    from beetles.models import parse_model

    try:
        return parse_model(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_rounds(text: str | None) -> list[int] | None:
    """``"3"`` → ``[1, 2, 3]``; ``"1,4"`` → ``[1, 4]``; ``None`` → ``None``."""
    if text is None:
        return None
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise BeetlesError(f"--rounds {text!r}: give a count (3) or a list (1,4,7)") from None
    if len(values) == 1 and "," not in str(text):
        return list(range(1, values[0] + 1))
    return values


def scratch_main(part_name: str, argv=None, paper_epochs: int = paper.MAX_EPOCHS_SCRATCH) -> int:
    """The command line of ``experiments/<part>_scratch.py``."""
    import argparse

    experiment_name = f"{part_name}_scratch"
    parser = argparse.ArgumentParser(
        prog=f"{experiment_name}.py",
        description=f"Train the paper's model from scratch on the {part_name}, one cross-validation round at a time, "
        "and write the paper's tables and figures for it.",
    )
    add_experiment_options(parser, f"results/{experiment_name}")
    args = parser.parse_args(argv)

    def body() -> int:
        experiment = experiment_from_args(args, experiment_name, part_name, paper_epochs)
        print(describe(experiment), flush=True)
        print(report(run(experiment)))
        return 0

    return exit_status(experiment_name, body, RESUME_HINT)


def experiment_from_args(args, experiment_name: str, part_name: str, paper_epochs: int, default_budget=None) -> Experiment:
    """Build an :class:`Experiment` from parsed experiment options."""
    if args.paper and any(v is not None for v in (args.epochs, args.rounds, args.specimens)):
        raise BeetlesError("--paper runs the paper's settings: it cannot be combined with --epochs, --rounds or --specimens")
    engine, device = getattr(args, "engine", None), getattr(args, "device", "cpu")
    minutes = getattr(args, "minutes", None)
    make_engine(engine, device, model=args.model)  # an unusable engine or device fails before the data load
    if minutes is not None and resolve_engine(engine, args.model) == "theano":
        raise BeetlesError("--minutes needs --engine torch for models 1-3 (nolearn's loop has no time budget)")
    if args.paper:
        budget = {"epochs": paper_epochs, "rounds": None, "specimens": None}
    else:
        budget = default_budget or DEFAULT_BUDGET
    data = load_experiment_data(args.data, part_name, args.specimens or budget["specimens"], progress=not args.quiet)
    rounds = parse_rounds(args.rounds) if args.rounds is not None else budget["rounds"]
    from beetles.models import is_compact_model

    if is_compact_model(args.model):
        epochs = args.epochs  # their own default; --paper only sets the rounds and specimens
    else:
        epochs = args.epochs or (None if minutes is not None and not args.paper else budget["epochs"])
    schedule = Schedule.for_model(args.model, epochs=epochs, minutes=minutes)
    return Experiment(
        name=experiment_name,
        data=data,
        out=Path(args.out),
        schedule=schedule,
        rounds=rounds,
        save_net=args.save_net,
        progress=not args.quiet,
        notes={"paper_settings": bool(args.paper), "synthetic_data": args.data is None},
        engine=engine,
        device=device,
    )


def _budget_text(schedule: Schedule) -> str:
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
    return (
        f"{experiment.name}: engine {experiment.make_engine().describe()}, model {s.model}, "
        f"{experiment.data.n_landmarks} landmarks, "
        f"{len(experiment.data)} specimens from {experiment.data.folder}\n"
        f"  rounds {[r.number for r in rounds]} of {total}, {_budget_text(s)} each, "
        f"learning rate {s.learning_rate[0]:g}→{s.learning_rate[1]:g}, momentum {s.momentum[0]:g}→{s.momentum[1]:g}, "
        f"batch {s.batch_size}; output {experiment.out}"
    )


def report(summary: dict) -> str:
    """The closing lines: the model's error next to the trivial predictor's."""
    r = summary["results"]
    lines = [
        f"{summary['experiment']}: {summary['held_out_specimens']} held-out specimens in rounds {summary['rounds_run']}",
        f"  mean distance per landmark: model {r['mean_distance_px']:.2f} px, "
        f"trivial mean-shape predictor {r['trivial_mean_distance_px']:.2f} px, ratio {r['ratio_to_trivial']:.2f}",
    ]
    if r.get("spread_error_spearman") is not None:
        per_specimen = r.get("spread_error_spearman_per_specimen")
        lines.append(f"  per-landmark spread {r['mean_spread_px']:.2f} px on average; rank correlation with the "
                     f"error {r['spread_error_spearman']:.2f} (landmarks)"
                     + (f", {per_specimen:.2f} (specimens)" if per_specimen is not None else ""))
    if r["ratio_to_trivial"] >= 1:
        from beetles.models import is_compact_model

        if is_compact_model(summary["schedule"]["model"]):
            lines.append("  The model has not learned past the trivial predictor in this budget: "
                         "give it more --epochs or --minutes.")
        else:
            lines.append(
                "  The model has not learned past the trivial predictor in this budget: the paper's schedule "
                "(--paper: 5000 epochs) needs days on a CPU."
            )
    return "\n".join(lines)


#: Default budget of ``experiments/model_selection.py``: three models share
#: the 10–15 CPU minutes, so each sees fewer specimens.
MODEL_SELECTION_BUDGET = {"epochs": 3, "rounds": [1], "specimens": 150}


def model_selection_main(argv=None) -> int:
    """The command line of ``experiments/model_selection.py``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="model_selection.py",
        description="Models 1, 2 and 3 of the paper trained on the pronotum: Figs. 10 and 11.",
    )
    add_experiment_options(parser, "results/model_selection")
    parser.set_defaults(model=None)
    args = parser.parse_args(argv)
    return exit_status("model_selection", lambda: _model_selection(args), RESUME_HINT)


def _model_selection(args) -> int:
    """Train models 1, 2, 3 on the pronotum; write models.csv and Figs. 10, 11."""
    from beetles.reporting import plot_loss_curves
    from beetles.training import read_losses

    out = Path(args.out)
    rows, curves = [], {}
    for model in (1, 2, 3):
        args.model, args.out = model, str(out / f"model{model}")
        experiment = experiment_from_args(
            args, "model_selection", "pronotum", paper.MAX_EPOCHS_SCRATCH, default_budget=MODEL_SELECTION_BUDGET
        )
        experiment.name = f"model{model}"
        print(describe(experiment), flush=True)
        summary = run(experiment)
        print(report(summary), flush=True)
        first = experiment.chosen_rounds()[0]
        curves[model] = read_losses(round_dir(experiment, first) / "losses.csv")
        last = summary["rounds"][-1]
        rows.append([model, last["train_loss"], last["valid_loss"], summary["results"]["mean_distance_px"],
                     summary["results"]["trivial_mean_distance_px"]])
    write_table(out / "models.csv", ["model", "train_loss", "valid_loss", "mean_distance", "trivial_distance"], rows)
    plot_loss_curves({f"model {k}": curves[k] for k in (1, 2)}, out / "fig10_models_1_2.png",
                     "Models 1 and 2 (pronotum): loss per epoch")
    plot_loss_curves({"model 3": curves[3]}, out / "fig11_model3.png", "Model 3 (pronotum): loss per epoch")
    print(f"wrote {out / 'models.csv'}, {out / 'fig10_models_1_2.png'}, {out / 'fig11_model3.png'}")
    return 0
