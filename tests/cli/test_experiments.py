"""The experiment scripts' command lines (:mod:`beetles.cli.experiments`)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from beetles.cli.experiments import scratch_main
from tests.helpers import coloured_part

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.fixture(scope="module")
def coloured(tmp_path_factory):
    return coloured_part(tmp_path_factory.mktemp("coloured") / "discs", count=12)


def test_experiment_script_with_the_heatmap_model(coloured, tmp_path, capsys):
    out = tmp_path / "out"
    status = scratch_main("discs", ["--data", str(coloured), "--model", "heatmap", "--epochs", "2",
                                    "--out", str(out), "--quiet"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "model heatmap" in printed and "rank correlation with the error" in printed
    recorded = json.loads((out / "run.json").read_text())
    assert recorded["engine"] == "torch" and recorded["schedule"]["model"] == "heatmap"
    assert recorded["rounds"][0]["epochs"] == 2
    assert -1 <= recorded["results"]["spread_error_spearman"] <= 1
    spread = (out / "rounds" / "round01" / "spread.csv").read_text().splitlines()
    assert spread[0] == "image,landmark,spread" and len(spread) == 1 + 2 * 2  # 12 specimens: 9 rounds, 2 tested
    assert (out / "spread.csv").is_file() and (out / "rounds" / "round01" / "params.npz").is_file()
    # resuming skips the finished round
    scratch_main("discs", ["--data", str(coloured), "--model", "heatmap", "--epochs", "2", "--out", str(out)])
    assert "finished earlier, skipped" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        scratch_main("discs", ["--model", "unet"])
    assert scratch_main("discs", ["--data", str(coloured), "--model", "heatmap", "--engine", "theano",
                                  "--out", str(out)]) != 0
    assert "runs on the torch engine" in capsys.readouterr().err


def test_every_experiment_script_is_thin_and_answers_help():
    scripts = sorted(EXPERIMENTS.glob("*.py"))
    assert len(scripts) == 15
    for script in scripts:
        text = script.read_text()
        assert "argparse" not in text and "from beetles.cli.experiments import" in text, script.name
    for name in ("pronotum_scratch.py", "head_finetune.py", "all_tables.py"):
        done = subprocess.run([sys.executable, str(EXPERIMENTS / name), "--help"], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0 and done.stdout.startswith("usage: "), done.stderr
