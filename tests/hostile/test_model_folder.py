"""Hostile cases for model folders and the command line (issue 16): a folder
is written as a unit under a lock, its weights are checked, a full disk and
Ctrl-C are one line, and a training killed at any moment leaves the old
model, the new one, or a clear "incomplete"."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import beetles
from beetles.cli import main
from beetles.core.errors import BeetlesError, DataError
from beetles.core.locks import held
from beetles.tool import modelfolder
from beetles.tool.modelfolder import load_folder, read_settings
from tests.tool.discs import disc_part, new_photos, trained_part

PHOTOS = [(96, 72, "RGB", ".png")] * 8


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small part and a model folder trained on it for 1 epoch."""
    return trained_part(tmp_path_factory.mktemp("folder"), photos=PHOTOS, epochs=1)


def copy_model(model, folder):
    shutil.copytree(model, folder)
    return folder


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_damaged_weights_are_named_not_used(model, tmp_path, capsys):
    """Case 11: 4 kB flipped in the middle of model.pt."""
    _, trained = model
    folder = copy_model(trained, tmp_path / "m")
    weights = folder / "model.pt"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(b ^ 0xFF for b in data[middle:middle + 4096])
    weights.write_bytes(bytes(data))
    new_photos(tmp_path / "new")
    assert main(["predict", str(folder), str(tmp_path / "new" / "new0.jpg"), "--out", str(tmp_path / "p.tps"),
                 "--quiet"]) == 2
    line = one_line(capsys)
    assert "model.pt: damaged or changed since training" in line and not (tmp_path / "p.tps").exists()


def test_a_folder_killed_between_weights_and_settings_says_incomplete(model, tmp_path, capsys):
    """Case 9 (a folder left by an older beetles, or by hand): model.pt without settings.json."""
    _, trained = model
    folder = copy_model(trained, tmp_path / "m")
    (folder / "settings.json").unlink()
    with pytest.raises(DataError, match="an incomplete model folder .model.pt but no settings.json"):
        read_settings(folder)
    part = disc_part(tmp_path / "part", photos=PHOTOS[:3])
    assert main(["train", "--data", str(part), "--out", str(folder), "--epochs", "1", "--quiet"]) == 2
    assert "already holds an incomplete model (no settings.json)" in one_line(capsys)


def test_a_second_training_into_the_same_folder_is_refused_naming_the_first(model, tmp_path, capsys):
    """Cases 14 and 15: the folder's lock, held by another training."""
    part, _ = model
    out = tmp_path / "m"
    script = (f"from beetles.core.locks import held\nimport time\nwith held({str(out)!r}, 'training a model into it'):"
              "\n    print('holding', flush=True)\n    time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert main(["train", "--data", str(part), "--out", str(out), "--epochs", "1", "--quiet", "--force"]) == 2
        line = one_line(capsys)
        assert f"process {holder.pid}" in line and "has been training a model into it" in line
        assert "wait for it to finish" in line and not out.exists()
    finally:
        holder.kill()
        holder.wait()


def test_force_never_replaces_a_folder_holding_other_files(model, tmp_path, capsys):
    part, trained = model
    folder = copy_model(trained, tmp_path / "m")
    (folder / "notes.txt").write_text("my notes\n")
    assert main(["train", "--data", str(part), "--out", str(folder), "--epochs", "1", "--quiet", "--force"]) == 2
    assert "holds files that are not a model folder's (notes.txt)" in one_line(capsys)
    assert (folder / "notes.txt").read_text() == "my notes\n"


def test_duplicate_photos_in_a_training_file_name_both_specimens(tmp_path, capsys):
    """Case 10."""
    part = disc_part(tmp_path / "part", photos=PHOTOS[:4])
    tps = part / "landmarks.tps"
    blocks = tps.read_text().strip().split("LM=")[1:]
    tps.write_text("".join(f"LM={b.strip()}\n" for b in blocks + [blocks[1]]))
    assert main(["train", "--data", str(part), "--out", str(tmp_path / "m"), "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "specimen 5 (d01.png): the same photo as specimen 2" in err and "Traceback" not in err


def test_replacing_a_model_publishes_it_whole(model, tmp_path):
    """publish: the new folder takes the old one's place in one step, the old one is gone."""
    _, trained = model
    old = copy_model(trained, tmp_path / "m")
    staged = modelfolder.staging_folder(old)
    (staged / "settings.json").write_text("{}")
    modelfolder.publish(staged, old)
    assert sorted(p.name for p in old.iterdir()) == ["settings.json"]
    assert not staged.exists() and not modelfolder.leftovers(old)


def test_a_failed_training_leaves_the_old_model_and_no_hidden_folder(model, tmp_path, monkeypatch, capsys):
    part, trained = model
    folder = copy_model(trained, tmp_path / "m")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("beetles.tool.train.plot_losses", full_disk)
    with pytest.raises(OSError):
        from beetles.tool.train import TrainSettings, train

        train(TrainSettings(out=folder, data=part, epochs=1, progress=False, force=True), log=lambda text: None)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert not modelfolder.leftovers(folder) and not list(tmp_path.glob(".m.lock*"))


SAVE = """
import resource, signal, sys
import numpy as np
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
from beetles.cli.options import exit_status
def body():
    if sys.argv[1] == "torch":
        from beetles.core.torchutil import save_state
        save_state({"params": {"w": np.zeros(1_000_000, np.float32)}}, sys.argv[2])
    else:
        from beetles.paper.weights import save_params
        save_params({"l/W": np.zeros(1_000_000, np.float32)}, sys.argv[2])
    return 0
sys.exit(exit_status("save", body))
"""


@pytest.mark.parametrize("kind, name", [("torch", "model.pt"), ("numpy", "params.npz")])
def test_a_full_disk_while_saving_weights_is_one_line_and_keeps_the_old_file(tmp_path, kind, name):
    """Cases 4 and 5: torch.save's RuntimeError and NumPy's zip file complaining as it is collected."""
    target = tmp_path / name
    target.write_bytes(b"the previous weights")
    done = subprocess.run([sys.executable, "-c", SAVE, kind, str(target)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{name}: cannot write" in lines[0], lines
    assert target.read_bytes() == b"the previous weights" and [p.name for p in tmp_path.iterdir()] == [name]


def _in_beetles_code(err: str) -> bool:
    """Whether a traceback in ``err`` has a frame in the beetles package
    (else the interrupt came during Python's own start-up)."""
    package = str(Path(beetles.__file__).parent)
    frames = re.findall(r'^\s*File "([^"]+)"', err, flags=re.M)
    return any(frame.startswith(package) for frame in frames)


def test_ctrl_c_while_the_command_is_still_importing_is_one_line(tmp_path):
    """Case 6: SIGINT at several moments of start-up and work; from the first
    line of beetles' code on, status 130 and one line.  Python's own start-up,
    before any of beetles' code runs, is not beetles': about 30 ms alone, it
    can outlast the first delay on a loaded machine, so an interrupt whose
    traceback has no frame of beetles (or that killed the interpreter before
    its handler) is not counted; the others must all be one line."""
    part = disc_part(tmp_path / "part", photos=PHOTOS[:3])
    command = [sys.executable, "-m", "beetles", "train", "--data", str(part), "--out", str(tmp_path / "m"),
               "--epochs", "1", "--quiet"]
    interrupted = 0
    for delay in (0.15, 0.4, 0.8, 1.5):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        if process.returncode == 0:
            continue  # it finished first
        if process.returncode == -signal.SIGINT or (process.returncode != 130 and not _in_beetles_code(err)):
            continue  # still in Python's start-up
        assert process.returncode == 130, (delay, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].endswith("interrupted") and "Traceback" not in err, (delay, err)
        interrupted += 1
    assert interrupted >= 2  # the later delays land in beetles' imports and work
    assert not list(tmp_path.glob(".m.training-*"))  # an interrupted training cleans up after itself


@pytest.mark.slow
def test_a_training_killed_at_any_moment_leaves_old_new_or_incomplete(model, tmp_path):
    """Cases 12 and 13: ``beetles train --force`` over a model, SIGKILLed at
    seeded random moments: the folder holds the old model, the new one (its
    weights' checksum matching its settings), or says it is incomplete;
    never a mixture.  Then a first training killed: "did not finish"."""
    part, trained = model
    old = copy_model(trained, tmp_path / "old")
    out = tmp_path / "m"
    command = [sys.executable, "-m", "beetles", "train", "--data", str(part), "--out", str(out), "--epochs", "1",
               "--quiet", "--force", "--seed", "7"]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    duration = time.perf_counter() - started
    rng = np.random.default_rng(16)
    outcomes = []
    for moment in sorted(rng.uniform(0.3, duration, 5)):
        shutil.rmtree(out)
        shutil.copytree(old, out)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(moment)
        process.kill()
        process.wait()
        settings = read_settings(out)  # never "incomplete" here: the old folder stays until the new one replaces it
        if settings["specimens"]["seed"] == 7:
            outcomes.append("new")
            load_folder(out)  # the checksum holds
        else:
            outcomes.append("old")
            assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in old.iterdir()}
        assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in old.iterdir())
    print("outcomes", outcomes)
    assert "old" in outcomes, outcomes
    # a first training killed half-way: the folder is not there, and says why
    shutil.rmtree(out)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(duration / 2)
    process.kill()
    process.wait()
    if modelfolder.leftovers(out):
        with pytest.raises(DataError, match="its training did not finish"):
            read_settings(out)
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "the folder of an earlier training" in done.stdout
        assert not modelfolder.leftovers(out) and load_folder(out)


def test_holding_the_lock_of_a_folder_refuses_the_second_holder_in_words(tmp_path):
    with held(tmp_path / "m", "training a model into it"):
        with pytest.raises(BeetlesError, match=f"process {os.getpid()} .* has been training a model into it"):
            with held(tmp_path / "m", "training"):
                pass
    with held(tmp_path / "m", "again"):  # released
        pass
    assert json.dumps(sorted(p.name for p in tmp_path.iterdir())) == "[]"
