"""The allocator setting of beetles/allocator.py: on where glibc is, off on request."""
import platform
import subprocess
import sys

import pytest

CHECK = "from beetles.paper.allocator import keep_freed_memory; print(keep_freed_memory())"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_freed_memory_applies_and_can_be_turned_off():
    def run(value):
        env = {"BEETLES_KEEP_MEMORY": value, "PATH": ""}
        return subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True).stdout

    assert run("1").strip() == "True"
    assert run("0").strip() == "False"
