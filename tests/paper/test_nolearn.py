"""The paper's own stack: nolearn nets, whole pickles and parameter files (:mod:`beetles.paper.nolearn`,
:mod:`beetles.paper.weights`)."""
import numpy as np
import pytest

from beetles.core.errors import WeightsError
from beetles.paper.nolearn import build_nolearn, load_params, predict
from beetles.paper.schedule import fit
from beetles.paper.weights import load_net, net_params, save_net, save_params
from tests.helpers import MINI1


@pytest.fixture(scope="module")
def tiny_net_and_data():
    rng = np.random.default_rng(0)
    X = rng.random((24, 1, 192, 256), dtype=np.float32)
    y = rng.uniform(-0.5, 0.5, (24, 4)).astype(np.float32)
    net = build_nolearn(MINI1, 2, max_epochs=2)
    fit(net, X, y)
    return net, X, y


def test_whole_pickle_and_params_round_trip(tmp_path, tiny_net_and_data):
    net, X, _ = tiny_net_and_data
    before = predict(net, X[:3])
    again = load_net(save_net(net, tmp_path / "net.pkl"))
    np.testing.assert_array_equal(predict(again, X[:3]), before)
    fresh = build_nolearn(MINI1, 2, max_epochs=2)
    loaded = load_params(fresh, save_params(net_params(net), tmp_path / "params.npz"))
    assert loaded[-1] == "output"
    np.testing.assert_array_equal(predict(fresh, X[:3]), before)
    from_pickle = build_nolearn(MINI1, 2, max_epochs=2)
    load_params(from_pickle, tmp_path / "net.pkl")
    np.testing.assert_array_equal(predict(from_pickle, X[:3]), before)


def test_weights_of_another_landmark_count_name_layer_and_shapes(tmp_path, tiny_net_and_data):
    net, _, _ = tiny_net_and_data
    path = save_params(net_params(net), tmp_path / "params.npz")
    other = build_nolearn(MINI1, 5, max_epochs=1)
    with pytest.raises(WeightsError, match=r"layer 'output' parameter 0 has shape \(20, 4\), but the network needs \(20, 10\)"):
        load_params(other, path)
    with pytest.raises(WeightsError, match="weight file not found"):
        load_params(other, tmp_path / "none.npz")
