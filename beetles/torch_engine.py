"""The PyTorch engine: the paper's networks and training, computed by PyTorch.

Theano cannot use a GPU here (its GPU back end needs libgpuarray, which no
package index carries), so the paper's 5000-epoch schedule is out of reach of
the legacy stack.  This module runs *the same* networks and training with
PyTorch, on the CPU or a CUDA GPU; the Theano engine stays the default and
``tests/test_torch_engine.py`` proves that both compute the same thing.

What is the same as the nolearn/Lasagne engine, and how:

* **Layers**: built from :func:`beetles.models.model_spec` (``named_layers``),
  with the same layer names (``conv1``, ``pool1``, ``dropout1``, …,
  ``output``): valid 2-D convolutions with stride 1 and ReLU, 2×2 max-pools
  with stride 2 (odd borders dropped, Lasagne's ``ignore_border=True``),
  dense layers with ReLU, a linear output layer.
* **Initialisation**: Lasagne's ``GlorotUniform()`` (gain 1):
  ``U(-a, a)`` with ``a = sqrt(6 / ((n1 + n2) * receptive_field))``, where
  ``n1, n2`` are the first two dimensions of Lasagne's weight shape
  (``(out, in, kh, kw)`` for a convolution, ``(in, out)`` for a dense layer);
  biases zero.  Samples come from a PyTorch generator seeded with the
  schedule's seed (Lasagne's from a NumPy generator seeded with it,
  :data:`beetles.paper.SEED_WEIGHTS`: the values differ between the
  engines, the distribution does not).
* **ReLU and max-pooling** keep Theano's gradients: Lasagne 0.1's
  ``rectify`` is ``0.5 * (x + |x|)``, whose gradient is 1/2 at exactly 0,
  and Theano's pooling gradient goes to every input equal to the window's
  maximum (:class:`LasagneReLU`, :class:`LasagneReLUMaxPool`).  Exact zeros
  are common (dead and dropped units, zero biases), so PyTorch's own ReLU and
  pooling would give other bias gradients.
* **Dropout**: Lasagne's ``DropoutLayer`` (``rescale=True``): ``(x / q) *
  mask`` with ``mask ~ Bernoulli(q)``, ``q = 1 - p``, in training; identity
  at prediction (:class:`LasagneDropout`; the masks come from PyTorch's
  generator, not Theano's).
* **Convolution**: Lasagne's is a true convolution (filters flipped),
  PyTorch's a cross-correlation: a Lasagne filter ``W`` is PyTorch's
  ``W[:, :, ::-1, ::-1]``.  Dense layers: Lasagne's ``W`` is ``(in, out)``,
  PyTorch's ``Linear.weight`` ``(out, in)``; both flatten a ``(C, H, W)``
  input in that order (row-major).  :func:`torch_params` and
  :func:`set_torch_params` convert, exactly, in one place: parameters travel
  as ``{"<layer>/<k>": array}`` in Lasagne's layout, the dict and ``.npz``
  files of :mod:`beetles.training`, so weights trained by either engine load
  in either.
* **Update**: Lasagne's ``nesterov_momentum`` (``apply_nesterov_momentum``
  over ``sgd``): ``v ← m·v − lr·g``, ``p ← p + m·v − lr·g`` (velocity
  starting at zero; ``torch.optim.SGD(nesterov=True)`` is another formula).
* **Loss**: mean squared error over every element of the batch (Lasagne's
  ``squared_error`` aggregated by ``mean``, nolearn's regression default); an
  epoch's training and validation losses are the batch means averaged with
  the batch sizes as weights, as nolearn's ``train_loop`` does.
* **Schedule, split, batches**: :class:`TorchNet` has nolearn's attributes
  ``max_epochs``, ``update_learning_rate``, ``update_momentum``,
  ``on_epoch_finished`` and ``train_history_``, so
  :class:`beetles.training.AdjustVariable`, :class:`~beetles.training.EpochLog`
  and :func:`beetles.training.fit` (the ``random_state=42`` shuffle) work on
  it unchanged; the split is :class:`beetles.training.PaperSplit`; batches
  are taken in order without shuffling (nolearn's ``BatchIterator``).

Speed on a CPU: every core (``torch.set_num_threads``), the convolutions and
their filters in ``channels_last`` memory layout (oneDNN's fast path), the
pooling as element-wise maxima with its kernels compiled by ``torch.compile``
(:data:`COMPILE`), the update with PyTorch's multi-tensor (``_foreach``)
operations: model 3 trains ≈1.8× faster than Theano on 2 cores
(``benchmarks/train_speed.py --engine both``).  On a GPU the data are copied
to the device once and batches are slices of them.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from beetles.allocator import keep_freed_memory
from beetles.errors import BeetlesError
from beetles.models import INPUT_SHAPE, Conv, Dense, Dropout, Pool, model_spec

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as error:  # pragma: no cover - depends on the install
    raise BeetlesError(
        "the torch engine needs PyTorch: pip install -e '.[torch]' (torch==2.13.0)"
    ) from error

#: Kinds of layers with parameters, and what Lasagne calls parameter k.
CONV, POOL, DROPOUT, DENSE = "conv", "pool", "dropout", "dense"


def device_for(name: str = "cpu") -> "torch.device":
    """``torch.device`` for ``"cpu"`` or ``"cuda"`` (``"cuda:1"``…), with a clear
    error when PyTorch sees no CUDA GPU."""
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


def device_description(device) -> str:
    """``"cpu (2 threads)"`` or ``"cuda: NVIDIA H100 80GB HBM3"``."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} threads)"


def use_all_cores() -> int:
    """Let PyTorch's CPU kernels use every core (its default may be fewer),
    or ``BEETLES_THREADS`` threads when that variable is set (on a machine
    busy with other work, one thread avoids OpenMP stalls)."""
    threads = int(os.environ.get("BEETLES_THREADS") or os.cpu_count() or 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def glorot_limit(lasagne_shape) -> float:
    """Bound ``a`` of Lasagne's ``GlorotUniform()`` (gain 1) for a weight of
    ``lasagne_shape``: ``sqrt(3) * sqrt(2 / ((n1 + n2) * receptive_field))``."""
    n1, n2 = lasagne_shape[:2]
    receptive_field = int(np.prod(lasagne_shape[2:])) if len(lasagne_shape) > 2 else 1
    return math.sqrt(3.0) * math.sqrt(2.0 / ((n1 + n2) * receptive_field))


class LasagneReLU(torch.autograd.Function):
    """Lasagne 0.1's ``rectify``, ``0.5 * (x + |x|)``: ReLU's values, and the
    gradient Theano derives for it, which is 1/2 where ``x`` is exactly 0
    (PyTorch's ReLU gives 0 there).  Exact zeros are common: a receptive
    field of dropped or dead inputs, with the zero initial biases."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.clamp_min(x, 0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ((x > 0).to(grad.dtype) + 0.5 * (x == 0).to(grad.dtype))


class LasagneReLUMaxPool(torch.autograd.Function):
    """``MaxPool2DLayer(k)`` over ``rectify``, fused, with Theano's gradients.

    Values: ``relu(maxpool(x))`` (equal to ``maxpool(relu(x))``; the pool
    first is 4× less work).  Gradient: Theano's pooling gradient goes to
    *every* input equal to its window's maximum (PyTorch's to one), then
    through :class:`LasagneReLU`'s: an input gets its window's gradient if it
    is the maximum, times 1 if that maximum is positive, 1/2 if it is exactly
    0 (a window of zeros: every exact 0 in it), 0 if negative.  Rows and
    columns beyond the last full window get none (``ignore_border``)."""

    @staticmethod
    def forward(ctx, x, size: int):
        windows, channels_last = _windows(x, size)
        pooled, out = kernel("pool_max")(windows, size, channels_last)
        ctx.save_for_backward(x, pooled)
        ctx.size = size
        if channels_last:  # (N, h, 1, w, 1, C) → (N, C, h, w) in channels_last memory
            return out.squeeze(4).squeeze(2).permute(0, 3, 1, 2)
        return out.squeeze(5).squeeze(3)

    @staticmethod
    def backward(ctx, grad):
        x, pooled = ctx.saved_tensors
        windows, channels_last = _windows(x, ctx.size)
        if channels_last:
            spread = grad.permute(0, 2, 3, 1)[:, :, None, :, None, :]
        else:
            spread = grad[:, :, :, None, :, None]
        grad_windows = kernel("pool_grad")(windows, pooled, spread)
        n, c, rows, cols = x.shape
        h, w = rows // ctx.size * ctx.size, cols // ctx.size * ctx.size
        if channels_last:
            grad_in = grad_windows.reshape(n, h, w, c).permute(0, 3, 1, 2)
        else:
            grad_in = grad_windows.reshape(n, c, h, w)
        if (h, w) != (rows, cols):  # rows and columns beyond the last window: no gradient
            grad_in = F.pad(grad_in, (0, cols - w, 0, rows - h))
        return grad_in, None


class LasagneDropout(torch.autograd.Function):
    """Lasagne's ``DropoutLayer`` in training: ``(x / q) * mask`` with
    ``mask`` true with probability ``q = 1 - p`` (inverted dropout), drawn
    by :func:`keep_mask` from PyTorch's generator (seeded by
    ``torch.manual_seed``); the backward pass keeps the boolean mask only.
    (Drawing uniforms in a compiled kernel was slower on a CPU.)"""

    @staticmethod
    def forward(ctx, x, p: float):
        q = 1.0 - float(p)
        out, mask = kernel("dropout")(x, q)
        ctx.save_for_backward(mask)
        ctx.q = q
        return out

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return kernel("dropout_grad")(grad, mask, ctx.q), None


def keep_mask(x, q: float):
    """A random boolean mask shaped (and laid out in memory) like ``x``, true
    with probability ``q``: 16-bit uniform integers, four from each 64-bit
    draw of PyTorch's generator, below ``round(q · 2¹⁶)`` (2.7× faster than
    ``rand_like(x) < q`` on a CPU; the keep probability is ``q`` rounded to a
    multiple of 2⁻¹⁶, within 8e-6 of it)."""
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_(-(2**63), None)
    mask = words.view(torch.int16)[:n] < round(q * 65536) - 32768
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        batch, channels, rows, cols = x.shape
        return mask.view(batch, rows, cols, channels).permute(0, 3, 1, 2)
    return mask.view(x.shape)


def _dropout(x, q: float):
    mask = keep_mask(x, q)
    return torch.where(mask, x, 0.0).div_(q), mask


def _dropout_grad(grad, mask, q: float):
    return torch.where(mask, grad, 0.0).div_(q)


def _pool_max(windows, size: int, channels_last: bool):
    """Window maxima, kept as size-1 window dimensions (k² element-wise
    maxima: 3× faster than ``amax`` on a CPU), and their ReLU."""
    pooled = None
    for i in range(size):
        for j in range(size):
            part = windows[:, :, i:i + 1, :, j:j + 1] if channels_last else windows[..., i:i + 1, :, j:j + 1]
            pooled = part if pooled is None else torch.maximum(pooled, part)
    return pooled, torch.clamp_min(pooled, 0)


def _pool_grad(windows, pooled, spread):
    """Theano's max-pool gradient through Lasagne's rectify (see
    :class:`LasagneReLUMaxPool`), window by window."""
    factor = (pooled > 0).to(spread.dtype) + 0.5 * (pooled == 0).to(spread.dtype)
    return torch.where(windows == pooled, spread * factor, 0.0)


#: Compile the element-wise kernels above with ``torch.compile`` (one fused
#: loop each instead of several passes: the pooling gradient runs 2.5× faster
#: on a CPU; a few seconds of compilation per shape).  Same values either way.
#: ``BEETLES_TORCH_COMPILE=0`` turns it off.
COMPILE = os.environ.get("BEETLES_TORCH_COMPILE", "1") != "0"
_COMPILED: dict = {}


#: The kernels that compiling speeds up.
_COMPILABLE = ("pool_max", "pool_grad")


def kernel(name: str):
    """The element-wise kernel ``name``, compiled if :data:`COMPILE` and worth it."""
    function = globals()[f"_{name}"]
    if not COMPILE or name not in _COMPILABLE:
        return function
    if name not in _COMPILED:
        _COMPILED[name] = torch.compile(function)  # static first, then dynamic batch sizes
    return _COMPILED[name]


def _windows(x, k: int):
    """``x`` ``(N, C, H, W)`` as non-overlapping ``k`` × ``k`` windows, a view
    where the memory allows: ``(N, h, k, w, k, C)`` for channels_last memory
    (then ``True``), else ``(N, C, h, k, w, k)``."""
    n, c, rows, cols = x.shape
    h, w = rows // k, cols // k
    x = x[:, :, : h * k, : w * k]
    if c > 1 and x.dim() == 4 and x.permute(0, 2, 3, 1).is_contiguous():
        return x.permute(0, 2, 3, 1).reshape(n, h, k, w, k, c), True
    return x.reshape(n, c, h, k, w, k), False


class LandmarkNet(nn.Module):
    """One of the paper's models as a ``torch.nn.Module``.

    Its sub-modules carry the layer names of the nolearn net (``conv1``,
    ``pool1``, …, ``output``); ``layers`` lists ``(name, kind)`` in order.
    ``channels_last`` runs the convolution blocks in NHWC memory layout
    (same values, faster on CPUs); the dense layers see the usual
    ``(C, H, W)`` flattening either way.
    """

    def __init__(self, model, n_landmarks: int, input_shape=INPUT_SHAPE, channels_last: bool = True):
        super().__init__()
        self.spec = model_spec(model)
        self.n_landmarks = n_landmarks
        self.input_shape = tuple(input_shape)
        self.channels_last = channels_last
        self.layers: list[tuple[str, str]] = []
        shape = self.input_shape
        for name, layer in self.spec.named_layers():
            if isinstance(layer, Conv):
                module = nn.Conv2d(shape[0], layer.filters, layer.size)
                shape = (layer.filters, shape[1] - layer.size + 1, shape[2] - layer.size + 1)
                kind = CONV
            elif isinstance(layer, Pool):
                module = nn.MaxPool2d(layer.size, stride=layer.size)
                shape = (shape[0], shape[1] // layer.size, shape[2] // layer.size)
                kind = POOL
            elif isinstance(layer, Dropout):
                module = nn.Dropout(layer.p)
                kind = DROPOUT
            else:
                units = layer.units if isinstance(layer, Dense) else 2 * n_landmarks
                module = nn.Linear(int(np.prod(shape)), units)
                shape = (units,)
                kind = DENSE
            self.add_module(name, module)
            self.layers.append((name, kind))
        if channels_last:  # the filters too: else a 1-channel input sends oneDNN down the NCHW path
            self.to(memory_format=torch.channels_last)

    def forward(self, x):
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        pending_relu = False  # a convolution's ReLU, applied with the pool after it
        for name, kind in self.layers:
            module = getattr(self, name)
            if pending_relu:
                if kind == POOL:
                    x = LasagneReLUMaxPool.apply(x, module.kernel_size)
                    pending_relu = False
                    continue
                x, pending_relu = LasagneReLU.apply(x), False
            if kind == DENSE and x.dim() > 2:
                x = torch.flatten(x, 1)  # (C, H, W) order, whatever the memory layout
            if kind == DROPOUT:
                if self.training and module.p > 0:
                    x = LasagneDropout.apply(x, module.p)
                continue
            x = module(x)
            if kind == CONV:
                pending_relu = True
            elif kind == DENSE and name != "output":
                x = LasagneReLU.apply(x)
        return LasagneReLU.apply(x) if pending_relu else x

    def param_layers(self) -> list[str]:
        """Names of the layers with parameters, in order."""
        return [name for name, kind in self.layers if kind in (CONV, DENSE)]

    def init_lasagne(self, seed: int | None = None) -> "LandmarkNet":
        """Lasagne's defaults: Glorot-uniform weights (gain 1), zero biases."""
        generator = torch.Generator(device="cpu")
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(seed))
        with torch.no_grad():
            for name in self.param_layers():
                module = getattr(self, name)
                limit = glorot_limit(lasagne_shape(module))
                weight = torch.empty(module.weight.shape, dtype=torch.float32).uniform_(-limit, limit, generator=generator)
                module.weight.copy_(weight)
                module.bias.zero_()
        return self


def lasagne_shape(module) -> tuple:
    """The shape Lasagne gives this layer's weight: conv ``(out, in, kh, kw)``
    (as PyTorch's), dense ``(in, out)`` (PyTorch's transposed)."""
    shape = tuple(module.weight.shape)
    return shape if isinstance(module, nn.Conv2d) else shape[::-1]


def build_torch(model, n_landmarks: int, seed: int | None = 42, channels_last: bool = True) -> LandmarkNet:
    """The paper's ``model`` (1, 2, 3) for ``n_landmarks`` as a PyTorch module,
    initialised as Lasagne initialises (``seed`` for the weights; ``None``:
    a fresh random seed)."""
    return LandmarkNet(model, n_landmarks, channels_last=channels_last).init_lasagne(seed)


# --- Weights in Lasagne's layout ---------------------------------------------

def to_lasagne(module, k: int, value: np.ndarray) -> np.ndarray:
    """PyTorch parameter ``k`` (0: weight, 1: bias) of ``module`` → Lasagne's layout."""
    if k == 1:
        return np.ascontiguousarray(value)
    if isinstance(module, nn.Conv2d):
        return np.ascontiguousarray(value[:, :, ::-1, ::-1])  # un-flip: Lasagne convolves
    return np.ascontiguousarray(value.T)


def from_lasagne(module, k: int, value: np.ndarray) -> np.ndarray:
    """Lasagne parameter ``k`` of ``module``'s layer → PyTorch's layout."""
    if k == 1:
        return np.ascontiguousarray(value)
    if isinstance(module, nn.Conv2d):
        return np.ascontiguousarray(value[:, :, ::-1, ::-1])  # flip: PyTorch correlates
    return np.ascontiguousarray(value.T)


def torch_params(module: LandmarkNet) -> dict[str, np.ndarray]:
    """``{"<layer>/<k>": float32 array}`` in Lasagne's layout and layer order:
    what :func:`beetles.training.net_params` gives for the nolearn net."""
    params = {}
    for name in module.param_layers():
        layer = getattr(module, name)
        for k, tensor in enumerate((layer.weight, layer.bias)):
            value = tensor.detach().to("cpu", torch.float32).contiguous().numpy()
            params[f"{name}/{k}"] = to_lasagne(layer, k, value)
    return params


def set_torch_params(module: LandmarkNet, params: dict, skip_layers=(), source=None) -> list[str]:
    """Copy ``{"<layer>/<k>": array}`` (Lasagne's layout, from either engine)
    into ``module``; ``skip_layers`` keep their values.  Raises
    :class:`beetles.training.WeightsError` naming the layer and both shapes
    (in Lasagne's layout) when a parameter does not fit, or listing the
    parameters the weights lack.  Returns the names of the layers loaded."""
    from beetles.training import WeightsError

    loaded, missing = [], []
    checked = []
    for name in module.param_layers():
        if name in skip_layers:
            continue
        layer = getattr(module, name)
        for k, tensor in enumerate((layer.weight, layer.bias)):
            key = f"{name}/{k}"
            if key not in params:
                missing.append(key)
                continue
            value = np.asarray(params[key])
            want = lasagne_shape(layer) if k == 0 else tuple(tensor.shape)
            if value.shape != want:
                where = source if source is not None else "the weights"
                raise WeightsError(
                    f"{where}: layer '{name}' parameter {k} has shape {value.shape}, but the network needs {want}"
                )
            checked.append((tensor, from_lasagne(layer, k, value.astype(np.float32))))
        loaded.append(name)
    if missing:
        raise WeightsError(f"the weights lack {', '.join(missing)}")
    with torch.no_grad():
        for tensor, value in checked:
            tensor.copy_(torch.from_numpy(value))
    return loaded


# --- Training as nolearn trains ----------------------------------------------

class Scalar:
    """A float32 value with Theano's shared-variable ``get_value`` /
    ``set_value``, so :class:`beetles.training.AdjustVariable` and
    :class:`beetles.training.EpochLog` work on a :class:`TorchNet`."""

    def __init__(self, value):
        self.value = np.float32(value)

    def get_value(self):
        return self.value

    def set_value(self, value):
        self.value = np.float32(value)


def nesterov_step(params, grads, velocities, learning_rate, momentum) -> None:
    """Lasagne's ``nesterov_momentum``, in place: ``v ← m·v − lr·g``, then
    ``p ← p + m·v − lr·g`` with the new ``v`` (multi-tensor operations)."""
    lr, m = float(np.float32(learning_rate)), float(np.float32(momentum))
    torch._foreach_mul_(velocities, m)
    torch._foreach_add_(velocities, grads, alpha=-lr)
    torch._foreach_add_(params, velocities, alpha=m)
    torch._foreach_add_(params, grads, alpha=-lr)


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
        from beetles.training import AdjustVariable, PaperSplit

        self.device = device_for(device)
        if self.device.type == "cpu":
            use_all_cores()
            keep_freed_memory()
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
                    velocities[f"{name}/{k}"] = to_lasagne(layer, k, tensor.detach().cpu().numpy())
        return velocities

    def set_velocities(self, velocities: dict) -> None:
        """Set the momentum buffers from ``{"<layer>/<k>": array}`` in
        Lasagne's layout (what :meth:`get_velocities` gives)."""
        for name in self.module.param_layers():
            layer = getattr(self.module, name)
            for k, attribute in enumerate(("weight", "bias")):
                if f"{name}/{k}" in velocities:
                    value = from_lasagne(layer, k, np.asarray(velocities[f"{name}/{k}"], np.float32))
                    self.velocities[f"{name}.{attribute}"] = torch.from_numpy(value).to(self.device)

    def freeze(self, count: int) -> list[str]:
        """Freeze the first ``count`` layers after the input (as
        :func:`beetles.training.freeze_layers`): their parameters get no
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
    """The torch counterpart of :func:`beetles.models.build_nolearn`, with the
    same arguments plus ``device``, ``seed`` (weights and dropout masks) and
    ``minutes``, a time budget: the epochs are then planned from the first
    epoch's duration (at most ``max_epochs``)."""
    return TorchNet(build_torch(model, n_landmarks, seed=seed), max_epochs, learning_rate, momentum, batch_size,
                    validation_folds, on_epoch_finished, device=device, seed=seed, minutes=minutes)
