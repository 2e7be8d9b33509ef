"""Training as the paper's code trained, on nolearn.

* :class:`AdjustVariable`: after every epoch, sets a shared variable (the
  learning rate or the momentum) to the next value of
  ``linspace(start, stop, max_epochs)``; as the original callback, after
  epoch ``e`` (1-based) the value becomes ``linspace[e - 1]``.
* :class:`PaperSplit`: validation on the first of ``k`` contiguous folds
  (no shuffling), the split nolearn's ``TrainSplit(eval_size=0.4)`` made
  under Python 2 with ``k = 3`` (see :data:`beetles.paper.VALIDATION_FOLDS`).
* :class:`EpochLog`: every epoch's training and validation loss, learning
  rate, momentum and duration, rewritten atomically to a CSV after each
  epoch, with a progress bar.
* :func:`fit`: shuffles the arrays with ``random_state=42`` as the original
  did, fits, and turns nolearn's silent stop on Ctrl-C into a
  ``KeyboardInterrupt`` so an unfinished round is never taken as finished.
* Weights: :func:`save_net` pickles the whole ``NeuralNet`` (as the
  original); :func:`save_params` writes the parameters alone (``.npz``,
  float32); :func:`load_net` / :func:`load_params` read them back, with an
  error naming the layer and both shapes when they do not fit.
"""
from __future__ import annotations

import csv
import pickle
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import beetles  # noqa: F401  (the compatibility layer, before any unpickling)
from beetles.errors import BeetlesError
from beetles.files import atomic_write


class WeightsError(BeetlesError):
    """A weight file that does not fit the network."""


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


LOSS_COLUMNS = ["epoch", "train_loss", "valid_loss", "learning_rate", "momentum", "seconds"]


class EpochLog:
    """``on_epoch_finished`` callback: write the loss history to ``path`` (CSV,
    atomically, after every epoch) and advance a progress bar."""

    def __init__(self, path=None, total: int | None = None, desc: str = "epochs", progress: bool = True):
        self.path = Path(path) if path is not None else None
        self.rows: list[list] = []
        self.bar = tqdm(total=total, desc=desc, unit="epoch", disable=not progress, leave=False)

    def __call__(self, net, history):
        info = history[-1]
        self.rows.append(
            [
                info["epoch"],
                float(info["train_loss"]),
                float(info["valid_loss"]),
                float(net.update_learning_rate.get_value()),
                float(net.update_momentum.get_value()),
                float(info["dur"]),
            ]
        )
        if self.path is not None:
            write_losses(self.path, self.rows)
        self.bar.set_postfix(train=f"{info['train_loss']:.5f}", valid=f"{info['valid_loss']:.5f}")
        self.bar.update(1)

    def close(self):
        """Close the progress bar."""
        self.bar.close()

    def __getstate__(self):  # a pickled net carries no open progress bar
        state = dict(self.__dict__)
        state["bar"] = tqdm(disable=True)
        return state


def write_losses(path, rows) -> Path:
    """Write loss rows (``LOSS_COLUMNS``) to ``path`` as CSV, atomically."""
    with atomic_write(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LOSS_COLUMNS)
        for row in rows:
            writer.writerow([row[0], *(f"{v:.8g}" for v in row[1:])])
    return Path(path)


def read_losses(path) -> np.ndarray:
    """Read a loss CSV back: a structured array with ``LOSS_COLUMNS`` fields."""
    return np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8")


def fit(net, X, y, seed: int = 42, epochs: int | None = None):
    """Fit ``net`` on ``X`` ``(M, 1, 192, 256)`` and ``y`` ``(M, 2n)`` float32.

    The arrays are shuffled first with ``sklearn.utils.shuffle(...,
    random_state=seed)`` as the original code did.  Raises
    ``KeyboardInterrupt`` if training stopped before its last epoch (nolearn
    itself swallows Ctrl-C and returns).
    """
    from sklearn.utils import shuffle

    X, y = shuffle(np.asarray(X, np.float32), np.asarray(y, np.float32), random_state=seed)
    done_before = len(getattr(net, "train_history_", []) or [])
    net.fit(X, y, epochs=epochs)
    expected = epochs or net.max_epochs  # after fitting: a time budget plans the epochs
    if len(net.train_history_) - done_before < expected:
        raise KeyboardInterrupt(f"training stopped after {len(net.train_history_)} of {expected} epochs")
    return net


def save_net(net, path) -> Path:
    """Pickle the whole ``NeuralNet`` to ``path`` (atomically), as the original."""
    with atomic_write(path, "wb") as handle:
        pickle.dump(net, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(path)


def load_net(path):
    """Unpickle a whole ``NeuralNet`` (the compatibility layer is already in place)."""
    with open(path, "rb") as handle:
        return pickle.load(handle)


def net_params(net) -> dict[str, np.ndarray]:
    """The parameters of a nolearn net: ``{"<layer>/<k>": array}`` in layer order."""
    return {
        f"{name}/{k}": value
        for name, values in net.get_all_params_values().items()
        for k, value in enumerate(values)
    }


def save_params(net, path) -> Path:
    """Write the parameters alone (``.npz``, uncompressed) to ``path``, atomically."""
    with atomic_write(path, "wb") as handle:
        np.savez(handle, **net_params(net))
    return Path(path)


def read_params(path) -> dict[str, np.ndarray]:
    """Read a parameter file: ``.npz`` (beetles) or a pickled whole net."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weight file not found")
    if path.suffix == ".npz":
        with np.load(path) as data:
            return {key: data[key] for key in data.files}
    return net_params(load_net(path))


def load_params(net, source, skip_layers=()) -> list[str]:
    """Copy parameters from ``source`` (a path or :func:`net_params` dict) into
    ``net``, layer by layer; ``skip_layers`` are left as initialised.

    Raises :class:`WeightsError` naming the layer and both shapes when a
    parameter does not fit, or listing layers the file lacks.  Returns the
    names of the layers loaded.
    """
    params = source if isinstance(source, dict) else read_params(source)
    net.initialize()
    loaded, missing = [], []
    for name, layer in net.layers_.items():
        if name in skip_layers:
            continue
        for k, shared in enumerate(layer.get_params()):
            key = f"{name}/{k}"
            if key not in params:
                missing.append(key)
                continue
            value, want = params[key], shared.get_value().shape
            if value.shape != want:
                where = source if not isinstance(source, dict) else "the weights"
                raise WeightsError(
                    f"{where}: layer '{name}' parameter {k} has shape {value.shape}, "
                    f"but the network needs {want}"
                )
            shared.set_value(value.astype(shared.dtype))
        loaded.append(name)
    if missing:
        raise WeightsError(f"the weights lack {', '.join(missing)}")
    return loaded


def freeze_layers(net, count: int) -> list[str]:
    """Freeze the first ``count`` layers after the input: their parameters
    lose Lasagne's ``trainable`` tag, so the compiled update leaves them as
    they are.  Builds the layers if needed; call before the net compiles
    (:func:`load_params` or ``fit``).  Returns the frozen layers' names."""
    if count <= 0:
        return []
    if getattr(net, "_initialized", False):
        raise RuntimeError("freeze_layers must run before the network is compiled")
    if getattr(net, "_output_layers", None) is None:
        net.initialize_layers()
    names = [name for name in net.layers_ if name != "input"]
    if count > len(names):
        raise ValueError(f"cannot freeze {count} layers: the network has {len(names)} after its input")
    for name in names[:count]:
        for tags in net.layers_[name].params.values():
            tags.discard("trainable")
    return names[:count]


def predict(net, X) -> np.ndarray:
    """Deterministic predictions (dropout off), ``(M, 2n)`` normalised."""
    return np.asarray(net.predict(np.asarray(X, np.float32)))


class Timer:
    """Wall-clock seconds since creation (``elapsed``)."""

    def __init__(self):
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
