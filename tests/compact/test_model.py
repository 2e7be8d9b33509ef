"""The compact models learn, refine, keep to a time budget, and their weights travel
(:mod:`beetles.compact.model`, :mod:`beetles.compact.trainer`)."""
from dataclasses import replace

import numpy as np
import pytest

from beetles.compact.photos import Photos
from beetles.core.errors import WeightsError
from beetles.core.frames import denormalise, normalise
from beetles.formats.dataset import load_part
from beetles.model import Inputs
from beetles.paper.torch_training import build_torch_net
from beetles.registry import build_model, load_model, model_info
from tests.helpers import MINI1, coloured_part


@pytest.fixture(scope="module")
def coloured(tmp_path_factory):
    return coloured_part(tmp_path_factory.mktemp("coloured") / "discs")


@pytest.mark.slow
def test_heatmap_model_learns_and_its_weights_travel(coloured, tmp_path):
    data = load_part(coloured, name="discs")
    model = build_model("heatmap", 2, model_info("heatmap").schedule(epochs=25, seed=1))
    X, X_test = model.prepare(data.specimens[:32], progress=False), model.prepare(data.specimens[32:], progress=False)
    assert X.x.network.dtype == np.uint8 and X.x.network.shape == (32, 3, 192, 256) and X.x.fine is None
    model.fit(X)
    losses = [epoch.train_loss for epoch in model.history]
    assert len(losses) == 25 and np.mean(losses[-3:]) < 0.2 * np.mean(losses[:3])
    prediction = model.predict(X_test)
    assert prediction.frame == "network"
    errors = np.linalg.norm(prediction.points - denormalise(X_test.targets), axis=-1)
    trivial = np.linalg.norm(denormalise(X.targets).mean(0)[None] - denormalise(X_test.targets), axis=-1)
    assert errors.mean() < 0.3 * trivial.mean(), (errors.mean(), trivial.mean())
    assert prediction.spread.shape == (8, 2) and np.all(prediction.spread > 0)
    # weights: the model loaded from its file predicts the same; another landmark count is refused
    again = load_model("heatmap", model.save(tmp_path / "model.pt"), 2)
    np.testing.assert_allclose(again.predict(X_test).points, prediction.points, atol=1e-3)
    with pytest.raises(WeightsError, match=r"out.weight has shape \(2, 64, 1, 1\).*needs \(3, 64, 1, 1\)"):
        build_model("heatmap", 3, model_info("heatmap").schedule(epochs=1)).set_params(model.params(), source="w.npz")
    with pytest.raises(WeightsError, match="not a 'heatmap' model's weights"):
        build_model("heatmap", 2, model_info("heatmap").schedule(epochs=1)).set_params({"conv1/0": np.zeros(3)})
    with pytest.raises(WeightsError, match="weights of a 'heatmap' model, but settings.json says 'regress'"):
        load_model("regress", tmp_path / "model.pt", 2)


@pytest.mark.slow
def test_cascade_refines_on_the_fine_photos(coloured, tmp_path):
    """The cascade's refiner, trained on patches of the 1024×768 photos,
    pulls estimates a few pixels off towards the truth, and the cascade
    beats its own coarse stage; its weights travel with it."""
    data = load_part(coloured, name="discs")
    schedule = replace(model_info("cascade").schedule(epochs=20, seed=1), batch_size=8)
    model = build_model("cascade", 2, schedule)
    X, X_test = model.prepare(data.specimens[:32], progress=False), model.prepare(data.specimens[32:], progress=False)
    assert X.x.fine.shape == (32, 3, 768, 1024) and X.x.network.shape == (32, 3, 192, 256)
    with pytest.raises(ValueError, match="needs the fine photos"):
        model.fit(Inputs(Photos(X.x.network), X.targets, X.source))
    model.fit(X)
    assert len(model.history) == 40 and model.refined  # 20 coarse epochs, then 20 of the refiner
    truth = denormalise(X_test.targets)  # (8, 2, 2) network pixels
    # the refiner alone, from starts 2.5 px (sd) off the truth
    start = truth + np.random.default_rng(0).normal(0, 2.5, truth.shape)
    moved, _ = model.refine(X_test.x.fine, normalise(start).reshape(8, 2, 2))
    before = np.linalg.norm(start - truth, axis=-1).mean()
    after = np.linalg.norm(denormalise(moved.reshape(8, -1)) - truth, axis=-1).mean()
    assert after < 0.5 * before, (after, before)
    # the whole cascade against its coarse stage
    refined = model.predict(X_test)
    model.refined = False
    coarse = model.predict(X_test)
    model.refined = True
    refined_error = np.linalg.norm(refined.points - truth, axis=-1).mean()
    coarse_error = np.linalg.norm(coarse.points - truth, axis=-1).mean()
    assert refined_error < coarse_error, (refined_error, coarse_error)
    assert refined.spread.shape == (8, 2) and np.all(refined.spread > 0)
    again = load_model("cascade", model.save(tmp_path / "model.pt"), 2)
    assert again.refined
    np.testing.assert_allclose(again.predict(X_test).points, refined.points, atol=1e-2)


def test_time_budget_stops_training():
    X = np.random.default_rng(0).integers(0, 255, (8, 3, 192, 256), dtype=np.uint8)
    y = np.zeros((8, 2), np.float32)
    model = build_model("regress", 1, model_info("regress").schedule(minutes=0.5 / 60, seed=0))  # half a second
    model.fit(Inputs(Photos(X), y, np.arange(8)))
    assert 1 <= len(model.history) < 50
    assert model.history[-1].learning_rate < 0.003  # the cosine ran down with the clock
    # model 3 on the torch engine plans its epochs from the first one (here in miniature)
    X1 = np.zeros((6, 1, 192, 256), np.float32)
    paper_net = build_torch_net(MINI1, 1, max_epochs=5000, batch_size=4, minutes=1e-4)
    paper_net.fit(X1, np.zeros((6, 2), np.float32))
    assert paper_net.max_epochs == 1 and len(paper_net.train_history_) == 1
