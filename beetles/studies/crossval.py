"""Cross-validation: an :class:`Experiment` and the training of one of its rounds.

One experiment = one part, one model (any of :data:`beetles.registry.MODELS`),
a :class:`~beetles.model.Schedule`, and a set of rounds
(:func:`beetles.paper.settings.part_rounds`).  Each round's files live in
``<out>/rounds/roundNN/`` and are written atomically; ``round.json``
(:class:`RoundRecord`) is written last, so a round with a ``round.json``
whose settings match is finished and a rerun skips it (resume after Ctrl-C
or a crash): :func:`beetles.studies.experiment.run`.

A round's files: ``losses.csv`` (every epoch; for models 1-3 with the
held-out specimens' mean distance per landmark after each epoch, dropout
off, network pixels: ``held_out_px``, the learning curve against the test
block, which changes nothing in the training), ``predictions.csv`` (held-out
specimens, ``image,landmark,x_manual,y_manual,x_pred,y_pred``, 256×192, y
down), ``spread.csv`` (models that measure a spread), ``params.npz`` (the
weights), ``net.pkl`` / ``net.pt`` (with ``save_net``), ``round.json``; while
it trains, ``checkpoint.npz`` (:mod:`beetles.paper.checkpoint`: a killed
round resumes from its last checkpoint, to the same weights).

Training runs on an engine: for models 1-3 ``theano``, the paper's stack and
the default, or ``torch``, the same networks in PyTorch on the CPU or a CUDA
GPU; the compact models run on ``torch``.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from beetles.core.errors import BeetlesError, DataError
from beetles.core.files import write_text
from beetles.core.frames import NETWORK
from beetles.core.history import EpochLog
from beetles.core.rounds import Round
from beetles.core.specimen import PartData
from beetles.formats.landmark_csv import write_landmark_values
from beetles.formats.published import write_paired_csv
from beetles.model import Schedule
from beetles.paper.checkpoint import CHECKPOINT_FILE, DEFAULT_MINUTES, Checkpointing
from beetles.paper.settings import part_rounds
from beetles.paper.weights import save_params
from beetles.registry import build_model, check_model, model_info


@dataclass(frozen=True)
class Budget:
    """A study's default budget: ``epochs`` per round (``None``: the model's
    own default), the 1-based ``rounds`` (``None``: all), the first
    ``specimens`` of each part (``None``: all).  Only these change in a short
    run; the network, the loss, the update rule and deterministic prediction
    stay the paper's."""

    epochs: int | None = None
    rounds: tuple[int, ...] | None = None
    specimens: int | None = None


#: The default budget of a from-scratch script without ``--paper``: what 2 CPU
#: cores run in about 10–15 minutes (see the README, "Default runs").
DEFAULT_BUDGET = Budget(epochs=6, rounds=(1,))


@dataclass
class Experiment:
    """One part's cross-validation experiment.

    ``rounds`` are 1-based round numbers to run (``None``: all); ``data``
    the loaded part; ``out`` the output folder; ``save_net`` also saves each
    round's whole net (``net.pkl``, a pickled ``NeuralNet``, ≈0.7 GB for
    model 3; ``net.pt`` with the torch engine) beside its ``params.npz``.
    ``engine`` (``None``: the model's default) and ``device`` (``"cpu"`` or
    ``"cuda"``) choose what trains.  For fine-tuning, ``weights`` names
    pre-trained weights (a pickled net, ``.pt`` or ``.npz``) loaded into
    every layer but the output, which starts new, and ``freeze`` freezes
    that many layers after the input.  Rounds of models that can checkpoint
    write ``checkpoint.npz`` every ``checkpoint_epochs`` epochs or
    ``checkpoint_minutes`` minutes (:mod:`beetles.paper.checkpoint`; both
    ``None``: only after the last epoch) and resume from it.  ``workers``
    rounds train at once, or every round as a task of the Ray cluster at
    ``ray`` (:mod:`beetles.studies.parallel`).
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
    checkpoint_epochs: int | None = None
    checkpoint_minutes: float | None = DEFAULT_MINUTES
    workers: int = 1
    ray: str | None = None

    @property
    def info(self):
        """The model's :class:`~beetles.registry.ModelInfo`."""
        return model_info(self.schedule.model)

    def engine_name(self) -> str:
        """The engine that trains: ``engine``, or the model's default; checks the device and budget."""
        return check_model(self.info, self.engine, self.device, self.schedule.minutes)

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
        engine = self.engine_name()
        if engine != "theano":
            parts.append(engine)
        return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:12]

    def build(self):
        """A new :class:`~beetles.model.LandmarkModel` for a round."""
        return build_model(self.info, self.data.n_landmarks, self.schedule, engine=self.engine, device=self.device)

    def all_rounds(self) -> list[Round]:
        """The paper's rounds over this data (contiguous test blocks)."""
        try:
            return part_rounds(self.data.name, len(self.data))
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


@dataclass
class RoundRecord:
    """What ``round.json`` records of a finished round."""

    round: int
    key: str
    engine: str
    device: str
    test_images: list[str]
    train_images: int
    minutes_budget: float | None
    train_samples: int
    epochs: int
    train_loss: float
    valid_loss: float
    seconds: float

    @classmethod
    def read(cls, path) -> "RoundRecord | None":
        """The record in ``path``, or ``None`` when there is none (or it is not one)."""
        try:
            values = json.loads(Path(path).read_text())
            values.setdefault("minutes_budget", None)  # rounds recorded before time budgets existed
            return cls(**values)
        except (OSError, ValueError, TypeError):
            return None


def round_dir(experiment: Experiment, round_: Round) -> Path:
    """``<out>/rounds/roundNN``."""
    return experiment.out / "rounds" / f"round{round_.number:02d}"


def finished_round(experiment: Experiment, round_: Round) -> RoundRecord | None:
    """The round's record if it finished with the same settings and test
    specimens, else ``None``."""
    record = RoundRecord.read(round_dir(experiment, round_) / "round.json")
    test = [experiment.data[i].name for i in round_.test]
    if record is None or record.key != experiment.key() or record.test_images != test:
        return None
    return record


SPREAD_COLUMN = "spread"


def train_round(experiment: Experiment, round_: Round) -> RoundRecord:
    """Train one round on its training specimens (from scratch or from
    ``experiment.weights``), predict its test specimens, and write the
    round's files."""
    started = time.perf_counter()
    folder = round_dir(experiment, round_)
    folder.mkdir(parents=True, exist_ok=True)
    data, schedule = experiment.data, experiment.schedule
    model = experiment.build()
    if experiment.weights is not None:
        model.freeze(experiment.freeze)
        model.load_params(experiment.weights, skip_layers=("output",))
    train = model.prepare([data[i] for i in round_.train], augment=True, progress=experiment.progress,
                          desc="train images")
    test = model.prepare([data[i] for i in round_.test], progress=experiment.progress, desc="test images")
    log = EpochLog(folder / "losses.csv", total=model.planned_epochs(schedule, train),
                   desc=f"round {round_.number} epochs",
                   progress=experiment.progress)
    checkpoint = round_checkpoint(experiment, round_) if model.checkpoints else None
    extra = {"checkpoint": checkpoint, "held_out": test} if checkpoint else {}  # the paper's models
    try:
        model.fit(train, listeners=[log], **extra)
    finally:
        log.close()
    tested = np.asarray(round_.test)[test.source]
    names = [data[i].name for i in tested]
    prediction = model.predict(test)  # (N_test, n, 2), network frame, y down
    if prediction.spread is not None:
        write_landmark_values(folder / "spread.csv", names, {SPREAD_COLUMN: prediction.spread})
    manual = np.stack([data[i].in_frame(NETWORK).landmarks for i in tested])
    write_paired_csv(folder / "predictions.csv", names, manual, prediction.points)
    save_params(model.params(), folder / "params.npz")
    if experiment.save_net:
        model.save_whole(folder / f"net{model.whole_suffix}")
    last = model.history[-1]
    record = RoundRecord(
        round=round_.number, key=experiment.key(), engine=model.engine_name, device=model.device_name,
        test_images=[data[i].name for i in round_.test], train_images=len(round_.train),
        minutes_budget=schedule.minutes, train_samples=len(train), epochs=len(model.history),
        train_loss=float(last.train_loss), valid_loss=float(last.valid_loss), seconds=time.perf_counter() - started,
    )
    write_text(folder / "round.json", json.dumps(asdict(record), indent=2))
    if checkpoint is not None:
        checkpoint.remove()  # the round's files hold what it held
    return record


def round_checkpoint(experiment: Experiment, round_: Round) -> Checkpointing:
    """The round's :class:`~beetles.paper.checkpoint.Checkpointing`: in its
    folder, valid for the same settings and test specimens."""
    test = [experiment.data[i].name for i in round_.test]
    key = hashlib.sha1(json.dumps([experiment.key(), test]).encode()).hexdigest()[:12]
    return Checkpointing(round_dir(experiment, round_) / CHECKPOINT_FILE, key, experiment.checkpoint_epochs,
                         experiment.checkpoint_minutes)
