"""Models 1, 2 and 3 on the pronotum: the learning curves of Figs. 10 and 11.

    python experiments/model_selection.py [--data DIR] [--epochs N] [--specimens N] [--paper] ...

Trains each model from scratch on the same round(s) of the pronotum and
writes, in results/model_selection/: model1/, model2/, model3/ (each a full
experiment folder), fig10_models_1_2.png and fig11_model3.png (training and
validation loss per epoch), and models.csv (model,train_loss,valid_loss,
mean_distance,trivial_distance).
"""
from beetles.cli.experiments import model_selection_main
from beetles.cli.options import leave

if __name__ == "__main__":
    leave(model_selection_main())
