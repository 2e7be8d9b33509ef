import numpy as np
import pytest

from beetles.paper import PARTS
from beetles.rounds import make_rounds, part_rounds


@pytest.mark.parametrize(
    "name, rounds, sizes",
    [
        ("pronotum", 9, [33] * 8 + [29]),
        ("elytra", 9, [33] * 8 + [29]),
        ("head", 9, [33] * 8 + [29]),
        ("left_mandible", 11, [26] * 11),
        ("right_mandible", 10, [30] * 9 + [20]),
    ],
)
def test_paper_rounds(name, rounds, sizes):
    result = part_rounds(name)
    assert len(result) == rounds == PARTS[name].rounds
    assert [len(r.test) for r in result] == sizes
    held_out = np.concatenate([r.test for r in result])
    np.testing.assert_array_equal(held_out, np.arange(PARTS[name].specimens))  # each exactly once
    for r in result:
        assert len(np.intersect1d(r.train, r.test)) == 0
        assert len(r.train) + len(r.test) == PARTS[name].specimens
        assert np.all(np.diff(r.test) == 1)  # contiguous
    assert result[0].number == 1 and list(result[1].test[:2]) == [sizes[0], sizes[0] + 1]


def test_configurable_rounds():
    rounds = make_rounds(20, n_rounds=3)
    assert [len(r.test) for r in rounds] == [7, 7, 6]
    assert [len(r.test) for r in part_rounds("pronotum", 40)] == [5, 5, 5, 5, 4, 4, 4, 4, 4]
    with pytest.raises(ValueError, match="cannot be split"):
        make_rounds(3, n_rounds=5)
    with pytest.raises(ValueError, match="exactly one"):
        make_rounds(10)
    with pytest.raises(ValueError, match="does not fit"):
        make_rounds(10, test_block=10)
