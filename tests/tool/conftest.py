"""The default model the tool's tests predict with, trained once for the package."""
import pytest

from beetles.cli import main
from tests.tool.discs import disc_part


@pytest.fixture(scope="package")
def trained(tmp_path_factory):
    """The default model trained for 2 epochs (of each stage) on 16 photos."""
    root = tmp_path_factory.mktemp("tool")
    part = disc_part(root / "part")
    model = root / "model"
    assert main(["train", "--data", str(part), "--out", str(model), "--epochs", "2", "--quiet"]) == 0
    return part, model
