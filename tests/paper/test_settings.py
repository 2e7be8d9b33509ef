"""The study's facts: its parts, their rounds, the published landmarks (:mod:`beetles.paper.settings`)."""
import numpy as np
import pytest

from beetles.core.letterbox import ASPECT_TOLERANCE, RESAMPLE
from beetles.paper import settings as paper
from beetles.paper.settings import PARTS, part_rounds, published_dir


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


def test_rounds_of_another_count_and_of_another_part():
    assert [len(r.test) for r in part_rounds("pronotum", 40)] == [5, 5, 5, 5, 4, 4, 4, 4, 4]
    assert [len(r.test) for r in part_rounds("wings", 20)] == [3, 3] + [2] * 7  # not the study's: 9 rounds
    assert len(part_rounds("wings", 5)) == 5
    with pytest.raises(ValueError, match="at least 2"):
        part_rounds("wings", 1)


def test_the_published_landmarks_are_installed_with_the_package():
    folder = published_dir()
    for spec in PARTS.values():
        assert (folder / f"{spec.published_prefix}_manual.tps").is_file(), spec.name
        assert (folder / f"{spec.published_prefix}_scratch_pred.csv").is_file(), spec.name
    assert (folder / "README.md").is_file()


def test_every_resize_uses_the_papers_filter_and_tolerance():
    assert paper.DOWNSAMPLE_FILTER == "lanczos" and RESAMPLE.name == "LANCZOS"
    assert paper.ASPECT_TOLERANCE == ASPECT_TOLERANCE == 0.01
