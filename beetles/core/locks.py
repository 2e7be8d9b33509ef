"""One writer at a time: a lock per model folder or output file.

:func:`held` takes the lock of a path (a folder ``beetles train`` writes, a
file ``beetles predict`` writes) for a block of work, through ``filelock``
(an OS lock on ``.<name>.lock`` beside the path, released by the OS if the
process dies, the file removed on release).  A second process that asks for
the same lock does not wait: it gets a :class:`Busy` error saying which
process holds it, since when and doing what (``.<name>.lock.json``, written
by the holder).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

from beetles.core.errors import BeetlesError


class Busy(BeetlesError):
    """Another process is writing the same model folder or file."""


def lock_path(target) -> Path:
    """The lock file of ``target``: ``.<name>.lock`` beside it."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


def holder(target) -> str:
    """Who holds ``target``'s lock, in words (from ``.<name>.lock.json``)."""
    info = lock_path(target).with_suffix(".lock.json")
    try:
        record = json.loads(info.read_text(encoding="utf-8"))
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["started"]))
        return (f"process {record['pid']} on {record['host']} ({record['command']}) has been {record['doing']} "
                f"since {started}")
    except (OSError, ValueError, KeyError, TypeError):
        return "another beetles process is working on it"


@contextlib.contextmanager
def held(target, doing: str):
    """Hold ``target``'s lock for the block; :class:`Busy` (``target`` and
    the holder named) when another process holds it.  ``doing``: what the
    holder does, for that message (e.g. ``"training a model into it"``)."""
    from filelock import FileLock, Timeout

    target = Path(target)
    created = [f for f in (target.parent, *target.parent.parents) if not f.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(target)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise Busy(f"{target}: {holder(target)}; wait for it to finish, or choose another") from None
    except OSError as error:
        raise BeetlesError(f"{target}: cannot lock it ({error.strerror or error})") from None
    info = path.with_suffix(".lock.json")
    try:
        with contextlib.suppress(OSError):
            info.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                                        "doing": doing, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}),
                            encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            info.unlink()
        lock.release()
        with contextlib.suppress(OSError):
            path.unlink()  # filelock checks the inode it locked is still the file's, so this is safe
        for folder in created:  # made only for the lock, and left empty: not left behind
            with contextlib.suppress(OSError):
                folder.rmdir()
