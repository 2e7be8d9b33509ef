"""Errors that beetles reports to the user as one clear line.

Every error about the user's input (a file, a folder, an option) is a
:class:`BeetlesError` subclass whose message names the file and, where it
applies, the line or the specimen.  The command line prints the message
alone, without a traceback.  Whatever of the input a message quotes goes
through :func:`shorten`, so that a 200 MB line never floods the terminal.
"""

#: The most characters of a :class:`FormatError`'s message (after the file
#: and line), a safety net behind :func:`shorten`.
MAX_MESSAGE = 400


def shorten(text, limit: int = 80) -> str:
    """``text`` (made a string) as it is when it has at most ``limit``
    characters, else its first ``limit`` characters and its length:
    ``"LM=1 xxxx… (3000005 characters)"``.  For quoting the user's input in
    a message."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


class BeetlesError(Exception):
    """Base class of the errors beetles reports to its user."""


class DataError(BeetlesError, ValueError):
    """Input data (a landmark file, an image, a dataset folder) is unusable."""


class FormatError(DataError):
    """A landmark file does not follow its format; says which file and line."""

    def __init__(self, path, line, message):
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {shorten(message, MAX_MESSAGE)}")


class WeightsError(BeetlesError):
    """A weight file that cannot be read or does not fit the network."""
