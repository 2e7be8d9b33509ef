"""The paper's training schedule, shared by both engines.

* :class:`AdjustVariable`: after every epoch, sets a shared variable (the
  learning rate or the momentum) to the next value of
  ``linspace(start, stop, max_epochs)``; as the original callback, after
  epoch ``e`` (1-based) the value becomes ``linspace[e - 1]``.
* :class:`PaperSplit`: validation on the first of ``k`` contiguous folds
  (no shuffling), the split nolearn's ``TrainSplit(eval_size=0.4)`` made
  under Python 2 with ``k = 3`` (see :data:`beetles.paper.settings.VALIDATION_FOLDS`);
  :class:`FixedSplit`: the first rows train, the rest validate.
* :class:`ReportEpoch`: hands every finished epoch to
  :class:`beetles.core.history.EpochListener` objects, reading the learning
  rate and momentum of a :class:`ScheduledNet`.
* :func:`fit`: shuffles the arrays with ``random_state=42`` as the original
  did, fits, and turns nolearn's silent stop on Ctrl-C into a
  ``KeyboardInterrupt`` so an unfinished round is never taken as finished.

A :class:`ScheduledNet` is a nolearn ``NeuralNet`` or a
:class:`beetles.paper.torch_training.TorchNet`: both hold the learning rate
and momentum in shared scalars that the callbacks move.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from beetles.core.history import Epoch


class SharedScalar(Protocol):
    """A Theano shared variable holding one value (or :class:`beetles.paper.torch_training.Scalar`)."""

    def get_value(self):
        """The value."""

    def set_value(self, value) -> None:
        """Replace the value."""


class ScheduledNet(Protocol):
    """What the epoch callbacks use of a nolearn ``NeuralNet`` (and of
    :class:`beetles.paper.torch_training.TorchNet`, which has the same)."""

    max_epochs: int
    update_learning_rate: SharedScalar
    update_momentum: SharedScalar
    train_history_: list


class AdjustVariable:
    """``on_epoch_finished`` callback moving ``net.<name>`` along a linspace.

    ``name`` is a net attribute holding a Theano shared variable
    (``"update_learning_rate"``, ``"update_momentum"``).  The linspace runs
    from ``start`` to ``stop`` over ``net.max_epochs`` epochs.
    """

    def __init__(self, name: str, start: float, stop: float):
        self.name, self.start, self.stop = name, float(start), float(stop)

    def values(self, max_epochs: int) -> np.ndarray:
        """The whole schedule: ``(max_epochs,)`` float32."""
        return np.linspace(self.start, self.stop, max_epochs).astype(np.float32)

    def __call__(self, net, history):
        epoch = history[-1]["epoch"]
        schedule = self.values(net.max_epochs)
        getattr(net, self.name).set_value(schedule[min(epoch, len(schedule)) - 1])


class PaperSplit:
    """nolearn ``train_split``: validate on the first of ``folds`` contiguous
    folds, train on the rest (sklearn ``KFold`` without shuffling)."""

    def __init__(self, folds: int = 3):
        if folds < 2:
            raise ValueError(f"a validation split needs at least 2 folds, not {folds}")
        self.folds = folds

    def indices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, valid)`` index arrays for ``n`` samples."""
        from sklearn.model_selection import KFold

        return next(iter(KFold(n_splits=self.folds).split(np.arange(n))))

    def __call__(self, X, y, net):
        train, valid = self.indices(len(X))
        return X[train], X[valid], y[train], y[valid]


class ReportEpoch:
    """``on_epoch_finished`` callback: every finished epoch of a
    :class:`ScheduledNet` as an :class:`~beetles.core.history.Epoch` to each
    listener (after the schedule's callbacks, so with the values the next
    epoch uses, as the paper's logs recorded them).  ``monitor``, when set:
    ``monitor(net) -> float``, the held-out error after the epoch
    (:attr:`Epoch.held_out`); it must not train or draw random numbers."""

    def __init__(self, listeners=()):
        self.listeners = list(listeners)  # replaced by the model at each fit
        self.monitor = None  # likewise

    def __call__(self, net: ScheduledNet, history) -> None:
        info = history[-1]
        monitor = getattr(self, "monitor", None)  # nets pickled before it existed have none
        epoch = Epoch(int(info["epoch"]), float(info["train_loss"]), float(info["valid_loss"]),
                      float(net.update_learning_rate.get_value()), float(net.update_momentum.get_value()),
                      float(info["dur"]), float(monitor(net)) if monitor is not None else np.nan)
        for listener in self.listeners:
            listener(epoch)


class FixedSplit:
    """A ``train_split`` for nolearn (``__call__``) and
    :class:`beetles.paper.torch_training.TorchNet` (``indices``): the first
    ``n_train`` rows train, the rest validate."""

    def __init__(self, n_train: int):
        self.n_train = int(n_train)

    def indices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, valid)`` index arrays for ``n`` rows."""
        return np.arange(self.n_train), np.arange(self.n_train, n)

    def __call__(self, X, y, net):
        train, valid = self.indices(len(X))
        return X[train], X[valid], y[train], y[valid]


def fit(net, X, y, seed: int = 42, epochs: int | None = None, valid=None):
    """Fit ``net`` on ``X`` ``(M, 1, 192, 256)`` and ``y`` ``(M, 2n)`` float32.

    The arrays are shuffled first with ``sklearn.utils.shuffle(...,
    random_state=seed)`` as the original code did.  ``valid``: ``(X, y)``
    rows to validate on (a :class:`FixedSplit` after the shuffled training
    rows) instead of the net's own split of ``X``.  Raises
    ``KeyboardInterrupt`` if training stopped before its last epoch (nolearn
    itself swallows Ctrl-C and returns).
    """
    from sklearn.utils import shuffle

    X, y = shuffle(np.asarray(X, np.float32), np.asarray(y, np.float32), random_state=seed)
    if valid is not None:
        net.train_split = FixedSplit(len(X))
        X = np.concatenate([X, np.asarray(valid[0], np.float32)])
        y = np.concatenate([y, np.asarray(valid[1], np.float32)])
    done_before = len(getattr(net, "train_history_", []) or [])
    net.fit(X, y, epochs=epochs)
    expected = epochs or net.max_epochs  # after fitting: a time budget plans the epochs
    if len(net.train_history_) - done_before < expected:
        raise KeyboardInterrupt(f"training stopped after {len(net.train_history_)} of {expected} epochs")
    return net
