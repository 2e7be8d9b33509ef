"""The engines that train and run the paper's networks: one interface, two
implementations.

* ``theano`` (the default): the paper's own stack, nolearn ``NeuralNet`` on
  Theano 1.0.5 + Lasagne 0.1, CPU only (:mod:`beetles.models`,
  :mod:`beetles.training`).
* ``torch``: the same networks and training in PyTorch, on the CPU or a CUDA
  GPU (:mod:`beetles.torch_engine`); ``tests/test_torch_engine.py`` proves
  both compute the same thing.

An engine builds a net for a model and a :class:`beetles.experiment.Schedule`,
fits it (the ``random_state`` shuffle, the split, the batches, the schedule),
predicts, and saves or loads its weights.  Weights always travel as
``{"<layer>/<k>": array}`` in Lasagne's layout (``.npz`` files), so either
engine reads the other's ``params.npz``; a *whole* net is engine-specific
(``net.pkl``, a pickled ``NeuralNet``; ``net.pt``, a ``torch.save`` of the
parameters, momentum buffers, schedule state and history), and
:func:`read_params` reads all three.
"""
from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np

from beetles import paper
from beetles.errors import BeetlesError
from beetles.files import atomic_write

ENGINES = ("theano", "torch")
DEVICES = ("cpu", "cuda")
DEFAULT_ENGINE = "theano"


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class _Engine:
    """What every engine shares: its record in ``run.json`` and the arrays it
    trains on (the paper's gray, seven-fold augmented arrays)."""

    name = ""
    device = "cpu"

    def describe(self) -> str:  # pragma: no cover - every engine overrides it
        raise NotImplementedError

    def record(self) -> dict:
        """What ``run.json`` records about the engine."""
        return {"engine": self.name, "device": self.device, "engine_description": self.describe()}

    def round_arrays(self, specimens, round_, progress: bool = True):
        """The round's training and test arrays (:func:`beetles.preprocess.round_arrays`)."""
        from beetles.preprocess import round_arrays

        return round_arrays(specimens, round_, progress=progress)


class TheanoEngine(_Engine):
    """The paper's stack: nolearn ``NeuralNet`` on Theano, on the CPU."""

    name = "theano"
    whole_suffix = ".pkl"

    def __init__(self, device: str = "cpu"):
        if str(device) != "cpu":
            raise BeetlesError(
                f"--device {device}: the Theano engine runs on the CPU only (its GPU back end needs libgpuarray, "
                "which no package index carries); use --engine torch --device cuda for a GPU"
            )
        self.device = "cpu"

    def describe(self) -> str:
        return f"theano {_version('theano')} (cpu)"

    def build(self, model, n_landmarks: int, schedule, on_epoch_finished=()):
        from beetles.models import build_nolearn

        return build_nolearn(
            model, n_landmarks, max_epochs=schedule.epochs, learning_rate=schedule.learning_rate,
            momentum=schedule.momentum, batch_size=schedule.batch_size, validation_folds=schedule.validation_folds,
            on_epoch_finished=on_epoch_finished, seed=schedule.seed if paper.SEED_WEIGHTS else None,
        )

    def fit(self, net, X, y, seed: int = 42):
        from beetles.training import fit

        return fit(net, X, y, seed=seed)

    def predict(self, net, X) -> np.ndarray:
        from beetles.training import predict

        return predict(net, X)

    def params(self, net) -> dict[str, np.ndarray]:
        from beetles.training import net_params

        net.initialize()
        return net_params(net)

    def load_params(self, net, source, skip_layers=()) -> list[str]:
        from beetles.training import load_params

        if not isinstance(source, dict) and Path(source).suffix == ".pt":
            source = read_params(source)
        return load_params(net, source, skip_layers=skip_layers)

    def freeze(self, net, count: int) -> list[str]:
        from beetles.training import freeze_layers

        return freeze_layers(net, count)

    def save_whole(self, net, path) -> Path:
        from beetles.training import save_net

        return save_net(net, path)


class TorchEngine(_Engine):
    """The same networks and training in PyTorch (:mod:`beetles.torch_engine`)."""

    name = "torch"
    whole_suffix = ".pt"

    def __init__(self, device: str = "cpu"):
        from beetles import torch_engine  # a clear error if PyTorch is missing

        self.torch_device = torch_engine.device_for(device)
        self.device = self.torch_device.type
        if self.device == "cpu":
            torch_engine.use_all_cores()

    def describe(self) -> str:
        import torch

        from beetles.torch_engine import device_description

        return f"torch {torch.__version__} ({device_description(self.torch_device)})"

    def build(self, model, n_landmarks: int, schedule, on_epoch_finished=()):
        from beetles.torch_engine import build_torch_net

        return build_torch_net(
            model, n_landmarks, max_epochs=schedule.epochs, learning_rate=schedule.learning_rate,
            momentum=schedule.momentum, batch_size=schedule.batch_size, validation_folds=schedule.validation_folds,
            on_epoch_finished=on_epoch_finished, device=self.torch_device, seed=schedule.seed,
            minutes=getattr(schedule, "minutes", None),
        )

    def fit(self, net, X, y, seed: int = 42):
        from beetles.training import fit

        return fit(net, X, y, seed=seed)

    def predict(self, net, X) -> np.ndarray:
        return net.predict(np.asarray(X, np.float32))

    def params(self, net) -> dict[str, np.ndarray]:
        return net.get_params()

    def load_params(self, net, source, skip_layers=()) -> list[str]:
        from beetles.torch_engine import set_torch_params

        params = source if isinstance(source, dict) else read_params(source)
        return set_torch_params(net.module, params, skip_layers=skip_layers,
                                source=None if isinstance(source, dict) else source)

    def freeze(self, net, count: int) -> list[str]:
        return net.freeze(count)

    def save_whole(self, net, path) -> Path:
        """``net.state()`` to ``path`` with ``torch.save``, atomically; its
        arrays (parameters, velocities) as tensors, which ``weights_only``
        loading accepts."""
        import torch

        state = {key: {k: torch.from_numpy(np.array(v)) for k, v in value.items()}
                 if key in ("params", "velocities") else value for key, value in net.state().items()}
        with atomic_write(path, "wb") as handle:
            torch.save(state, handle)
        return Path(path)


class HeatmapEngine(TorchEngine):
    """The compact models of :mod:`beetles.heatmap` (``heatmap``,
    ``cascade``, ``regress``), in PyTorch: RGB input, their own augmentation
    and schedule, and a per-landmark spread next to each prediction."""

    def __init__(self, device: str = "cpu", model: str = "heatmap"):
        super().__init__(device)
        self.model = model

    def build(self, model, n_landmarks: int, schedule, on_epoch_finished=()):
        from beetles.heatmap import HeatmapNet

        return HeatmapNet(
            model, n_landmarks, max_epochs=schedule.epochs, minutes=schedule.minutes,
            learning_rate=schedule.learning_rate, momentum=schedule.momentum, batch_size=schedule.batch_size,
            validation_folds=schedule.validation_folds, on_epoch_finished=on_epoch_finished,
            device=self.torch_device, seed=schedule.seed,
        )

    def fit(self, net, X, y, seed: int = 42):
        return net.fit(X, y)

    def predict(self, net, X) -> np.ndarray:
        return net.predict(X)

    def predict_with_spread(self, net, X) -> tuple[np.ndarray, np.ndarray]:
        """``(M, 2n)`` normalised predictions and ``(M, n)`` spread in network pixels."""
        return net.predict_with_spread(X)

    def params(self, net) -> dict[str, np.ndarray]:
        return net.get_params()

    def load_params(self, net, source, skip_layers=()) -> list[str]:
        if skip_layers:
            raise BeetlesError("pre-training and fine-tuning are for the paper's models 1-3; "
                               f"the '{net.model}' model trains from scratch")
        params = source if isinstance(source, dict) else read_params(source)
        return net.set_params(params, source=None if isinstance(source, dict) else source)

    def freeze(self, net, count: int) -> list[str]:
        if count:
            raise BeetlesError(f"--freeze {count}: freezing layers is for fine-tuning models 1-3")
        return []

    def round_arrays(self, specimens, round_, progress: bool = True):
        """RGB arrays, not augmented (the model augments while it trains):
        :func:`beetles.preprocess.round_rgb_arrays`."""
        from beetles.heatmap import FINE_SCALE
        from beetles.preprocess import round_rgb_arrays

        fine_scale = FINE_SCALE if self.model == "cascade" else None
        return round_rgb_arrays(specimens, round_, progress=progress, fine_scale=fine_scale)


def resolve_engine(name: str | None, model=3) -> str:
    """The engine that runs ``model`` when ``--engine`` is ``name`` (``None``:
    not given): Theano for the paper's models 1-3, PyTorch for the compact
    models, which exist only there."""
    from beetles.models import is_compact_model

    if name is None:
        return "torch" if is_compact_model(model) else DEFAULT_ENGINE
    if name not in ENGINES:
        raise BeetlesError(f"--engine {name}: expected one of {', '.join(ENGINES)}")
    if is_compact_model(model) and name != "torch":
        raise BeetlesError(f"--model {model} runs on the torch engine (PyTorch), not --engine {name}")
    return name


def make_engine(name: str | None = None, device: str = "cpu", model=3):
    """The engine called ``name`` (``None``: the model's default, see
    :func:`resolve_engine`) on ``device`` for ``model``; a
    :class:`BeetlesError` for an unknown engine, a missing PyTorch, or a
    device or model the engine cannot use."""
    from beetles.models import is_compact_model

    name = resolve_engine(name, model)
    if is_compact_model(model):
        return HeatmapEngine(device, model)
    if name == "theano":
        return TheanoEngine(device)
    return TorchEngine(device)


def save_params(params: dict, path) -> Path:
    """Write ``{"<layer>/<k>": array}`` to an uncompressed ``.npz``, atomically
    (the format of :func:`beetles.training.save_params`)."""
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **params)
    return Path(path)


def read_params(path) -> dict[str, np.ndarray]:
    """Parameters in Lasagne's layout from any weight file: ``.npz`` (either
    engine), ``.pt`` (a whole torch net) or a pickled ``NeuralNet``."""
    path = Path(path)
    if path.suffix == ".pt":
        from beetles.training import WeightsError

        if not path.is_file():
            raise WeightsError(f"{path}: weight file not found")
        import torch

        state = torch.load(path, map_location="cpu", weights_only=True)
        return {k: v.numpy() for k, v in state["params"].items()}
    from beetles.training import read_params as read_npz_or_pickle

    return read_npz_or_pickle(path)


def add_engine_options(parser) -> None:
    """``--engine`` and ``--device``, shared by every experiment script."""
    parser.add_argument("--engine", default=None, choices=ENGINES,
                        help="theano: the paper's stack (the default for models 1-3); torch: the same networks "
                        "in PyTorch (the only engine of the heatmap and regress models)")
    parser.add_argument("--device", default="cpu", choices=DEVICES,
                        help="cpu (default) or cuda (a CUDA GPU; the torch engine only)")
