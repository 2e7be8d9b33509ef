"""A whole collection through ``beetles predict`` (:mod:`beetles.tool.collection`,
:mod:`beetles.tool.journal`): saved chunk by chunk, a SIGKILLed run resumed
to the files of one never stopped, the same files from a local Ray cluster."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from beetles.cli import main
from beetles.tool.journal import Journal, chunks, journal_folder
from tests.tool.discs import draw

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = 64
EVERY = 4


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """``PHOTOS`` disc photos of a few sizes, and one that cannot be read."""
    folder = tmp_path_factory.mktemp("collection") / "photos"
    rng = np.random.default_rng(3)
    sizes = [(160, 120), (200, 150), (120, 160)]
    for k in range(PHOTOS):
        draw(folder / f"c{k:03d}.png", sizes[k % len(sizes)], "RGB", rng)
    (folder / "c010.png").write_bytes(b"not a png")
    return folder


def command(model, photos, out, *extra) -> list[str]:
    return [sys.executable, "-m", "beetles", "predict", str(model), str(photos), "--out", str(out),
            "--csv", str(out.with_suffix(".csv")), "--save-every", str(EVERY), "--quiet", *extra]


ENV = {**os.environ, "BEETLES_THREADS": "1"}


def outputs(out: Path) -> tuple[bytes, bytes]:
    return out.read_bytes(), out.with_suffix(".csv").read_bytes()


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_files_of_one_never_stopped(trained, collection, tmp_path):
    _, model = trained
    whole = tmp_path / "whole" / "p.tps"
    whole.parent.mkdir()
    done = subprocess.run(command(model, collection, whole), env=ENV, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr  # c010.png skipped, the others written
    assert done.stderr.count("skipped") == 1 and "c010.png" in done.stderr
    assert not journal_folder(whole).exists()  # gone once the files are written

    out = tmp_path / "run" / "p.tps"
    out.parent.mkdir()
    process = subprocess.Popen(command(model, collection, out), env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    journal = journal_folder(out)
    deadline = time.monotonic() + 120
    while len(list(journal.glob("chunk-*.npz"))) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = len(list(journal.glob("chunk-*.npz")))
    assert 3 <= kept < PHOTOS // EVERY, f"killed after {kept} chunks"
    assert not out.exists() and not out.with_suffix(".csv").exists()  # no output before the end

    again = subprocess.run(command(model, collection, out), env=ENV, cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and str(journal) in lines[0] and "--resume" in lines[0]
    assert len(list(journal.glob("chunk-*.npz"))) == kept  # nothing thrown away

    resumed = subprocess.run(command(model, collection, out, "--resume"), env=ENV, cwd=ROOT, capture_output=True,
                             text=True)
    assert resumed.returncode == 1, resumed.stderr
    assert f"resuming: {kept * EVERY} of {PHOTOS} photo(s) already placed" in resumed.stdout
    assert resumed.stderr.count("skipped") == 1 and "c010.png" in resumed.stderr
    assert outputs(out) == outputs(whole)
    assert not journal.exists()


def test_resume_takes_up_only_chunks_of_the_same_photos_and_model(trained, collection, tmp_path, capsys):
    _, model = trained
    photos = tmp_path / "photos"
    photos.mkdir()
    for path in sorted(collection.glob("*.png"))[:24]:
        shutil.copy2(path, photos / path.name)
    out = tmp_path / "p.csv"
    journal = journal_folder(out)
    real_write = Journal.write

    def stop_after_two(self, chunk, placed, skipped):
        path = real_write(self, chunk, placed, skipped)
        if chunk.index == 1:
            raise KeyboardInterrupt
        return path

    args = ["predict", str(model), str(photos), "--out", str(out), "--save-every", "8", "--quiet"]
    try:
        Journal.write = stop_after_two
        assert main(args) == 130  # Ctrl-C right after the second chunk
    finally:
        Journal.write = real_write
    assert "the landmarks of 16 of 24 photo(s) are kept in" in capsys.readouterr().err
    # a photo of the first chunk changed since: that chunk is placed again, the second taken up
    first = sorted(photos.glob("*.png"))[0]
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))
    parts = chunks(sorted(photos.glob("*.png")), 8)
    saved = Journal(journal, "")
    assert saved.read(parts[0]) is None and saved.read(parts[1]) is not None
    assert main([*args, "--resume"]) == 1
    assert "resuming: 8 of 24 photo(s) already placed" in capsys.readouterr().out
    assert not journal.exists()
    # another chunk size is another journal: --resume refuses it rather than mixing
    Journal.write = stop_after_two
    try:
        assert main(args) == 130
    finally:
        Journal.write = real_write
    capsys.readouterr()
    assert main(["predict", str(model), str(photos), "--out", str(out), "--save-every", "16", "--resume",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--save-every" in err and str(journal) in err


@pytest.mark.slow
def test_a_local_ray_cluster_writes_the_files_of_one_machine(trained, collection, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is in the test extra")
    _, model = trained
    here = tmp_path / "here" / "p.tps"
    here.parent.mkdir()
    assert subprocess.run(command(model, collection, here), env=ENV, cwd=ROOT, capture_output=True).returncode == 1
    os.environ["BEETLES_THREADS"] = "1"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = tmp_path / "ray" / "p.tps"
        on_ray.parent.mkdir()
        status = main(["predict", str(model), str(collection), "--out", str(on_ray), "--csv",
                       str(on_ray.with_suffix(".csv")), "--save-every", str(EVERY), "--ray", "auto", "--quiet"])
    finally:
        ray.shutdown()
        os.environ.pop("BEETLES_THREADS")
    assert status == 1
    assert outputs(on_ray) == outputs(here)
    assert not journal_folder(on_ray).exists()


def test_a_gpu_asked_for_where_there_is_none_is_one_clear_line(trained, collection, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    _, model = trained
    out = tmp_path / "p.tps"
    assert main(["predict", str(model), str(collection), "--out", str(out), "--device", "cuda", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device cuda" in err[0] and "sees no CUDA GPU" in err[0]
    assert not out.exists() and not journal_folder(out).exists()
