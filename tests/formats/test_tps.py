"""TPS files as tpsDig writes them (:mod:`beetles.formats.tps`)."""
import numpy as np
import pytest

from beetles.core.errors import DataError, FormatError
from beetles.core.frames import NETWORK, photo_frame
from beetles.core.specimen import Specimen
from beetles.formats.tps import parse_tps, read_tps, read_tps_records, write_tps

TPSDIG = """lm=3
10 20
30.5 40.25
-1 -1
Curves=1
POINTS=2
1 2
3 4
Image=beetle 01.jpg
id=7
SCALE=0.0125
COMMENT=left side damaged
LM=3
1 1
2 2
3 3
IMAGE=beetle_02.jpg
"""


def test_parse_tpsdig_keywords_case_insensitive_curves_and_missing(tmp_path):
    assert parse_tps(TPSDIG)[0].landmarks_up[2].tolist() == [-1, -1]  # as written; the reader decides
    (tmp_path / "a.tps").write_text(TPSDIG)
    notes = []
    records = read_tps_records(tmp_path / "a.tps", notes=notes)
    assert len(records) == 2
    first = records[0]
    assert first.landmarks_up.shape == (3, 2)
    np.testing.assert_allclose(first.landmarks_up[:2], [[10, 20], [30.5, 40.25]])
    assert np.isnan(first.landmarks_up[2]).all()  # negative = missing: every specimen names its photo
    assert notes == [f"{tmp_path / 'a.tps'}: 1 landmark(s) of 1 specimen(s) taken as missing: 1 with a negative "
                     "coordinate (photo pixels are never negative; --negatives coordinates reads them as coordinates)"]
    assert first.image == "beetle 01.jpg" and first.id == "7" and first.scale == 0.0125
    assert first.comment == "left side damaged"
    assert len(first.curves) == 1 and first.curves[0].shape == (2, 2)
    assert records[1].image == "beetle_02.jpg"


def test_read_tps_flips_y_with_given_height(tmp_path):
    path = tmp_path / "a.tps"
    path.write_text("LM=2\n10 180\n200 0\nIMAGE=x.jpg\n")
    (specimen,) = read_tps(path, size=NETWORK.size)
    np.testing.assert_allclose(specimen.landmarks, [[10, 12], [200, 192]])
    assert specimen.frame == NETWORK
    assert specimen.image == tmp_path / "x.jpg"


def test_read_tps_uses_each_photo_height(part_folder):
    folder, truth = part_folder
    specimens = read_tps(folder / "landmarks.tps", image_dir=folder / "images")
    assert [s.frame.size for s in specimens] == [(320, 240)] * 6
    np.testing.assert_allclose(np.stack([s.landmarks for s in specimens]), truth, atol=1e-3)


def test_write_then_read_round_trip(tmp_path):
    frame = photo_frame(640, 480)
    specimens = [
        Specimen(tmp_path / "images" / "a.jpg", [[1.5, 2.5], [600.125, 470.0]], frame, id="1", scale=0.5),
        Specimen(tmp_path / "images" / "b.jpg", [[np.nan, np.nan], [3, 4]], frame, comment="x"),
    ]
    path = write_tps(tmp_path / "out.tps", specimens)
    text = path.read_text()
    assert "LM=2\n1.50000 477.50000\n600.12500 10.00000\nIMAGE=a.jpg\nID=1\nSCALE=0.5\n" in text
    assert "-1 -1" in text
    back = read_tps(path, image_dir=tmp_path / "images", size=(640, 480))
    np.testing.assert_allclose(back[0].landmarks, specimens[0].landmarks)
    assert np.isnan(back[1].landmarks[0]).all() and back[1].comment == "x"
    assert back[0].scale == 0.5 and back[0].id == "1"


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("LM=2\n1 2\n3 x\nIMAGE=a.jpg\n", 3, "non-numeric"),
        ("LM=3\n1 2\n3 4\nIMAGE=a.jpg\n", 4, "LM=3 (line 1) but only 2 coordinate lines"),
        ("LM=2\n1 2\n3 4\n5 6\nIMAGE=a.jpg\n", 4, "expected 'KEYWORD=value'"),
        ("IMAGE=a.jpg\nLM=1\n1 2\n", 1, "before the first LM="),
        ("LM=two\n", 1, "whole number"),
        ("LM=1\n1 2 3\nIMAGE=a\n", 2, "two coordinates"),
    ],
)
def test_bad_tps_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.tps"
    path.write_text(text)
    with pytest.raises(FormatError) as caught:
        read_tps(path, size=(10, 10))
    assert caught.value.line == line
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_missing_image_line_names_the_specimen(tmp_path):
    path = tmp_path / "noimage.tps"
    path.write_text("LM=1\n1 2\nIMAGE=a.jpg\nLM=1\n3 4\n")
    with pytest.raises(FormatError, match=r"line 4: specimen 2 .* has no IMAGE="):
        read_tps(path, size=(10, 10))


def test_missing_tps_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="landmark file not found"):
        read_tps_records(tmp_path / "nope.tps")


def test_windows_line_ends_a_byte_order_mark_and_latin1_text_read_alike(tmp_path):
    """What Windows programs write: CRLF line ends, a UTF-8 byte order mark,
    or Latin-1 text (tpsDig's comments): the same records either way."""
    (tmp_path / "plain.tps").write_text(TPSDIG)
    expected = read_tps_records(tmp_path / "plain.tps")
    variants = {
        "crlf.tps": TPSDIG.replace("\n", "\r\n").encode("utf-8"),
        "bom.tps": b"\xef\xbb\xbf" + TPSDIG.encode("utf-8"),
        "latin1.tps": TPSDIG.replace("damaged", "abîmé").encode("latin-1"),
    }
    for name, data in variants.items():
        (tmp_path / name).write_bytes(data)
        records = read_tps_records(tmp_path / name)
        assert [r.image for r in records] == [r.image for r in expected], name
        for got, want in zip(records, expected):
            np.testing.assert_array_equal(got.landmarks_up, want.landmarks_up)
    assert read_tps_records(tmp_path / "latin1.tps")[0].comment == "left side abîmé"


def test_id_is_always_written_and_geomorph_ktch_missing_values_are_read(tmp_path):
    frame = photo_frame(100, 80)
    specimens = [Specimen(tmp_path / "w_01.jpg", [[1, 2], [3, 4]], frame),
                 Specimen(tmp_path / "w_02.jpg", [[5, 6], [7, 8]], frame, id="kept")]
    text = write_tps(tmp_path / "ids.tps", specimens).read_text()
    assert "IMAGE=w_01.jpg\nID=0\n" in text and "IMAGE=w_02.jpg\nID=kept\n" in text  # tpsDig numbers from 0
    # as geomorph's writeland.tps and ktch write missing landmarks, and ktch's COMMENTS=
    records = parse_tps("LM=3\n1 2\nNA NA\nnan 5\nIMAGE=a.jpg\nID=1\nCOMMENTS=left wing\n")
    assert np.isnan(records[0].landmarks_up[1:]).all() and records[0].landmarks_up[0].tolist() == [1, 2]
    assert records[0].comment == "left wing"


def test_image_names_from_windows_and_in_another_case_are_found_and_said(tmp_path):
    from tests.helpers import make_photo

    images = tmp_path / "images"
    make_photo(images / "63001.jpg", size=(64, 48))
    make_photo(images / "wing_b.jpg", size=(64, 48))
    make_photo(images / "exact.jpg", size=(64, 48))
    text = ("LM=1\n1 2\nIMAGE=C:\\Users\\lab\\wings\\63001.jpg\nID=1\n"
            "LM=1\n3 4\nIMAGE=WING_B.JPG\nID=2\n"
            "LM=1\n5 6\nIMAGE=exact.jpg\nID=3\n")
    (tmp_path / "w.tps").write_text(text)
    notes = []
    specimens = read_tps(tmp_path / "w.tps", image_dir=images, notes=notes)
    assert [s.image.name for s in specimens] == ["63001.jpg", "wing_b.jpg", "exact.jpg"]
    assert specimens[0].landmarks.tolist() == [[1, 46]]  # flipped with the photo found
    assert len(notes) == 2
    assert "1 photo name(s) matched by their file name" in notes[0] and "63001.jpg" in notes[0]
    assert "matched by their file name in another case" in notes[1] and "WING_B.JPG → wing_b.jpg" in notes[1]
    make_photo(images / "Wing_B.jpg", size=(64, 48))
    with pytest.raises(DataError, match="IMAGE=WING_B.JPG matches 2 photos that differ only in case"):
        read_tps(tmp_path / "w.tps", image_dir=images)
