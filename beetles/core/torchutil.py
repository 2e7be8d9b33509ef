"""PyTorch for every model that runs on it: import, devices, threads, state files.

:func:`torch_module` imports PyTorch with a clear error when it is not
installed; :func:`device_for` turns ``"cpu"`` / ``"cuda"`` into a
``torch.device`` (a clear error when no GPU is seen); :func:`use_all_cores`
sets PyTorch's CPU threads; :func:`save_state` and :func:`load_state` write
and read a model's state (a dict whose ``"params"`` are named arrays) with
``torch.save``, loadable with ``weights_only=True``.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from beetles.core.errors import BeetlesError, DataError, WeightsError
from beetles.core.files import write_bytes

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: The entries of a state whose values are dicts of arrays.
ARRAY_ENTRIES = ("params", "velocities")

#: What to install when PyTorch is missing.
TORCH_HINT = "pip install -e '.[torch]' (torch==2.13.0)"


def torch_module(what: str = "this model"):
    """``import torch``, or a :class:`BeetlesError` saying ``what`` needs it and how to install it."""
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the install
        raise BeetlesError(f"{what} needs PyTorch: {TORCH_HINT}") from error
    return torch


def device_for(name: str = "cpu") -> "torch.device":
    """``torch.device`` for ``"cpu"`` or ``"cuda"`` (``"cuda:1"``…), with a clear
    error when PyTorch sees no CUDA GPU."""
    torch = torch_module("--device")
    name = str(name or "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise BeetlesError(
                f"--device {name}: PyTorch {torch.__version__} ({build}) sees no CUDA GPU "
                "(torch.cuda.is_available() is False); use --device cpu, or the GPU image "
                "(Dockerfile.gpu, docker run --gpus all)"
            )
        return torch.device(name)
    if name != "cpu":
        raise BeetlesError(f"--device {name}: expected cpu or cuda")
    return torch.device("cpu")


def exact_float32() -> None:
    """Full float32 in CUDA's matrix products and cuDNN's convolutions (no
    TF32, which PyTorch allows for convolutions by default and which differs
    from float32 by about 1e-3): the paper's engine computes what Theano
    computes (:mod:`beetles.paper.torch_training`)."""
    import torch

    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):  # the API of PyTorch 2.9 and later
        conv.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def device_description(device) -> str:
    """``"cpu (2 threads)"`` or ``"cuda: NVIDIA H100 80GB HBM3"``."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads)"


def use_all_cores() -> int:
    """Let PyTorch's CPU kernels use every core (its default may be fewer),
    or ``BEETLES_THREADS`` threads when that variable is set (on a machine
    busy with other work, one thread avoids OpenMP stalls)."""
    import torch

    threads = int(os.environ.get("BEETLES_THREADS") or os.cpu_count() or 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def save_state(state: dict, path) -> Path:
    """``state`` to ``path`` with ``torch.save``, atomically; the arrays of its
    :data:`ARRAY_ENTRIES` as tensors (which ``weights_only`` loading accepts).
    Serialised in memory first, so that a full disk is the project's
    :class:`~beetles.core.files.WriteError` (torch's zip writer would raise a
    ``RuntimeError``)."""
    import torch

    state = {key: {k: torch.from_numpy(np.array(v)) for k, v in value.items()} if key in ARRAY_ENTRIES else value
             for key, value in state.items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return write_bytes(path, buffer.getvalue())


def load_state(path) -> dict:
    """A state written by :func:`save_state`, its arrays as NumPy arrays; a
    :class:`DataError` when the file is missing, a :class:`WeightsError`
    when it is damaged or is not a beetles state."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: weight file not found (the model folder is incomplete)")
    torch = torch_module("reading a .pt weight file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a damaged file
        raise WeightsError(f"{path}: cannot read the weights ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or "params" not in state:
        raise WeightsError(f"{path}: not a beetles model file (no 'params')")
    for key in ARRAY_ENTRIES:
        if key in state:
            state[key] = {k: v.numpy() if hasattr(v, "numpy") else np.asarray(v) for k, v in state[key].items()}
    return state
