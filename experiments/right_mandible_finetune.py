"""Model 3 fine-tuned on the right mandible from the pooled pre-training (paper section 7).

    python experiments/right_mandible_finetune.py [--weights FILE] [--scratch DIR] [--freeze K] [--paper] ...

Run experiments/pretrain_pooled.py first. Writes results/right_mandible_finetune/.
"""
from beetles.cli.experiments import finetune_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(finetune_main("right_mandible"))
