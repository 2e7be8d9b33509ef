"""One registry of models and one interface (:mod:`beetles.registry`, :mod:`beetles.model`):
every registered model goes through the same calls, and nothing outside the
registry switches on a model's name."""
import re
from pathlib import Path

import numpy as np
import pytest

import beetles
from beetles.core.errors import BeetlesError
from beetles.formats.dataset import load_part
from beetles.model import Inputs, LandmarkModel, Schedule, resolve_engine
from beetles.registry import MODELS, build_model, check_model, load_model, model_info
from tests.tool.discs import disc_part

PACKAGE = Path(beetles.__file__).resolve().parent


def test_names_engines_and_schedules():
    assert list(MODELS) == ["zoom", "cascade", "heatmap", "regress", "1", "2", "3"]
    assert resolve_engine(model_info("heatmap"), None) == "torch" and resolve_engine(model_info(3), None) == "theano"
    with pytest.raises(BeetlesError, match="--model heatmap runs on the torch engine"):
        check_model("heatmap", "theano")
    with pytest.raises(BeetlesError, match="--engine tensorflow: expected one of theano, torch"):
        check_model("3", "tensorflow")
    with pytest.raises(BeetlesError, match="--minutes needs --engine torch"):
        check_model("3", "theano", minutes=1)
    assert model_info("3").name == model_info(3).name == model_info("model3").name == "3"
    assert model_info("regress").name == "regress"
    with pytest.raises(ValueError, match="unknown model 'unet'"):
        model_info("unet")
    schedule = model_info("heatmap").schedule(minutes=2)
    assert schedule.epochs is None and schedule.minutes == 2 and schedule.batch_size == 16
    assert Schedule(model=3, epochs=6).key() == model_info(3).schedule(epochs=6).key()
    assert model_info(3).schedule(epochs=6, minutes=1).key() != Schedule(model=3, epochs=6).key()
    assert model_info(3).schedule(minutes=1).epochs == 5000  # the paper's models plan their epochs in the budget
    assert model_info("cascade").schedule().epochs == 60 and model_info("cascade").schedule(seed=7).seed == 7
    assert model_info("cascade").schedule().minutes is None
    zoom = model_info("zoom")  # epochs from the data's size, within a time limit unless --epochs is given
    assert zoom.schedule().epochs is None and zoom.schedule().minutes == 9
    assert zoom.schedule(epochs=5).minutes is None and zoom.schedule(minutes=2).minutes == 2


def test_what_each_model_is():
    for info in MODELS.values():
        assert issubclass(info.model_class(), LandmarkModel), info.name
        assert info.engines and info.weights_file in ("model.pt", "params.npz") and info.uncertainty
    cascade, three = model_info("cascade"), model_info("3")
    assert cascade.fine_scale == 4 and cascade.stages == ("coarse network", "refiner") and cascade.any_aspect
    assert three.fine_scale is None and not three.any_aspect and three.needs_budget and "dropout" in three.uncertainty
    assert model_info("1").label == "model1" and "test-time augmentations" in model_info("1").uncertainty


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Six 4:3 photos (160×120) of three coloured discs, their landmarks."""
    folder = disc_part(tmp_path_factory.mktemp("interface") / "part", [(160, 120, "RGB", ".png")] * 6, seed=2)
    return load_part(folder)


@pytest.mark.parametrize("name", ["zoom", "cascade", "heatmap", "regress", "mini1", "mini3",
                                  *(pytest.param(n, marks=pytest.mark.slow) for n in ("1", "2", "3"))])
def test_every_model_goes_through_the_same_calls(name, photos, tmp_path, mini_models):
    info = model_info(name)
    schedule = info.schedule(epochs=1, seed=3)
    model = build_model(info, photos.n_landmarks, schedule, engine="torch")
    model.check_specimens(photos.specimens)
    train = model.prepare(photos.specimens[:4], augment=True, letterbox=True, progress=False)
    valid = model.prepare(photos.specimens[4:], letterbox=True, progress=False)
    assert len(valid) == 2 and valid.targets.shape == (2, 2 * photos.n_landmarks)
    seen = []
    model.fit(train, valid, listeners=[seen.append])
    assert len(model.history) == len(info.stages) == len(seen) and np.isfinite(seen[-1].valid_loss)
    prediction = model.predict(valid, passes=3)
    assert prediction.frame == "network" and prediction.points.shape == (2, photos.n_landmarks, 2)
    assert prediction.spread.shape == (2, photos.n_landmarks) and np.all(prediction.spread >= 0)
    decoded = [model.decode(s.image, s.name) for s in photos.specimens[4:]]
    in_photos = model.predict_photos(decoded, passes=3)
    assert in_photos.frame == "photo"
    np.testing.assert_allclose(in_photos.points, np.clip(prediction.points / decoded[0].letterbox.scale, 0, [160, 120]),
                               atol=0.5)
    path = model.save(tmp_path / info.weights_file)
    again = load_model(info, path, photos.n_landmarks)
    np.testing.assert_allclose(again.predict_photos(decoded, passes=3).points, in_photos.points, atol=0.05)
    assert model.record()["engine"] == "torch" and model.describe().startswith("torch ")
    no_validation = build_model(info, photos.n_landmarks, schedule, engine="torch")
    no_validation.fit(train, Inputs.empty())
    assert np.isnan(no_validation.history[-1].valid_loss)


def test_no_model_name_switch_outside_the_registry():
    """A model's name is compared with a literal, or the compact models tested
    for, only in the registry: everything else asks the registry."""
    names = "|".join(re.escape(name) for name in MODELS)
    switch = re.compile(rf"""(==|!=|\bin\b)\s*\(?\s*["']({names})["']|["']({names})["']\s*(==|!=)|is_compact_model""")
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "registry.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if switch.search(line.split("#")[0]):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
