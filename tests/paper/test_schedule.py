"""The paper's schedule: the linspace callbacks, the split, a fit that stops (:mod:`beetles.paper.schedule`)."""
import numpy as np
import pytest

from beetles.core.history import Epoch
from beetles.paper.nolearn import build_nolearn
from beetles.paper.schedule import AdjustVariable, FixedSplit, PaperSplit, ReportEpoch, fit
from tests.helpers import MINI1


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


def test_fixed_split_and_epoch_reports():
    train, valid = FixedSplit(4).indices(6)
    assert train.tolist() == [0, 1, 2, 3] and valid.tolist() == [4, 5]
    seen = []
    net = FakeNet()
    net.update_momentum = FakeShared(np.float32(0.9))
    report = ReportEpoch([seen.append])
    report(net, [{"epoch": 3, "train_loss": 0.5, "valid_loss": 0.25, "dur": 1.5}])
    expected = Epoch(3, 0.5, 0.25, float(np.float32(0.03)), float(np.float32(0.9)), 1.5)
    assert seen[0].row()[:6] == expected.row()[:6] and np.isnan(seen[0].held_out)  # nothing watched
    report.monitor = lambda watched: 7.25 if watched is net else -1.0  # a held-out error, asked of the net
    report(net, [{"epoch": 4, "train_loss": 0.4, "valid_loss": 0.2, "dur": 1.0}])
    assert seen[1].number == 4 and seen[1].held_out == 7.25


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    return rng.random((24, 1, 192, 256), dtype=np.float32), rng.uniform(-0.5, 0.5, (24, 4)).astype(np.float32)


def test_interrupted_fit_raises_instead_of_passing_as_finished(tiny_data):
    X, y = tiny_data

    def interrupt(net, history):
        if len(history) == 1:
            raise KeyboardInterrupt

    net = build_nolearn(MINI1, 2, max_epochs=3, on_epoch_finished=[interrupt])
    with pytest.raises(KeyboardInterrupt):
        fit(net, X, y)
