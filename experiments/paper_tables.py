"""Recompute the paper's tables and figures from the published landmarks.

    python experiments/paper_tables.py [--out results/paper_tables] [--reference DIR]

The same as ``beetles tables --out DIR``.
"""
import argparse

from beetles.tables import write_paper_tables

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", default="results/paper_tables", help="output folder (default: %(default)s)")
parser.add_argument("--reference", default=None, help="folder of published landmarks (default: data/reference/)")
args = parser.parse_args()
for path in write_paper_tables(args.out, args.reference):
    print(path)
