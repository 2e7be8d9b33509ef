"""The ``beetles`` command line (also ``python -m beetles``).

Each subcommand is a small function that parses nothing itself: the parser is
built in :func:`build_parser`, and the work is done by the package modules, so
that everything the command line does is also a plain Python call.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from beetles.errors import BeetlesError


def _cmd_info(args: argparse.Namespace) -> int:
    from beetles.compat import stack_report

    report = stack_report(check_compile=not args.no_compile_check)
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    return 0


def _cmd_tables(args: argparse.Namespace) -> int:
    from beetles.tables import write_paper_tables

    written = write_paper_tables(Path(args.out), args.reference)
    for path in written:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``beetles`` command, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="beetles",
        description=(
            "Automatic anatomical landmarks on specimen photos: a reproduction "
            "of Le Van Linh et al. (beetles, model 3) and a landmarking tool."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser(
        "info",
        help="versions of the stack, Theano's device, floatX and BLAS",
        description=(
            "Print the versions of Python, NumPy, SciPy, scikit-learn, Pillow, "
            "matplotlib, Theano, Lasagne and nolearn; Theano's device, floatX, "
            "BLAS flags and compile directory; and whether Theano can compile "
            "C code (it needs a C compiler)."
        ),
    )
    info.add_argument(
        "--no-compile-check",
        action="store_true",
        help="skip the test compilation of a small Theano function",
    )
    info.set_defaults(func=_cmd_info)

    tables = sub.add_parser(
        "tables",
        help="recompute the paper's tables from the published landmarks",
        description=(
            "Read the landmarks the authors published (manual, from-scratch "
            "and fine-tuned predictions) and write the paper's Tables 2, 3, 4, "
            "6, 8, 10, 11, 12 as CSV files and Figs. 12 and 15 as PNG files."
        ),
    )
    tables.add_argument("--out", required=True, help="output folder (created if missing)")
    tables.add_argument(
        "--reference",
        default=None,
        help="folder of the published landmarks (default: the copy in data/reference/)",
    )
    tables.set_defaults(func=_cmd_tables)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BeetlesError as error:
        print(f"beetles {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"beetles {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
