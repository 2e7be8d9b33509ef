"""The experiment scripts' command lines (``experiments/*.py`` call these).

Each ``*_main(argv)`` parses its options into
:class:`beetles.studies.experiment.ExperimentOptions` (or the pre-training's
:class:`beetles.studies.finetune.PretrainOptions`), runs the study, and
returns the exit status: 0, 2 for a clear error (one line on stderr), 130
after Ctrl-C (finished rounds are kept; rerun to resume).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from beetles.cli.options import (
    DEVICES,
    RESUME_HINT,
    add_engine_options,
    exit_status,
    model_option,
    optional_path,
    positive_int,
    rounds_option,
)
from beetles.paper.checkpoint import DEFAULT_MINUTES


def experiment_parser(name: str, description: str, default_epochs: int = 6) -> argparse.ArgumentParser:
    """The parser of ``experiments/<name>.py``, with every cross-validation script's options
    (:func:`add_experiment_options`) and its output in ``results/<name>``."""
    parser = argparse.ArgumentParser(prog=f"{name}.py", description=description)
    add_experiment_options(parser, f"results/{name}", default_epochs)
    return parser


def add_experiment_options(parser, default_out: str, default_epochs: int = 6) -> None:
    """The options every cross-validation script shares."""
    parser.add_argument("--data", default=None,
                        help="dataset folder (default: the synthetic dataset in data/synthetic/)")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help=f"epochs per round (default {default_epochs}; --paper: the paper's)")
    parser.add_argument("--rounds", type=rounds_option, default=None,
                        help="rounds to run: a count K (the first K) or a list like 1,3,5 (default: 1; --paper: all)")
    parser.add_argument("--specimens", type=int, default=None, help="use only the first N specimens (default: all)")
    parser.add_argument("--model", type=model_option, default="3", metavar="{1,2,3,heatmap,cascade,regress}",
                        help="the paper's model 1, 2 or 3 (default: 3), or a compact model (beetles/compact/)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="wall-clock budget per round in minutes: training stops when it is spent "
                        "(the compact models, and models 1-3 with --engine torch)")
    parser.add_argument("--out", default=default_out, help="output folder (default: %(default)s)")
    parser.add_argument("--paper", action="store_true",
                        help="exactly the paper's settings: all rounds, all specimens, the paper's epochs")
    parser.add_argument("--save-net", action="store_true",
                        help="also save each round's whole net: net.pkl, a pickled NeuralNet (model 3: about "
                        "0.7 GB per round), or net.pt with --engine torch")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_checkpoint_option(parser)
    add_parallel_options(parser)
    add_engine_options(parser)


def add_parallel_options(parser) -> None:
    """``--workers`` and ``--ray``: rounds at once (:mod:`beetles.studies.parallel`)."""
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="train this many rounds at once, each in a process with its share of the cores "
                        "(with --device cuda: the GPUs in turn, several rounds per GPU when there are more "
                        "workers than GPUs); the results are a serial run's (default 1)")
    parser.add_argument("--ray", default=None, metavar="auto|ADDRESS",
                        help="train every round as a task of a Ray cluster (auto: the running one; one GPU per "
                        "round with --device cuda); the workers need the photos; pip install 'beetles[ray]'")


def add_checkpoint_option(parser) -> None:
    """``--checkpoint-every``: how often a long round (or the pre-training) checkpoints."""
    parser.add_argument("--checkpoint-every", type=checkpoint_option, default=(None, DEFAULT_MINUTES),
                        metavar="N|Mmin",
                        help=f"models 1-3: write a checkpoint every N epochs, or every M minutes (e.g. 10min), and "
                        f"resume a killed round from it (default: {DEFAULT_MINUTES:g}min; 0: only at a round's end)")


def checkpoint_option(text: str) -> tuple[int | None, float | None]:
    """argparse type of ``--checkpoint-every``: ``(every_epochs, every_minutes)``."""
    text = text.strip().lower()
    try:
        if text.endswith(("min", "m")):
            minutes = float(text.rstrip("min"))
            if minutes <= 0:
                raise ValueError
            return None, minutes
        epochs = int(text)
        if epochs < 0:
            raise ValueError
        return (epochs or None), None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of epochs (50) or of minutes (10min)") from None


def experiment_options(args: argparse.Namespace):
    """The parsed options as :class:`~beetles.studies.experiment.ExperimentOptions`."""
    from beetles.studies.experiment import ExperimentOptions

    return ExperimentOptions(
        out=Path(args.out), data=optional_path(args.data), epochs=args.epochs, rounds=args.rounds,
        specimens=args.specimens, model=args.model, minutes=args.minutes, paper=args.paper,
        save_net=args.save_net, progress=not args.quiet, engine=args.engine, device=args.device,
        checkpoint_epochs=args.checkpoint_every[0], checkpoint_minutes=args.checkpoint_every[1],
        workers=args.workers, ray=args.ray,
    )


def scratch_main(part_name: str, argv=None, paper_epochs: int | None = None) -> int:
    """``experiments/<part>_scratch.py``: the paper's model from scratch on one part."""
    name = f"{part_name}_scratch"
    parser = experiment_parser(name, f"Train the paper's model from scratch on the {part_name}, one cross-validation "
                               "round at a time, and write the paper's tables and figures for it.")
    args = parser.parse_args(argv)

    def body() -> int:
        from beetles.paper import settings as paper
        from beetles.studies.experiment import describe, experiment_from_options, run
        from beetles.studies.outputs import report

        experiment = experiment_from_options(experiment_options(args), name, part_name,
                                             paper_epochs or paper.MAX_EPOCHS_SCRATCH)
        print(describe(experiment), flush=True)
        print(report(run(experiment), experiment.info))
        return 0

    return exit_status(name, body, RESUME_HINT)


def finetune_main(part_name: str, argv=None) -> int:
    """``experiments/<part>_finetune.py``: the pre-trained model 3 fine-tuned on one part."""
    from beetles.studies.finetune import DEFAULT_PRETRAIN_OUT, PRETRAINED_CANDIDATES

    name = f"{part_name}_finetune"
    parser = experiment_parser(name, f"Fine-tune the pooled pre-trained model 3 on the {part_name} (paper section 7): "
                               "new output layer, all layers trained with learning rate 0.01 and momentum 0.9, the "
                               "same rounds as from scratch.")
    parser.add_argument("--weights", default=None,
                        help="pre-trained weights from either engine: a pickled net (.pkl), a torch net (.pt) or "
                        f"params .npz (default: the first of {', '.join(PRETRAINED_CANDIDATES)} in {DEFAULT_PRETRAIN_OUT})")
    parser.add_argument("--scratch", default=f"results/{part_name}_scratch",
                        help="the part's from-scratch results, for comparison.csv and fig15.png (default: %(default)s)")
    parser.add_argument("--freeze", type=int, default=0, metavar="K", help="freeze the first K layers (default 0)")
    args = parser.parse_args(argv)

    def body() -> int:
        from beetles.studies.finetune import run_finetuning

        run_finetuning(experiment_options(args), part_name, weights=optional_path(args.weights),
                       scratch=Path(args.scratch), freeze=args.freeze, log=_print)
        return 0

    return exit_status(name, body, RESUME_HINT)


def pretrain_main(argv=None) -> int:
    """``experiments/pretrain_pooled.py``: model 3 pre-trained on three parts pooled."""
    from beetles.studies.finetune import DEFAULT_PRETRAIN_OUT, PRETRAIN_BUDGET

    parser = argparse.ArgumentParser(
        prog="pretrain_pooled.py",
        description="Pre-train model 3 (8 landmarks) on the pronotum, elytra and head pooled (paper section 7).",
    )
    parser.add_argument("--data", default=None, help="dataset folder (default: the synthetic dataset)")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help=f"epochs (default {PRETRAIN_BUDGET.epochs}; --paper: 10000)")
    parser.add_argument("--specimens", type=int, default=None,
                        help=f"first N specimens of each part (default {PRETRAIN_BUDGET.specimens}; --paper: all)")
    parser.add_argument("--out", default=DEFAULT_PRETRAIN_OUT, help="output folder (default: %(default)s)")
    parser.add_argument("--paper", action="store_true", help="the paper's settings: all specimens, 10000 epochs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_checkpoint_option(parser)
    add_engine_options(parser)
    args = parser.parse_args(argv)

    def body() -> int:
        from beetles.studies.finetune import PretrainOptions, run_pretraining

        run_pretraining(PretrainOptions(
            out=Path(args.out), data=optional_path(args.data), epochs=args.epochs, specimens=args.specimens,
            paper=args.paper, progress=not args.quiet, engine=args.engine, device=args.device,
            checkpoint_epochs=args.checkpoint_every[0], checkpoint_minutes=args.checkpoint_every[1],
        ), log=_print)
        return 0

    return exit_status("pretrain_pooled", body, "interrupted; rerun to resume the pre-training from its checkpoint")


def model_selection_main(argv=None) -> int:
    """``experiments/model_selection.py``: models 1, 2 and 3 on the pronotum (Figs. 10, 11)."""
    parser = experiment_parser("model_selection", "Models 1, 2 and 3 of the paper trained on the pronotum: "
                               "Figs. 10 and 11.", default_epochs=3)
    args = parser.parse_args(argv)

    def body() -> int:
        from beetles.studies.selection import select_models

        select_models(experiment_options(args), log=_print)
        return 0

    return exit_status("model_selection", body, RESUME_HINT)


def comparison_main(argv=None) -> int:
    """``experiments/model_comparison.py``: models side by side with the same minutes per round."""
    from beetles.paper.settings import PART_NAMES
    from beetles.studies.comparison import DEFAULT_MINUTES, DEFAULT_MODELS, DEFAULT_ROUNDS

    parser = argparse.ArgumentParser(
        prog="model_comparison.py",
        description="Model 3 (paper settings), the compact models and the trivial mean-shape predictor, per part, "
        "on the same rounds with the same training minutes per round.",
    )
    parser.add_argument("--data", default=None, help="dataset folder (default: the synthetic dataset)")
    parser.add_argument("--parts", nargs="+", default=list(PART_NAMES), choices=PART_NAMES, metavar="PART",
                        help="parts (default: all five)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated models (default: %(default)s; also 1, 2, heatmap, regress)")
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES,
                        help="training minutes per model and round (default: %(default)s)")
    parser.add_argument("--rounds", type=rounds_option, default=list(DEFAULT_ROUNDS),
                        help="rounds: a count K or a list like 1,3 (default: 1)")
    parser.add_argument("--specimens", type=int, default=None, help="use only the first N specimens per part")
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default) or cuda (a CUDA GPU)")
    parser.add_argument("--out", default="results/model_comparison", help="output folder (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        models = [model_option(m.strip()) for m in args.models.split(",") if m.strip()]
    except argparse.ArgumentTypeError as error:
        parser.error(f"--models: {error}")

    def body() -> int:
        from beetles.studies.comparison import compare_models

        rows = compare_models(args.parts, models, args.minutes, args.out, data=optional_path(args.data),
                              rounds=args.rounds, specimens=args.specimens, device=args.device,
                              progress=not args.quiet)
        print(f"{'part':<15} {'model':<8} {'px':>7} {'ratio':>6}")
        for row in rows:
            print(f"{row['part']:<15} {row['model']:<8} {row['mean_distance_px']:7.2f} {row['ratio_to_trivial']:6.2f}")
        print(f"wrote {Path(args.out) / 'comparison.csv'} and comparison.png")
        return 0

    return exit_status("model_comparison", body, RESUME_HINT)


def paper_tables_main(argv=None) -> int:
    """``experiments/paper_tables.py``: the paper's tables from the published landmarks."""
    parser = argparse.ArgumentParser(prog="paper_tables.py",
                                     description="Recompute the paper's tables and figures from the published "
                                     "landmarks (the same as beetles tables --out DIR).")
    parser.add_argument("--out", default="results/paper_tables", help="output folder (default: %(default)s)")
    parser.add_argument("--reference", default=None,
                        help="folder of published landmarks (default: the copy installed with beetles)")
    args = parser.parse_args(argv)

    def body() -> int:
        from beetles.studies.tables import write_paper_tables

        for path in write_paper_tables(args.out, args.reference):
            print(path)
        return 0

    return exit_status("paper_tables", body)


def all_tables_main(argv=None) -> int:
    """``experiments/all_tables.py``: every experiment of the paper in order, then all its tables."""
    from beetles.paper.settings import PART_NAMES

    parser = argparse.ArgumentParser(
        prog="all_tables.py",
        description="Run the five from-scratch experiments, the pooled pre-training and the five fine-tunings (each "
        "into its default results/<experiment>/ folder, resuming finished rounds), then gather the paper's tables "
        "and figures into --out with the file names of beetles tables.",
    )
    parser.add_argument("--data", default=None, help="dataset folder (default: the synthetic dataset)")
    parser.add_argument("--paper", action="store_true", help="the paper's settings for every experiment")
    parser.add_argument("--epochs", default=None, help="epochs of every experiment (default: each script's default)")
    parser.add_argument("--rounds", default=None, help="rounds of the per-part experiments (default: each script's)")
    parser.add_argument("--specimens", default=None, help="first N specimens per part (default: each script's)")
    parser.add_argument("--out", default="results/all_tables", help="where the tables go (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_parallel_options(parser)
    add_engine_options(parser)
    args = parser.parse_args(argv)
    common = []
    for option in ("data", "epochs", "specimens"):
        if getattr(args, option) is not None:
            common += [f"--{option}", str(getattr(args, option))]
    common += ["--paper"] if args.paper else []
    common += ["--quiet"] if args.quiet else []
    common += ["--engine", args.engine] if args.engine else []
    common += ["--device", args.device]
    per_part = common + (["--rounds", args.rounds] if args.rounds else []) + ["--workers", str(args.workers)] + (
        ["--ray", args.ray] if args.ray else [])
    steps = [(f"{part}_scratch", lambda part=part: scratch_main(part, per_part)) for part in PART_NAMES]
    steps.append(("pretrain_pooled", lambda: pretrain_main(common)))
    steps += [(f"{part}_finetune", lambda part=part: finetune_main(part, per_part)) for part in PART_NAMES]
    for name, step in steps:
        print(f"== {name}", flush=True)
        status = step()
        if status != 0:
            print(f"all_tables: {name} stopped with status {status}; rerun to resume", file=sys.stderr)
            return status

    def gather() -> int:
        from beetles.studies.tables import gather_run_tables

        for path in gather_run_tables("results", args.out):
            print(path)
        return 0

    return exit_status("all_tables", gather)


def _print(text: str) -> None:
    print(text, flush=True)
