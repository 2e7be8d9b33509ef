"""Every command line of beetles: ``beetles`` (also ``python -m beetles``) here,
the experiment scripts in :mod:`beetles.cli.experiments`.

Each subcommand is a small function that parses nothing itself: the parser is
built in :func:`build_parser`, the options become a typed settings object
(:class:`beetles.tool.train.TrainSettings`, …), and the work is done by the
package, so that everything the command line does is also a plain Python
call.  Only this package uses ``argparse``.
"""
from __future__ import annotations

import os
import sys


def _interrupted_hook(kind, value, traceback, _default=sys.excepthook):
    """Ctrl-C before :func:`main` catches it (while the command is still
    importing): one line and status 130, not a traceback."""
    if issubclass(kind, KeyboardInterrupt):
        print("beetles: interrupted", file=sys.stderr, flush=True)
        os._exit(130)
    _default(kind, value, traceback)


sys.excepthook = _interrupted_hook

import argparse  # noqa: E402  (after the hook: Ctrl-C from here on is one line)
from pathlib import Path  # noqa: E402

from beetles.cli.options import (  # noqa: E402
    add_engine_options,
    exit_status,
    leave,
    optional_path,
    positive_int,
    size_option,
)


def _cmd_info(args: argparse.Namespace) -> int:
    from beetles.paper.compat import stack_report

    report = stack_report(check_compile=not args.no_compile_check)
    width = max(len(key) for key in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    return 0


def _cmd_tables(args: argparse.Namespace) -> int:
    from beetles.core.errors import BeetlesError
    from beetles.studies.tables import write_paper_tables

    if args.out is None and args.paper_values is None:
        raise BeetlesError("give --out DIR (the tables), --paper-values OUT.csv (the verdict), or both")
    if args.runs and args.paper_values is None:
        raise BeetlesError("--runs needs --paper-values OUT.csv")
    if args.runs and args.out is not None:
        raise BeetlesError("--out writes the published landmarks' tables, --runs compares runs: give one of them")
    if args.out is not None:
        written = write_paper_tables(Path(args.out), args.reference)
        for path in written:
            print(path)
    if args.paper_values is not None:
        from beetles.studies.paper_values import paper_values, summary

        rows, path = paper_values(Path(args.paper_values), runs=args.runs and [Path(r) for r in args.runs],
                                  reference=args.reference, tables=args.out)
        print(summary(rows, from_runs=bool(args.runs)))
        print(path)
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from beetles.synth.dataset import generate_dataset
    from beetles.synth.difficulty import trivial_errors, trivial_report

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


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from beetles.tool.evaluate import evaluate_files, format_summary

    result = evaluate_files(Path(args.manual), Path(args.pred), Path(args.out) if args.out else None,
                            negatives=args.negatives)
    print(format_summary(result))
    for path in result.get("files", []):
        print(path)
    return 0


def _cmd_shapes(args: argparse.Namespace) -> int:
    from beetles.tool.shapes import format_summary, shapes_files

    run = shapes_files([Path(p) for p in args.landmarks], Path(args.out), scale=not args.no_scale,
                       drop_missing=args.drop_missing, negatives=args.negatives)
    print(format_summary(run))
    for path in run.files:
        print(path)
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from beetles.tool.convert import FORMATS, convert

    done = convert(Path(args.source), Path(args.target), args.source_format, args.target_format,
                   optional_path(args.images), optional_path(args.names), args.negatives, args.force)
    for note in done.notes:
        print(note)
    named = f", named ({', '.join(done.names[:3])}{', …' if len(done.names) > 3 else ''})" if done.names else ""
    print(f"{done.specimens} specimen(s), {done.landmarks} landmark(s){named}: {FORMATS[done.source]} → "
          f"{FORMATS[done.target]}: {done.path}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from beetles.tool.train import TrainSettings, train

    train(TrainSettings(
        out=Path(args.out), data=optional_path(args.data),
        landmarks=None if args.landmarks is None else [Path(p) for p in args.landmarks], model=args.model,
        parent=optional_path(args.parent),
        epochs=args.epochs, minutes=args.minutes, engine=args.engine, device=args.device,
        validation=args.validation, seed=args.seed, progress=not args.quiet, force=args.force,
        names=optional_path(args.names), negatives=args.negatives,
    ))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from beetles.tool.predict import PredictSettings, predict

    result = predict(PredictSettings(
        model_dir=Path(args.model_dir), photos=args.photos, out=Path(args.out), csv=optional_path(args.csv),
        overlays=optional_path(args.overlays), review_threshold=args.review_threshold, passes=args.passes,
        progress=not args.quiet, format=args.format, scale=args.scale, save_every=args.save_every,
        resume=args.resume, ray=args.ray, device=args.device,
    ))
    return 1 if result.skipped else 0


def _cmd_review(args: argparse.Namespace) -> int:
    from beetles.tool.review.server import serve
    from beetles.tool.review.start import ReviewSettings, open_review

    run = ReviewSettings(
        photos=args.photos, out=Path(args.out), predictions=optional_path(args.predictions),
        model_dir=optional_path(args.model), landmarks=args.landmarks, names=optional_path(args.names),
        port=args.port, browser=not args.no_browser, progress=not args.quiet,
    )
    session = open_review(run)
    serve(session, run.port, run.browser)
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from beetles.studies.realphotos import BenchmarkSettings, format_summary, run_benchmark
    from beetles.tool.inputs import load_training_data

    run = BenchmarkSettings(
        data=optional_path(args.data), landmarks=optional_path(args.landmarks), out=Path(args.out),
        models=args.models, folds=args.folds, first=args.first, seed=args.seed, epochs=args.epochs,
        minutes=args.minutes, dlib=not args.no_dlib, only=args.only, progress=not args.quiet,
    )
    part = load_training_data(run.data, run.landmarks, log=print)
    run_benchmark(part, run)
    print(format_summary(Path(args.out) / "summary.csv"))
    return 0


def _cmd_benchmark_loop(args: argparse.Namespace) -> int:
    from beetles.studies.review_loop import LoopSettings, format_loop, run_loop
    from beetles.tool.inputs import load_training_data

    run = LoopSettings(out=Path(args.out), labelled=args.labelled, correct=args.correct, seed=args.seed,
                       model=args.model, epochs=args.epochs, minutes=args.minutes,
                       reference_folds=args.reference_folds, progress=not args.quiet)
    rows = run_loop(load_training_data(optional_path(args.data), optional_path(args.landmarks), log=print), run)
    print(format_loop(rows))
    print(f"tables: {run.out / 'loop.csv'}, {run.out / 'loop.json'}")
    return 0


def _add_data_options(parser: argparse.ArgumentParser, several: bool = False) -> None:
    """``--data`` and ``--landmarks``: the landmarked photos (train, benchmark);
    ``several``: ``--landmarks`` takes several files."""
    parser.add_argument("--data", default=None, metavar="DIR",
                        help="part folder: images/ and landmarks.tps (with --landmarks: where the photos are)")
    parser.add_argument("--landmarks", default=None, metavar="FILE", nargs="+" if several else None,
                        help="a TPS or long CSV (image,landmark,x,y_down) naming the photos, instead of "
                        "DIR/landmarks.tps" + ("; several: a photo in two takes the later file's landmarks; a TPS "
                                               "file of beetles review gives its photos reviewed" if several else ""))


def _add_negatives_option(parser: argparse.ArgumentParser) -> None:
    """``--negatives``: what a negative coordinate in a landmark file means."""
    from beetles.formats.tps import NEGATIVES

    parser.add_argument("--negatives", choices=NEGATIVES, default="auto",
                        help="a negative coordinate is a missing landmark (tpsDig's -1 -1) or a coordinate; "
                        "auto (default): missing in a file that names a photo for every specimen (photo pixels), "
                        "else a coordinate (centred or Procrustes-aligned files). The count is reported")


def _add_budget_options(parser: argparse.ArgumentParser, minutes_note: str) -> None:
    """``--epochs`` and ``--minutes``: a model's training budget (train, benchmark)."""
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="epochs of every stage (default: the model's; zoom: steps in proportion to the "
                        "photos, at most 9 minutes; cascade, heatmap, regress: 60)")
    parser.add_argument("--minutes", type=float, default=None,
                        help=f"wall-clock budget in minutes: {minutes_note}")


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
            "6, 8, 10, 11, 12 as CSV files and Figs. 12 and 15 as PNG files. "
            "With --paper-values, set every number the paper prints beside ours "
            "(from the published landmarks, or from experiment runs with --runs), "
            "write them side by side and print a verdict."
        ),
    )
    tables.add_argument("--out", default=None,
                        help="output folder (created if missing); needed unless --paper-values is given")
    tables.add_argument(
        "--reference",
        default=None,
        help="folder of the published landmarks (default: the copy installed with beetles)",
    )
    tables.add_argument(
        "--paper-values",
        default=None,
        metavar="OUT.csv",
        help="write table,file,column,landmark_or_round,ours,printed,difference,agreement for every "
             "number the paper prints, and print a summary per table",
    )
    tables.add_argument(
        "--runs",
        nargs="+",
        default=None,
        metavar="DIR",
        help="with --paper-values: compare these folders instead of the published landmarks: an "
             "experiment's output folder (results/pronotum_scratch), a folder of them (results), "
             "or a folder of tables (results/all_tables)",
    )
    tables.set_defaults(func=_cmd_tables)

    from beetles.paper.settings import PART_NAMES
    from beetles.synth.specimens import DEFAULT_SEED, DEFAULT_SIZE

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
    synth.add_argument("--size", type=size_option, default=DEFAULT_SIZE, metavar="WxH",
                       help="photo size, 4:3 (default: %dx%d; 3264x2448 is the study's)" % DEFAULT_SIZE)
    synth.add_argument("--preview", action="store_true", help="also write OUT/preview.png, a contact sheet")
    synth.add_argument("--report", action="store_true",
                       help="print the trivial predictor's error per part next to the real beetles'")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    synth.add_argument("--quiet", action="store_true", help="no progress bars")
    synth.set_defaults(func=_cmd_synth)

    evaluate = sub.add_parser(
        "evaluate",
        help="compare predicted with manual landmarks (distances, Procrustes, centroid size)",
        description=(
            "Compare two TPS files of the same specimens, paired by IMAGE= name: the per-landmark "
            "distance in pixels, a generalised Procrustes analysis of all manual and predicted "
            "configurations (Procrustes distance per specimen) and the centroid sizes. Prints a "
            "summary; with --out also writes landmarks.csv, specimens.csv, summary.json and report.png."
        ),
    )
    evaluate.add_argument("--manual", required=True, metavar="A.tps", help="TPS file of the manual landmarks")
    evaluate.add_argument("--pred", required=True, metavar="B.tps", help="TPS file of the predicted landmarks")
    evaluate.add_argument("--out", default=None, metavar="DIR",
                          help="folder to write the tables, summary.json and report.png into (created if missing)")
    _add_negatives_option(evaluate)
    evaluate.set_defaults(func=_cmd_evaluate)

    shapes = sub.add_parser(
        "shapes",
        help="Procrustes-aligned shapes and centroid sizes for geomorph and MorphoJ",
        description=(
            "Read landmark files (TPS, or long CSV image,landmark,x,y_down; no photos needed), run a "
            "generalised Procrustes analysis and write DIR/aligned.tps (aligned shapes, y up, ID= on every "
            "specimen: geomorph's readland.tps(specID=\"ID\")), shapes.csv (id,image,centroid_size,x1,y1,...), "
            "shapes_morphoj.txt and covariates_morphoj.txt (MorphoJ's tab-separated row/column import and the "
            "centroid sizes as a covariate) and shapes.json. Centroid sizes are in SCALE= units when every "
            "specimen has SCALE=, else in pixels. All specimens need the same landmarks, none missing."
        ),
    )
    shapes.add_argument("landmarks", nargs="+", metavar="LANDMARKS", help="TPS files and long CSV files (.csv)")
    shapes.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    shapes.add_argument("--no-scale", action="store_true",
                        help="centroid sizes in pixels even when every specimen has SCALE=")
    shapes.add_argument("--drop-missing", action="store_true",
                        help="leave out specimens with missing landmarks (default: refuse them)")
    _add_negatives_option(shapes)
    shapes.set_defaults(func=_cmd_shapes)

    from beetles.tool.convert import FORMATS

    convert = sub.add_parser(
        "convert",
        help="convert landmarks between TPS, CSV, SLEAP, COCO, DeepLabCut and napari files",
        description=(
            "Read the landmark file IN and write its landmarks to OUT, in the formats given by --from and --to "
            "or by the suffixes (.tps, .csv, .slp, .json: COCO; a .csv being read is recognised "
            "by its header). Formats: " + "; ".join(f"{k}: {v}" for k, v in FORMATS.items()) + ". TPS is y up, "
            "the CSVs y down; beetles puts the origin at the photo's corner, SLEAP, COCO, DeepLabCut and napari "
            "at the centre of the top-left pixel: coordinates differ by half a pixel, which convert applies. "
            "TPS and CSV files need the photos (their height, for the y axis). slp, coco, dlc and napari need "
            "sleap-io: pip install 'beetles[formats]'."
        ),
    )
    convert.add_argument("source", metavar="IN", help="the landmark file to read")
    convert.add_argument("target", metavar="OUT", help="the file to write")
    convert.add_argument("--from", dest="source_format", choices=list(FORMATS), default=None,
                         help="the format of IN (default: by its suffix or header)")
    convert.add_argument("--to", dest="target_format", choices=list(FORMATS), default=None,
                         help="the format of OUT (default: by its suffix; .csv: the long CSV)")
    convert.add_argument("--images", default=None, metavar="DIR",
                         help="where the photos are (default: beside IN)")
    convert.add_argument("--names", default=None, metavar="FILE",
                         help="the landmarks' names, one per line (default: IN's, when it names them)")
    _add_negatives_option(convert)
    convert.add_argument("--force", action="store_true", help="replace OUT if it exists")
    convert.set_defaults(func=_cmd_convert)

    from beetles.registry import DEFAULT_MODEL, MODELS
    from beetles.tool.inputs import DEFAULT_SEED, DEFAULT_VALIDATION
    from beetles.tool.journal import SAVE_EVERY
    from beetles.tool.validate import PASSES

    train = sub.add_parser(
        "train",
        help="train a landmarking model on a folder of landmarked photos",
        description=(
            "Train a model that places the landmarks of DIR's photos (DIR/images/ and DIR/landmarks.tps, or "
            "--landmarks FILE, a TPS or long CSV naming the photos) on new photos. Any landmark count, photo size "
            "and aspect ratio; missing landmarks allowed (compact models). A seeded share of the specimens is "
            "held out for validation and to calibrate the 90 percent radius. Writes MODEL_DIR/: the model (model.pt or "
            "params.npz), settings.json, losses.csv, fig_losses.png, validation.csv, validation.json and "
            "calibration.json."
        ),
    )
    _add_data_options(train, several=True)
    train.add_argument("--out", required=True, metavar="MODEL_DIR", help="model folder to write")
    train.add_argument("--from", dest="parent", default=None, metavar="MODEL_DIR",
                       help="start from this model folder's weights (the same model and landmark count; without "
                       "--epochs or --minutes a third of the default budget): retrain after corrections")
    train.add_argument("--model", default=None, choices=list(MODELS),
                       help=f"{DEFAULT_MODEL} (default: finds the specimen, then landmarks it at the photo's "
                       "resolution; any aspect ratio), cascade, heatmap, regress, or the paper's models 1, 2, 3 "
                       "(4:3 photos; they need --epochs or --minutes)")
    _add_budget_options(train, "training stops when it is spent")
    add_engine_options(train)
    train.add_argument("--validation", type=float, default=DEFAULT_VALIDATION,
                       help="share of the specimens held out for validation (default %(default)s; at least one "
                       "when there are 5 or more)")
    train.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument("--force", action="store_true", help="replace a model already in MODEL_DIR")
    train.add_argument("--names", default=None, metavar="FILE",
                       help="the landmarks' names, one per line (kept in the model folder and written beside the "
                       "numbers in CSVs, overlays, SLEAP and COCO files); a long CSV's name column names them too")
    _add_negatives_option(train)
    train.set_defaults(func=_cmd_train)

    predict = sub.add_parser(
        "predict",
        help="place landmarks on new photos with a trained model",
        description=(
            "Place the landmarks of MODEL_DIR's model on photos (files, or folders of .jpg .jpeg .png .tif .tiff "
            ".bmp, or a TPS file naming photos). Writes a TPS file (each photo's own upright pixels, y up, IMAGE= "
            "the file name, ID=, SCALE= when known), or with --format a long CSV, SLEAP .slp or COCO .json; "
            "optionally also a long CSV (y down) with each landmark's spread, a review list and overlays. A photo "
            "that cannot be read is reported and skipped; the exit status is then 1 (the others are written)."
        ),
    )
    predict.add_argument("model_dir", metavar="MODEL_DIR", help="a model folder written by beetles train")
    predict.add_argument("photos", nargs="+", metavar="IMAGES_OR_FOLDER",
                         help="photos, folders of photos, and TPS files naming photos (e.g. tpsUtil's LM=0 list)")
    predict.add_argument("--out", required=True, metavar="FILE",
                         help="file to write: .tps, .csv, .slp (SLEAP) or .json (COCO keypoints), or see --format")
    predict.add_argument("--format", default=None, choices=["tps", "csv", "slp", "coco"],
                         help="the format of --out (default: by its suffix); slp and coco need sleap-io "
                         "(pip install 'beetles[formats]')")
    predict.add_argument("--scale", type=float, default=None, metavar="UNITS_PER_PX",
                         help="SCALE= written for every photo a listing .tps gives none (default: the scale all "
                         "training photos shared, if they did)")
    predict.add_argument("--csv", default=None, metavar="FILE",
                         help="also write image,landmark,x,y_down,spread_px,radius90_px (photo pixels, y down)")
    predict.add_argument("--overlays", default=None, metavar="DIR",
                         help="also write each photo (at most 1600 px wide) with numbered landmarks and a circle "
                         "of radius = spread")
    predict.add_argument("--review-threshold", type=float, default=None, metavar="PX",
                         help="list every landmark whose 90 %% radius (radius90_px; its spread for a model "
                         "folder without calibration.json) exceeds PX photo pixels (stdout and <out stem>_review.csv)")
    predict.add_argument("--passes", type=int, default=PASSES,
                         help="models 1-3: Monte-Carlo dropout (model 3) or test-time augmentation passes for "
                         "the spread (default %(default)s; 1: one deterministic pass, no spread)")
    predict.add_argument("--save-every", type=int, default=SAVE_EVERY, metavar="N",
                         help="save the landmarks every N photos into <out>.incomplete/ as they are placed, so that "
                         "a run stopped half-way keeps them (default %(default)s); the folder goes once the files "
                         "are written")
    predict.add_argument("--resume", action="store_true",
                         help="go on from an unfinished run's <out>.incomplete/: its photos are not placed again")
    predict.add_argument("--ray", default=None, metavar="auto|ADDRESS",
                         help="place the photos on a Ray cluster (auto: the running one), a model load per worker "
                         "CPU; the workers need the model folder and photos at the same paths; pip install "
                         "'beetles[ray]'")
    predict.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                         help="where the network runs: cpu (default) or cuda (a CUDA GPU; the photos decode on "
                         "every CPU core meanwhile)")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(func=_cmd_predict)

    from beetles.tool.review.start import DEFAULT_PORT

    review = sub.add_parser(
        "review",
        help="check and correct landmarks, or place them by hand, in the browser",
        description=(
            "Start a local web page to review landmarks: the photos in a queue, the least certain first (the "
            "largest 90 percent radius), each zoomable to full resolution with its landmarks and the model's 90 "
            "percent circles; drag a landmark to move it, mark one missing, accept the photo. The landmarks come "
            "from --predictions (a TPS file, or the CSV of 'beetles predict --csv'), from a model folder run now "
            "(--model DIR, or DIR as the first argument), or are placed by hand (--landmarks N: click 1, 2, ...). "
            "Every change is written at once to OUT.tps (tpsDig's layout, y up) and OUT.review.json (each photo's "
            "status); run the same command again to resume. 'beetles train --landmarks OUT.tps' learns from the "
            "photos reviewed. The page listens on 127.0.0.1 only and needs the token in the address it prints."
        ),
    )
    review.add_argument("photos", nargs="+", metavar="PHOTOS_OR_FOLDERS",
                        help="photos, folders of photos, TPS files naming photos (e.g. tpsUtil's LM=0 list); a "
                        "model folder first: its model places the landmarks")
    review.add_argument("--out", required=True, metavar="FILE.tps",
                        help="TPS file of the reviewed landmarks (resumed when it is a review's; never a file of yours)")
    review.add_argument("--predictions", default=None, metavar="FILE",
                        help="landmarks to review: a TPS file or the long CSV of beetles predict --csv")
    review.add_argument("--model", default=None, metavar="MODEL_DIR", help="place the landmarks with this model now")
    review.add_argument("--landmarks", type=positive_int, default=None, metavar="N",
                        help="landmarks per photo (needed to place them by hand)")
    review.add_argument("--names", default=None, metavar="FILE", help="the landmarks' names, one per line")
    review.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port on 127.0.0.1 (default %(default)s; 0: any free port)")
    review.add_argument("--no-browser", action="store_true", help="only print the address; open no browser")
    review.add_argument("--quiet", action="store_true", help="no progress bar while the model places landmarks")
    review.set_defaults(func=_cmd_review)

    benchmark = sub.add_parser(
        "benchmark",
        help="compare models, the trivial predictor and dlib on the same cross-validation folds of your photos",
        description=(
            "Cross-validate on a landmarked photo folder: every --models model trained as 'beetles train' trains "
            "it and placed as 'beetles predict' places it, the trivial mean-shape predictor, and dlib's shape "
            "predictor with ml-morph's parameters (whole photo as box, and the true landmarks' box as a "
            "reference) when dlib is installed (pip install dlib-bin). Errors in photo pixels. Writes OUT/: "
            "summary.csv, per_landmark.csv, per_fold.csv, fig_errors.png, run.json and each fold's predictions "
            "(a rerun resumes)."
        ),
    )
    _add_data_options(benchmark)
    benchmark.add_argument("--out", required=True, metavar="OUT", help="folder for the tables and each fold")
    benchmark.add_argument("--models", nargs="+", default=[DEFAULT_MODEL], choices=list(MODELS), metavar="MODEL",
                           help=f"models to train (default: {DEFAULT_MODEL}); any of {', '.join(MODELS)}")
    benchmark.add_argument("--folds", type=positive_int, default=5, help="folds of a seeded shuffle (default 5)")
    benchmark.add_argument("--first", type=positive_int, default=None, metavar="N",
                           help="instead of folds: the first N photos by name to train, the rest to test")
    benchmark.add_argument("--only", type=positive_int, nargs="+", default=None, metavar="K",
                           help="run only these folds (1-based)")
    benchmark.add_argument("--seed", type=int, default=0, help="seed of the shuffle (default %(default)s)")
    _add_budget_options(benchmark, "each fold's training stops when it is spent")
    benchmark.add_argument("--no-dlib", action="store_true", help="leave dlib out even when it is installed")
    benchmark.add_argument("--quiet", action="store_true", help="no progress bars")
    benchmark.set_defaults(func=_cmd_benchmark)

    loop = sub.add_parser(
        "benchmark-loop",
        help="measure the review loop on landmarked photos (the corrections simulated from the manual landmarks)",
        description=(
            "Run the loop a lab runs, each step with the tool's code: train on --labelled photos, predict the "
            "rest, review them with the --correct share at the head of the queue (the least certain) set to "
            "their manual landmarks, retrain --from the first model on the labelled and corrected photos, predict "
            "the photos never corrected. Beside it, on the same photos: the trivial predictor, a model trained "
            "from scratch on the same photos, and the reference, trained on every other photo's manual "
            "landmarks. Errors in photo pixels. Writes OUT/loop.csv, OUT/loop.json and every step (a rerun resumes)."
        ),
    )
    _add_data_options(loop)
    loop.add_argument("--out", required=True, metavar="OUT", help="folder for the tables and every step")
    loop.add_argument("--labelled", type=positive_int, default=20, help="photos labelled at the start (default 20)")
    loop.add_argument("--correct", type=float, default=0.1,
                      help="share of the predicted photos corrected, the least certain first (default 0.1)")
    loop.add_argument("--model", default=None, choices=list(MODELS), help=f"the model (default {DEFAULT_MODEL})")
    loop.add_argument("--reference-folds", type=positive_int, default=2,
                      help="folds of the reference over the photos never corrected (default 2)")
    loop.add_argument("--seed", type=int, default=0, help="seed of the labelled photos' choice (default 0)")
    _add_budget_options(loop, "every training stops when it is spent (--from: a third of it)")
    loop.add_argument("--quiet", action="store_true", help="no progress bars")
    loop.set_defaults(func=_cmd_benchmark_loop)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success)."""
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("beetles: interrupted", file=sys.stderr)
        return 130
    return exit_status(f"beetles {args.command}", lambda: args.func(args))


def run() -> None:
    """The ``beetles`` command (and ``python -m beetles``): :func:`main` on
    this process's arguments, its status the process's (:func:`leave`)."""
    leave(main())


if __name__ == "__main__":  # pragma: no cover
    run()
