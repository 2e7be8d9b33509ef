"""Every experiment of the paper in order, then all its tables in one folder.

    python experiments/all_tables.py [--data DIR] [--paper] [--epochs N] [--rounds K] [--specimens N] [--out DIR]

Runs the five from-scratch experiments, the pooled pre-training and the five
fine-tunings (each into its default results/<experiment>/ folder, resuming
finished rounds), then gathers the paper's tables and figures into --out
(default results/all_tables/) with the file names of `beetles tables`.
"""
import argparse
import sys

from beetles.finetune import finetune_main, pretrain_main
from beetles.experiment import scratch_main
from beetles.paper import PART_NAMES
from beetles.tables import gather_run_tables

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data", default=None, help="dataset folder (default: the synthetic dataset)")
parser.add_argument("--paper", action="store_true", help="the paper's settings for every experiment")
parser.add_argument("--epochs", default=None, help="epochs of every experiment (default: each script's default)")
parser.add_argument("--rounds", default=None, help="rounds of the per-part experiments (default: each script's)")
parser.add_argument("--specimens", default=None, help="first N specimens per part (default: each script's)")
parser.add_argument("--out", default="results/all_tables", help="where the tables go (default: %(default)s)")
parser.add_argument("--quiet", action="store_true", help="no progress bars")
args = parser.parse_args()

common = []
for option in ("data", "epochs", "specimens"):
    if getattr(args, option) is not None:
        common += [f"--{option}", str(getattr(args, option))]
common += ["--paper"] if args.paper else []
common += ["--quiet"] if args.quiet else []
per_part = common + (["--rounds", args.rounds] if args.rounds else [])

steps = [(f"{part}_scratch", lambda part=part: scratch_main(part, per_part)) for part in PART_NAMES]
steps.append(("pretrain_pooled", lambda: pretrain_main(common)))
steps += [(f"{part}_finetune", lambda part=part: finetune_main(part, per_part)) for part in PART_NAMES]
for name, step in steps:
    print(f"== {name}", flush=True)
    status = step()
    if status != 0:
        print(f"all_tables: {name} stopped with status {status}; rerun to resume", file=sys.stderr)
        raise SystemExit(status)
for path in gather_run_tables("results", args.out):
    print(path)
