"""The ``beetles`` command line (also ``python -m beetles``).

Each subcommand is a small function that parses nothing itself: the parser is
built in :func:`build_parser`, and the work is done by the package modules, so
that everything the command line does is also a plain Python call.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from beetles.errors import exit_status


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


def _cmd_synth(args: argparse.Namespace) -> int:
    from beetles.synthetic import generate_dataset, trivial_errors, trivial_report

    dataset = generate_dataset(
        Path(args.out),
        parts=args.parts,
        specimens=args.specimens,
        seed=args.seed,
        size=args.size,
        preview=args.preview,
        progress=not args.quiet,
        workers=args.workers,
    )
    for name, folder in dataset.items():
        print(f"{name}: {folder}")
    if dataset.preview:
        print(f"contact sheet: {dataset.preview}")
    if args.report:
        errors = trivial_errors(Path(args.out))
        print(trivial_report({name: errors[name] for name in dataset}))
    return 0


def _size_option(text: str):
    """argparse type for ``WxH``: the size parser's own message on error."""
    from beetles.synthetic import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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

    from beetles.paper import PART_NAMES
    from beetles.synthetic import DEFAULT_SEED, DEFAULT_SIZE

    synth = sub.add_parser(
        "synth",
        help="write a synthetic beetle dataset (the default data)",
        description=(
            "Generate synthetic beetle photos and landmarks in the dataset layout real data uses "
            "(OUT/<part>/images/*.jpg and OUT/<part>/landmarks.tps, y up, photo frame). Shapes come "
            "from a statistical shape model of the published manual landmarks. The same seed gives "
            "byte-identical files."
        ),
    )
    synth.add_argument("--out", required=True, help="dataset folder to write")
    synth.add_argument("--parts", nargs="+", choices=PART_NAMES, metavar="NAME",
                       help=f"parts to generate (default: all: {' '.join(PART_NAMES)})")
    synth.add_argument("--specimens", type=int, default=None,
                       help="specimens per part (default: the study's, 293; 286 and 290 for the mandibles)")
    synth.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    synth.add_argument("--size", type=_size_option, default=DEFAULT_SIZE, metavar="WxH",
                       help="photo size, 4:3 (default: %dx%d; 3264x2448 is the study's)" % DEFAULT_SIZE)
    synth.add_argument("--preview", action="store_true", help="also write OUT/preview.png, a contact sheet")
    synth.add_argument("--report", action="store_true",
                       help="print the trivial predictor's error per part next to the real beetles'")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    synth.add_argument("--quiet", action="store_true", help="no progress bars")
    synth.set_defaults(func=_cmd_synth)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return exit_status(f"beetles {args.command}", lambda: args.func(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
