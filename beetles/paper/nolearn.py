"""The paper's networks on its own stack: nolearn ``NeuralNet`` on Theano and Lasagne.

Importing this module installs the compatibility layer
(:func:`beetles.paper.compat.install`: Theano flags and import shims) before
anything imports Theano, Lasagne or nolearn, and before a pickled
``NeuralNet`` is loaded.

* :func:`build_nolearn`: the paper's ``NeuralNet`` for model 1, 2 or 3
  (:mod:`beetles.paper.networks`), Nesterov momentum with the learning rate
  and momentum moved after every epoch by
  :class:`beetles.paper.schedule.AdjustVariable`, validation on
  :class:`beetles.paper.schedule.PaperSplit`.
* :func:`freeze_layers` and :func:`predict` (dropout off).
* Weights: :func:`load_params` copies parameters (a dict, or any weight file
  of :mod:`beetles.paper.weights`) into a net, with an error naming the layer
  and both shapes when they do not fit; whole pickled nets are
  :func:`beetles.paper.weights.save_net` / ``load_net``.
"""
from __future__ import annotations

import numpy as np

from beetles.core.errors import WeightsError
from beetles.paper import compat
from beetles.paper.networks import INPUT_SHAPE, Conv, Dense, Dropout, Pool, model_spec
from beetles.paper.schedule import AdjustVariable, PaperSplit
from beetles.paper.weights import read_params

compat.install()


def load_params(net, source, skip_layers=()) -> list[str]:
    """Copy parameters from ``source`` (a path or :func:`beetles.paper.weights.net_params` dict) into
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


def build_nolearn(
    model,
    n_landmarks: int,
    max_epochs: int,
    learning_rate=(0.03, 0.00001),
    momentum=(0.9, 0.9999),
    batch_size: int = 128,
    validation_folds: int = 3,
    on_epoch_finished=(),
    verbose: int = 0,
    seed: int | None = None,
):
    """The paper's nolearn ``NeuralNet`` for ``model`` and ``n_landmarks``.

    Nesterov momentum with learning rate and momentum held in Theano shared
    float32 variables, moved after every epoch along
    ``linspace(start, stop, max_epochs)`` by :class:`beetles.paper.nolearn.AdjustVariable`
    callbacks (a fixed value when start == stop); ``regression=True`` (mean
    squared error on the normalised targets); batches of ``batch_size``
    without shuffling (nolearn's ``BatchIterator``); validation on the first
    of ``validation_folds`` contiguous folds (:class:`beetles.paper.nolearn.PaperSplit`).
    Extra ``on_epoch_finished`` callbacks run after the schedule's.
    ``seed`` seeds Lasagne's generator, which draws the initial weights and
    the dropout streams' seeds when the net is initialised
    (:data:`beetles.paper.settings.SEED_WEIGHTS`); ``None`` leaves NumPy's global
    generator, as the published code did.  Large freed arrays are kept for
    reuse (:func:`beetles.paper.allocator.keep_freed_memory`).
    """
    import theano
    from lasagne import layers, nonlinearities
    from lasagne.random import set_rng
    from lasagne.updates import nesterov_momentum
    from nolearn.lasagne import BatchIterator, NeuralNet

    from beetles.paper.allocator import keep_freed_memory

    keep_freed_memory()
    spec = model_spec(model)
    definition = [(layers.InputLayer, {"name": "input", "shape": (None, *INPUT_SHAPE)})]
    for name, layer in spec.named_layers():
        if isinstance(layer, Conv):
            definition.append(
                (layers.Conv2DLayer, {"name": name, "num_filters": layer.filters, "filter_size": (layer.size, layer.size)})
            )
        elif isinstance(layer, Pool):
            definition.append((layers.MaxPool2DLayer, {"name": name, "pool_size": (layer.size, layer.size)}))
        elif isinstance(layer, Dropout):
            definition.append((layers.DropoutLayer, {"name": name, "p": layer.p}))
        elif isinstance(layer, Dense):
            definition.append((layers.DenseLayer, {"name": name, "num_units": layer.units}))
        else:
            definition.append(
                (layers.DenseLayer, {"name": name, "num_units": 2 * n_landmarks, "nonlinearity": nonlinearities.identity})
            )
    if seed is not None:
        set_rng(np.random.RandomState(seed))
    return NeuralNet(
        layers=definition,
        update=nesterov_momentum,
        update_learning_rate=theano.shared(np.float32(learning_rate[0])),
        update_momentum=theano.shared(np.float32(momentum[0])),
        regression=True,
        max_epochs=max_epochs,
        batch_iterator_train=BatchIterator(batch_size=batch_size),
        batch_iterator_test=BatchIterator(batch_size=batch_size),
        train_split=PaperSplit(validation_folds),
        on_epoch_finished=[
            AdjustVariable("update_learning_rate", *learning_rate),
            AdjustVariable("update_momentum", *momentum),
            *on_epoch_finished,
        ],
        verbose=verbose,
    )
