"""Shared fixtures: small real photos and landmark files made by the tests, and
the paper's models in miniature registered beside the real ones."""
from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest

from beetles import registry
from tests.helpers import MINI1, MINI3, make_photo

if os.environ.get("PYTEST_XDIST_WORKER"):  # one process per core: one PyTorch thread each
    os.environ.setdefault("BEETLES_THREADS", "1")


@pytest.fixture
def part_folder(tmp_path):
    """A valid part folder: 6 JPEG photos 320×240 and a TPS with 4 landmarks (y up)."""
    folder = tmp_path / "pronotum"
    rng = np.random.default_rng(1)
    blocks = []
    truth = []
    for k in range(6):
        name = f"p_{k:02d}.jpg"
        make_photo(folder / "images" / name, seed=k)
        points = rng.uniform([10, 10], [310, 230], size=(4, 2))  # y down
        truth.append(points)
        lines = [f"LM={len(points)}"] + [f"{x:.3f} {240 - y:.3f}" for x, y in points] + [f"IMAGE={name}", f"ID={k}"]
        blocks.append("\n".join(lines))
    (folder / "landmarks.tps").write_text("\n".join(blocks) + "\n")
    return folder, np.array(truth)


@pytest.fixture
def mini_models(monkeypatch):
    """Models 1 and 3 in miniature (:data:`tests.helpers.MINI1`, ``MINI3``)
    registered as ``mini1`` and ``mini3``: the paper's layers in the same
    order, trained and run as the paper's models are, in a fraction of the time."""
    for name, spec in (("mini1", MINI1), ("mini3", MINI3)):
        paper = registry.MODELS[name[-1]]
        monkeypatch.setitem(registry.MODELS, name, replace(paper, name=name, label=name, config={"network": spec}))
    return ("mini1", "mini3")


@pytest.fixture(autouse=True)
def _plain_kernels(request, monkeypatch):
    """The default run skips ``torch.compile`` of the pooling kernels (tens of
    seconds per process; the values are the same): the slow tests, which
    train the full models, run them compiled as a user's run does."""
    if "slow" not in request.keywords:
        monkeypatch.setattr("beetles.paper.torch_layers.COMPILE", False)
