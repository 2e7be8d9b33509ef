"""Cross-validation rounds: contiguous test blocks, as in the paper.

Round k (0-based) tests on specimens ``[k*b, min((k+1)*b, N))`` and trains and
validates on the others, so every specimen is held out exactly once.  The
paper's rounds of each part (293 specimens in 9 rounds of 33, the last 29;
left mandible 11 × 26; right mandible 10 × 30) are
:func:`beetles.paper.settings.part_rounds`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Round:
    """One round: ``index`` (0-based) and the specimen indices of each side."""

    index: int
    train: np.ndarray
    test: np.ndarray

    @property
    def number(self) -> int:
        """1-based round number, as printed in the paper's tables."""
        return self.index + 1


def make_rounds(n_specimens: int, test_block: int | None = None, n_rounds: int | None = None) -> list[Round]:
    """Rounds of contiguous test blocks over ``n_specimens``.

    Give ``test_block`` (the paper's way: blocks of that size, the last one
    smaller; the number of rounds follows) or ``n_rounds`` (exactly that many
    contiguous blocks whose sizes differ by at most one), not both.
    """
    if (test_block is None) == (n_rounds is None):
        raise ValueError("give exactly one of test_block and n_rounds")
    if n_rounds is not None:
        if n_rounds < 2:
            raise ValueError(f"cross-validation needs at least 2 rounds, not {n_rounds}")
        if n_specimens < n_rounds:
            raise ValueError(f"{n_specimens} specimens cannot be split into {n_rounds} rounds")
        blocks = np.array_split(np.arange(n_specimens), n_rounds)
    else:
        if test_block < 1 or test_block >= n_specimens:
            raise ValueError(f"test block of {test_block} does not fit {n_specimens} specimens")
        blocks = [np.arange(start, min(start + test_block, n_specimens)) for start in range(0, n_specimens, test_block)]
    everyone = np.arange(n_specimens)
    return [Round(index, np.setdiff1d(everyone, test), test) for index, test in enumerate(blocks)]
