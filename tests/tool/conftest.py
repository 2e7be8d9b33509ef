"""The default model the tool's tests predict with, trained once for the package."""
import pytest

from tests.tool.discs import trained_part


@pytest.fixture(scope="package")
def trained(tmp_path_factory):
    """The default model trained for 2 epochs (of each stage) on 16 photos."""
    return trained_part(tmp_path_factory.mktemp("tool"))
