"""TPS files between beetles and the other morphometrics tools: ktch and py-tps
installed beside beetles (the test extra), geomorph and tpsDig through files
laid out as they write them (R and Windows are not on these machines)."""
from pathlib import Path

import numpy as np
import pytest

from beetles.cli import main
from beetles.core.frames import photo_frame
from beetles.core.specimen import Specimen
from beetles.formats.tps import read_tps, read_tps_records, write_tps
from tests.helpers import make_photo

ktch_io = pytest.importorskip("ktch.io", reason="ktch is in the test extra")
py_tps = pytest.importorskip("py_tps", reason="py-tps is in the test extra")


def ktch_records(path):
    """Every specimen as ktch 0.8.1 parses it, ID, IMAGE, SCALE and comments kept (its public
    ``read_tps`` returns the coordinates alone, or with the IDs as a DataFrame's index)."""
    from ktch.io._tps import _read_tps

    records = _read_tps(path)
    return records if isinstance(records, list) else [records]


def ktch_example() -> Path:
    """ktch's trilobite cephala: 300 specimens, centred coordinates (negative y), NA as nan, IDs as names."""
    import ktch

    return Path(ktch.__file__).parent / "datasets/data/landmark_trilobite_cephala/data_landmark_trilobite_cephala.tps"


def test_ktch_example_data_keeps_its_negative_coordinates_and_says_what_is_missing():
    path = ktch_example()
    notes = []
    ours = read_tps_records(path, notes=notes)
    theirs = ktch_records(path)
    assert len(ours) == len(theirs) == 300
    for mine, their in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.landmarks_up, np.asarray(their.landmarks, dtype=float))
        assert mine.id == str(their.idx) and mine.scale == (None if their.scale is None else float(their.scale))
    negative = sum(int(((r.landmarks_up < 0).any(axis=1)).sum()) for r in ours)
    nan = sum(int(np.isnan(r.landmarks_up).any(axis=1).sum()) for r in ours)
    assert negative > 1000 and nan > 0  # centred: most points have a negative y; some are NA
    assert len(notes) == 1 and f"{negative} landmark(s) with a negative coordinate read as coordinates" in notes[0]
    assert f"{nan} written NA or nan taken as missing" in notes[0]
    # the override: tpsDig's convention applied anyway
    forced = read_tps_records(path, negatives="missing")
    assert sum(int(np.isnan(r.landmarks_up).any(axis=1).sum()) for r in forced) == nan + negative


def test_evaluate_keeps_every_centred_specimen(tmp_path, capsys):
    """The issue's failure: a centred file lost most specimens to "missing" landmarks."""
    path = ktch_example()
    records = read_tps_records(path)
    complete = sum(not np.isnan(r.landmarks_up).any() for r in records)
    assert main(["evaluate", "--manual", str(path), "--pred", str(path), "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "negative coordinate read as coordinates" in out
    import csv

    with open(tmp_path / "e" / "specimens.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300
    assert sum(r["procrustes_distance"] not in ("", "nan") for r in rows) == complete > 250


def test_a_file_ktch_wrote_reads_with_missing_scale_and_comments(tmp_path):
    landmarks = [np.array([[-1.5, 2.0], [0.25, -3.0], [np.nan, np.nan]]), np.array([[1.0, 1.0], [2.0, -2.0], [3.0, 0.5]])]
    path = tmp_path / "ktch.tps"
    ktch_io.write_tps(path, landmarks, idx=["wing_a", "wing_b"], scale=[0.01, 0.02], comments=["left", "right"])
    records = read_tps_records(path)
    assert [r.id for r in records] == ["wing_a", "wing_b"] and [r.scale for r in records] == [0.01, 0.02]
    assert [r.comment for r in records] == ["left", "right"]  # ktch writes COMMENTS=
    np.testing.assert_array_equal(records[0].landmarks_up[:2], landmarks[0][:2])  # negatives kept
    assert np.isnan(records[0].landmarks_up[2]).all()


def test_a_file_laid_out_as_geomorph_writeland_tps_writes_it(tmp_path):
    """geomorph's writeland.tps (geomorph/R/writeland.tps.r): LM=, R's write.table
    rows (NA for missing), SCALE= when given, ID= the specimen's name, a blank line."""
    text = ("LM=3\n-0.123456789012345 0.0501\n0.2 -0.3\nNA NA\nSCALE=0.0125\nID=spec_1\n\n"
            "LM=3\n0.1 0.1\n-0.2 0.05\n0.3 -0.1\nSCALE=0.0125\nID=spec_2\n\n")
    (tmp_path / "geomorph.tps").write_text(text)
    notes = []
    records = read_tps_records(tmp_path / "geomorph.tps", notes=notes)
    assert [r.id for r in records] == ["spec_1", "spec_2"] and records[0].scale == 0.0125
    assert records[0].landmarks_up[0].tolist() == [-0.123456789012345, 0.0501]
    assert np.isnan(records[0].landmarks_up[2]).all() and not np.isnan(records[1].landmarks_up).any()
    assert "4 landmark(s) with a negative coordinate read as coordinates" in notes[0]
    assert "1 written NA or nan taken as missing" in notes[0]


def test_a_tpsdig_file_from_windows_loads_with_its_photos(tmp_path):
    """tpsDig on Windows: CRLF, IMAGE= a full Windows path, ID= from 0, SCALE=, -1 -1 for a skipped landmark."""
    images = tmp_path / "wings"
    make_photo(images / "63001.jpg", size=(64, 48))
    make_photo(images / "63002.jpg", size=(64, 48))
    text = ("LM=3\r\n10.00000 40.00000\r\n-1.00000 -1.00000\r\n30.00000 20.00000\r\n"
            "IMAGE=C:\\Users\\lab\\wings\\63001.jpg\r\nID=0\r\nSCALE=0.004585\r\n"
            "LM=3\r\n12.00000 41.00000\r\n22.00000 31.00000\r\n32.00000 21.00000\r\n"
            "IMAGE=C:\\Users\\lab\\wings\\63002.jpg\r\nID=1\r\nSCALE=0.004585\r\n")
    (images / "wings.tps").write_bytes(text.encode("latin-1"))
    notes = []
    specimens = read_tps(images / "wings.tps", notes=notes)
    assert [s.image.name for s in specimens] == ["63001.jpg", "63002.jpg"]
    assert specimens[0].landmarks[0].tolist() == [10, 8] and np.isnan(specimens[0].landmarks[1]).all()
    assert [s.scale for s in specimens] == [0.004585, 0.004585] and [s.id for s in specimens] == ["0", "1"]
    assert any("1 landmark(s) of 1 specimen(s) taken as missing: 1 with a negative coordinate" in n for n in notes)
    assert any("matched by their file name" in n for n in notes)


def test_coordinates_already_multiplied_by_the_scale_are_warned_of(tmp_path):
    make_photo(tmp_path / "a.jpg", size=(640, 480))
    # 12 mm across on a photo of 0.05 mm per pixel (32 × 24 mm): all within the photo's size × scale
    (tmp_path / "mm.tps").write_text("LM=2\n3.5 10.2\n15.1 12.0\nIMAGE=a.jpg\nID=0\nSCALE=0.05\n")
    notes = []
    read_tps(tmp_path / "mm.tps", notes=notes)
    assert any("look already multiplied by the scale" in n for n in notes)
    (tmp_path / "px.tps").write_text("LM=2\n70 204\n302 240\nIMAGE=a.jpg\nID=0\nSCALE=0.05\n")
    notes = []
    read_tps(tmp_path / "px.tps", notes=notes)
    assert not any("multiplied" in n for n in notes)


def test_what_beetles_writes_loads_in_ktch_and_py_tps(tmp_path):
    frame = photo_frame(200, 100)
    specimens = [Specimen(tmp_path / "w_01.jpg", [[10.5, 20.25], [30, 40]], frame, scale=0.0125, comment="left"),
                 Specimen(tmp_path / "w_02.jpg", [[50, 60], [np.nan, np.nan]], frame, scale=0.0125)]
    path = write_tps(tmp_path / "b.tps", specimens)
    assert ktch_io.read_tps(path, as_frame=True).index.get_level_values("specimen_id").unique().tolist() == ["0", "1"]
    theirs = ktch_records(path)
    assert [str(t.idx) for t in theirs] == ["0", "1"] and [t.image_path for t in theirs] == ["w_01.jpg", "w_02.jpg"]
    assert [float(t.scale) for t in theirs] == [0.0125, 0.0125]
    np.testing.assert_allclose(np.asarray(theirs[0].landmarks, float), [[10.5, 79.75], [30, 60]])  # y up
    tps = py_tps.TPSFile.read_file(path)
    assert [i.id_number for i in tps.images] == [0, 1] and [i.image for i in tps.images] == ["w_01.jpg", "w_02.jpg"]
    assert [i.scale for i in tps.images] == [0.0125, 0.0125] and tps.images[0].comment == "left"
    np.testing.assert_allclose(tps.images[1].landmarks.points, [[50, 40], [-1, -1]])  # tpsDig's missing


def test_a_tps_py_tps_wrote_reads_in_beetles(tmp_path):
    image = py_tps.TPSImage("a.jpg", landmarks=py_tps.TPSPoints(np.array([[1.0, 2.0], [3.0, 4.0]])), id_number=7,
                            scale=0.5, comment="note")
    py_tps.TPSFile([image]).write_to_file(tmp_path / "p.tps")
    (record,) = read_tps_records(tmp_path / "p.tps")
    assert record.image == "a.jpg" and record.id == "7" and record.scale == 0.5 and record.comment == "note"
    assert record.landmarks_up.tolist() == [[1, 2], [3, 4]]
