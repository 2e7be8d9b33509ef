"""Model 3 fine-tuned on the pronotum from the pooled pre-training (paper section 7).

    python experiments/pronotum_finetune.py [--weights FILE] [--scratch DIR] [--freeze K] [--paper] ...

Run experiments/pretrain_pooled.py first. Writes results/pronotum_finetune/.
"""
from beetles.cli.experiments import finetune_main

if __name__ == "__main__":
    raise SystemExit(finetune_main("pronotum"))
