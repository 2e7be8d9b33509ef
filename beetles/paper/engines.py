"""The engines that train and run the paper's networks: one interface, two
implementations.

* ``theano`` (the default): the paper's own stack, nolearn ``NeuralNet`` on
  Theano 1.0.5 + Lasagne 0.1, CPU only (:mod:`beetles.paper.nolearn`).
* ``torch``: the same networks and training in PyTorch, on the CPU or a CUDA
  GPU (:mod:`beetles.paper.torch_training`); ``tests/paper/test_torch_parity.py``
  proves both compute the same thing.

An engine builds a net for a model and a :class:`beetles.model.Schedule`,
fits it (the ``random_state`` shuffle, the split, the batches, the schedule),
predicts, and saves or loads its weights (:mod:`beetles.paper.weights`: the
Lasagne layout either engine reads).  A *whole* net is engine-specific
(``.pkl``, a pickled ``NeuralNet``; ``.pt``, a ``torch.save`` of the
parameters, momentum buffers, schedule state and history).
:class:`beetles.paper.model.PaperModel` is what the rest of beetles uses.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from beetles.core.errors import BeetlesError, DataError
from beetles.core.versions import package_version
from beetles.model import ENGINES
from beetles.paper import settings as paper
from beetles.paper.schedule import ReportEpoch


def schedule_arguments(schedule, report: ReportEpoch) -> dict:
    """What both engines' nets take of a :class:`beetles.model.Schedule`, and the epoch report."""
    return {"max_epochs": schedule.epochs, "learning_rate": schedule.learning_rate, "momentum": schedule.momentum,
            "batch_size": schedule.batch_size, "validation_folds": schedule.validation_folds,
            "on_epoch_finished": [report]}


class _Engine:
    """What every engine shares: its record in ``run.json``."""

    name = ""
    device = "cpu"
    whole_suffix = ""
    #: Whether the engine's loop can stop on a wall-clock budget (``--minutes``).
    time_budget = False

    def describe(self) -> str:  # pragma: no cover - every engine overrides it
        raise NotImplementedError

    def record(self) -> dict:
        """What ``run.json`` records about the engine."""
        return {"engine": self.name, "device": self.device, "engine_description": self.describe()}


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
        """``"theano 1.0.5 (cpu)"``."""
        return f"theano {package_version('theano')} (cpu)"

    def build(self, model, n_landmarks: int, schedule, report: ReportEpoch):
        """A nolearn ``NeuralNet`` for ``model`` (a number or a spec), reporting its epochs to ``report``."""
        from beetles.paper.nolearn import build_nolearn

        return build_nolearn(model, n_landmarks, **schedule_arguments(schedule, report),
                             seed=schedule.seed if paper.SEED_WEIGHTS else None)

    def predict(self, net, X) -> np.ndarray:
        """Deterministic outputs (dropout off), ``(M, 2n)`` normalised."""
        from beetles.paper.nolearn import predict

        return predict(net, X)

    def params(self, net) -> dict[str, np.ndarray]:
        """``{"<layer>/<k>": array}`` in Lasagne's layout."""
        from beetles.paper.weights import net_params

        net.initialize()
        return net_params(net)

    def load_params(self, net, source, skip_layers=()) -> list[str]:
        """Load weights (a dict or any weight file) into every layer but ``skip_layers``."""
        from beetles.paper.nolearn import load_params
        from beetles.paper.weights import read_params

        if not isinstance(source, dict) and Path(source).suffix == ".pt":
            source = read_params(source)
        return load_params(net, source, skip_layers=skip_layers)

    def freeze(self, net, count: int) -> list[str]:
        """Freeze the first ``count`` layers after the input; their names."""
        from beetles.paper.nolearn import freeze_layers

        return freeze_layers(net, count)

    def save_whole(self, net, path) -> Path:
        """The whole pickled ``NeuralNet``, atomically."""
        from beetles.paper.weights import save_net

        return save_net(net, path)

    def checkpoint(self, net) -> tuple[dict, dict]:
        """``(arrays, meta)``: every shared variable the training function
        reads and updates (weights, momentum buffers, learning rate and
        momentum, the dropout streams' states), in its order, and nolearn's
        history."""
        from beetles.paper.checkpoint import plain

        net.initialize()
        arrays = {f"shared/{k:03d}": np.asarray(v.get_value()) for k, v in enumerate(net.train_iter_.get_shared())}
        return arrays, {"engine": self.name, "history": plain(net.train_history_)}

    def restore(self, net, arrays: dict, meta: dict) -> None:
        """Put a :meth:`checkpoint` back into a net built the same way."""
        net.initialize()
        shared = net.train_iter_.get_shared()
        if len(shared) != len(arrays):
            raise DataError(f"the checkpoint holds {len(arrays)} variables, the net {len(shared)}: not this net's")
        for k, variable in enumerate(shared):
            value = arrays[f"shared/{k:03d}"]
            if np.shape(value) != np.shape(variable.get_value()):
                raise DataError(f"checkpoint variable {k}: shape {np.shape(value)}, the net's "
                                f"{np.shape(variable.get_value())}")
            variable.set_value(value)
        net.train_history_[:] = meta["history"]


class TorchEngine(_Engine):
    """The same networks and training in PyTorch (:mod:`beetles.paper.torch_training`)."""

    name = "torch"
    whole_suffix = ".pt"
    time_budget = True

    def __init__(self, device: str = "cpu"):
        from beetles.core.torchutil import device_for, use_all_cores

        self.torch_device = device_for(device)  # a clear error if PyTorch or the GPU is missing
        self.device = self.torch_device.type
        if self.device == "cpu":
            use_all_cores()

    def describe(self) -> str:
        """``"torch 2.13.0 (cpu (2 threads))"``."""
        import torch

        from beetles.core.torchutil import device_description

        return f"torch {torch.__version__} ({device_description(self.torch_device)})"

    def build(self, model, n_landmarks: int, schedule, report: ReportEpoch):
        """A :class:`~beetles.paper.torch_training.TorchNet`, reporting its epochs to ``report``."""
        from beetles.paper.torch_training import build_torch_net

        return build_torch_net(model, n_landmarks, **schedule_arguments(schedule, report), device=self.torch_device,
                               seed=schedule.seed, minutes=schedule.minutes)

    def predict(self, net, X) -> np.ndarray:
        """Deterministic outputs (dropout off), ``(M, 2n)`` normalised."""
        return net.predict(np.asarray(X, np.float32))

    def params(self, net) -> dict[str, np.ndarray]:
        """``{"<layer>/<k>": array}`` in Lasagne's layout."""
        return net.get_params()

    def load_params(self, net, source, skip_layers=()) -> list[str]:
        """Load weights (a dict or any weight file) into every layer but ``skip_layers``."""
        from beetles.paper.torch_layers import set_torch_params
        from beetles.paper.weights import read_params

        params = source if isinstance(source, dict) else read_params(source)
        return set_torch_params(net.module, params, skip_layers=skip_layers,
                                source=None if isinstance(source, dict) else source)

    def freeze(self, net, count: int) -> list[str]:
        """Freeze the first ``count`` layers after the input; their names."""
        return net.freeze(count)

    def save_whole(self, net, path) -> Path:
        """``net.state()`` (:meth:`beetles.paper.torch_training.TorchNet.state`) to ``path``, atomically."""
        from beetles.core.torchutil import save_state

        return save_state(net.state(), path)

    def checkpoint(self, net) -> tuple[dict, dict]:
        """``(arrays, meta)``: the weights and momentum buffers (Lasagne's
        layout), the random generators' states (CPU, and the device's), and
        the learning rate, momentum, planned epochs and history."""
        import torch

        state = net.state()
        arrays = {**{f"params/{k}": v for k, v in state["params"].items()},
                  **{f"velocities/{k}": v for k, v in state["velocities"].items()},
                  "rng/cpu": torch.get_rng_state().numpy()}
        if net.device.type == "cuda":
            arrays["rng/cuda"] = torch.cuda.get_rng_state(net.device).numpy()
        meta = {key: state[key] for key in ("learning_rate", "momentum", "max_epochs", "train_history")}
        return arrays, {"engine": self.name, **meta}

    def restore(self, net, arrays: dict, meta: dict) -> None:
        """Put a :meth:`checkpoint` back into a net built the same way."""
        import torch

        from beetles.paper.torch_layers import set_torch_params

        set_torch_params(net.module, {k[len("params/"):]: v for k, v in arrays.items() if k.startswith("params/")})
        net.set_velocities({k[len("velocities/"):]: v for k, v in arrays.items() if k.startswith("velocities/")})
        net.update_learning_rate.set_value(meta["learning_rate"])
        net.update_momentum.set_value(meta["momentum"])
        net.max_epochs = int(meta["max_epochs"])
        net.train_history_ = [dict(row) for row in meta["train_history"]]
        torch.set_rng_state(torch.from_numpy(arrays["rng/cpu"]))
        if "rng/cuda" in arrays and net.device.type == "cuda":
            torch.cuda.set_rng_state(torch.from_numpy(arrays["rng/cuda"]), net.device)


def make_engine(name: str = "theano", device: str = "cpu"):
    """The engine called ``name`` on ``device``; a :class:`BeetlesError` for
    an unknown engine, a missing PyTorch, or a device the engine cannot use."""
    if name == "theano":
        return TheanoEngine(device)
    if name == "torch":
        return TorchEngine(device)
    raise BeetlesError(f"--engine {name}: expected one of {', '.join(ENGINES)}")
