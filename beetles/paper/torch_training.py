"""The paper's training on PyTorch: nolearn's loop, Lasagne's update, on the CPU or a CUDA GPU.

Theano cannot use a GPU here (its GPU back end needs libgpuarray, which no
package index carries), so the paper's 5000-epoch schedule is out of reach of
the legacy stack.  :class:`TorchNet` trains *the same* networks
(:mod:`beetles.paper.torch_layers`) the way nolearn does; the Theano engine
stays the default and ``tests/paper/test_torch_parity.py`` proves both
compute the same thing.

* **Update**: Lasagne's ``nesterov_momentum`` (``apply_nesterov_momentum``
  over ``sgd``): ``v ← m·v − lr·g``, ``p ← p + m·v − lr·g`` (velocity
  starting at zero; ``torch.optim.SGD(nesterov=True)`` is another formula).
* **Loss**: mean squared error over every element of the batch (Lasagne's
  ``squared_error`` aggregated by ``mean``, nolearn's regression default); an
  epoch's training and validation losses are the batch means averaged with
  the batch sizes as weights, as nolearn's ``train_loop`` does.
* **Schedule, split, batches**: :class:`TorchNet` has nolearn's attributes
  ``max_epochs``, ``update_learning_rate``, ``update_momentum``,
  ``on_epoch_finished`` and ``train_history_`` (a
  :class:`beetles.paper.schedule.ScheduledNet`), so the schedule's
  callbacks and :func:`beetles.paper.schedule.fit` (the ``random_state=42``
  shuffle) work on it unchanged; the split is
  :class:`beetles.paper.schedule.PaperSplit`; batches are taken in order
  without shuffling (nolearn's ``BatchIterator``).

On a GPU the data are copied to the device once and batches are slices of
them; the update uses PyTorch's multi-tensor (``_foreach``) operations.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch.nn import functional as F

from beetles.core.torchutil import device_for, exact_float32, use_all_cores
from beetles.paper.allocator import keep_freed_memory
from beetles.paper.schedule import AdjustVariable, PaperSplit
from beetles.paper.torch_layers import LandmarkNet, build_torch, compiled, lasagne_layout, torch_params


class Scalar:
    """A float32 value with Theano's shared-variable ``get_value`` /
    ``set_value`` (a :class:`beetles.paper.schedule.SharedScalar`), so
    :class:`beetles.paper.schedule.AdjustVariable` and
    :class:`beetles.paper.schedule.ReportEpoch` work on a :class:`TorchNet`."""

    def __init__(self, value):
        self.value = np.float32(value)

    def get_value(self):
        """The value, float32."""
        return self.value

    def set_value(self, value):
        """Replace the value (kept as float32)."""
        self.value = np.float32(value)


def nesterov_step(params, grads, velocities, learning_rate, momentum) -> None:
    """Lasagne's ``nesterov_momentum``, in place: ``v ← m·v − lr·g``, then
    ``p ← p + m·v − lr·g`` with the new ``v``.  On a CPU, each parameter's
    update is one compiled loop (:func:`beetles.paper.torch_layers.compiled`:
    the values of the four multi-tensor passes used elsewhere, in less than
    half their time for model 3's 91-million-weight dense layer)."""
    lr, m = float(np.float32(learning_rate)), float(np.float32(momentum))
    if params and params[0].device.type == "cpu":
        step = compiled(_nesterov)
        lr_tensor, m_tensor = torch.tensor(lr, dtype=torch.float32), torch.tensor(m, dtype=torch.float32)
        for p, g, v in zip(params, grads, velocities):
            step(p.detach(), g, v, lr_tensor, m_tensor)
        return
    torch._foreach_mul_(velocities, m)
    torch._foreach_add_(velocities, grads, alpha=-lr)
    torch._foreach_add_(params, velocities, alpha=m)
    torch._foreach_add_(params, grads, alpha=-lr)


def _nesterov(p, g, v, lr, m) -> None:
    """One parameter's Nesterov update, in place (``lr``, ``m``: 0-d tensors)."""
    v.mul_(m).add_(g, alpha=-lr)
    p.add_(v, alpha=m).add_(g, alpha=-lr)


class TorchNet:
    """A :class:`LandmarkNet` with nolearn's training loop (see the module
    docstring); the ``NeuralNet`` attributes the rest of beetles uses:
    ``fit(X, y, epochs=None)``, ``predict(X)``, ``max_epochs``,
    ``update_learning_rate``, ``update_momentum``, ``on_epoch_finished``,
    ``train_history_``.  Data are copied once to ``device`` and batches are
    slices of them."""

    def __init__(self, module: LandmarkNet, max_epochs: int, learning_rate=(0.03, 0.00001), momentum=(0.9, 0.9999),
                 batch_size: int = 128, validation_folds: int = 3, on_epoch_finished=(), device="cpu",
                 seed: int | None = 42, minutes: float | None = None):
        self.device = device_for(device)
        if self.device.type == "cpu":
            use_all_cores()
            keep_freed_memory()
        else:
            exact_float32()  # the parity with Theano's float32 holds on a GPU too
        self.module = module.to(self.device)
        self.max_epochs = int(max_epochs)
        self.update_learning_rate = Scalar(learning_rate[0])
        self.update_momentum = Scalar(momentum[0])
        self.batch_size = int(batch_size)
        self.train_split = PaperSplit(validation_folds)
        self.on_epoch_finished = [
            AdjustVariable("update_learning_rate", *learning_rate),
            AdjustVariable("update_momentum", *momentum),
            *on_epoch_finished,
        ]
        self.seed = seed
        self.minutes = minutes
        self.train_history_: list[dict] = []
        self.velocities: dict[str, torch.Tensor] = {}

    # nolearn's NeuralNet API ------------------------------------------------
    def trainable(self) -> list[tuple[str, torch.Tensor]]:
        """``(name, parameter)`` of the parameters the update changes."""
        return [(n, p) for n, p in self.module.named_parameters() if p.requires_grad]

    def fit(self, X, y, epochs: int | None = None):
        """nolearn's ``train_loop``: split, then per epoch the training batches
        in order with the Nesterov update, the validation batches without
        dropout, the history row, the ``on_epoch_finished`` callbacks."""
        epochs = epochs or self.max_epochs
        train, valid = self.train_split.indices(len(X))
        X_all = torch.from_numpy(np.ascontiguousarray(X, np.float32)).to(self.device)
        y_all = torch.from_numpy(np.ascontiguousarray(y, np.float32)).to(self.device)
        X_train, y_train = X_all[torch.as_tensor(train, device=self.device)], y_all[torch.as_tensor(train, device=self.device)]
        X_valid, y_valid = X_all[torch.as_tensor(valid, device=self.device)], y_all[torch.as_tensor(valid, device=self.device)]
        del X_all, y_all
        if self.seed is not None and not self.train_history_:
            torch.manual_seed(self.seed)  # the dropout masks
        named = self.trainable()
        params = [p for _, p in named]
        for name, p in named:
            if name not in self.velocities:
                self.velocities[name] = torch.zeros_like(p)
        velocities = [self.velocities[name] for name, _ in named]
        fitting = time.perf_counter()
        for _ in range(epochs):
            if len(self.train_history_) >= self.max_epochs and self.minutes is not None:
                break
            started = time.perf_counter()
            self.module.train()
            train_losses, train_sizes = [], []
            for start in range(0, len(X_train), self.batch_size):
                Xb, yb = X_train[start:start + self.batch_size], y_train[start:start + self.batch_size]
                loss = self.train_step(Xb, yb, params, velocities)
                train_losses.append(loss)
                train_sizes.append(len(Xb))
            valid_losses, valid_sizes = self._losses(X_valid, y_valid)
            train_loss = np.average(torch.stack(train_losses).cpu().numpy(), weights=train_sizes)
            valid_loss = np.average(valid_losses, weights=valid_sizes) if valid_sizes else np.nan
            self.train_history_.append({
                "epoch": len(self.train_history_) + 1,
                "train_loss": train_loss,
                "valid_loss": valid_loss,
                "dur": time.perf_counter() - started,
            })
            if self.minutes is not None and len(self.train_history_) == 1:
                # A time budget: plan the epochs from the first one's duration, so
                # the schedule's linspaces run over the epochs that fit.
                self.max_epochs = max(1, int(self.minutes * 60 // (time.perf_counter() - fitting)))
            for callback in self.on_epoch_finished:
                callback(self, self.train_history_)
        return self

    def train_step(self, Xb, yb, params=None, velocities=None):
        """One batch: loss, gradients, Lasagne's Nesterov update; returns the
        batch's loss (a 0-d tensor on the device, before the update)."""
        if params is None:
            named = self.trainable()
            params = [p for _, p in named]
            velocities = [self.velocities.setdefault(n, torch.zeros_like(p)) for n, p in named]
        for p in params:
            p.grad = None
        loss = F.mse_loss(self.module(Xb), yb)
        loss.backward()
        with torch.no_grad():
            nesterov_step(params, [p.grad for p in params], velocities,
                          self.update_learning_rate.get_value(), self.update_momentum.get_value())
        return loss.detach()

    def _losses(self, X, y) -> tuple[list[float], list[int]]:
        """Per-batch mean squared errors without dropout, and batch sizes."""
        self.module.eval()
        losses, sizes = [], []
        with torch.no_grad():
            for start in range(0, len(X), self.batch_size):
                Xb, yb = X[start:start + self.batch_size], y[start:start + self.batch_size]
                losses.append(F.mse_loss(self.module(Xb), yb))
                sizes.append(len(Xb))
        return ([float(v) for v in torch.stack(losses).cpu().numpy()] if losses else []), sizes

    def predict(self, X) -> np.ndarray:
        """Deterministic outputs (dropout off), ``(M, 2n)`` float32, in batches."""
        self.module.eval()
        outputs = []
        with torch.no_grad():
            for start in range(0, len(X), self.batch_size):
                Xb = torch.from_numpy(np.ascontiguousarray(X[start:start + self.batch_size], np.float32)).to(self.device)
                outputs.append(self.module(Xb).cpu())
        if not outputs:
            return np.zeros((0, 2 * self.module.n_landmarks), np.float32)
        return torch.cat(outputs).numpy()

    # weights ----------------------------------------------------------------
    def get_params(self) -> dict[str, np.ndarray]:
        """:func:`torch_params` of the module (Lasagne layout)."""
        return torch_params(self.module)

    def get_velocities(self) -> dict[str, np.ndarray]:
        """The Nesterov momentum buffers in Lasagne's layout, keyed as the
        parameters (``"<layer>/<k>"``); parameters not updated yet have none."""
        velocities = {}
        for name in self.module.param_layers():
            layer = getattr(self.module, name)
            for k, attribute in enumerate(("weight", "bias")):
                tensor = self.velocities.get(f"{name}.{attribute}")
                if tensor is not None:
                    velocities[f"{name}/{k}"] = lasagne_layout(layer, k, tensor.detach().cpu().numpy())
        return velocities

    def set_velocities(self, velocities: dict) -> None:
        """Set the momentum buffers from ``{"<layer>/<k>": array}`` in
        Lasagne's layout (what :meth:`get_velocities` gives)."""
        for name in self.module.param_layers():
            layer = getattr(self.module, name)
            for k, attribute in enumerate(("weight", "bias")):
                if f"{name}/{k}" in velocities:
                    value = lasagne_layout(layer, k, np.asarray(velocities[f"{name}/{k}"], np.float32))
                    self.velocities[f"{name}.{attribute}"] = torch.from_numpy(value).to(self.device)

    def freeze(self, count: int) -> list[str]:
        """Freeze the first ``count`` layers after the input (as
        :func:`beetles.paper.nolearn.freeze_layers`): their parameters get no
        gradient and no update.  Returns the frozen layers' names."""
        if count <= 0:
            return []
        names = [name for name, _ in self.module.layers]
        if count > len(names):
            raise ValueError(f"cannot freeze {count} layers: the network has {len(names)} after its input")
        for name in names[:count]:
            for p in getattr(self.module, name).parameters():
                p.requires_grad_(False)
        return names[:count]

    def state(self) -> dict:
        """Everything to resume or predict: parameters (Lasagne layout), the
        velocities, the schedule's values and the history."""
        return {
            "model": self.module.spec.name,
            "n_landmarks": self.module.n_landmarks,
            "params": self.get_params(),
            "velocities": self.get_velocities(),
            "learning_rate": float(self.update_learning_rate.get_value()),
            "momentum": float(self.update_momentum.get_value()),
            "max_epochs": self.max_epochs,
            "train_history": [{k: float(v) if k != "epoch" else int(v) for k, v in row.items()}
                              for row in self.train_history_],
            "torch": str(torch.__version__),
        }


def build_torch_net(model, n_landmarks: int, max_epochs: int, learning_rate=(0.03, 0.00001),
                    momentum=(0.9, 0.9999), batch_size: int = 128, validation_folds: int = 3,
                    on_epoch_finished=(), device="cpu", seed: int | None = 42,
                    minutes: float | None = None) -> TorchNet:
    """The torch counterpart of :func:`beetles.paper.nolearn.build_nolearn`, with the
    same arguments plus ``device``, ``seed`` (weights and dropout masks) and
    ``minutes``, a time budget: the epochs are then planned from the first
    epoch's duration (at most ``max_epochs``)."""
    return TorchNet(build_torch(model, n_landmarks, seed=seed), max_epochs, learning_rate, momentum, batch_size,
                    validation_folds, on_epoch_finished, device=device, seed=seed, minutes=minutes)
