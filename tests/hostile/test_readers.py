"""Hostile input for the landmark readers (issue 16): names longer than the
system allows, one-line files of megabytes, UTF-16 and UTF-32 files, binary
files, and a fuzzer.  Every problem must be a BeetlesError of one readable
line naming the file; never a traceback, never the whole input echoed."""
from __future__ import annotations

import os
import string
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beetles.cli import main
from beetles.core.errors import BeetlesError, DataError, FormatError, shorten
from beetles.core.images import image_size
from beetles.formats.landmark_csv import (
    XY_CHOICES,
    read_landmark_names,
    read_landmark_values,
    read_long_csv,
    read_study_csv,
)
from beetles.formats.tps import read_tps, read_tps_records
from tests.helpers import make_photo

TPS = "LM=3\n12.5 180\nNA NA\n40 31\nIMAGE=käfer_001.jpg\nID=0\nSCALE=0.0125\nCOMMENT=Käfer, 5 µm\n" \
      "LM=3\n1 2\n3 4\n5 6\nIMAGE=b.jpg\nID=1\n"
LONG_CSV = "image,landmark,name,x,y_down\nkäfer_001.jpg,1,Spitze,12.5,20\nkäfer_001.jpg,2,Basis,NA,\n" \
           "b.jpg,1,Spitze,1,2\nb.jpg,2,Basis,3,4\n"


def one_line(message: str, limit: int = 600) -> str:
    assert "\n" not in message and len(message) < limit, message[:2000]
    return message


def records_of(path):
    return [(np.nan_to_num(r.landmarks_up, nan=-999.0).tolist(), r.image, r.id, r.scale, r.comment, r.line)
            for r in read_tps_records(path)]


# -- 1. IMAGE= longer than a file name may be --------------------------------------------------------------------


def long_name_tps(folder, name):
    path = folder / "long.tps"
    path.write_text(f"LM=2\n1 2\n3 4\nIMAGE={name}\nID=0\n", encoding="utf-8")
    return path


def test_an_image_name_too_long_is_one_line_naming_the_specimen(tmp_path):
    tps = long_name_tps(tmp_path, "a" * 300 + ".jpg")
    for problems in (None, []):
        with pytest.raises(DataError) as caught:
            read_tps(tps, problems=problems)
        message = one_line(str(caught.value), 400)
        assert str(tps) in message and "specimen 1" in message and "(304 characters)" in message
        assert "a" * 81 not in message  # the name is cut short


def test_a_name_with_a_nul_is_one_line_too(tmp_path):
    tps = tmp_path / "nul.tps"  # a NUL byte in a UTF-8 file is binary data; in UTF-16 it is a character
    tps.write_bytes(b"\xff\xfe" + "LM=1\n1 2\nIMAGE=a\x00b.jpg\n".encode("utf-16-le"))
    with pytest.raises(DataError, match="specimen 1") as caught:
        read_tps(tps)
    one_line(str(caught.value))


def test_a_long_windows_path_still_finds_the_photo_by_its_file_name(tmp_path):
    make_photo(tmp_path / "63001.jpg", seed=0, size=(40, 30))
    name = "C:\\Users\\lab\\" + "\\".join(["deep_folder_name"] * 20) + "\\63001.jpg"  # over 255: one name on Linux
    assert len(name) > 300
    (specimen,) = read_tps(long_name_tps(tmp_path, name))
    assert specimen.image == tmp_path / "63001.jpg" and specimen.frame.size == (40, 30)


def test_opening_a_photo_whose_name_is_too_long_is_a_data_error(tmp_path):
    with pytest.raises(DataError) as caught:
        image_size(tmp_path / ("b" * 400 + ".png"), "specimen 7")
    message = one_line(str(caught.value), 400)
    assert "(specimen 7)" in message and "characters)" in message and "b" * 300 not in message


def test_train_with_an_image_name_too_long_prints_one_line(tmp_path, capsys):
    tps = long_name_tps(tmp_path, "a" * 300 + ".jpg")
    status = main(["train", "--landmarks", str(tps), "--out", str(tmp_path / "m"), "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(tps) in err and "specimen 1" in err


# -- 2. a file of one line of megabytes ---------------------------------------------------------------------------


def test_shorten_keeps_the_start_and_says_how_long():
    assert shorten("abc") == "abc"
    assert shorten("x" * 81) == "x" * 80 + "… (81 characters)"
    assert shorten("0123456789", limit=4) == "0123… (10 characters)"


def test_a_format_error_message_is_capped():
    message = str(FormatError("f.tps", 3, "found " + "y" * 100_000))
    assert message.startswith("f.tps, line 3: found yyy") and len(message) < 500


@pytest.mark.parametrize(("text", "line"), [("LM=1 " + "x" * 3_000_000, 1), ("X" * 3_000_000 + "=1", 1),
                                            ("LM=1\n1 " + "2" * 3_000_000 + "q\n", 2),
                                            ("LM=1\n" + "1 2 " * 1_000_000, 2),
                                            ("LM=2\n1 2\n" + "3," * 1_500_000, 3)])
def test_evaluate_on_a_one_line_file_of_megabytes_prints_a_short_line(tmp_path, capsys, text, line):
    path = tmp_path / "one.tps"
    path.write_text(text, encoding="utf-8")
    assert main(["evaluate", "--manual", str(path), "--pred", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and len(err) < 500, err[:1000]
    assert f"{path}, line {line}: " in err and "characters)" in err and "Traceback" not in err


def test_a_keyword_line_with_a_long_run_of_spaces_reads_in_linear_time(tmp_path):
    path = tmp_path / "spaces.tps"  # the old pattern "=\s*(.*?)\s*$" took ~30 s on this line (quadratic)
    path.write_text("LM=1\n1 2\nIMAGE=a" + " " * 100_000 + "b.jpg \n", encoding="utf-8")
    start = time.perf_counter()
    (record,) = read_tps_records(path)
    assert time.perf_counter() - start < 5
    assert record.image == "a" + " " * 100_000 + "b.jpg"


def test_a_csv_of_one_huge_cell_is_a_short_format_error(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("image,landmark,x,y_down\na.jpg,1," + "7" * 2_000_000 + "x,1\n", encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        read_long_csv(path, size=(100, 100))
    assert f"{path}, line 2:" in one_line(str(caught.value), 400)
    path.write_text("image,landmark,x,y_down\na.jpg,1,5," + "x" * 300_000 + "\n", encoding="utf-8")  # over csv's limit
    with pytest.raises(FormatError, match="line 2: not readable as CSV") as caught:
        read_long_csv(path, size=(100, 100))
    one_line(str(caught.value), 400)


def test_a_csv_cell_and_image_name_are_quoted_short(tmp_path):
    path = tmp_path / "names.csv"
    image = "i" * 5000
    path.write_text(f"image,landmark,x,y\n{image},1,1,2\n{image},1,1,2\n", encoding="utf-8")
    with pytest.raises(FormatError, match="given twice") as caught:
        read_long_csv(path, size=(100, 100))
    one_line(str(caught.value), 400)
    path.write_text('image,landmark,x,y\n"two\nlines",1,1,2\n"two\nlines",1,1,2\n', encoding="utf-8")
    with pytest.raises(FormatError, match=r"landmark 1 of 'two\\nlines' given twice") as caught:
        read_long_csv(path, size=(100, 100))
    one_line(str(caught.value))


def test_a_huge_landmark_number_in_a_csv_builds_no_huge_list(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("image,landmark,name,x,y\na.jpg,1,tip,1,2\na.jpg,99999999999999999999,base,3,4\n")
    gaps = r"image a\.jpg: landmark\(s\) \[2, 3, .*, 11, …\] \(99999999999999999997 in all\) missing"
    with pytest.raises(FormatError, match=gaps):
        read_landmark_values(path, XY_CHOICES)
    assert read_landmark_names(path) == ["tip"]


# -- 3. UTF-16, UTF-32 and binary files ---------------------------------------------------------------------------

ENCODINGS = {
    "utf-8 with BOM": lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    "utf-16 le": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf-16 be": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "utf-32 le": lambda t: b"\xff\xfe\x00\x00" + t.encode("utf-32-le"),
    "utf-32 be": lambda t: b"\x00\x00\xfe\xff" + t.encode("utf-32-be"),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_tps_in_any_unicode_encoding_reads_as_in_utf8(tmp_path, encoding, newline):
    plain, other = tmp_path / "plain.tps", tmp_path / "other.tps"
    plain.write_bytes(TPS.encode("utf-8"))
    other.write_bytes(ENCODINGS[encoding](TPS.replace("\n", newline)))
    expected = records_of(plain)
    assert expected[0][1] == "käfer_001.jpg" and expected[0][4] == "Käfer, 5 µm"
    assert records_of(other) == expected


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_long_csv_in_any_unicode_encoding_reads_as_in_utf8(tmp_path, encoding):
    plain, other = tmp_path / "plain.csv", tmp_path / "other.csv"
    plain.write_bytes(LONG_CSV.encode("utf-8"))
    other.write_bytes(ENCODINGS[encoding](LONG_CSV.replace("\n", "\r\n")))
    expected = {s.image.name: s.landmarks for s in read_long_csv(plain, size=(100, 100))}
    got = {s.image.name: s.landmarks for s in read_long_csv(other, size=(100, 100))}
    assert list(got) == ["käfer_001.jpg", "b.jpg"] == list(expected)
    for name in got:
        np.testing.assert_array_equal(got[name], expected[name])
    assert read_landmark_names(other) == ["Spitze", "Basis"]
    assert set(read_landmark_values(other, XY_CHOICES)) == {"käfer_001.jpg", "b.jpg"}


def test_a_latin1_file_still_reads(tmp_path):
    path = tmp_path / "latin.tps"
    path.write_bytes(TPS.encode("latin-1"))
    assert read_tps_records(path)[0].comment == "Käfer, 5 µm"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_utf16_without_a_bom_is_a_clear_error(tmp_path, codec):
    tps, csv = tmp_path / "nobom.tps", tmp_path / "nobom.csv"
    tps.write_bytes(TPS.encode(codec))
    csv.write_bytes(LONG_CSV.encode(codec))
    expected = "UTF-32" if "32" in codec else "UTF-16"
    for read in (read_tps_records, lambda p: read_long_csv(p, size=(100, 100)), read_study_csv):
        for path in (tps, csv):
            with pytest.raises(DataError) as caught:
                read(path)
            message = one_line(str(caught.value))
            assert message.startswith(f"{path}: looks like {expected} text without a byte-order mark")
            assert "save it as UTF-8" in message


def test_a_photo_given_as_landmarks_is_one_clear_line(tmp_path):
    photo = tmp_path / "photo.png"
    make_photo(photo, seed=0, size=(40, 30))
    for read in (read_tps_records, lambda p: read_long_csv(p, size=(100, 100)),
                 lambda p: read_landmark_values(p, XY_CHOICES)):
        with pytest.raises(DataError, match=r"photo\.png: a PNG image, not a text") as caught:
            read(photo)
        one_line(str(caught.value), 200)
    binary = tmp_path / "data.tps"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DataError, match=r"data\.tps: binary data \(a NUL byte at byte 0\), not a text landmark file"):
        read_tps_records(binary)


def test_a_bom_over_bytes_of_another_encoding_is_a_clear_error(tmp_path):
    path = tmp_path / "odd.tps"
    path.write_bytes(b"\xff\xfeL\x00M\x00=\x00\x00\xd8")  # a lone surrogate
    with pytest.raises(DataError, match="begins with a UTF-16 byte-order mark but is not UTF-16 text"):
        read_tps_records(path)


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(DataError, match=r"none\.tps: landmark file not found"):
        read_tps_records(tmp_path / "none.tps")
    with pytest.raises(DataError, match=r"none\.csv: landmark file not found"):
        read_study_csv(tmp_path / "none.csv")
    with pytest.raises(DataError, match=r"none\.csv: file not found"):
        read_landmark_values(tmp_path / "none.csv", XY_CHOICES)
    with pytest.raises(DataError, match="a folder, not a landmark file"):
        read_tps_records(tmp_path)


# -- 4. the fuzzer ------------------------------------------------------------------------------------------------

TPS_WORDS = ["LM=", "lm = ", "LM=0", "LM=1", "LM=2", "LM=3", "LM=-1", "LM=99999999999999999999", "LM=1e3",
             "LM=" + "9" * 5000,
             "1", "-1", "0", "12.5", "-3.25", "1,5", "NA", "na", "nan", "NaN", "inf", "-inf", "1e999", "1_000", "٣",
             "IMAGE=", "IMAGE=a.jpg", "IMAGE=C:\\x\\b.JPG", "IMAGE=../up.jpg", "IMAGE=/abs.jpg", "ID=", "ID=7",
             "SCALE=", "SCALE=0.01", "SCALE=x", "SCALE=nan", "SCALE=1e999", "CURVES=", "CURVES=1", "CURVES=2",
             "CURVES=99999999999999999999", "OUTLINES=1", "POINTS=", "POINTS=2", "POINTS=-3", "COMMENT=", "COMMENTS=x",
             "VARIABLES=2", "garbage", "=", "==", "A=", ",", "\t", "\x00", "\ufeff", "\x0c", "\x85", "\u2028", "é",
             "\ud800"]
CSV_WORDS = ["image", "landmark", "name", "x", "y", "y_down", "Image", "x1", "y1", "x2", "y2", "a.jpg", "b.jpg",
             "1", "2", "3", "0", "-1", "99999999999999999999", "9" * 5000, "1.5", "NA", "", "nan", "inf", "1e999",
             '"', '"a,b"', '"two\nlines"', '""', "\x00", "\ufeff", "garbage", "\r"]
TEXT = st.text(string.printable, max_size=12)


def long_token(alphabet: str):
    return st.builds(lambda c, n: c * n, st.sampled_from(alphabet), st.integers(300, 30_000))


def lines(words, separator: str):
    token = st.one_of(st.sampled_from(words), TEXT, long_token("x9 ,.-\t"))
    return st.lists(st.lists(token, max_size=5).map(separator.join), max_size=30)


def tps_blocks():
    """Blocks close to valid TPS, so that the fuzzer reaches past the first line."""
    coordinate = st.sampled_from(["1", "-1", "0", "2.5", "NA", "nan", "1e999", "x", "", "1,2"])
    block = st.tuples(st.integers(0, 4), st.lists(st.tuples(coordinate, coordinate).map(" ".join), max_size=5),
                      st.lists(st.sampled_from(TPS_WORDS), max_size=4))
    return st.lists(block.map(lambda b: [f"LM={b[0]}", *b[1], *b[2]]), max_size=5).map(lambda bs: sum(bs, []))


NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])
ENCODE = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"])
BOM = st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"])


def file_bytes(line_lists):
    text = st.builds(lambda ls, nl: nl.join(ls), line_lists, NEWLINES)
    encoded = st.builds(lambda t, e: t.encode(e, errors="replace"), text, ENCODE)
    return st.one_of(encoded, st.builds(lambda b, data: b + data, BOM, st.binary(max_size=300)))


#: Examples per fuzz test: about a second each; BEETLES_FUZZ_EXAMPLES=5000 searches longer.
EXAMPLES = int(os.environ.get("BEETLES_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])


def expect_only_our_errors(read, path):
    """``read(path)`` succeeds or raises a BeetlesError of one line under 600 characters."""
    try:
        read(path)
    except BeetlesError as error:
        one_line(str(error))


def with_photos_looked_up(reader):
    """``reader`` looking up each photo beside the file (none is there), each problem one line."""
    def read(path):
        problems = []
        try:
            reader(path, problems=problems)
        finally:
            for problem in problems:
                one_line(problem)
    return read


@FUZZ
@given(data=file_bytes(st.one_of(lines(TPS_WORDS, " "), tps_blocks())))
def test_fuzz_the_tps_readers(tmp_path, data):
    path = tmp_path / "fuzz.tps"
    path.write_bytes(data)
    expect_only_our_errors(read_tps_records, path)
    expect_only_our_errors(lambda p: read_tps(p, size=(100, 100), require_image=False), path)
    expect_only_our_errors(with_photos_looked_up(lambda p, problems: read_tps(p, require_image=False,
                                                                              problems=problems)), path)


@FUZZ
@given(data=file_bytes(lines(CSV_WORDS, ",")), header=st.sampled_from(
    ["image,landmark,x,y_down", "image,landmark,name,x,y", "x1,y1,x2,y2,Image", "", "image,landmark"]))
def test_fuzz_the_csv_readers(tmp_path, data, header):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(header.encode() + b"\n" + data if header else data)
    expect_only_our_errors(lambda p: read_long_csv(p, size=(100, 100)), path)
    expect_only_our_errors(with_photos_looked_up(lambda p, problems: read_long_csv(p, problems=problems)), path)
    expect_only_our_errors(lambda p: read_landmark_values(p, XY_CHOICES), path)
    expect_only_our_errors(read_landmark_names, path)
    expect_only_our_errors(lambda p: read_study_csv(p, size=(100, 100)), path)
