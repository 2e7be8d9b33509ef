"""Several files that change together: written aside, then renamed into place.

:class:`StagedFiles` gives each target file a temporary name beside it
(``.<name>.<random>.staged<suffix>``, same folder, so the rename is one
``os.replace`` on one file system); the caller writes every file under its
temporary name, and only when all are written are they renamed over their
targets, one after another.  On any failure before that, the temporaries are
removed and the targets are as they were (an error's message names the
targets, not the temporaries): a run that fails or is killed while writing
never leaves a new file beside an old one it belongs with.
(A kill between two of the final renames, microseconds apart, still can.)

:func:`remove_leftovers` clears the temporaries a killed run left beside a
target; call it only while holding the target's lock
(:func:`beetles.core.locks.held`), when no other process is writing them.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from beetles.core.errors import BeetlesError
from beetles.core.files import WriteError

_TOKEN = 12  # hex digits of the random part


def staged_name(target: Path) -> str:
    """A fresh temporary file name for ``target`` (no folder)."""
    return f".{target.name}.{secrets.token_hex(_TOKEN // 2)}.staged{target.suffix}"


class StagedFiles:
    """Targets written under temporary names, renamed into place together.

    ``with StagedFiles() as staged: write(staged.path(target))``: at the end
    of a block that did not raise, :meth:`commit` renames every temporary over
    its target (in the order :meth:`path` was asked, so put the file that
    readers take as "the" result last); when it raises, :meth:`discard`
    removes the temporaries and the targets stay untouched."""

    def __init__(self):
        self._staged: dict[Path, Path] = {}

    def path(self, target) -> Path:
        """The temporary path to write ``target`` under (the same one if asked again)."""
        target = Path(target)
        if target not in self._staged:
            self._staged[target] = target.with_name(staged_name(target))
        return self._staged[target]

    def commit(self) -> list[Path]:
        """Rename every temporary over its target; returns the targets.  A
        rename that fails (an ``OSError``) becomes a
        :class:`~beetles.core.files.WriteError` naming the target, the
        temporaries not yet renamed removed."""
        done = []
        try:
            for target, temporary in list(self._staged.items()):
                try:
                    os.replace(temporary, target)
                except OSError as error:
                    raise WriteError(f"{target}: cannot write ({error.strerror or error}); "
                                     f"{len(done)} of the {len(self._staged)} files renamed into place") from error
                done.append(target)
                del self._staged[target]
        finally:
            self.discard()
        return done

    def discard(self) -> None:
        """Remove the temporaries not renamed into place."""
        for temporary in self._staged.values():
            with contextlib.suppress(OSError):
                temporary.unlink()
        self._staged.clear()

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.commit()
            return
        if isinstance(error, BeetlesError):
            self._name_targets(error)
        self.discard()

    def _name_targets(self, error: BeetlesError) -> None:
        """Make ``error``'s message (what the user reads) name the targets
        rather than their temporaries."""
        text = str(error)
        for target, temporary in self._staged.items():
            text = text.replace(str(temporary), str(target))
        if text != str(error):
            error.args = (text,)


def remove_leftovers(target) -> list[Path]:
    """Remove the temporaries of ``target`` that a killed run left beside it
    (:func:`staged_name`'s, and those the writers of such a temporary made
    beside it); returns them.  Only while holding ``target``'s lock."""
    target = Path(target)
    pattern = re.compile(rf"\.?\.{re.escape(target.name)}\.[0-9a-f]{{{_TOKEN}}}\.staged")
    removed = []
    with contextlib.suppress(OSError):
        for path in target.parent.iterdir():
            if pattern.match(path.name) and path.is_file():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed
