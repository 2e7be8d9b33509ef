"""Pre-train model 3 with 8 landmarks on the pronotum, elytra and head pooled
(paper section 7).

    python experiments/pretrain_pooled.py [--data DIR] [--epochs N] [--specimens N] [--paper]

Writes results/pretrain_pooled/pretrained.pkl (the whole pickled net).
"""
from beetles.cli.experiments import pretrain_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(pretrain_main())
