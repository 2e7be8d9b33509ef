"""Recompute the paper's tables and figures from the published landmarks.

    python experiments/paper_tables.py [--out results/paper_tables] [--reference DIR]

The same as ``beetles tables --out DIR``.
"""
from beetles.cli.experiments import paper_tables_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(paper_tables_main())
