"""The paper's networks in PyTorch, computing what Lasagne computes.

:class:`LandmarkNet` is model 1, 2 or 3 as a ``torch.nn.Module``; the
training loop is :mod:`beetles.paper.torch_training`.  What is the same as
the nolearn/Lasagne engine, and how:

* **Layers**: built from :func:`beetles.paper.networks.model_spec` (``named_layers``),
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
  :data:`beetles.paper.settings.SEED_WEIGHTS`: the values differ between the
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
  input in that order (row-major).  :func:`lasagne_layout` converts, exactly,
  in one place (for :func:`torch_params` and :func:`set_torch_params`):
  parameters travel as ``{"<layer>/<k>": array}`` in Lasagne's layout
  (:mod:`beetles.paper.weights`), so weights trained by either engine load
  in either.
Speed on a CPU: every core (``torch.set_num_threads``), the convolutions and
their filters in ``channels_last`` memory layout (oneDNN's fast path), the
pooling as element-wise maxima with its kernels compiled by ``torch.compile``
(:data:`COMPILE`): with :mod:`beetles.paper.torch_training`, model 3
trains about 5× faster than Theano on 2 cores (``benchmarks/train_speed.py
--engine both``).
"""
from __future__ import annotations

import math
import os

import numpy as np

from beetles.core.errors import WeightsError
from beetles.core.torchutil import torch_module
from beetles.paper.networks import INPUT_SHAPE, Conv, Dense, Dropout, Pool, model_spec

torch = torch_module("the torch engine")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

#: Kinds of layers with parameters, and what Lasagne calls parameter k.
CONV, POOL, DROPOUT, DENSE = "conv", "pool", "dropout", "dense"


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
    return compiled(function) if name in _COMPILABLE else function


def compiled(function):
    """``function`` compiled by ``torch.compile`` (once per process) if
    :data:`COMPILE`, else ``function`` itself."""
    if not COMPILE:
        return function
    if function not in _COMPILED:
        _COMPILED[function] = torch.compile(function)  # static first, then dynamic shapes
    return _COMPILED[function]


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

def lasagne_layout(module, k: int, value: np.ndarray) -> np.ndarray:
    """Parameter ``k`` (0: weight, 1: bias) of ``module`` from PyTorch's layout
    to Lasagne's, or back: the same map both ways (a convolution's filters
    flipped in both spatial axes, since Lasagne convolves and PyTorch
    correlates; a dense layer's weight transposed; biases as they are)."""
    if k == 1:
        return np.ascontiguousarray(value)
    if isinstance(module, nn.Conv2d):
        return np.ascontiguousarray(value[:, :, ::-1, ::-1])
    return np.ascontiguousarray(value.T)


def torch_params(module: LandmarkNet) -> dict[str, np.ndarray]:
    """``{"<layer>/<k>": float32 array}`` in Lasagne's layout and layer order:
    what :func:`beetles.paper.nolearn.net_params` gives for the nolearn net."""
    params = {}
    for name in module.param_layers():
        layer = getattr(module, name)
        for k, tensor in enumerate((layer.weight, layer.bias)):
            value = tensor.detach().to("cpu", torch.float32).contiguous().numpy()
            params[f"{name}/{k}"] = lasagne_layout(layer, k, value)
    return params


def set_torch_params(module: LandmarkNet, params: dict, skip_layers=(), source=None) -> list[str]:
    """Copy ``{"<layer>/<k>": array}`` (Lasagne's layout, from either engine)
    into ``module``; ``skip_layers`` keep their values.  Raises
    :class:`beetles.core.errors.WeightsError` naming the layer and both shapes
    (in Lasagne's layout) when a parameter does not fit, or listing the
    parameters the weights lack.  Returns the names of the layers loaded."""
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
            checked.append((tensor, lasagne_layout(layer, k, value.astype(np.float32))))
        loaded.append(name)
    if missing:
        raise WeightsError(f"the weights lack {', '.join(missing)}")
    with torch.no_grad():
        for tensor, value in checked:
            tensor.copy_(torch.from_numpy(value))
    return loaded
