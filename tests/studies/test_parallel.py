"""Rounds in parallel (:mod:`beetles.studies.parallel`): ``--workers`` and a
local Ray cluster give the files of a serial run, round for round."""
from dataclasses import replace

import numpy as np
import pytest

from beetles.formats.dataset import load_part
from beetles.registry import model_info
from beetles.studies.crossval import Experiment, round_dir
from beetles.studies.experiment import run
from tests.helpers import blob_part

ROUNDS = [1, 2, 3]


@pytest.fixture
def experiment(tmp_path, monkeypatch):
    """Model 1 (the paper's, full size: spawned workers see only the registry's models) for 2 epochs on
    the torch engine, one thread per process, serial and parallel alike."""
    monkeypatch.setenv("BEETLES_THREADS", "1")
    data = load_part(blob_part(tmp_path / "blobs", region=((220, 20), (300, 80))), name="blobs")
    schedule = replace(model_info("1").schedule(epochs=2), learning_rate=(0.003, 0.00001))
    return Experiment("blobs_scratch", data, tmp_path / "serial", schedule, rounds=ROUNDS, progress=False,
                      engine="torch", checkpoint_minutes=None)


def round_files(exp):
    files = {}
    for round_ in exp.chosen_rounds():
        folder = round_dir(exp, round_)
        with np.load(folder / "params.npz") as params:
            files[round_.number] = ({k: params[k] for k in params.files}, (folder / "predictions.csv").read_text())
    return files


def same(a, b):
    assert a.keys() == b.keys()
    for number in a:
        assert a[number][1] == b[number][1], number
        for key in a[number][0]:
            np.testing.assert_array_equal(a[number][0][key], b[number][0][key], err_msg=f"round {number} {key}")


@pytest.mark.slow
def test_workers_give_the_files_of_a_serial_run(experiment, tmp_path):
    serial = run(experiment)
    parallel_experiment = replace(experiment, out=tmp_path / "parallel", workers=2)
    parallel = run(parallel_experiment)
    same(round_files(experiment), round_files(parallel_experiment))
    assert [r.round for r in serial.rounds] == [r.round for r in parallel.rounds] == ROUNDS
    assert (tmp_path / "serial" / "distances.csv").read_text() == (tmp_path / "parallel" / "distances.csv").read_text()
    # a rerun with workers skips what is finished
    again = run(parallel_experiment)
    assert [r.seconds for r in again.rounds] == [r.seconds for r in parallel.rounds]


@pytest.mark.slow
def test_a_local_ray_cluster_gives_the_files_of_a_serial_run(experiment, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is in the test extra")
    run(experiment)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = replace(experiment, out=tmp_path / "ray", ray="auto")
        run(on_ray)
    finally:
        ray.shutdown()
    same(round_files(experiment), round_files(on_ray))
    assert (tmp_path / "serial" / "distances.csv").read_text() == (tmp_path / "ray" / "distances.csv").read_text()
