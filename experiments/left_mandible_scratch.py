"""Model 3 trained from scratch on the left mandible, as in the paper (section 6).

    python experiments/left_mandible_scratch.py [--data DIR] [--epochs N] [--rounds K] [--paper] ...

Writes results/left_mandible_scratch/ (see beetles/studies/outputs.py for the files).
"""
from beetles.cli.experiments import scratch_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(scratch_main("left_mandible"))
