"""Model 3 trained from scratch on the elytra, as in the paper (section 6).

    python experiments/elytra_scratch.py [--data DIR] [--epochs N] [--rounds K] [--paper] ...

Writes results/elytra_scratch/ (see beetles/studies/outputs.py for the files).
"""
from beetles.cli.experiments import scratch_main

if __name__ == "__main__":
    raise SystemExit(scratch_main("elytra"))
