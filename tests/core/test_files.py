import os
import stat

import pytest

from beetles.core.files import atomic_write, write_text


def test_atomic_write_replaces_only_on_success(tmp_path):
    path = tmp_path / "sub" / "table.csv"
    write_text(path, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as handle:
            handle.write("half a new fi")
            raise RuntimeError("disk full")
    assert path.read_text() == "old\n"  # the complete old file survives
    assert [p.name for p in path.parent.iterdir()] == ["table.csv"]  # no temporary file left
    write_text(path, "new\n")
    assert path.read_text() == "new\n"


def test_atomic_write_gives_usual_permissions(tmp_path):
    path = write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask



def test_full_disk_is_a_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    import errno

    from beetles.core.files import WriteError, write_bytes

    path = write_bytes(tmp_path / "params.npz", b"finished weights")

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(WriteError, match=r"params.npz: cannot write \(No space left on device\)"):
        write_bytes(path, b"new weights")
    assert path.read_bytes() == b"finished weights"
    assert len(list(tmp_path.iterdir())) == 1
