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


#: What an interrupted cross-validation run tells its user.
RESUME_HINT = "interrupted; finished rounds are kept, rerun to resume"


def exit_status(prog: str, body, interrupted: str = "interrupted") -> int:
    """Run ``body()`` and return its exit status; a :class:`BeetlesError`
    becomes one line ``<prog>: error: …`` on stderr and status 2, Ctrl-C the
    line ``<prog>: <interrupted>`` and status 130."""
    import sys

    try:
        return body()
    except BeetlesError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130
