"""Every experiment of the paper in order, then all its tables in one folder.

    python experiments/all_tables.py [--data DIR] [--paper] [--epochs N] [--rounds K] [--specimens N] [--out DIR]

Runs the five from-scratch experiments, the pooled pre-training and the five
fine-tunings (each into its default results/<experiment>/ folder, resuming
finished rounds), then gathers the paper's tables and figures into --out
(default results/all_tables/) with the file names of `beetles tables`.
"""
from beetles.cli.experiments import all_tables_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(all_tables_main())
