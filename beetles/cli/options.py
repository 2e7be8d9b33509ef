"""Options and conventions every command line of beetles shares.

:func:`exit_status` turns a :class:`~beetles.core.errors.BeetlesError` into
one line on stderr and an exit status; the ``type=`` functions check option
values with argparse's own error; :func:`add_engine_options` defines
``--engine`` and ``--device`` once for the tool and every experiment script.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from beetles.core.errors import BeetlesError
from beetles.model import ENGINES

#: What an interrupted cross-validation run tells its user.
RESUME_HINT = "interrupted; finished rounds are kept, rerun to resume"
DEVICES = ("cpu", "cuda")


def exit_status(prog: str, body, interrupted: str = "interrupted") -> int:
    """Run ``body()`` and return its exit status; a :class:`BeetlesError`
    becomes one line ``<prog>: error: …`` on stderr and status 2, Ctrl-C the
    line ``<prog>: <interrupted>`` and status 130."""
    try:
        return body()
    except BeetlesError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130


def leave(status: int):
    """End the process with ``status``.  130 (Ctrl-C) is left by
    ``os._exit`` once the output is flushed: when a ``KeyboardInterrupt``
    passed through code Python ran for an import, Python would otherwise end
    by killing itself with SIGINT, whatever status the program returned."""
    if status == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    raise SystemExit(status)


def optional_path(text) -> Path | None:
    """``None`` stays ``None``; anything else becomes a :class:`~pathlib.Path`."""
    return None if text is None else Path(text)


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: give at least 1")
    return value


def size_option(text: str):
    """argparse type for ``WxH``: the size parser's own message on error."""
    from beetles.synth.specimens import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def model_option(text: str) -> str:
    """argparse type for ``--model``: a registered model's name."""
    from beetles.registry import model_info

    try:
        return model_info(text).name
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def rounds_option(text: str) -> list[int]:
    """argparse type for ``--rounds``: ``"3"`` → ``[1, 2, 3]``; ``"1,4"`` → ``[1, 4]``."""
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a count (3) or a list (1,4,7)") from None
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r}: give a count (3) or a list (1,4,7)")
    if len(values) == 1 and "," not in str(text):
        return list(range(1, values[0] + 1))
    return values


def add_engine_options(parser) -> None:
    """``--engine`` and ``--device``, the same for the tool and every experiment script."""
    parser.add_argument("--engine", default=None, choices=ENGINES,
                        help="theano: the paper's stack (the default for models 1-3); torch: the same networks "
                        "in PyTorch (the only engine of the compact models)")
    parser.add_argument("--device", default="cpu", choices=DEVICES,
                        help="cpu (default) or cuda (a CUDA GPU; the torch engine only)")
