"""The CSV landmark layouts: the study's wide CSV, long tables (:mod:`beetles.formats.landmark_csv`)."""
import numpy as np
import pytest

from beetles.core.errors import FormatError
from beetles.core.frames import NETWORK
from beetles.core.specimen import Specimen
from beetles.formats.landmark_csv import (
    read_landmark_values,
    read_long_csv,
    read_study_csv,
    write_landmark_values,
    write_long_csv,
    write_study_csv,
)


def test_study_csv_round_trip(tmp_path):
    specimens = [
        Specimen(tmp_path / "a.jpg", [[1, 2], [3, 4], [5, 6]], NETWORK),
        Specimen(tmp_path / "b.jpg", [[7, 8], [np.nan, np.nan], [11.25, 12.5]], NETWORK),
    ]
    path = write_study_csv(tmp_path / "train.csv", specimens)
    assert path.read_text().splitlines()[0] == "x1,y1,x2,y2,x3,y3,Image"
    back = read_study_csv(path)
    assert [s.image.name for s in back] == ["a.jpg", "b.jpg"]
    np.testing.assert_allclose(back[0].landmarks, specimens[0].landmarks)
    np.testing.assert_allclose(back[1].landmarks, specimens[1].landmarks)
    assert back[0].frame == NETWORK


def test_study_csv_column_order_independent(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("Image,y1,x1,x2,y2\nq.jpg,20,10,30,40\n")
    (specimen,) = read_study_csv(path)
    np.testing.assert_allclose(specimen.landmarks, [[10, 20], [30, 40]])


@pytest.mark.parametrize(
    "text, message",
    [
        ("x1,y1\n1,2\n", "no 'Image' column"),
        ("x1,y1,x3,y3,Image\n1,2,3,4,a\n", "landmarks 1..n"),
        ("x1,y1,Image\n1,oops,a\n", "non-numeric value 'oops'"),
        ("x1,y1,Image\n1,2\n", "2 cells, but the header has 3"),
    ],
)
def test_bad_study_csv(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(FormatError, match=message):
        read_study_csv(path)


def test_long_csv_round_trip_any_row_order(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("image,landmark,x,y\na.jpg,2,3,4\na.jpg,1,1,2\nb.jpg,1,5,6\nb.jpg,2,7,8\n")
    specimens = read_long_csv(path, size=(100, 100))
    np.testing.assert_allclose(specimens[0].landmarks, [[1, 2], [3, 4]])
    out = write_long_csv(tmp_path / "again.csv", specimens)
    assert out.read_text().splitlines()[:3] == ["image,landmark,x,y_down", "a.jpg,1,1.00000,2.00000", "a.jpg,2,3.00000,4.00000"]
    again = read_long_csv(out, size=(100, 100))
    np.testing.assert_allclose(again[1].landmarks, specimens[1].landmarks)


@pytest.mark.parametrize(
    "body, message",
    [
        ("a.jpg,1,1,2\na.jpg,3,1,2\n", r"landmark\(s\) \[2\] missing"),
        ("a.jpg,1,1,2\na.jpg,1,1,2\n", "landmark 1 of a.jpg given twice"),
        ("a.jpg,0,1,2\n", "start at 1"),
        ("a.jpg,one,1,2\n", "not a whole number"),
    ],
)
def test_bad_long_csv(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text("image,landmark,x,y\n" + body)
    with pytest.raises(FormatError, match=message):
        read_long_csv(path, size=(10, 10))


def test_long_tables_of_any_values_round_trip_with_missing_cells(tmp_path):
    names = ["a.jpg", "b.jpg"]
    spread = np.array([[1.23456, np.nan], [0.5, 2.0]])
    path = write_landmark_values(tmp_path / "spread.csv", names, {"spread": spread, "rank": [[1, 2], [3, 4]]})
    lines = path.read_text().splitlines()
    assert lines[:3] == ["image,landmark,spread,rank", "a.jpg,1,1.2346,1.0000", "a.jpg,2,,2.0000"]
    back = read_landmark_values(path, ["SPREAD"])  # any case
    assert list(back) == names
    np.testing.assert_array_equal(back["a.jpg"][:, 0], [1.2346, np.nan])
    exact = write_landmark_values(tmp_path / "exact.csv", ["c"], {"x": [[1 / 3]]}, digits=None)
    assert read_landmark_values(exact, ["x"])["c"][0, 0] == 1 / 3
    with pytest.raises(FormatError, match=r"header lacks the columns image,landmark,z"):
        read_landmark_values(path, ["z"])
    (tmp_path / "bad.csv").write_text("image,landmark,x\na.jpg,1,one\n")
    with pytest.raises(FormatError, match=r"bad.csv, line 2: column 'x': non-numeric value 'one'"):
        read_landmark_values(tmp_path / "bad.csv", ["x"])



def test_na_cells_are_missing_values(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("image,landmark,x,y\na.jpg,1,1.5,2\na.jpg,2,NA,NA\n")  # as R's write.csv writes them
    values = read_landmark_values(path, ["x", "y"])
    assert values["a.jpg"][0].tolist() == [1.5, 2] and np.isnan(values["a.jpg"][1]).all()
