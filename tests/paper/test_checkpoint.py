"""Rounds that survive a crash (:mod:`beetles.paper.checkpoint`): a round
stopped mid-way resumes from its last checkpoint and ends with the same
weights, losses and predictions as one never stopped, on both engines; a
SIGKILLed experiment script resumes to the same files."""
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from beetles.formats.dataset import load_part
from beetles.paper.checkpoint import CHECKPOINT_FILE, Checkpointing
from beetles.registry import model_info
from beetles.studies.crossval import Experiment, round_dir
from beetles.studies.experiment import run
from tests.helpers import blob_part

EPOCHS = 5


def experiment(tmp_path, name, model, engine, every=1):
    blobs = tmp_path / "blobs"
    part = blobs if (blobs / "landmarks.tps").is_file() else blob_part(blobs, region=((220, 20), (300, 80)))
    data = load_part(part, name="blobs")
    schedule = replace(model_info(model).schedule(epochs=EPOCHS), learning_rate=(0.05, 0.00001))
    return Experiment(name, data, tmp_path / name, schedule, rounds=[1], progress=False, engine=engine,
                      checkpoint_epochs=every, checkpoint_minutes=None)


def finished_files(exp):
    folder = round_dir(exp, exp.chosen_rounds()[0])
    with np.load(folder / "params.npz") as params:
        weights = {k: params[k] for k in params.files}
    return weights, (folder / "losses.csv").read_text().splitlines(), (folder / "predictions.csv").read_text()


@pytest.mark.parametrize("model, engine", [("mini3", "torch"), ("mini3", "theano"), ("mini1", "theano")])
def test_a_round_stopped_mid_way_resumes_to_the_same_weights(tmp_path, monkeypatch, mini_models, model, engine):
    whole = experiment(tmp_path, "whole", model, engine)
    run(whole)
    want = finished_files(whole)
    assert not (round_dir(whole, whole.chosen_rounds()[0]) / CHECKPOINT_FILE).exists()  # removed when done

    stopped = experiment(tmp_path, "stopped", model, engine, every=2)
    real_write = Checkpointing.write
    written = []

    def write_then_stop(self, arrays, meta):
        path = real_write(self, arrays, meta)
        written.append(len(meta["epochs"]))
        if len(meta["epochs"]) == 2:
            raise KeyboardInterrupt  # Ctrl-C right after the checkpoint of epoch 2
        return path

    monkeypatch.setattr(Checkpointing, "write", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run(stopped)
    folder = round_dir(stopped, stopped.chosen_rounds()[0])
    assert (folder / CHECKPOINT_FILE).is_file() and not (folder / "round.json").exists()
    monkeypatch.setattr(Checkpointing, "write", real_write)
    run(stopped)
    got = finished_files(stopped)
    assert written == [2]
    assert got[0].keys() == want[0].keys()
    for key in want[0]:
        np.testing.assert_array_equal(got[0][key], want[0][key], err_msg=key)
    # the losses and held-out distances of every epoch, the first two from the
    # checkpoint (durations differ)
    def without_seconds(lines):
        return [line.split(",")[:5] + line.split(",")[6:] for line in lines]
    assert without_seconds(got[1]) == without_seconds(want[1])
    assert len(got[1]) == EPOCHS + 1
    assert got[2] == want[2]


def test_a_checkpoint_of_other_settings_is_not_used(tmp_path, mini_models):
    first = experiment(tmp_path, "a", "mini3", "torch")
    round_ = first.chosen_rounds()[0]
    from beetles.studies.crossval import round_checkpoint

    checkpoint = round_checkpoint(first, round_)
    checkpoint.path.parent.mkdir(parents=True)
    checkpoint.write({"x": np.zeros(2)}, {"epochs": []})
    assert checkpoint.read() is not None
    other = replace(first, schedule=replace(first.schedule, epochs=EPOCHS + 1))
    assert round_checkpoint(other, round_).read() is None  # another schedule: its key differs
    checkpoint.path.write_bytes(b"damaged")
    assert checkpoint.read() is None


SCRIPT = """
import sys
from pathlib import Path
from dataclasses import replace
from beetles.formats.dataset import load_part
from beetles.registry import model_info
from beetles.studies.crossval import Experiment
from beetles.studies.experiment import run
data = load_part(sys.argv[1], name="blobs")
schedule = replace(model_info("1").schedule(epochs=int(sys.argv[3])), learning_rate=(0.003, 0.00001))
run(Experiment("blobs_scratch", data, Path(sys.argv[2]), schedule, rounds=[1], progress=False, engine="torch",
               checkpoint_epochs=1, checkpoint_minutes=None))
"""


@pytest.mark.slow
def test_a_sigkilled_round_resumes_to_the_same_files(tmp_path):
    """Model 1 at full size on the torch engine, 8 epochs: SIGKILL once two
    checkpoints exist, run again: params.npz and the predictions equal an
    uninterrupted run's."""
    part = blob_part(tmp_path / "blobs", region=((220, 20), (300, 80)))
    command = [sys.executable, "-c", SCRIPT, str(part)]
    subprocess.run([*command, str(tmp_path / "whole"), "8"], check=True, capture_output=True, timeout=900)
    process = subprocess.Popen([*command, str(tmp_path / "killed"), "8"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    checkpoint = tmp_path / "killed" / "rounds" / "round01" / CHECKPOINT_FILE
    deadline = time.monotonic() + 600
    seen = 0
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoint.is_file():
            with np.load(checkpoint) as data:
                import json

                seen = len(json.loads(str(data["__meta__"]))["epochs"])
            if seen >= 2:
                break
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (checkpoint.parent / "round.json").exists()
    shutil.copy(checkpoint, tmp_path / "at_kill.npz")
    subprocess.run([*command, str(tmp_path / "killed"), "8"], check=True, capture_output=True, timeout=900)
    for name in ("params.npz", "predictions.csv"):
        a = tmp_path / "whole" / "rounds" / "round01" / name
        b = tmp_path / "killed" / "rounds" / "round01" / name
        if name.endswith(".npz"):
            with np.load(a) as x, np.load(b) as y:
                for key in x.files:
                    np.testing.assert_array_equal(x[key], y[key], err_msg=key)
        else:
            assert a.read_text() == b.read_text()
    assert seen >= 2
