import numpy as np
import pytest

from beetles.errors import FormatError
from beetles.formats.published import read_paired_csv, write_paired_csv
from beetles.formats.tables import read_long_csv, read_study_csv, write_long_csv, write_study_csv
from beetles.frames import NETWORK
from beetles.specimen import Specimen


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
    assert out.read_text().splitlines()[:3] == ["image,landmark,x,y", "a.jpg,1,1.00000,2.00000", "a.jpg,2,3.00000,4.00000"]
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


def test_paired_csv_reads_published_and_own_layouts(tmp_path):
    published = tmp_path / "pub.csv"
    published.write_text("Image,Landmark,x1,y1,x2,y2\n1,1,10,20,11,21\n1,2,30,40,33,44\n2,1,1,2,1,2\n2,2,3,4,3,5\n")
    paired = read_paired_csv(published)
    assert paired.images == ["1", "2"]
    np.testing.assert_allclose(paired.predicted[0], [[11, 21], [33, 44]])
    own = write_paired_csv(tmp_path / "own.csv", paired.images, paired.manual, paired.predicted)
    assert own.read_text().startswith("image,landmark,x_manual,y_manual,x_pred,y_pred\n1,1,10.0000,20.0000,11.0000,21.0000")
    again = read_paired_csv(own)
    np.testing.assert_allclose(again.manual, paired.manual)
