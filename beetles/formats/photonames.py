"""Finding the photo a landmark file names, as tpsDig and others write ``IMAGE=`` on any system.

:class:`PhotoFinder` matches a name by its path (relative to the photo
folder, or absolute), then by its file name alone
(``C:\\Users\\lab\\wings\\63001.jpg``, as tpsDig writes it on Windows, →
``63001.jpg``), then by that file name in any case (``63001.JPG`` →
``63001.jpg``).  A name that matches two photos in any case is an error;
:meth:`PhotoFinder.notes` says how many names each later rule matched, so
that the user hears of it.  A name no file can have (longer than the
system allows, or holding a NUL) is an error naming the specimen, unless
its file name alone matches.
"""
from __future__ import annotations

import re
from pathlib import Path

from beetles.core.errors import DataError, shorten
from beetles.core.files import probe

#: The rules, in the order they are tried.
RULES = ("path", "file name", "file name in another case")


class PhotoFinder:
    """Photos of ``folder`` by the names a landmark file gives them."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self._by_lower: dict[str, list[Path]] | None = None
        self.matched: dict[str, list[tuple[str, str]]] = {rule: [] for rule in RULES}

    def _lower(self) -> dict[str, list[Path]]:
        if self._by_lower is None:
            self._by_lower = {}
            try:
                paths = list(self.folder.iterdir()) if self.folder.is_dir() else []
            except OSError:  # no permission to list it: no photo is found in another case
                paths = []
            for path in paths:
                if _is_file(path):
                    self._by_lower.setdefault(path.name.lower(), []).append(path)
        return self._by_lower

    def find(self, name: str, label: str | None = None) -> Path:
        """The photo ``name`` stands for (``folder / name`` when nothing
        matches: the caller reports it as not found).  A name that cannot be
        looked up (too long, a NUL character) and matches by no rule is a
        :class:`DataError`, naming ``label`` (the specimen) when given."""
        given = self.folder / name
        unusable = None
        try:
            if given.is_file():
                self.matched["path"].append((name, name))
                return given
        except (OSError, ValueError) as error:  # e.g. [Errno 36] File name too long
            unusable = error
        base = re.split(r"[\\/]", name)[-1]
        if base and base != name and _is_file(self.folder / base):
            self.matched["file name"].append((name, base))
            return self.folder / base
        found = self._lower().get(base.lower(), [])
        if len(found) > 1:
            raise DataError(f"{self.folder}: IMAGE={_shown(name)} matches {len(found)} photos that differ only in case "
                            f"({', '.join(sorted(p.name for p in found))}); rename all but one")
        if found:
            self.matched["file name in another case"].append((name, found[0].name))
            return found[0]
        if unusable is not None:
            reason = unusable.strerror if isinstance(unusable, OSError) and unusable.strerror else str(unusable)
            raise DataError(f"{label + ': ' if label else ''}IMAGE={_shown(name)} cannot be looked up in {self.folder} "
                            f"({reason})")
        return given

    def notes(self, source) -> list[str]:
        """One line per later rule that matched a name, naming ``source`` (the landmark file)."""
        lines = []
        for rule in RULES[1:]:
            pairs = self.matched[rule]
            if pairs:
                lines.append(f"{source}: {len(pairs)} photo name(s) matched by their {rule} in {self.folder} "
                             f"(e.g. {_shown(pairs[0][0])} → {_shown(pairs[0][1])})")
        return lines


def _shown(name: str) -> str:
    """A photo name as messages show it: shortened, and quoted when it holds
    a character that does not print."""
    shown = shorten(name)
    return shown if shown.isprintable() else repr(shown)


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; ``False`` too when it cannot be looked up
    (a name too long, a NUL character, no permission)."""
    try:
        return probe(path) == "file"
    except DataError:
        return False
