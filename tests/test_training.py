"""Models, training callbacks, weights, and a tiny end-to-end experiment."""
import json

import numpy as np
import pytest

import beetles.experiment as experiment_module
from conftest import blob_part
from beetles.experiment import Experiment, Schedule, run
from beetles.dataset import load_part
from beetles.models import MODELS, build_nolearn, layer_table
from beetles.training import (
    AdjustVariable,
    PaperSplit,
    WeightsError,
    fit,
    load_net,
    load_params,
    predict,
    read_losses,
    save_net,
    save_params,
)


def test_layer_tables_match_the_paper():
    table = layer_table(3, 8)
    assert [r["name"] for r in table] == [
        "conv1", "pool1", "dropout1", "conv2", "pool2", "dropout2", "conv3", "pool3", "dropout3",
        "hidden4", "dropout4", "hidden5", "output",
    ]
    by_name = {r["name"]: r for r in table}
    assert by_name["pool3"]["output_shape"] == (128, 23, 31)
    assert by_name["hidden4"]["params"] == 128 * 23 * 31 * 1000 + 1000  # ≈ 91.3 M
    assert round(sum(r["params"] for r in table) / 1e6, 1) == 92.3
    assert [r["output_shape"] for r in layer_table(1, 8)][-3:] == [(500,), (500,), (16,)]
    assert not any(r["kind"] == "dropout" for r in layer_table(2, 8))
    assert len(MODELS) == 3


class FakeShared:
    def __init__(self, value):
        self.value = value

    def set_value(self, value):
        self.value = value

    def get_value(self):
        return self.value


class FakeNet:
    max_epochs = 5

    def __init__(self):
        self.update_learning_rate = FakeShared(np.float32(0.03))


def test_adjust_variable_follows_the_linspace_after_each_epoch():
    net = FakeNet()
    callback = AdjustVariable("update_learning_rate", 0.03, 0.00001)
    seen = []
    for epoch in range(1, 6):
        callback(net, [{"epoch": epoch}])
        seen.append(float(net.update_learning_rate.get_value()))
    expected = np.linspace(0.03, 0.00001, 5).astype(np.float32)
    np.testing.assert_allclose(seen, expected)  # after epoch e: linspace[e - 1]
    assert isinstance(net.update_learning_rate.get_value(), np.float32)


def test_paper_split_is_python2_nolearn():
    # Python 2: round(1 / 0.4) == 3 folds; the first fold (contiguous) validates.
    train, valid = PaperSplit(3).indices(9)
    assert valid.tolist() == [0, 1, 2] and train.tolist() == list(range(3, 9))
    train, valid = PaperSplit(3).indices(10)
    assert len(valid) == 4 and valid[0] == 0
    import sklearn.cross_validation as old  # the compatibility module nolearn uses

    assert next(iter(old.KFold(10, 3)))[1].tolist() == valid.tolist()
    with pytest.raises(ValueError):
        PaperSplit(1)


@pytest.fixture(scope="module")
def tiny_net_and_data():
    rng = np.random.default_rng(0)
    X = rng.random((24, 1, 192, 256), dtype=np.float32)
    y = rng.uniform(-0.5, 0.5, (24, 4)).astype(np.float32)
    net = build_nolearn(1, 2, max_epochs=2)
    fit(net, X, y)
    return net, X, y


def test_whole_pickle_and_params_round_trip(tmp_path, tiny_net_and_data):
    net, X, _ = tiny_net_and_data
    before = predict(net, X[:3])
    again = load_net(save_net(net, tmp_path / "net.pkl"))
    np.testing.assert_array_equal(predict(again, X[:3]), before)
    fresh = build_nolearn(1, 2, max_epochs=2)
    loaded = load_params(fresh, save_params(net, tmp_path / "params.npz"))
    assert loaded[-1] == "output"
    np.testing.assert_array_equal(predict(fresh, X[:3]), before)
    from_pickle = build_nolearn(1, 2, max_epochs=2)
    load_params(from_pickle, tmp_path / "net.pkl")
    np.testing.assert_array_equal(predict(from_pickle, X[:3]), before)


def test_weights_of_another_landmark_count_name_layer_and_shapes(tmp_path, tiny_net_and_data):
    net, _, _ = tiny_net_and_data
    path = save_params(net, tmp_path / "params.npz")
    other = build_nolearn(1, 5, max_epochs=1)
    with pytest.raises(WeightsError, match=r"layer 'output' parameter 0 has shape \(500, 4\), but the network needs \(500, 10\)"):
        load_params(other, path)
    with pytest.raises(WeightsError, match="weight file not found"):
        load_params(other, tmp_path / "none.npz")


def test_interrupted_fit_raises_instead_of_passing_as_finished(tiny_net_and_data):
    _, X, y = tiny_net_and_data

    def interrupt(net, history):
        if len(history) == 1:
            raise KeyboardInterrupt

    net = build_nolearn(1, 2, max_epochs=3, on_epoch_finished=[interrupt])
    with pytest.raises(KeyboardInterrupt):
        fit(net, X, y)


def test_tiny_experiment_end_to_end_with_resume(tmp_path, monkeypatch, capsys):
    # Discs in the photos' top-right corner, far from where an untrained net
    # points (the centre): four epochs from a learning rate of 0.003 (the
    # paper's 0.03 overshoots in so few updates) must move the loss down.
    data = load_part(blob_part(tmp_path / "blobs", region=((220, 20), (300, 80))), name="blobs")
    out = tmp_path / "out"
    schedule = Schedule(model=3, epochs=4, learning_rate=(0.003, 0.00001))
    experiment = Experiment("blobs_scratch", data, out, schedule, rounds=[1, 2], progress=False)
    assert [len(r.test) for r in experiment.all_rounds()] == [2, 1, 1, 1, 1, 1, 1, 1, 1]

    # Interrupt round 2: round 1 stays finished and is not trained again.
    real_train_round = experiment_module.train_round
    calls, interrupts = [], []

    def interrupted(exp, round_):
        calls.append(round_.number)
        if round_.number == 2 and not interrupts:  # Ctrl-C the first time round 2 starts
            interrupts.append(2)
            raise KeyboardInterrupt
        return real_train_round(exp, round_)

    monkeypatch.setattr(experiment_module, "train_round", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(experiment)
    assert (out / "rounds" / "round01" / "round.json").is_file()
    assert not (out / "rounds" / "round02" / "round.json").exists()
    first_record = (out / "rounds" / "round01" / "round.json").read_text()

    calls.clear()
    summary = run(experiment)
    assert calls == [2]  # round 1 resumed from its files
    assert (out / "rounds" / "round01" / "round.json").read_text() == first_record

    for name in ["table01_losses.csv", "distances.csv", "predictions.tps", "predictions.csv", "run.json",
                 "fig_losses_round1.png", "fig_losses_round2.png", "fig12_landmark1.png", "fig13_test_images.png"]:
        assert (out / name).stat().st_size > 0, name
    assert (out / "table01_losses.csv").read_text().splitlines()[0] == "round,train_loss,valid_loss"
    assert (out / "distances.csv").read_text().splitlines()[0] == "landmark,distance"
    header = (out / "predictions.csv").read_text().splitlines()[0]
    assert header == "image,landmark,x_manual,y_manual,x_pred,y_pred"
    losses = read_losses(out / "rounds" / "round01" / "losses.csv")
    assert len(losses) == 4
    assert losses["train_loss"][-1] < 0.5 * losses["train_loss"][0]  # the loss moves down
    assert losses["valid_loss"][-1] < 0.7 * losses["valid_loss"][0]
    np.testing.assert_allclose(losses["learning_rate"][-1], 0.00001, rtol=1e-3)
    recorded = json.loads((out / "run.json").read_text())
    assert recorded["held_out_specimens"] == 3 and recorded["engine"] == "theano"
    assert recorded["schedule"]["epochs"] == 4 and len(recorded["rounds"]) == 2
    assert summary["results"]["trivial_mean_distance_px"] > 0
    predicted_tps = (out / "predictions.tps").read_text()
    assert predicted_tps.count("LM=2") == 3 and "IMAGE=b00.jpg" in predicted_tps

    # The schedule's seed fixes the initial weights and dropout: a rerun repeats.
    again = Experiment("blobs_scratch", data, tmp_path / "again", schedule, rounds=[1], progress=False)
    run(again)
    np.testing.assert_array_equal(read_losses(tmp_path / "again" / "rounds" / "round01" / "losses.csv")["train_loss"],
                                  losses["train_loss"])

    # A changed schedule does not reuse rounds trained with another one.
    changed = Experiment("blobs_scratch", data, out, Schedule(model=3, epochs=2), rounds=[1], progress=False)
    calls.clear()
    run(changed)
    assert calls == [1]


def test_too_few_specimens_for_rounds_is_a_clear_error(tmp_path):
    from beetles.errors import DataError

    data = load_part(blob_part(tmp_path / "one", count=1), name="pronotum")
    experiment = Experiment("one", data, tmp_path / "out", Schedule(epochs=1), progress=False)
    with pytest.raises(DataError, match="1 specimens cannot be split into 1 rounds|at least 2"):
        experiment.chosen_rounds()
