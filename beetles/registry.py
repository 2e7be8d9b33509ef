"""Every model beetles knows, registered once under its name with what it is.

A :class:`ModelInfo` says what a model takes (gray 4:3 photos scaled as the
paper did, or RGB photos of any aspect ratio letterboxed), the stages it
trains, its fine scale, how it measures its uncertainty, which engines run
it, its weight file and its default training schedule; ``factory`` names
the :class:`beetles.model.LandmarkModel` class that implements it.  The
experiments, the tool and the benchmarks find models here
(:func:`model_info`, :func:`build_model`, :func:`load_model`) and never
switch on a model's name.

To add a model: write its :class:`~beetles.model.LandmarkModel` class (in
:mod:`beetles.compact`, say) and add its :class:`ModelInfo` to
:data:`MODELS`; ``--model`` then offers it everywhere.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace

from beetles.model import LandmarkModel, Schedule

#: How the compact models fit a photo into the network frame (``settings.json``).
LETTERBOX_FITTING = ("scaled to fit 256×192 keeping the aspect ratio, anchored top-left, padded right/bottom; "
                     "coordinates mapped back exactly")
#: How the paper's models fit a photo (``settings.json``).
PAPER_FITTING = ("4:3 photos only: scaled to 256×192 and converted to gray as in the paper; "
                 "coordinates mapped back exactly")

#: The paper's schedule (:mod:`beetles.paper.settings`): 5000 epochs,
#: learning rate 0.03 → 0.00001 and Nesterov momentum 0.9 → 0.9999 along
#: linspaces, batches of 128, validation on the first of 3 folds, seed 42.
PAPER_SCHEDULE = Schedule()
#: The compact models' training defaults: AdamW's peak learning rate and its
#: final value (cosine), Adam's beta1, batches of 16, and 1 image in 10 held
#: out for the validation loss; 60 epochs unless ``--epochs``/``--minutes``.
COMPACT_SCHEDULE = Schedule(model="heatmap", epochs=60, learning_rate=(0.003, 0.0), momentum=(0.9, 0.9),
                            batch_size=16, validation_folds=10)

#: ``zoom``'s defaults: its epochs follow the data's size
#: (:data:`beetles.compact.zoom.DEFAULT_STEPS`), within 9 minutes of training.
ZOOM_SCHEDULE = replace(COMPACT_SCHEDULE, model="zoom", epochs=None, minutes=9.0)


@dataclass(frozen=True)
class ModelInfo:
    """What a registered model is (see the module docstring).

    ``name``: what ``--model`` takes; ``label``: its name in folder and
    table names; ``input``, ``fitting``, ``uncertainty``: in words, as
    ``settings.json`` records them; ``any_aspect``: photos of any aspect
    ratio (else 4:3); ``missing_landmarks``: learns from specimens with
    missing landmarks; ``stages``: what it trains, in order;
    ``fine_scale``: the factor of the high-resolution copy of each photo it
    reads (else ``None``); ``engines``: the first is the default;
    ``default_schedule``: without ``--epochs``; ``needs_budget``: it has no
    sensible CPU default and needs ``--epochs`` or ``--minutes``;
    ``time_budget_epochs``: the most epochs under a time budget (``None``:
    no limit); ``spread_needs_passes``: its spread comes from several
    forward passes (``passes`` of :meth:`beetles.model.LandmarkModel.predict`;
    one pass gives none), else with every prediction; ``config``: what its class needs besides (the network, the
    head); ``factory``: ``"module:Class"``."""

    name: str
    label: str
    summary: str
    input: str
    fitting: str
    any_aspect: bool
    missing_landmarks: bool
    stages: tuple[str, ...]
    fine_scale: int | None
    uncertainty: str
    engines: tuple[str, ...]
    weights_file: str
    default_schedule: Schedule
    needs_budget: bool
    time_budget_epochs: int | None
    undertrained_hint: str
    spread_needs_passes: bool
    factory: str
    config: dict = field(default_factory=dict)

    @property
    def schedule_model(self) -> int | str:
        """The model as :attr:`beetles.model.Schedule.model` names it (the paper's as a number)."""
        return int(self.name) if self.name.isdigit() else self.name

    def schedule(self, epochs: int | None = None, minutes: float | None = None, seed: int | None = None) -> Schedule:
        """The model's :attr:`default_schedule` with ``epochs`` (under a time
        budget and without ``epochs``: :attr:`time_budget_epochs`),
        ``minutes`` and ``seed`` where given."""
        if epochs is None:
            epochs = self.time_budget_epochs if minutes is not None else self.default_schedule.epochs
        if minutes is None and epochs == self.default_schedule.epochs:
            minutes = self.default_schedule.minutes  # a default time limit goes with the default epochs
        changes = {"model": self.schedule_model, "epochs": epochs, "minutes": minutes}
        if seed is not None:
            changes["seed"] = seed
        return replace(self.default_schedule, **changes)

    def model_class(self) -> type[LandmarkModel]:
        """The :class:`~beetles.model.LandmarkModel` class that implements it (imported now)."""
        module, _, name = self.factory.partition(":")
        return getattr(importlib.import_module(module), name)


def _paper(number: int, summary: str, uncertainty: str) -> ModelInfo:
    return ModelInfo(
        name=str(number), label=f"model{number}", summary=summary, input="gray (Pillow luma), pixels / 255",
        fitting=PAPER_FITTING, any_aspect=False, missing_landmarks=False, stages=("network",), fine_scale=None,
        uncertainty=uncertainty, engines=("theano", "torch"), weights_file="params.npz",
        default_schedule=PAPER_SCHEDULE, needs_budget=True, time_budget_epochs=PAPER_SCHEDULE.epochs,
        undertrained_hint="the paper's schedule (--paper: 5000 epochs) needs days on a CPU.",
        spread_needs_passes=True, factory="beetles.paper.model:PaperModel", config={"network": number},
    )


def _compact(name: str, summary: str, uncertainty: str, head: str, refine: bool, **changes) -> ModelInfo:
    info = ModelInfo(
        name=name, label=name, summary=summary, input="RGB", fitting=LETTERBOX_FITTING, any_aspect=True,
        missing_landmarks=True, stages=("coarse network", "refiner") if refine else ("network",),
        fine_scale=4 if refine else None, uncertainty=uncertainty, engines=("torch",), weights_file="model.pt",
        default_schedule=COMPACT_SCHEDULE, needs_budget=False, time_budget_epochs=None,
        undertrained_hint="give it more --epochs or --minutes.", spread_needs_passes=False,
        factory="beetles.compact.model:CompactModel", config={"head": head, "refine": refine},
    )
    return replace(info, **changes)


_HEATMAP_SPREAD = "standard deviation of the model's probability map around its estimate"

#: Every model, by name: the paper's models 1-3 and the compact models.
MODELS: dict[str, ModelInfo] = {info.name: info for info in (
    _compact("zoom", "finds the specimen on the whole photo, landmarks a square region around it cut from the "
             "photo, then refines on patches of the region at 4× (the default)",
             "spread of the region's and the refiner's probability maps, and the refiner's move, in photo pixels",
             head="heatmaps", refine=False, stages=("locate", "land", "refine"),
             fitting="the whole photo resized to 256×192 (each axis to the photo's) to find the specimen, then a "
                     "square region around it cut from the decoded photo at 224×224 and at 896×896; coordinates "
                     "mapped back exactly",
             default_schedule=ZOOM_SCHEDULE, factory="beetles.compact.zoom:ZoomModel"),
    _compact("cascade", "heatmap network, then a refiner on the photo at 4× the resolution",
             _HEATMAP_SPREAD, head="heatmaps", refine=True),
    _compact("heatmap", "compact encoder and feature pyramid, one heatmap per landmark", _HEATMAP_SPREAD,
             head="heatmaps", refine=False),
    _compact("regress", "the same encoder regressing the coordinates directly",
             "spread of the estimates over 8 test-time augmentations", head="coordinates", refine=False),
    _paper(1, "the paper's model 1: three conv/pool blocks, dense 500, 500",
           "spread of the estimates over test-time augmentations (the model has no dropout)"),
    _paper(2, "the paper's model 2: model 1 with dense 1000, 1000",
           "spread of the estimates over test-time augmentations (the model has no dropout)"),
    _paper(3, "the paper's model 3: model 2 with dropout after every block",
           "Monte-Carlo dropout: standard deviation over the passes (the mean is the estimate)"),
)}
#: The tool's default model.
DEFAULT_MODEL = "zoom"
#: The experiments' default model: the paper's.
DEFAULT_PAPER_MODEL = "3"


def model_info(name) -> ModelInfo:
    """The :class:`ModelInfo` of ``name``: ``3``, ``"3"``, ``"model3"`` or a
    compact model's name; ``ValueError`` naming the choices otherwise."""
    if isinstance(name, ModelInfo):
        return name
    text = str(name)
    key = text.removeprefix("model") if text.removeprefix("model").isdigit() else text
    if key not in MODELS:
        raise ValueError(f"unknown model {text!r}: expected one of {', '.join(MODELS)}")
    return MODELS[key]


def check_model(name, engine: str | None = None, device: str = "cpu", minutes: float | None = None) -> str:
    """Check that model ``name`` can run on ``engine`` and ``device`` with a
    budget of ``minutes``, before any data is read; returns the engine's name."""
    info = model_info(name)
    return info.model_class().check(info, engine, device, minutes)


def build_model(name, n_landmarks: int, schedule: Schedule, engine: str | None = None,
                device: str = "cpu") -> LandmarkModel:
    """A new model ``name`` for ``n_landmarks`` landmarks, trained by ``schedule``."""
    info = model_info(name)
    return info.model_class().build(info, n_landmarks, schedule, engine=engine, device=device)


def load_model(name, path, n_landmarks: int, device: str = "cpu") -> LandmarkModel:
    """Model ``name`` with the trained weights of ``path``, on ``device`` (``cpu``, ``cuda``)."""
    info = model_info(name)
    return info.model_class().load(info, path, n_landmarks, device=device)
