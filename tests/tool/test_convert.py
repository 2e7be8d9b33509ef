"""``beetles convert``: TPS ↔ SLEAP ↔ COCO ↔ long CSV ↔ napari, exactly, with
names, photos, the y axis and the half pixel between the pose tools' pixel
centres and beetles' corner origin."""
import csv

import numpy as np
import pytest

from beetles.cli import main
from beetles.core.frames import photo_frame
from beetles.core.specimen import Specimen
from beetles.formats.tps import read_tps, write_tps
from beetles.tool.convert import format_of, read_landmarks
from tests.helpers import make_photo

sio = pytest.importorskip("sleap_io", reason="sleap-io is in the formats and test extras")
NAMES = ["snout", "eye", "tail"]
SIZES = {"a.png": (64, 48), "b.png": (40, 60), "c.jpg": (80, 50)}
POINTS = {"a.png": [[10.25, 20.5], [30.0, 40.125], [50.5, 5.75]],
          "b.png": [[1.5, 2.5], [np.nan, np.nan], [39.0, 59.0]],
          "c.jpg": [[0.5, 0.5], [79.5, 49.5], [40.0, 25.0]]}


@pytest.fixture
def photos(tmp_path):
    """Three photos and their landmarks in a TPS (y up) beside them; the names file."""
    specimens = []
    for name, size in SIZES.items():
        make_photo(tmp_path / name, size=size)
        specimens.append(Specimen(tmp_path / name, POINTS[name], photo_frame(*size)))
    write_tps(tmp_path / "start.tps", specimens)
    (tmp_path / "names.txt").write_text("\n".join(NAMES) + "\n")
    return tmp_path


def landmarks(path, kind=None):
    specimens, names = read_landmarks(path, kind or format_of(path, None, True))
    return {s.image.name: s.landmarks for s in specimens}, names


def same(got, want):
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-6)  # nan where nan


def test_tps_slp_coco_csv_napari_round_trip_exactly(photos, capsys):
    want = {name: np.array(p, float) for name, p in POINTS.items()}
    chain = ["start.tps", "one.slp", "two.json", "three.csv", "four.tps"]
    for step, (a, b) in enumerate(zip(chain, chain[1:])):
        extra = ["--names", str(photos / "names.txt")] if step == 0 else []
        assert main(["convert", str(photos / a), str(photos / b), *extra]) == 0, (a, b)
        got, names = landmarks(photos / b)
        same(got, want)
        assert names == (None if b.endswith(".tps") else NAMES), b  # TPS has no place for names
    assert "3 specimen(s), 3 landmark(s), named (snout, eye, tail)" in capsys.readouterr().out
    assert (photos / "four.tps").read_text() == (photos / "start.tps").read_text()  # IMAGE=, ID=, -1 -1 alike
    with open(photos / "three.csv", newline="") as handle:
        assert next(csv.reader(handle)) == ["image", "landmark", "name", "x", "y_down"]
    # napari: one photo's points per CSV, named after the photo; a missing landmark is left out of
    # it, and comes back as missing given the names
    names = str(photos / "names.txt")
    for name in ("a.png", "b.png"):
        single = photos / name.replace(".", "_")
        make_photo(single / name, size=SIZES[name])
        write_tps(single / "one.tps", [Specimen(single / name, POINTS[name], photo_frame(*SIZES[name]))])
        napari = single / f"{name[0]}.csv"
        assert main(["convert", str(single / "one.tps"), str(napari), "--to", "napari", "--names", names]) == 0
        assert main(["convert", str(napari), str(single / "back.tps"), "--names", names]) == 0
        assert (single / "back.tps").read_text() == (single / "one.tps").read_text(), name


def test_the_half_pixel_and_the_y_axis_as_sleap_io_sees_them(photos):
    assert main(["convert", str(photos / "start.tps"), str(photos / "s.slp"), "--names", str(photos / "names.txt")]) == 0
    labels = sio.load_slp(str(photos / "s.slp"))
    assert [node.name for node in labels.skeleton.nodes] == NAMES
    frames = {sio_frame_name(frame): frame for frame in labels.labeled_frames}
    theirs = frames["a.png"].instances[0].numpy()
    # beetles (10.25, 20.5), origin at the corner, y down → sleap-io (9.75, 20.0), pixel centres from 0, y down
    np.testing.assert_allclose(theirs, np.array(POINTS["a.png"]) - 0.5)
    assert np.isnan(frames["b.png"].instances[0].numpy()[1]).all()
    # and TPS is y up in the same photo: 48 - 20.5
    (record,) = [s for s in read_tps(photos / "start.tps") if s.image.name == "a.png"]
    assert (photos / "start.tps").read_text().splitlines()[1] == "10.25000 27.50000"
    np.testing.assert_allclose(record.landmarks[0], [10.25, 20.5])


def sio_frame_name(frame):
    from pathlib import Path

    filename = frame.video.filename
    name = filename[frame.frame_idx] if isinstance(filename, list) else filename
    return Path(name).name


def test_coco_and_slp_files_sleap_io_wrote_read_with_the_half_pixel(photos):
    skeleton = sio.Skeleton(["p", "q"])
    video = sio.Video.from_filename(str(photos / "a.png"))
    instance = sio.Instance.from_numpy(np.array([[3.0, 4.0], [10.0, 20.0]]), skeleton=skeleton)
    labels = sio.Labels([sio.LabeledFrame(video=video, frame_idx=0, instances=[instance])], skeletons=[skeleton])
    sio.save_coco(labels, str(photos / "theirs.json"))
    sio.save_slp(labels, str(photos / "theirs.slp"))
    for name in ("theirs.json", "theirs.slp"):
        got, names = landmarks(photos / name)
        assert names == ["p", "q"], name
        np.testing.assert_allclose(got["a.png"], [[3.5, 4.5], [10.5, 20.5]])


def test_convert_refuses_what_it_cannot_do_in_one_line(photos, capsys):
    start = photos / "start.tps"
    cases = [
        ([str(start), str(start)], "is the file being converted"),
        ([str(start), str(photos / "x.h5")], "beetles reads it but cannot write it"),
        ([str(start), str(photos / "x.txt")], "cannot tell the format from the suffix .txt"),
        ([str(photos / "nope.tps"), str(photos / "x.csv")], "nope.tps: file not found"),
    ]
    for argv, message in cases:
        assert main(["convert", *argv]) != 0, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
    (photos / "exists.csv").write_text("keep me\n")
    assert main(["convert", str(start), str(photos / "exists.csv")]) != 0
    assert "exists; use --force" in capsys.readouterr().err and (photos / "exists.csv").read_text() == "keep me\n"
    (photos / "odd.csv").write_text("a,b,c\n1,2,3\n")
    assert main(["convert", str(photos / "odd.csv"), str(photos / "y.tps")]) != 0
    assert "a CSV beetles does not know" in capsys.readouterr().err
