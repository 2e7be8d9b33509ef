"""The authors' published result files (:mod:`beetles.formats.published`)."""
import numpy as np

from beetles.formats.published import read_paired_csv, write_paired_csv


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
    # a missing landmark is an empty cell, read back as missing
    manual = paired.manual.copy()
    manual[1, 0] = np.nan
    holes = write_paired_csv(tmp_path / "holes.csv", paired.images, manual, paired.predicted)
    assert holes.read_text().splitlines()[3] == "2,1,,,1.0000,2.0000"
    assert np.isnan(read_paired_csv(holes).manual[1, 0]).all()
