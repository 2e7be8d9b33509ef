"""Model 3 trained from scratch on the right mandible, as in the paper (section 6).

    python experiments/right_mandible_scratch.py [--data DIR] [--epochs N] [--rounds K] [--paper] ...

Writes results/right_mandible_scratch/ (see beetles/studies/outputs.py for the files).
"""
from beetles.cli.experiments import scratch_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(scratch_main("right_mandible"))
