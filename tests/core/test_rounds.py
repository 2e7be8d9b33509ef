"""Cross-validation rounds of contiguous test blocks (:mod:`beetles.core.rounds`)."""
import pytest

from beetles.core.rounds import make_rounds


def test_configurable_rounds():
    rounds = make_rounds(20, n_rounds=3)
    assert [len(r.test) for r in rounds] == [7, 7, 6]
    with pytest.raises(ValueError, match="cannot be split"):
        make_rounds(3, n_rounds=5)
    with pytest.raises(ValueError, match="exactly one"):
        make_rounds(10)
    with pytest.raises(ValueError, match="does not fit"):
        make_rounds(10, test_block=10)
