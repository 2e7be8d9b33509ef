"""Model 3 fine-tuned on the head from the pooled pre-training (paper section 7).

    python experiments/head_finetune.py [--weights FILE] [--scratch DIR] [--freeze K] [--paper] ...

Run experiments/pretrain_pooled.py first. Writes results/head_finetune/.
"""
from beetles.cli.experiments import finetune_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(finetune_main("head"))
