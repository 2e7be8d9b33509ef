"""Cross-validation experiments end to end: rounds, resume, outputs
(:mod:`beetles.studies.crossval`, :mod:`beetles.studies.experiment`, :mod:`beetles.studies.outputs`)."""
import json
from dataclasses import replace

import numpy as np
import pytest

import beetles.studies.experiment as experiment_module
from beetles.core.history import read_losses
from beetles.formats.dataset import load_part
from beetles.formats.published import read_paired_csv
from beetles.model import Schedule
from beetles.registry import model_info
from beetles.studies.crossval import Experiment
from beetles.studies.experiment import run
from tests.helpers import blob_part


@pytest.mark.parametrize("model, engine, learning_rate", [
    ("mini3", "torch", 0.2), pytest.param("3", "theano", 0.003, marks=pytest.mark.slow)])
def test_tiny_experiment_end_to_end_with_resume(tmp_path, monkeypatch, capsys, mini_models, model, engine,
                                                learning_rate):
    # Discs in the photos' top-right corner, far from where an untrained net
    # points (the centre): four epochs (one update each) must move the loss
    # down, from a learning rate of 0.003 for model 3 (the paper's 0.03
    # overshoots in so few updates), 0.2 for its miniature.  The paper's
    # model on its own stack (slow); the miniature on the torch engine (the
    # Theano engine's rounds run in the fine-tuning test).
    data = load_part(blob_part(tmp_path / "blobs", region=((220, 20), (300, 80))), name="blobs")
    out = tmp_path / "out"
    schedule = replace(model_info(model).schedule(epochs=4), learning_rate=(learning_rate, 0.00001))
    experiment = Experiment("blobs_scratch", data, out, schedule, rounds=[1, 2], progress=False, engine=engine)
    assert [len(r.test) for r in experiment.all_rounds()] == [2, 1, 1, 1, 1, 1, 1, 1, 1]

    # Interrupt round 2: round 1 stays finished and is not trained again.
    real_train_round = experiment_module.train_round
    calls, interrupts = [], []

    def interrupted(exp, round_):
        calls.append(round_.number)
        if round_.number == 2 and not interrupts:  # Ctrl-C the first time round 2 starts
            interrupts.append(2)
            raise KeyboardInterrupt
        return real_train_round(exp, round_)

    monkeypatch.setattr(experiment_module, "train_round", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(experiment)
    assert (out / "rounds" / "round01" / "round.json").is_file()
    assert not (out / "rounds" / "round02" / "round.json").exists()
    first_record = (out / "rounds" / "round01" / "round.json").read_text()

    calls.clear()
    summary = run(experiment)
    assert calls == [2]  # round 1 resumed from its files
    assert (out / "rounds" / "round01" / "round.json").read_text() == first_record

    for name in ["table01_losses.csv", "distances.csv", "predictions.tps", "predictions.csv", "run.json",
                 "fig_losses_round1.png", "fig_losses_round2.png", "fig12_landmark1.png", "fig13_test_images.png"]:
        assert (out / name).stat().st_size > 0, name
    assert (out / "table01_losses.csv").read_text().splitlines()[0] == "round,train_loss,valid_loss"
    assert (out / "distances.csv").read_text().splitlines()[0] == "landmark,distance"
    header = (out / "predictions.csv").read_text().splitlines()[0]
    assert header == "image,landmark,x_manual,y_manual,x_pred,y_pred"
    losses = read_losses(out / "rounds" / "round01" / "losses.csv")
    assert len(losses) == 4
    assert losses["train_loss"][-1] < 0.5 * losses["train_loss"][0]  # the loss moves down
    assert losses["valid_loss"][-1] < 0.7 * losses["valid_loss"][0]
    np.testing.assert_allclose(losses["learning_rate"][-1], 0.00001, rtol=1e-3)
    # the held-out curve: after the last epoch it is the round's own test error
    paired = read_paired_csv(out / "rounds" / "round01" / "predictions.csv")
    final = np.linalg.norm(paired.predicted - paired.manual, axis=-1).mean()
    assert np.isfinite(losses["held_out_px"]).all()
    np.testing.assert_allclose(losses["held_out_px"][-1], final, rtol=1e-4)
    assert len(set(np.round(losses["held_out_px"], 6))) > 1  # it moves as the weights do
    curves = np.genfromtxt(out / "learning_curves.csv", delimiter=",", names=True)
    first = curves[curves["round"] == 1]
    np.testing.assert_allclose(first["held_out_px"], losses["held_out_px"], rtol=1e-6)
    assert len(curves) == 2 * len(losses) and np.all(curves["trivial_px"] > 0)
    recorded = json.loads((out / "run.json").read_text())
    assert recorded["held_out_specimens"] == 3 and recorded["engine"] == engine
    assert recorded["schedule"]["epochs"] == 4 and len(recorded["rounds"]) == 2
    assert summary.results.trivial_mean_distance_px > 0
    predicted_tps = (out / "predictions.tps").read_text()
    assert predicted_tps.count("LM=2") == 3 and "IMAGE=b00.jpg" in predicted_tps

    # The schedule's seed fixes the initial weights and dropout: a rerun repeats.
    again = Experiment("blobs_scratch", data, tmp_path / "again", schedule, rounds=[1], progress=False, engine=engine)
    run(again)
    np.testing.assert_array_equal(read_losses(tmp_path / "again" / "rounds" / "round01" / "losses.csv")["train_loss"],
                                  losses["train_loss"])

    # A changed schedule does not reuse rounds trained with another one.
    changed = Experiment("blobs_scratch", data, out, model_info(model).schedule(epochs=2), rounds=[1], progress=False,
                         engine=engine)
    calls.clear()
    run(changed)
    assert calls == [1]


def test_too_few_specimens_for_rounds_is_a_clear_error(tmp_path):
    from beetles.core.errors import DataError

    data = load_part(blob_part(tmp_path / "one", count=1), name="pronotum")
    experiment = Experiment("one", data, tmp_path / "out", Schedule(epochs=1), progress=False)
    with pytest.raises(DataError, match="1 specimens cannot be split into 1 rounds|at least 2"):
        experiment.chosen_rounds()
