"""Weight files of models 1-3, readable by either engine.

Parameters always travel as ``{"<layer>/<k>": array}`` in Lasagne's layout
(``k`` 0: weights, 1: biases; a convolution's filters as Lasagne convolves,
a dense layer's weights ``(in, out)``), so a net trained by one engine loads
in the other:

* ``params.npz``: the parameters alone, uncompressed (:func:`save_params`);
* ``net.pkl`` / ``pretrained.pkl``: a whole pickled nolearn ``NeuralNet``;
* ``net.pt`` / ``pretrained.pt``: a whole torch net (parameters, momentum
  buffers, schedule state and history; :mod:`beetles.paper.torch_training`).

:func:`read_params` reads all three.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from beetles.core.errors import WeightsError
from beetles.core.files import atomic_write, write_bytes


def save_params(params: dict, path) -> Path:
    """Write ``{"<layer>/<k>": array}`` to an uncompressed ``.npz``, atomically
    (built in memory first: a full disk is then one
    :class:`~beetles.core.files.WriteError`, without NumPy's zip file
    complaining as it is collected)."""
    buffer = io.BytesIO()
    np.savez(buffer, **params)
    return write_bytes(path, buffer.getvalue())


def read_params(path) -> dict[str, np.ndarray]:
    """Parameters in Lasagne's layout from any weight file: ``.npz`` (either
    engine), ``.pt`` (a whole torch net) or a pickled ``NeuralNet``; a
    :class:`WeightsError` naming the file when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weight file not found")
    if path.suffix == ".npz":
        with np.load(path) as data:
            return {key: data[key] for key in data.files}
    if path.suffix == ".pt":
        from beetles.core.torchutil import load_state

        return load_state(path)["params"]
    return net_params(load_net(path))


def save_net(net, path) -> Path:
    """Pickle the whole ``NeuralNet`` to ``path`` (atomically), as the original."""
    with atomic_write(path, "wb") as handle:
        pickle.dump(net, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(path)


def load_net(path):
    """Unpickle a whole ``NeuralNet``, the compatibility layer installed first
    (a pickled net imports Lasagne's and nolearn's modules as it loads)."""
    from beetles.paper import compat

    compat.install()
    with open(path, "rb") as handle:
        return pickle.load(handle)


def net_params(net) -> dict[str, np.ndarray]:
    """The parameters of a nolearn net: ``{"<layer>/<k>": array}`` in layer order."""
    return {
        f"{name}/{k}": value
        for name, values in net.get_all_params_values().items()
        for k, value in enumerate(values)
    }
