import subprocess
import sys
from pathlib import Path

import pytest

from beetles.cli import build_parser, main


def subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_every_subcommand_has_help(capsys):
    names = subcommands()
    assert {"info", "tables"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exited:
            main([name, "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: beetles {name}") and len(out.splitlines()) > 3


def test_console_script_and_module_entry_points():
    script = Path(sys.executable).parent / "beetles"
    assert script.exists(), "the beetles console script is installed beside python"
    for command in ([str(script), "--help"], [sys.executable, "-m", "beetles", "--help"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "usage: beetles" in done.stdout and "tables" in done.stdout


def test_no_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2


def test_info_reports_the_stack(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for word in ("theano", "lasagne", "nolearn", "numpy", "floatX", "float32", "blas"):
        assert word.lower() in out.lower()
    compile_line = next(line for line in out.splitlines() if line.lower().startswith("theano compiles"))
    assert "yes" in compile_line


def test_synth_command_writes_a_dataset_and_reports(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert main(["synth", "--out", str(out), "--parts", "pronotum", "--specimens", "6",
                 "--size", "320x240", "--preview", "--report", "--quiet", "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"pronotum: {out / 'pronotum'}" in printed and "contact sheet" in printed
    assert "pronotum" in printed.splitlines()[-1] and "10.8" in printed.splitlines()[-1]
    assert len(list((out / "pronotum" / "images").glob("*.jpg"))) == 6
    assert (out / "preview.png").stat().st_size > 0
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(out), "--size", "300x300"])  # not 4:3
    assert "4:3" in capsys.readouterr().err
