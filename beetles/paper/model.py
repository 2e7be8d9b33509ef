"""The paper's models 1, 2 and 3 behind the one model interface.

A :class:`PaperModel` is a net of :mod:`beetles.paper.networks` on one of
the engines of :mod:`beetles.paper.engines` (Theano/nolearn, the paper's
stack, or PyTorch), trained as the paper trained: gray 256×192 inputs of
4:3 photos, seven-fold augmented for training
(:func:`beetles.paper.preprocess.network_arrays`), Nesterov momentum with
the learning rate and momentum moved every epoch, validation on the first of
three folds (or on given specimens), deterministic prediction (dropout off).

Beyond the paper, for the tool: with ``passes`` > 1 a prediction also gives
each landmark's *spread*, in network pixels: Monte-Carlo dropout for model 3
(``passes`` forward passes with dropout on, seeded; the mean is the
estimate, the spread its standard deviation) and the spread over ``passes``
test-time augmentations for models 1 and 2, which have no dropout.  These
passes run on PyTorch whatever the training engine (the weights convert
exactly), so a model folder predicts without Theano.  A model folder's
weights are ``params.npz`` in Lasagne's layout (:mod:`beetles.paper.weights`).
"""
from __future__ import annotations

import numpy as np

from beetles.core.errors import BeetlesError, DataError, WeightsError
from beetles.core.frames import denormalise
from beetles.core.history import Epoch
from beetles.core.letterbox import check_aspect, letterbox_rgb
from beetles.core.metrics import landmark_distances
from beetles.model import Decoded, Inputs, LandmarkModel, Prediction, resolve_engine
from beetles.paper.engines import make_engine
from beetles.paper.networks import Dropout, model_spec
from beetles.paper.preprocess import gray_input, network_arrays
from beetles.paper.schedule import ReportEpoch, fit
from beetles.paper.weights import read_params, save_params

#: Seed of the Monte-Carlo dropout masks: the same photos give the same files.
DROPOUT_SEED = 0


class PaperModel(LandmarkModel):
    """Model 1, 2 or 3 (``info.config["network"]``) on an engine.

    ``net`` is the engine's trainable net (``None`` for a model loaded from
    a folder); ``module`` the PyTorch :class:`~beetles.paper.torch_layers.LandmarkNet`
    that makes the passes with a spread (made from the weights when first
    needed)."""

    def __init__(self, info, n_landmarks: int, engine, net=None, module=None, schedule=None):
        super().__init__(info, n_landmarks)
        self.engine, self.net, self._module, self.schedule = engine, net, module, schedule
        self.report = ReportEpoch()
        self.engine_name, self.device_name = engine.name, engine.device
        self.whole_suffix = engine.whole_suffix

    @property
    def network(self):
        """The network: the paper's model number, or a
        :class:`~beetles.paper.networks.ModelSpec` (e.g. a model in miniature)."""
        return self.info.config["network"]

    # -- building -------------------------------------------------------------
    @classmethod
    def check(cls, info, engine, device, minutes) -> str:
        name = resolve_engine(info, engine)
        built = make_engine(name, device)
        if minutes is not None and not built.time_budget:
            raise BeetlesError("--minutes needs --engine torch for models 1-3 (nolearn's loop has no time budget)")
        return name

    @classmethod
    def build(cls, info, n_landmarks, schedule, engine=None, device="cpu") -> "PaperModel":
        engine = make_engine(cls.check(info, engine, device, schedule.minutes), device)
        model = cls(info, n_landmarks, engine, schedule=schedule)
        model.net = engine.build(model.network, n_landmarks, schedule, model.report)
        return model

    @classmethod
    def load(cls, info, path, n_landmarks, device="cpu") -> "PaperModel":
        from pathlib import Path

        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: weight file not found (the model folder is incomplete)")
        try:
            params = read_params(path)
        except (OSError, ValueError) as error:
            raise WeightsError(f"{path}: cannot read the weights ({error})") from None
        model = cls(info, n_landmarks, make_engine("torch", device))
        model._module = model._module_from(params, source=path, device=model.engine.torch_device)
        return model

    def _module_from(self, params, source=None, device="cpu"):
        """A :class:`~beetles.paper.torch_layers.LandmarkNet` holding ``params``, on ``device``, in eval mode."""
        import torch

        from beetles.paper.torch_layers import LandmarkNet, set_torch_params

        with torch.device("meta"):  # no initialisation: every weight is loaded (model 3: 92 M of them)
            module = LandmarkNet(self.network, self.n_landmarks)
        module = module.to_empty(device=device)
        set_torch_params(module, params, source=source)
        return module.eval()

    @property
    def module(self):
        """The PyTorch module that makes the passes with a spread."""
        if self._module is None:
            if self.engine.name == "torch":
                self._module = self.net.module
            else:
                self._module = self._module_from(self.params())
        return self._module

    # -- data -----------------------------------------------------------------
    def prepare(self, specimens, *, augment=False, letterbox=False, progress=True, desc="photos") -> Inputs:
        X, y, source = network_arrays(specimens, augment=augment, progress=progress, desc=desc)
        return Inputs(X, y, source)

    def decode(self, path, name=None) -> Decoded:
        decoded = Decoded(*letterbox_rgb(path, name))
        check_aspect((decoded.letterbox.photo_width, decoded.letterbox.photo_height), f"{path}")
        return decoded

    def inputs(self, decoded) -> Inputs:
        return Inputs(gray_input(np.stack([d.network for d in decoded])), None, np.arange(len(decoded)))

    # -- training and prediction ----------------------------------------------
    #: Rounds of these models checkpoint as they train (:mod:`beetles.paper.checkpoint`).
    checkpoints = True

    def fit(self, train, valid=None, listeners=(), checkpoint=None, held_out=None) -> "PaperModel":
        """Train (see :meth:`LandmarkModel.fit`); with ``checkpoint`` (a
        :class:`~beetles.paper.checkpoint.Checkpointing`), resume from its
        checkpoint when there is one (the earlier epochs go to ``listeners``
        first) and write one as it says.  ``held_out``: :class:`Inputs` with
        targets (e.g. a round's test specimens) whose mean distance per
        landmark, dropout off, in network pixels, each epoch records as
        :attr:`Epoch.held_out` (a learning curve; it changes nothing in the
        training)."""
        self.report.listeners = [self.history.append, *listeners]
        if held_out is not None and held_out.targets is not None and len(held_out):
            self.report.monitor = self._held_out_error(held_out)
        self._module = None
        if valid is not None and not len(valid):
            valid = Inputs(train.x[:0], train.targets[:0], valid.source)
        if checkpoint is not None:
            self._resume(checkpoint, listeners)
            self.report.listeners.append(self._checkpointer(checkpoint))
        remaining = self.net.max_epochs - len(self.history)
        try:
            if remaining > 0 or not self.history:
                fit(self.net, train.x, train.targets, seed=self.schedule.seed, epochs=remaining if self.history else None,
                    valid=None if valid is None else (valid.x, valid.targets))
        finally:
            self.report.listeners, self.report.monitor = [], None  # a pickled net carries neither
        return self

    def _held_out_error(self, held_out):
        """``monitor(net) -> float`` for :class:`ReportEpoch`: the mean
        distance per landmark of ``held_out`` in network pixels, dropout off."""
        truth = denormalise(held_out.targets)  # (N, n, 2) network frame, y down

        def error(net) -> float:
            points = denormalise(self.engine.predict(net, held_out.x))
            return float(np.nanmean(landmark_distances(truth, points)))  # nan: a missing landmark
        return error

    def _resume(self, checkpoint, listeners) -> None:
        saved = checkpoint.read()
        if saved is None:
            return
        arrays, meta = saved
        self.engine.restore(self.net, arrays, meta)
        self.history[:] = [Epoch(int(row[0]), *map(float, row[1:])) for row in meta["epochs"]]  # older: no held_out
        for epoch in self.history:
            for listener in listeners:
                listener(epoch)

    def _checkpointer(self, checkpoint):
        def save(epoch) -> None:
            if checkpoint.due(epoch.number, epoch.number >= self.net.max_epochs):
                arrays, meta = self.engine.checkpoint(self.net)
                checkpoint.write(arrays, {**meta, "epochs": [e.row() for e in self.history]})
        return save

    @property
    def uses_dropout(self) -> bool:
        """Whether the net has dropout layers (model 3)."""
        return any(isinstance(layer, Dropout) and layer.p > 0 for layer in model_spec(self.network).layers)

    def predict(self, inputs, passes=1) -> Prediction:
        if passes <= 1 and self.net is not None:
            return Prediction(denormalise(self.engine.predict(self.net, inputs.x)), None)
        import torch

        module = self.module
        device = next(module.parameters()).device
        images = torch.from_numpy(np.ascontiguousarray(inputs.x, np.float32)).to(device)
        with torch.no_grad():
            module.eval()
            if passes <= 1:
                return Prediction(denormalise(module(images).cpu().numpy()), None)
            if self.uses_dropout:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(DROPOUT_SEED)
                    module.train()
                    try:
                        runs = np.stack([module(images).cpu().numpy() for _ in range(passes)])
                    finally:
                        module.eval()
                samples = denormalise(runs)  # (passes, B, n, 2)
                points = samples.mean(axis=0)
            else:
                from beetles.core.warp import tta_runs

                runs = tta_runs(lambda x: module(x).view(len(x), -1, 2), images, passes)
                samples = denormalise(runs.reshape(passes, len(images), -1))
                points = denormalise(module(images).cpu().numpy())
        return Prediction(points, np.sqrt(samples.var(axis=0).sum(-1)))

    # -- weights and description ---------------------------------------------
    def params(self) -> dict[str, np.ndarray]:
        if self.net is None:
            from beetles.paper.torch_layers import torch_params

            return torch_params(self._module)
        return self.engine.params(self.net)

    def save(self, path):
        return save_params(self.params(), path)

    def save_whole(self, path):
        return self.engine.save_whole(self.net, path)

    def load_params(self, source, skip_layers=()) -> list[str]:
        self._module = None
        return self.engine.load_params(self.net, source, skip_layers=skip_layers)

    def freeze(self, count: int) -> list[str]:
        return self.engine.freeze(self.net, count)

    def describe(self) -> str:
        return self.engine.describe()

    def record(self) -> dict:
        return self.engine.record()
