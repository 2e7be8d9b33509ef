"""Errors that beetles reports to the user as one clear line.

Every error about the user's input (a file, a folder, an option) is a
:class:`BeetlesError` subclass whose message names the file and, where it
applies, the line or the specimen.  The command line prints the message
alone, without a traceback.
"""


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
        super().__init__(f"{where}: {message}")


class WeightsError(BeetlesError):
    """A weight file that cannot be read or does not fit the network."""
