"""Model 3 (paper settings) vs the compact heatmap model vs the trivial
mean-shape predictor, per part, with the same CPU minutes per round.

    python experiments/model_comparison.py [--parts P ...] [--minutes 2] [--models 3,heatmap] [--rounds 1] ...

Writes results/model_comparison/: comparison.csv (part,model,mean_distance_px,
ratio_to_trivial,...), comparison.png, and one experiment folder per part
and model (see beetles/studies/comparison.py).
"""
from beetles.cli.experiments import comparison_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(comparison_main())
