"""Pose-estimation files through sleap-io (:mod:`beetles.formats.pose`)."""
import json
import sys

import numpy as np
import pytest
import sleap_io as sio

from beetles.core.errors import BeetlesError, DataError
from beetles.core.frames import photo_frame
from beetles.core.specimen import Specimen
from beetles.formats.pose import POSE_FORMATS, read_pose, write_pose
from tests.helpers import make_photo

NAMES = ["tip", "base", "apex"]  # not in alphabetical order: the order must be kept


@pytest.fixture
def specimens(tmp_path):
    """Two specimens on real photos 64×48 and 40×60, one landmark missing."""
    folder = tmp_path / "photos"
    make_photo(folder / "a.png", size=(64, 48))
    make_photo(folder / "b.png", size=(40, 60), seed=1)
    return [
        Specimen(folder / "a.png", [[10.5, 20.5], [np.nan, np.nan], [33.3333, 7.125]], photo_frame(64, 48)),
        Specimen(folder / "b.png", [[1.25, 2.75], [39.0, 59.5], [0.5, 0.5]], photo_frame(40, 60)),
    ]


def assert_same(read, written):
    assert len(read) == len(written)
    for got, want in zip(read, written):
        assert got.image.resolve() == want.image.resolve()
        assert got.frame.size == want.frame.size
        np.testing.assert_allclose(got.landmarks, want.landmarks, atol=1e-6)  # nan where nan


@pytest.mark.parametrize("kind", ["slp", "coco"])
def test_round_trip_through_sleap_io(tmp_path, specimens, kind):
    out = tmp_path / "out" / f"labels.{'json' if kind == 'coco' else kind}"
    assert write_pose(out, specimens, kind, names=NAMES) == out
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left
    read, names = read_pose(out, kind)
    assert names == NAMES
    assert_same(read, specimens)
    assert [s.extra["number"] for s in read] == [1, 2]


def test_slp_holds_relative_paths_and_loads_in_sleap_io(tmp_path, specimens):
    out = write_pose(tmp_path / "out" / "labels.slp", specimens, "slp")
    labels = sio.load_slp(str(out), open_videos=False)
    assert labels.skeletons[0].node_names == ["1", "2", "3"]
    assert [v.filename for v in labels.videos] == [["../photos/a.png"], ["../photos/b.png"]]
    # The half-pixel convention: beetles (10.5, 20.5) is sleap-io's (10, 20).
    np.testing.assert_allclose(labels.labeled_frames[0].instances[0].numpy()[0], [10, 20])
    assert np.isnan(labels.labeled_frames[0].instances[0].numpy()[1]).all()


def test_coco_written_with_sizes_and_relative_names(tmp_path, specimens):
    out = write_pose(tmp_path / "labels.json", specimens, "coco", names=NAMES)
    data = json.loads(out.read_text())
    assert [(i["file_name"], i["width"], i["height"]) for i in data["images"]] == [
        ("photos/a.png", 64, 48), ("photos/b.png", 40, 60)]
    assert data["categories"][0]["keypoints"] == NAMES
    assert data["annotations"][0]["keypoints"][:6] == [10.0, 20.0, 2, 0.0, 0.0, 0]  # shifted; missing: v=0
    assert len(sio.load_coco(str(out)).labeled_frames) == 2


def test_coco_written_by_sleap_io_reads_half_a_pixel_further(tmp_path, specimens):
    photo = specimens[0].image
    skeleton = sio.Skeleton(["a", "b"])
    instance = sio.Instance.from_numpy(np.array([[10.0, 20.0], [np.nan, np.nan]]), skeleton=skeleton)
    video = sio.Video.from_filename([str(photo)])
    labels = sio.Labels([sio.LabeledFrame(video=video, frame_idx=0, instances=[instance])])
    sio.save_coco(labels, str(photo.parent / "theirs.json"), image_filenames=[photo.name])
    read, names = read_pose(photo.parent / "theirs.json", "coco")
    assert names == ["a", "b"] and read[0].image == photo
    assert read[0].frame.size == (64, 48)
    np.testing.assert_allclose(read[0].landmarks, [[10.5, 20.5], [np.nan, np.nan]])


def test_coco_photo_not_found_and_several_instances(tmp_path, specimens):
    out = write_pose(tmp_path / "out" / "labels.json", specimens, "coco")
    with pytest.raises(DataError, match=r"labels\.json: photos it names are not found under .*elsewhere"):
        read_pose(out, "coco", image_dir=tmp_path / "elsewhere")
    skeleton = sio.Skeleton(["a"])
    two = [sio.Instance.from_numpy(np.array([[k, k]]), skeleton=skeleton) for k in (1.0, 2.0)]
    frame = sio.LabeledFrame(video=sio.Video.from_filename([str(specimens[0].image)]), frame_idx=0, instances=two)
    sio.save_slp(sio.Labels([frame]), str(tmp_path / "two.slp"), verbose=False)
    with pytest.raises(DataError, match=r"two\.slp: a\.png has 2 instances"):
        read_pose(tmp_path / "two.slp", "slp")


def test_napari_round_trip(tmp_path, specimens):
    out = tmp_path / "out"
    for specimen in specimens:
        write_pose(out / f"{specimen.image.stem}.csv", [specimen], "napari", names=NAMES)
    lines = (out / "a.csv").read_text().splitlines()
    assert lines == ["index,axis-0,axis-1,label", "0,20.0,10.0,tip", "1,6.625,32.8333,apex"]  # row (y), column (x)
    read = [read_pose(out / f"{s.image.stem}.csv", "napari", image_dir=s.image.parent, names=NAMES) for s in specimens]
    assert all(names == NAMES for _, names in read)
    assert_same([r[0][0] for r in read], specimens)
    # Without names the missing landmark is not known; the photo can be given.
    (only,), names = read_pose(out / "a.csv", "napari", image=specimens[1].image)
    assert names == ["tip", "apex"] and only.image == specimens[1].image and only.frame.size == (40, 60)
    with pytest.raises(DataError, match="one photo"):
        write_pose(out / "both.csv", specimens, "napari")
    with pytest.raises(DataError, match=r"both.csv: no photos named both"):
        (out / "both.csv").write_text("index,axis-0,axis-1\n0,1,2\n")
        read_pose(out / "both.csv", "napari")


def write_dlc(folder, rows):
    """A DeepLabCut CollectedData CSV in DLC's layout (scorer/bodyparts/coords)."""
    header = ["scorer"] + ["me"] * 6, ["bodyparts"] + [n for n in NAMES for _ in "xy"], ["coords"] + ["x", "y"] * 3
    text = "\n".join(",".join(row) for row in [*header, *rows]) + "\n"
    (folder / "CollectedData_me.csv").write_text(text)
    return folder / "CollectedData_me.csv"


def test_dlc_collected_data(tmp_path):
    folder = tmp_path / "project" / "labeled-data" / "vid"
    make_photo(folder / "img001.png", size=(64, 48))
    make_photo(folder / "img002.png", size=(40, 60))
    path = write_dlc(folder, [["labeled-data/vid/img001.png", "10", "20", "", "", "3.5", "4"],
                              ["labeled-data/vid/img002.png", "1", "2", "5", "6", "7", "8"]])
    read, names = read_pose(path, "dlc")
    assert names == NAMES
    assert [s.image.resolve() for s in read] == [(folder / "img001.png").resolve(), (folder / "img002.png").resolve()]
    assert [s.frame.size for s in read] == [(64, 48), (40, 60)]
    np.testing.assert_allclose(read[0].landmarks, [[10.5, 20.5], [np.nan, np.nan], [4, 4.5]])
    np.testing.assert_allclose(read[1].landmarks, [[1.5, 2.5], [5.5, 6.5], [7.5, 8.5]])
    (folder / "img002.png").unlink()
    with pytest.raises(DataError, match="1 of 2 photos not found"):
        read_pose(path, "dlc")
    with pytest.raises(DataError, match=r"x\.csv: cannot write DeepLabCut files"):
        write_pose(tmp_path / "x.csv", read, "dlc")


def test_errors_name_the_file(tmp_path, specimens):
    (tmp_path / "bad.slp").write_bytes(b"not an HDF5 file at all")
    with pytest.raises(DataError, match=r"bad\.slp: not a readable slp file \(.{1,200}\)$"):
        read_pose(tmp_path / "bad.slp", "slp")
    (tmp_path / "other.json").write_text('{"images": []}')
    with pytest.raises(DataError, match=r"other\.json: not a readable coco file \(.*annotations"):
        read_pose(tmp_path / "other.json", "coco")
    with pytest.raises(DataError, match=r"other\.json: unknown pose format 'tps'"):
        read_pose(tmp_path / "other.json", "tps")
    with pytest.raises(DataError, match=r"x\.h5: .*CSV only"):
        (tmp_path / "x.h5").write_bytes(b"")
        read_pose(tmp_path / "x.h5", "dlc")
    with pytest.raises(DataError, match=r"none\.slp: file not found"):
        read_pose(tmp_path / "none.slp", "slp")
    with pytest.raises(DataError, match="3 landmarks need 3 different names"):
        write_pose(tmp_path / "x.slp", specimens, "slp", names=["a", "a", "b"])
    assert set(POSE_FORMATS) == {"slp", "coco", "dlc", "napari"}


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, specimens, monkeypatch):
    out = tmp_path / "labels.slp"
    out.write_bytes(b"old")

    def broken(labels, filename, **kwargs):
        open(filename, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sio, "save_slp", broken)
    with pytest.raises(BeetlesError, match="labels.slp: cannot write"):
        write_pose(out, specimens, "slp")
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.slp", "photos"]


def test_missing_sleap_io_says_how_to_install(tmp_path, specimens, monkeypatch):
    monkeypatch.setitem(sys.modules, "sleap_io", None)  # import sleap_io raises ImportError
    with pytest.raises(BeetlesError, match=r"needs sleap-io: pip install 'beetles\[formats\]'"):
        write_pose(tmp_path / "x.slp", specimens, "slp")
    write_pose(tmp_path / "a.csv", specimens[:1], "napari")  # napari needs no sleap-io
