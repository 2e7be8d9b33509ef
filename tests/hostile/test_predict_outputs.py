"""``beetles predict`` writes outputs that are complete, consistent and never
mixed (issue 16, cases 3, 16, 17, 18, 19): photo names no TPS line can hold,
two runs writing the same files, a run that fails or is killed while writing,
outputs that are each other, the photos or the model folder."""
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
from beetles.core.errors import DataError
from beetles.core.frames import photo_frame
from beetles.core.locks import held
from beetles.core.specimen import Specimen
from beetles.core.staging import StagedFiles, remove_leftovers
from beetles.formats.tps import format_tps, read_tps_records, unwritable_name
from tests.tool.discs import LANDMARKS, new_photos, read_csv, trained_part

ROOT = Path(__file__).resolve().parents[2]
BAD_UTF8 = os.fsdecode(b"bad\xff.png")  # a name in another encoding: Python holds the byte as a surrogate
NEWLINE = "new\nLM=3.jpg"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A model folder trained for 1 epoch on the disc photos."""
    return trained_part(tmp_path_factory.mktemp("hostile_predict"), epochs=1)[1]


@pytest.fixture
def photos(tmp_path):
    """A folder of new photos (and a truncated one): ``(folder, names of the readable ones)``."""
    truth = new_photos(tmp_path / "new")
    return tmp_path / "new", sorted(truth)


def predict(model, *args) -> int:
    return main(["predict", str(model), *map(str, args), "--quiet"])


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by its path from it."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# Cases 3 and 19: photo names no TPS line can hold ---------------------------------------------------------


def test_the_reasons_a_name_cannot_be_written():
    assert unwritable_name("beetle_001.jpg") is None
    assert unwritable_name("käfer é 1.jpg") is None
    assert unwritable_name("sub/dir/a.png") is None
    for name in ("a\nb.png", "a\rb.png", "a\u2028b.png", "a\x85b.png", "a\x0bb.png"):
        assert "line break" in unwritable_name(name), name
    assert "not valid UTF-8" in unwritable_name(BAD_UTF8)
    assert "space" in unwritable_name(" a.png") and "space" in unwritable_name("a.png ")


@pytest.mark.parametrize("name, reason", [(NEWLINE, "line break"), (BAD_UTF8, "not valid UTF-8")])
def test_format_tps_refuses_an_unwritable_name_naming_the_photo(name, reason):
    good = Specimen(Path("ok.png"), np.zeros((2, 2)), photo_frame(10, 10))
    bad = Specimen(Path(name), np.zeros((2, 2)), photo_frame(10, 10))
    with pytest.raises(DataError, match=reason) as caught:
        format_tps([good, bad])
    assert repr(name) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(DataError, match="COMMENT="):
        format_tps([Specimen(Path("ok.png"), np.zeros((2, 2)), photo_frame(10, 10), comment="two\nlines")])


def test_photos_named_in_another_encoding_or_with_a_newline_are_skipped_the_others_written(model, photos, tmp_path,
                                                                                          capsys):
    folder, names = photos
    try:
        shutil.copy(folder / "new1.png", folder / BAD_UTF8)
    except (OSError, UnicodeError):
        pytest.skip("this file system cannot hold a name that is not UTF-8")
    shutil.copy(folder / "new0.jpg", folder / NEWLINE)
    out, table = tmp_path / "pred.tps", tmp_path / "pred.csv"
    assert predict(model, folder, "--out", out, "--csv", table, "--review-threshold", "0") == 1
    err = capsys.readouterr().err
    assert f"skipped {BAD_UTF8!r}: the name is not valid UTF-8" in err
    assert f"skipped {NEWLINE!r}: the name holds a line break" in err
    assert "broken.jpg" in err  # the unreadable photo still reported
    records = read_tps_records(out)  # beetles' own reader takes the file
    assert sorted(r.image for r in records) == names
    assert all(r.landmarks_up.shape == (LANDMARKS, 2) for r in records)
    assert sorted({row["image"] for row in read_csv(table)}) == names
    assert sorted({row["image"] for row in read_csv(tmp_path / "pred_review.csv")}) == names


def test_only_unwritable_names_is_an_error_that_writes_nothing(model, tmp_path, capsys):
    new_photos(tmp_path / "new")
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(tmp_path / "new" / "new0.jpg", single / NEWLINE)
    assert predict(model, single, "--out", tmp_path / "pred.tps") == 2
    assert "could be read or named in a TPS file; nothing written" in capsys.readouterr().err
    assert not (tmp_path / "pred.tps").exists()


# Case 16: two runs writing the same files -----------------------------------------------------------------


@pytest.mark.parametrize("locked", ["pred.tps", "pred.csv", "pred_review.csv"])
def test_a_run_stops_at_once_when_another_writes_one_of_its_files(model, photos, tmp_path, capsys, locked):
    folder, _ = photos
    out, table = tmp_path / "pred.tps", tmp_path / "pred.csv"
    with held(tmp_path / locked, "writing predictions into it"):
        assert predict(model, folder, "--out", out, "--csv", table, "--review-threshold", "0") == 2
        line = error_line(capsys)
    assert "wait for it to finish" in line and locked in line and f"process {os.getpid()}" in line
    assert "writing predictions into it" in line
    assert not out.exists() and not table.exists() and not (tmp_path / "pred_review.csv").exists()


# Case 17: a run that fails or is killed while writing ------------------------------------------------------


def test_staged_files_are_renamed_together_or_not_at_all(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    b.write_text("old b")
    with pytest.raises(RuntimeError):
        with StagedFiles() as staged:
            staged.path(a).write_text("new a")
            raise RuntimeError("the second file fails")
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    with StagedFiles() as staged:
        staged.path(a).write_text("new a")
        staged.path(b).write_text("new b")
        assert a.read_text() == "old a"  # nothing in place before the block ends
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    # what a killed run left is cleared, and nothing else
    left = StagedFiles().path(a)
    left.write_text("killed")
    other = StagedFiles().path(tmp_path / "a.txt.more")
    other.write_text("another target's")
    assert remove_leftovers(a) == [left]
    assert other.exists()


@pytest.mark.parametrize("failing", ["write_placed_csv", "write_tps", "write_table"])
def test_a_writer_that_fails_leaves_the_previous_files_unchanged(model, photos, tmp_path, monkeypatch, capsys,
                                                                failing):
    folder, _ = photos
    run = tmp_path / "run"
    args = [folder, "--out", run / "pred.tps", "--csv", run / "pred.csv", "--review-threshold", "0"]
    assert predict(model, *args, "--scale", "1") == 1
    before = contents(run)
    assert set(before) == {"pred.tps", "pred.csv", "pred_review.csv"}

    def fail(path, *_, **__):
        Path(path).write_text("half")  # a writer that wrote part of its file, then failed
        raise DataError(f"{path}: the disk is full")

    monkeypatch.setattr(f"beetles.tool.predict.{failing}", fail)
    capsys.readouterr()
    assert predict(model, *args, "--scale", "2") == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]  # after the photo skipped
    target = {"write_placed_csv": "pred.csv", "write_tps": "pred.tps", "write_table": "pred_review.csv"}
    assert line.endswith(f"{run / target[failing]}: the disk is full"), line  # the file, not its temporary
    after = contents(run)
    kept = {name for name in after if name.startswith("pred.tps.incomplete/")}
    assert kept  # the landmarks placed, for --resume
    assert {k: v for k, v in after.items() if k not in kept} == before  # the old files, no temporary or lock
    monkeypatch.undo()
    assert predict(model, *args, "--scale", "2", "--resume") == 1
    assert "resuming: 5 of 5 photo(s) already placed" in capsys.readouterr().out
    assert set(contents(run)) == set(before) and contents(run) != before


def test_a_csv_in_a_folder_that_is_a_file_is_refused_before_anything_is_written(model, photos, tmp_path, capsys):
    folder, _ = photos
    out = tmp_path / "pred.tps"
    (tmp_path / "plain").write_text("a file")
    assert predict(model, folder, "--out", out, "--csv", tmp_path / "plain" / "pred.csv") == 2
    assert "plain is not a folder" in error_line(capsys)
    assert not out.exists()


def _predict_process(model, photos, out: Path, *args) -> list[str]:
    return [sys.executable, "-m", "beetles", "predict", str(model), *map(str, photos), "--out", str(out),
            "--csv", str(out.with_suffix(".csv")), "--review-threshold", "0", "--quiet", *args]


def _outputs(folder: Path) -> tuple:
    return tuple((folder / name).read_bytes() if (folder / name).exists() else None
                 for name in ("pred.tps", "pred.csv", "pred_review.csv"))


@pytest.mark.slow
def test_a_killed_run_leaves_the_old_files_or_the_new_ones_never_one_of_each(model, photos, tmp_path):
    """Run A (two photos) then B (all of them) over A's files, B killed at
    seeded random times: the three files on disk are always all A's or all B's."""
    folder, names = photos
    run = tmp_path / "run"
    out = run / "pred.tps"
    env = {**os.environ, "BEETLES_THREADS": "1"}
    every = [folder / name for name in names]
    subprocess.run(_predict_process(model, every[:2], out, "--scale", "1"), check=True, env=env, cwd=ROOT)
    old = _outputs(run)
    started = time.monotonic()
    subprocess.run(_predict_process(model, every, out, "--scale", "2"), check=True, env=env, cwd=ROOT)
    seconds = time.monotonic() - started
    new = _outputs(run)
    assert all(a != b for a, b in zip(old, new)), "the two runs must write different files"
    rng = np.random.default_rng(16)
    for delay in [*rng.uniform(0.5, seconds, 3), *rng.uniform(0.85 * seconds, seconds, 2)]:
        for name, data in zip(("pred.tps", "pred.csv", "pred_review.csv"), old):
            (run / name).write_bytes(data)
        process = subprocess.Popen(_predict_process(model, every, out, "--scale", "2", "--resume"), env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert _outputs(run) in (old, new), f"killed after {delay:.2f} s of {seconds:.2f} s: a mix of the runs"
    # the next run clears what the killed ones left, takes up the landmarks they
    # saved (<out>.incomplete), and writes B's files
    subprocess.run(_predict_process(model, every, out, "--scale", "2", "--resume"), check=True, env=env, cwd=ROOT)
    assert _outputs(run) == new
    assert not [p.name for p in run.iterdir() if ".staged" in p.name or p.name.endswith(".incomplete")]
    # another process holding the lock: the run stops at once, naming it
    with held(out, "writing predictions into it"):
        done = subprocess.run(_predict_process(model, every, out), env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "wait for it to finish" in lines[0] and f"process {os.getpid()}" in lines[0]


# Case 18: outputs that are each other, the photos, the inputs or the model folder -------------------------


def test_refused_outputs_write_nothing(model, photos, tmp_path, capsys):
    folder, _ = photos
    listing = tmp_path / "todo.tps"
    listing.write_text("LM=0\nIMAGE=new/new0.jpg\n")
    photo = folder / "new1.png"
    cases = [
        (["--out", tmp_path / "a.tps", "--csv", tmp_path / "a.tps"], "--csv", "is the --out file"),
        (["--out", tmp_path / "a.tps", "--csv", tmp_path / "a_review.csv", "--review-threshold", "0"],
         "the review list", "is the --csv file; give another --out or --csv"),
        (["--out", photo, "--format", "tps"], "--out", "is one of the photos to place"),
        (["--out", tmp_path / "a.tps", "--csv", folder / "new0.jpg"], "--csv", "is one of the photos to place"),
        (["--out", tmp_path / "a.tps", "--csv", folder / "broken.jpg"], "--csv", "is one of the photos to place"),
        (["--out", model / "pred.tps"], "--out", "is inside the model folder"),
        (["--out", tmp_path / "a.tps", "--csv", model / "settings.json"], "--csv", "is inside the model folder"),
        (["--out", tmp_path / "a.tps", "--overlays", folder], "--overlays", "which their overlays would replace"),
        (["--out", tmp_path / "a.tps", "--overlays", model], "--overlays", "is inside the model folder"),
        (["--out", tmp_path / "new"], "--out", "give a file name ending in"),
        (["--out", tmp_path / "new", "--format", "tps"], "--out", "is a folder"),
    ]
    before = contents(tmp_path)
    for args, option, message in cases:
        assert predict(model, folder, *args) == 2, args
        line = error_line(capsys)
        assert line.startswith(f"beetles predict: error: {option} ") and message in line, (args, line)
        assert contents(tmp_path) == before, args
    # a listing .tps given as input is not overwritten with the predictions
    assert predict(model, listing, "--out", listing) == 2
    assert "is one of the inputs" in error_line(capsys)
    assert listing.read_text() == "LM=0\nIMAGE=new/new0.jpg\n"
