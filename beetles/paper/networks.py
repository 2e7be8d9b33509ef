"""Models 1, 2 and 3 of the paper, described once as data.

Each model is a :class:`ModelSpec`: a plain list of layers (the paper's tables
of layers) plus the landmark count, from which an engine builds the network.
:func:`build_nolearn` builds the paper's own nolearn ``NeuralNet``; another
engine can build the same network from the same description
(:func:`layer_table` gives the shapes every engine must reproduce).

Input: one gray channel, ``(1, 192, 256)`` (rows × columns).  Convolutions
have stride 1 and no padding ("valid"); pools are 2×2 max-pools with stride 2;
ReLU everywhere but the linear output of ``2 × n_landmarks`` units
(``x1, y1, x2, y2, …`` normalised to [-1, 1]).  Weights start Glorot-uniform,
biases zero (Lasagne's defaults).
"""
from __future__ import annotations

from dataclasses import dataclass

from beetles.paper.settings import NETWORK_SIZE


@dataclass(frozen=True)
class Conv:
    """Convolution: ``filters`` filters of ``size`` × ``size``, stride 1, valid, ReLU."""

    filters: int
    size: int


@dataclass(frozen=True)
class Pool:
    """Max-pooling ``size`` × ``size`` with stride ``size``."""

    size: int = 2


@dataclass(frozen=True)
class Dropout:
    """Dropout with probability ``p`` (inverted: kept units scaled by 1/(1-p))."""

    p: float


@dataclass(frozen=True)
class Dense:
    """Fully connected layer of ``units`` with ReLU."""

    units: int


@dataclass(frozen=True)
class Output:
    """The linear output layer: ``2 × n_landmarks`` units."""


LayerSpec = Conv | Pool | Dropout | Dense | Output


@dataclass(frozen=True)
class ModelSpec:
    """A network as the paper describes it: a name and its layers in order."""

    name: str
    layers: tuple

    def named_layers(self) -> list[tuple[str, LayerSpec]]:
        """``(name, layer)`` pairs: ``conv1, pool1, dropout1, …, hidden4,
        dropout4, hidden5, output``, numbered by the block they belong to."""
        names, block = [], 0
        for layer in self.layers:
            if isinstance(layer, (Conv, Dense)):
                block += 1
            prefix = {Conv: "conv", Pool: "pool", Dropout: "dropout", Dense: "hidden", Output: "output"}[type(layer)]
            names.append((prefix if isinstance(layer, Output) else f"{prefix}{block}", layer))
        return names


#: Section 5 of the paper.  Model 1: three conv/pool blocks, dense 500, 500;
#: model 2: the same with dense 1000, 1000; model 3 (kept for everything
#: else): model 2 with dropout after each block and after the first dense.
MODELS = {
    1: ModelSpec(
        "model1",
        (Conv(32, 3), Pool(2), Conv(64, 2), Pool(2), Conv(128, 2), Pool(2), Dense(500), Dense(500), Output()),
    ),
    2: ModelSpec(
        "model2",
        (Conv(32, 3), Pool(2), Conv(64, 2), Pool(2), Conv(128, 2), Pool(2), Dense(1000), Dense(1000), Output()),
    ),
    3: ModelSpec(
        "model3",
        (
            Conv(32, 3), Pool(2), Dropout(0.1),
            Conv(64, 2), Pool(2), Dropout(0.2),
            Conv(128, 2), Pool(2), Dropout(0.3),
            Dense(1000), Dropout(0.5),
            Dense(1000),
            Output(),
        ),
    ),
}
INPUT_SHAPE = (1, NETWORK_SIZE[1], NETWORK_SIZE[0])  # channels, rows, columns


def model_spec(model) -> ModelSpec:
    """The :class:`ModelSpec` for ``model`` (1, 2, 3, ``"model3"`` or a spec)."""
    if isinstance(model, ModelSpec):
        return model
    key = int(str(model).removeprefix("model")) if str(model).removeprefix("model").isdigit() else None
    if key not in MODELS:
        raise ValueError(f"unknown model {model!r}: expected one of {sorted(MODELS)}")
    return MODELS[key]


def layer_table(model, n_landmarks: int, input_shape=INPUT_SHAPE) -> list[dict]:
    """Every layer with its output shape and parameter count, as a list of
    dicts (``name``, ``kind``, ``output_shape`` (channels, rows, cols) or
    (units,), ``params``, ``flops``: multiply-adds × 2 of one forward pass
    of one image).  Model 3 with 8 landmarks has ≈92.3 M parameters,
    91.3 M of them in ``hidden4`` (128 × 23 × 31 inputs)."""
    spec = model_spec(model)
    shape, rows = tuple(input_shape), []
    for name, layer in spec.named_layers():
        params = 0
        flops = 0
        if isinstance(layer, Conv):
            params = layer.filters * shape[0] * layer.size**2 + layer.filters
            shape_in = shape
            shape = (layer.filters, shape[1] - layer.size + 1, shape[2] - layer.size + 1)
            flops = 2 * shape[0] * shape[1] * shape[2] * shape_in[0] * layer.size**2
        elif isinstance(layer, Pool):
            shape = (shape[0], shape[1] // layer.size, shape[2] // layer.size)
        elif isinstance(layer, (Dense, Output)):
            units = layer.units if isinstance(layer, Dense) else 2 * n_landmarks
            inputs = 1
            for dim in shape:
                inputs *= dim
            params = inputs * units + units
            flops = 2 * inputs * units
            shape = (units,)
        rows.append(
            {"name": name, "kind": type(layer).__name__.lower(), "output_shape": shape, "params": params, "flops": flops}
        )
    return rows


def training_flops(model, n_landmarks: int) -> float:
    """Floating-point operations of one training sample: forward plus backward
    (≈ 2 × forward: gradients of inputs and of weights), so 3 × forward.
    Model 3: ≈ 0.59 GFLOP forward, ≈ 1.8 GFLOP per training sample."""
    return 3.0 * sum(row["flops"] for row in layer_table(model, n_landmarks))
