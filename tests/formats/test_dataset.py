import shutil

import numpy as np
import pytest

from beetles.core.errors import DataError
from beetles.formats.dataset import load_dataset, load_part


def tps_text(blocks):
    return "\n".join(
        "\n".join([f"LM={len(points)}", *(f"{x} {y}" for x, y in points), f"IMAGE={name}"]) for name, points in blocks
    ) + "\n"


def test_load_valid_part(part_folder):
    folder, truth = part_folder
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    part = load_part(folder)
    assert part.name == "pronotum" and len(part) == 6 and part.n_landmarks == 4
    np.testing.assert_allclose(part.landmarks(part[0].frame), truth, atol=1e-3)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before  # nothing modified


def test_load_long_csv_instead_of_tps(part_folder, tmp_path):
    folder, truth = part_folder
    rows = ["image,landmark,x,y"]
    for k, points in enumerate(truth):
        rows += [f"p_{k:02d}.jpg,{j + 1},{x},{y}" for j, (x, y) in enumerate(points)]
    csv_path = tmp_path / "marks.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    part = load_part(folder, landmarks=csv_path)
    np.testing.assert_allclose(part.landmarks(part[0].frame), truth)


def test_every_problem_is_reported_with_file_and_specimen(part_folder):
    folder, _ = part_folder
    images = folder / "images"
    (images / "p_01.jpg").unlink()  # missing
    data = (images / "p_02.jpg").read_bytes()
    (images / "p_02.jpg").write_bytes(data[: len(data) // 3])  # truncated
    (images / "p_03.jpg").write_text("this is not a photo")  # not an image
    text = (folder / "landmarks.tps").read_text().split("LM=")
    # specimen 5 (p_04): one landmark too many; specimen 6 (p_05): a landmark outside, y up 300 > 240
    text[5] = text[5].replace("IMAGE", "1 1\nIMAGE").replace("4\n", "5\n", 1)
    lines = text[6].splitlines()
    lines[1] = "5 300"
    text[6] = "\n".join(lines) + "\n"
    (folder / "landmarks.tps").write_text("LM=".join(text))
    with pytest.raises(DataError) as caught:
        load_part(folder)
    message = str(caught.value)
    assert "5 problem(s)" in message
    assert "p_01.jpg (specimen 2 of " in message and "image file not found" in message
    assert "p_02.jpg" in message and "truncated" in message
    assert "p_03.jpg" in message and "not an image" in message
    assert "specimen 5 (p_04.jpg): 5 landmarks, but specimen 1 has 4" in message
    assert "specimen 6 (p_05.jpg): landmark 1 at (5.0, -60.0) (y down) lies outside the 320×240 photo" in message


def test_missing_landmarks_refused_unless_allowed(part_folder):
    folder, _ = part_folder
    path = folder / "landmarks.tps"
    lines = path.read_text().splitlines()
    lines[2] = "-1 -1"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"specimen 1 \(p_00.jpg\): landmark\(s\) \[2\] missing"):
        load_part(folder)
    part = load_part(folder, allow_missing=True)
    assert part[0].missing.tolist() == [False, True, False, False]


def test_missing_folder_parts_and_files(tmp_path, part_folder):
    with pytest.raises(DataError, match="part folder not found"):
        load_part(tmp_path / "nothing")
    folder, _ = part_folder
    (folder / "landmarks.tps").unlink()
    with pytest.raises(DataError, match="landmarks.tps: landmark file not found"):
        load_part(folder)
    shutil.rmtree(folder / "images")
    with pytest.raises(DataError, match="no 'images/' folder"):
        load_part(folder)
    empty = tmp_path / "empty_root"
    empty.mkdir()
    with pytest.raises(DataError, match="no part folder"):
        load_dataset(empty)


def test_load_dataset_finds_part_folders(part_folder):
    folder, _ = part_folder
    shutil.copytree(folder, folder.parent / "head")
    (folder.parent / "notes").mkdir()  # a folder without landmarks.tps is not a part
    dataset = load_dataset(folder.parent)
    assert list(dataset) == ["head", "pronotum"]  # every part folder, by name
    assert dataset["head"].name == "head" and len(dataset["head"]) == 6
