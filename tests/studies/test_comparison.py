"""Models side by side with the same minutes per round (:mod:`beetles.studies.comparison`)."""
import json

import pytest
from PIL import Image

from beetles.cli.experiments import comparison_main
from tests.helpers import coloured_part


def test_model_comparison_end_to_end(tmp_path, capsys, mini_models):
    dataset = tmp_path / "data"
    coloured_part(dataset / "pronotum", count=12, landmarks=2)
    out = tmp_path / "cmp"
    status = comparison_main(["--data", str(dataset), "--parts", "pronotum", "--models", "mini3,heatmap",
                              "--minutes", "0.02", "--out", str(out), "--quiet"])
    assert status == 0
    rows = (out / "comparison.csv").read_text().splitlines()
    assert rows[0].startswith("part,model,mean_distance_px,ratio_to_trivial")
    assert [r.split(",")[1] for r in rows[1:]] == ["mini3", "heatmap", "trivial"]
    assert Image.open(out / "comparison.png").size[0] > 100
    for model in ("mini3", "heatmap"):
        recorded = json.loads((out / "pronotum" / model / "run.json").read_text())
        assert recorded["engine"] == "torch" and recorded["schedule"]["minutes"] == 0.02
        assert recorded["rounds"][0]["seconds"] < 60
    trivial = float(rows[3].split(",")[2])
    assert trivial == pytest.approx(json.loads((out / "pronotum" / "heatmap" / "run.json").read_text())
                                    ["results"]["trivial_mean_distance_px"], abs=1e-3)
