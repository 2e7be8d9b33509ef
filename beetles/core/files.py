"""Safe file writing: every result and weight file is written atomically.

:func:`atomic_write` writes to a temporary file in the destination folder and
renames it over the destination only when writing succeeded, so a crash, a
Ctrl-C or a full disk never leaves a half-written file behind (an older
complete file stays as it was).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from beetles.core.errors import BeetlesError, DataError, shorten


class WriteError(BeetlesError, OSError):
    """A result or weight file could not be written (full disk, no permission)."""


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", **open_kwargs):
    """Open a temporary file beside ``path``; rename it to ``path`` on success.

    ``mode`` is ``"w"`` (text, UTF-8, ``newline=""`` unless given) or
    ``"wb"``.  The parent folder is created if missing.  On any exception
    the temporary file is removed and the exception propagates; an
    ``OSError`` (e.g. a full disk) becomes a :class:`WriteError` naming the
    file.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
        open_kwargs.setdefault("newline", "")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise WriteError(f"{path}: cannot write ({error.strerror or error}); the previous file, if any, is unchanged") from error
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside ``path`` (same suffix) for a library that
    writes by file name; renamed to ``path`` when the block succeeds, removed
    when it fails (an ``OSError`` becomes a :class:`WriteError` naming
    ``path``), as :func:`atomic_write` does for an open file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{os.urandom(6).hex()}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError) and not isinstance(error, WriteError):
            raise WriteError(f"{path}: cannot write ({error.strerror or error}); the previous file, if any, is "
                             "unchanged") from error
        raise


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_write(path) as handle:
        handle.write(text)
    return Path(path)


def write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def probe(path, shown: str | None = None) -> str | None:
    """``"file"``, ``"folder"`` or ``None`` (nothing there) for ``path``; a
    name no system allows (too long, a NUL character) is a
    :class:`~beetles.core.errors.DataError` naming it as ``shown`` (default:
    the path, shortened)."""
    try:
        return "file" if Path(path).is_file() else "folder" if Path(path).is_dir() else None
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise DataError(f"{shown or repr(shorten(path, 200))}: cannot look it up ({reason})") from None
