"""The PyTorch engine computes what the Theano engine computes.

Parity is measured as ``max |a - b| / max |a|`` per array (a: Theano's), and
must stay under 1e-4: float32 rounding, summed in another order.  The Theano
side of a training step is Lasagne's own ``nesterov_momentum`` compiled with
``theano.function`` on the nolearn net's layers (deterministic: dropout off),
so its momentum buffers (Lasagne's velocity shared variables) can be read;
nolearn compiles the same update into ``train_iter_`` with dropout on.

Max-pooling is discontinuous: where two values of a pooling window differ
by less than float32 rounding, the engines may pick different maxima and
route that window's gradient to different inputs (exact ties and windows of
zeros follow Theano's rule in both engines, see
:class:`beetles.paper.torch_layers.LasagneReLUMaxPool`).  Model 3 on noise images
has a few such near ties among its 2.7 million windows per image, each
moving one term of a convolution's gradient (about 1e-3 relative).  The
training tests therefore use model 3 and model 1 in miniature (the same
layers in the same order, 2 filters per convolution, 20 dense units) on
seeded weights and data, and check first that no pooling window is within
1e-5 (relative) of a tie; the forward pass and the weight conversions are
tested on the full model 3, for any weights.
"""
import json

import numpy as np
import pytest
import torch  # installed by the "test" extra: these tests must run, not skip

from beetles.core.errors import BeetlesError, WeightsError
from beetles.core.history import LOSS_COLUMNS, EpochLog, read_losses
from beetles.formats.dataset import load_part
from beetles.paper.engines import TorchEngine, make_engine
from beetles.paper.networks import layer_table
from beetles.paper.nolearn import build_nolearn, load_params
from beetles.paper.schedule import AdjustVariable, ReportEpoch, fit
from beetles.paper.torch_layers import build_torch, glorot_limit, set_torch_params, torch_params
from beetles.paper.torch_training import TorchNet, build_torch_net
from beetles.paper.weights import net_params, read_params, save_params
from beetles.registry import model_info
from beetles.studies.crossval import Experiment
from beetles.studies.experiment import run
from tests.helpers import MINI1, MINI3, blob_part

#: Measured on the CPU: forward ≈ 6e-7, two training steps ≤ 3e-6 (weights)
#: and ≤ 2e-5 (momentum buffers), two epochs of model 1 ≈ 1e-6.
TOLERANCE = 1e-4


def relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.abs(a).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(b).max())


#: Seed of Lasagne's initialisation in the training tests (see above).
LASAGNE_SEED = 15


def smallest_pool_gap(module, X) -> float:
    """The smallest relative gap between the two largest values of a positive
    pooling window, over every pool of ``module`` on ``X`` (0: a tie)."""
    from torch.nn import functional as F

    smallest, x = np.inf, torch.from_numpy(X)
    module.eval()
    with torch.no_grad():
        for name, kind in module.layers:
            layer = getattr(module, name)
            if kind == "pool":
                n, c, h, w = x.shape
                windows = x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
                top = windows.permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4).sort(-1, descending=True).values
                positive = top[..., 0] > 0
                if positive.any():
                    gaps = (top[..., 0] - top[..., 1])[positive] / top[..., 0][positive]
                    smallest = min(smallest, float(gaps.min()))
            if kind == "dense" and x.dim() > 2:
                x = torch.flatten(x, 1)
            x = layer(x)
            if kind == "conv" or (kind == "dense" and name != "output"):
                x = F.relu(x)
    return smallest


def seeded_nolearn(*args, **kwargs):
    """:func:`build_nolearn` with its layers built from Lasagne's generator
    seeded by :data:`LASAGNE_SEED`."""
    import lasagne

    previous = lasagne.random.get_rng()
    lasagne.random.set_rng(np.random.RandomState(LASAGNE_SEED))
    try:
        net = build_nolearn(*args, **kwargs)
        net.initialize_layers()
    finally:
        lasagne.random.set_rng(previous)
    return net


def set_lasagne(net, params):
    """Copy ``{"<layer>/<k>": array}`` into a nolearn net's layers without compiling it."""
    for name, layer in net.layers_.items():
        for k, shared in enumerate(layer.get_params()):
            shared.set_value(params[f"{name}/{k}"])


def lasagne_functions(net, n_landmarks):
    """A nolearn net's Lasagne layers (built, not compiled), a compiled
    deterministic forward pass and a Nesterov step with readable velocities."""
    import theano
    import theano.tensor as T
    from lasagne.layers import get_all_params, get_output
    from lasagne.objectives import squared_error
    from lasagne.updates import nesterov_momentum

    x = net.layers_["input"].input_var
    target = T.matrix("y")
    output = get_output(net.layers_["output"], deterministic=True)  # dropout off
    params = get_all_params(net.layers_["output"], trainable=True)
    learning_rate, momentum = theano.shared(np.float32(0.02)), theano.shared(np.float32(0.95))
    updates = nesterov_momentum(squared_error(output, target).mean(), params, learning_rate, momentum)
    velocities = [v for v in updates if v not in params]  # appended in the parameters' order
    assert len(velocities) == len(params)
    step = theano.function([x, target], squared_error(output, target).mean(), updates=updates)
    forward = theano.function([x], output)
    return {"net": net, "step": step, "forward": forward, "velocities": velocities,
            "learning_rate": learning_rate, "momentum": momentum}


@pytest.fixture(scope="module")
def lasagne_model3():
    """Model 3 (random weights): layers and compiled functions."""
    net = build_nolearn(3, 8, max_epochs=1)
    net.initialize_layers()
    return {**lasagne_functions(net, 8), "spec": 3}


@pytest.fixture(scope="module", params=[pytest.param(3, marks=pytest.mark.slow), MINI3], ids=["model3", "mini3"])
def lasagne_model(request):
    """Model 3, full size (a slow test) and in miniature (random weights): layers and compiled functions."""
    if request.param == 3:
        return request.getfixturevalue("lasagne_model3")
    net = build_nolearn(request.param, 8, max_epochs=1)
    net.initialize_layers()
    return {**lasagne_functions(net, 8), "spec": request.param}


@pytest.fixture(scope="module")
def lasagne_mini3():
    """Model 3 in miniature (seeded weights): layers and compiled functions."""
    return lasagne_functions(seeded_nolearn(MINI3, 8, max_epochs=1), 8)


def batch(n=8, landmarks=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 192, 256), dtype=np.float32), rng.uniform(-0.5, 0.5, (n, 2 * landmarks)).astype(np.float32)


@pytest.mark.slow
def test_same_layers_shapes_and_lasagne_initialisation(lasagne_model3):
    import lasagne

    theano_params = net_params(lasagne_model3["net"])
    module = build_torch(3, 8, seed=1)
    ours = torch_params(module)
    assert list(ours) == list(theano_params)  # same names, same order
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theano_params.items()}
    assert [name for name, _ in module.layers] == [row["name"] for row in layer_table(3, 8)]

    class Capture:  # Lasagne's Glorot calls initializer(std=...).sample(shape)
        def __init__(self, std):
            self.range = lasagne.init.Uniform(std=std).range

        def sample(self, shape):
            return self.range

    for key, value in ours.items():
        if key.endswith("/1"):
            assert not value.any(), key  # zero biases
            continue
        low, high = lasagne.init.Glorot(Capture).sample(value.shape)  # GlorotUniform(), gain 1
        assert low == pytest.approx(-glorot_limit(value.shape), rel=1e-12) and high == pytest.approx(-low)
        assert np.abs(value).max() <= np.float32(high) and np.abs(value).max() > 0.9 * high, key
        assert np.std(value) == pytest.approx(high / np.sqrt(3), rel=0.1), key  # uniform on [-a, a]
    again = torch_params(build_torch(3, 8, seed=1))
    assert all(np.array_equal(again[k], ours[k]) for k in ours)  # seeded


def test_same_layers_and_shapes_in_miniature(lasagne_model):
    theano_params = net_params(lasagne_model["net"])
    module = build_torch(lasagne_model["spec"], 8, seed=1)
    ours = torch_params(module)
    assert list(ours) == list(theano_params)  # same names, same order
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theano_params.items()}
    assert [name for name, _ in module.layers] == [row["name"] for row in layer_table(lasagne_model["spec"], 8)]


def test_round_trip_theano_torch_theano_is_exact(lasagne_model, tmp_path):
    net = lasagne_model["net"]
    original = {k: v.copy() for k, v in net_params(net).items()}
    module = build_torch(lasagne_model["spec"], 8, seed=3)
    assert set_torch_params(module, original)[-1] == "output"
    back = torch_params(module)
    assert all(np.array_equal(back[k], original[k]) for k in original)
    # ... and through a params.npz written by the torch side, read by the Theano side
    from_file = read_params(save_params(back, tmp_path / "params.npz"))
    set_lasagne(net, {k: np.zeros_like(v) for k, v in original.items()})
    set_lasagne(net, from_file)
    assert all(np.array_equal(net_params(net)[k], original[k]) for k in original)


def test_forward_parity(lasagne_model):
    net, spec = lasagne_model["net"], lasagne_model["spec"]
    module = build_torch(spec, 8)
    set_torch_params(module, net_params(net))
    X, _ = batch(6)
    expected = lasagne_model["forward"](X)
    module.eval()
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    print(f"forward, {spec}: {relative(expected, got):.1e} (max relative difference)")
    assert relative(expected, got) < TOLERANCE
    # the channels_last memory layout changes nothing
    plain = build_torch(spec, 8, channels_last=False)
    set_torch_params(plain, net_params(net))
    plain.eval()
    with torch.no_grad():
        assert relative(got, plain(torch.from_numpy(X)).numpy()) < 1e-5


def test_training_step_parity_weights_and_momentum(lasagne_mini3):
    """One Nesterov step from the same weights and the same (non-zero)
    momentum buffers on the same batch, dropout off (model 3's layers)."""
    lm = lasagne_mini3
    net = lm["net"]
    start = {k: v.copy() for k, v in net_params(net).items()}
    rng = np.random.default_rng(5)
    velocities = {k: (0.01 * np.abs(v).max() * rng.standard_normal(v.shape)).astype(np.float32) for k, v in start.items()}
    for key, shared in zip(start, lm["velocities"]):
        shared.set_value(velocities[key])
    tnet = TorchNet(build_torch(MINI3, 8), max_epochs=1, learning_rate=(0.02, 0.02), momentum=(0.95, 0.95))
    set_torch_params(tnet.module, start)
    tnet.set_velocities(velocities)
    X, y = batch(6)
    assert smallest_pool_gap(tnet.module, X) > 1e-5  # no pooling window near a tie
    tnet.module.eval()  # dropout off
    theano_loss = lm["step"](X, y)
    torch_loss = tnet.train_step(torch.from_numpy(X), torch.from_numpy(y))
    assert relative(theano_loss, torch_loss.numpy()) < TOLERANCE
    theano_after = net_params(net)
    theano_velocities = dict(zip(theano_after, (v.get_value() for v in lm["velocities"])))
    torch_after, torch_velocities = tnet.get_params(), tnet.get_velocities()
    assert list(torch_velocities) == list(theano_velocities)
    worst_weights = max(relative(theano_after[k], torch_after[k]) for k in theano_after)
    worst_velocity = max(relative(theano_velocities[k], torch_velocities[k]) for k in theano_velocities)
    print(f"one training step: weights {worst_weights:.1e}, momentum {worst_velocity:.1e} (max relative difference)")
    assert worst_weights < TOLERANCE and worst_velocity < TOLERANCE, (worst_weights, worst_velocity)
    moved = [k for k in start if not np.array_equal(theano_after[k], start[k])]
    assert len(moved) == len(start)  # the step moved every parameter
    set_lasagne(net, start)


@pytest.fixture(scope="module")
def both_trained():
    """Model 1 in miniature (no dropout: deterministic) trained 2 epochs by each engine
    from the same weights, on the same data, batches of 4."""
    rng = np.random.default_rng(0)
    X = rng.random((12, 1, 192, 256), dtype=np.float32)
    y = rng.uniform(-0.5, 0.5, (12, 4)).astype(np.float32)
    theano_log, torch_log = EpochLog(progress=False), EpochLog(progress=False)
    settings = dict(max_epochs=2, learning_rate=(0.03, 0.01), momentum=(0.9, 0.95), batch_size=4)
    theano_net = seeded_nolearn(MINI1, 2, on_epoch_finished=[ReportEpoch([theano_log])], **settings)
    theano_net.initialize()
    start = net_params(theano_net)
    torch_net = build_torch_net(MINI1, 2, on_epoch_finished=[ReportEpoch([torch_log])], **settings)
    set_torch_params(torch_net.module, start)
    assert smallest_pool_gap(torch_net.module, X) > 1e-5  # no pooling window near a tie
    fit(theano_net, X, y)
    fit(torch_net, X, y)
    return {"theano": theano_net, "torch": torch_net, "X": X, "start": start,
            "theano_log": np.array(theano_log.rows), "torch_log": np.array(torch_log.rows)}


def test_two_epochs_of_training_agree(both_trained):
    """Same split, shuffle, batches, loss, update and schedule: same losses
    per epoch and same weights after two epochs."""
    theano_rows, torch_rows = both_trained["theano_log"], both_trained["torch_log"]
    assert theano_rows.shape == torch_rows.shape == (2, len(LOSS_COLUMNS))
    np.testing.assert_array_equal(theano_rows[:, 0], torch_rows[:, 0])  # epochs
    for column in (1, 2):  # train_loss, valid_loss
        assert relative(theano_rows[:, column], torch_rows[:, column]) < TOLERANCE
    np.testing.assert_array_equal(theano_rows[:, 3:5], torch_rows[:, 3:5])  # learning rate, momentum
    theano_params, torch_params_ = net_params(both_trained["theano"]), both_trained["torch"].get_params()
    worst_loss = max(relative(theano_rows[:, c], torch_rows[:, c]) for c in (1, 2))
    worst_weights = max(relative(theano_params[k], torch_params_[k]) for k in theano_params)
    print(f"two epochs: losses {worst_loss:.1e}, weights {worst_weights:.1e} (max relative difference)")
    assert worst_weights < TOLERANCE
    assert any(not np.allclose(theano_params[k], both_trained["start"][k]) for k in theano_params)


def test_schedule_is_adjust_variables():
    net = build_torch_net(1, 2, max_epochs=5, learning_rate=(0.03, 0.00001), momentum=(0.9, 0.9999))
    seen = []
    for epoch in range(1, 6):
        net.train_history_.append({"epoch": epoch})
        for callback in net.on_epoch_finished:
            callback(net, net.train_history_)
        seen.append((net.update_learning_rate.get_value(), net.update_momentum.get_value()))
    lr, momentum = AdjustVariable("lr", 0.03, 0.00001).values(5), AdjustVariable("m", 0.9, 0.9999).values(5)
    np.testing.assert_array_equal(np.array(seen), np.stack([lr, momentum], axis=1))
    assert all(isinstance(v, np.float32) for pair in seen for v in pair)


def test_a_net_trained_by_one_engine_predicts_the_same_in_the_other(both_trained):
    X = both_trained["X"][:5]
    theano_net, torch_net = both_trained["theano"], both_trained["torch"]
    in_torch = build_torch_net(MINI1, 2, max_epochs=1)
    set_torch_params(in_torch.module, net_params(theano_net))
    theano_to_torch = relative(theano_net.predict(X), in_torch.predict(X))
    in_theano = build_nolearn(MINI1, 2, max_epochs=1)
    load_params(in_theano, torch_net.get_params())
    torch_to_theano = relative(in_theano.predict(X), torch_net.predict(X))
    print(f"predictions across engines: theano-trained {theano_to_torch:.1e}, torch-trained {torch_to_theano:.1e}")
    assert theano_to_torch < TOLERANCE and torch_to_theano < TOLERANCE


def test_torch_weights_errors_freeze_and_whole_net(tmp_path, both_trained):
    engine = TorchEngine("cpu")
    path = save_params(both_trained["torch"].get_params(), tmp_path / "params.npz")
    other = build_torch_net(MINI1, 5, max_epochs=1)
    with pytest.raises(WeightsError, match=r"layer 'output' parameter 0 has shape \(20, 4\), but the network needs \(20, 10\)"):
        engine.load_params(other, path)
    loaded = engine.load_params(other, path, skip_layers=("output",))
    assert "output" not in loaded and loaded[-1] == "hidden5"
    assert engine.freeze(other, 2) == ["conv1", "pool1"]
    before = other.get_params()
    rng = np.random.default_rng(1)
    fit(other, rng.random((6, 1, 192, 256), dtype=np.float32), rng.uniform(-0.5, 0.5, (6, 10)).astype(np.float32))
    after = other.get_params()
    assert np.array_equal(after["conv1/0"], before["conv1/0"]) and not np.array_equal(after["conv2/0"], before["conv2/0"])
    whole = engine.save_whole(other, tmp_path / "net.pt")
    assert all(np.array_equal(read_params(whole)[k], after[k]) for k in after)
    state = torch.load(whole, weights_only=True)
    assert state["model"] == "mini1" and len(state["train_history"]) == 1 and "conv1/0" not in state["velocities"]


def test_engine_and_device_errors():
    with pytest.raises(BeetlesError, match="Theano engine runs on the CPU only"):
        make_engine("theano", "cuda")
    with pytest.raises(BeetlesError, match="expected one of theano, torch"):
        make_engine("tensorflow")
    assert make_engine("theano").describe().startswith("theano 1.0.5 (cpu)")
    assert make_engine("torch").describe().startswith(f"torch {torch.__version__} (cpu")
    if not torch.cuda.is_available():
        with pytest.raises(BeetlesError, match=r"sees no CUDA GPU .*--device cpu"):
            make_engine("torch", "cuda")


@pytest.mark.parametrize("model", ["mini3", pytest.param("3", marks=pytest.mark.slow)])
def test_tiny_experiment_with_the_torch_engine(tmp_path, mini_models, model):
    data = load_part(blob_part(tmp_path / "blobs"), name="blobs")
    out = tmp_path / "out"
    schedule = model_info(model).schedule(epochs=3)
    experiment = Experiment("blobs_scratch", data, out, schedule, rounds=[1], progress=False,
                            engine="torch", save_net=True)
    summary = run(experiment)
    for name in ["table01_losses.csv", "distances.csv", "predictions.tps", "predictions.csv", "run.json",
                 "fig_losses_round1.png", "fig12_landmark1.png", "fig13_test_images.png"]:
        assert (out / name).stat().st_size > 0, name
    round_folder = out / "rounds" / "round01"
    assert (round_folder / "net.pt").is_file() and not (round_folder / "net.pkl").exists()
    losses = read_losses(round_folder / "losses.csv")
    assert list(losses.dtype.names) == LOSS_COLUMNS and len(losses) == 3
    np.testing.assert_allclose(losses["learning_rate"][-1], 0.00001, rtol=1e-3)
    recorded = json.loads((out / "run.json").read_text())
    assert recorded["engine"] == "torch" and recorded["device"] == "cpu"
    assert recorded["engine_description"].startswith("torch ") and recorded["versions"]["torch"] == torch.__version__
    assert summary.results.trivial_mean_distance_px > 0
    # the torch round's params.npz is what a Theano net loads
    theano_net = build_nolearn(model_info(model).config["network"], 2, max_epochs=1)
    assert load_params(theano_net, round_folder / "params.npz")[-1] == "output"
    # a Theano run of the same schedule does not reuse the torch round
    theano_experiment = Experiment("blobs_scratch", data, out, schedule, rounds=[1], progress=False)
    assert theano_experiment.key() != experiment.key()


def test_fine_tuning_starts_from_either_engines_weights(tmp_path, both_trained):
    """A torch net (.pt, .npz) starts a Theano fine-tuning, a pickled
    NeuralNet starts a torch one: every layer but the output loaded."""
    from beetles.paper.engines import TheanoEngine
    from beetles.paper.weights import save_net

    torch_engine, theano_engine = TorchEngine("cpu"), TheanoEngine("cpu")
    pretrained = both_trained["torch"].get_params()
    whole = torch_engine.save_whole(both_trained["torch"], tmp_path / "pretrained.pt")
    tuned = build_nolearn(MINI1, 3, max_epochs=1)
    assert theano_engine.load_params(tuned, whole, skip_layers=("output",))[-1] == "hidden5"
    got = net_params(tuned)
    assert all(np.array_equal(got[k], pretrained[k]) for k in pretrained if not k.startswith("output"))
    assert got["output/0"].shape == (20, 6)

    pickled = save_net(both_trained["theano"], tmp_path / "pretrained.pkl")
    in_torch = build_torch_net(MINI1, 3, max_epochs=1)
    assert torch_engine.load_params(in_torch, pickled, skip_layers=("output",))[-1] == "hidden5"
    expected, got = net_params(both_trained["theano"]), in_torch.get_params()
    assert all(np.array_equal(got[k], expected[k]) for k in expected if not k.startswith("output"))


def test_relu_and_pool_gradients_are_theanos_at_ties_and_zeros():
    """Lasagne 0.1's rectify then Theano's max-pool, on windows with exact
    ties, windows of zeros (some exact, some negative) and odd borders."""
    import lasagne
    import theano
    import theano.tensor as T
    from theano.tensor.signal.pool import pool_2d

    from beetles.paper.torch_layers import LasagneReLUMaxPool

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    x[0, 0, :2, :2] = 0.5  # a positive tie of four
    x[0, 1, 2:4, :2] = [[0.0, -1.0], [0.0, -2.0]]  # maximum exactly 0, two zeros
    x[1, 2, :2, 2:4] = -1.0  # all negative
    x[1, 0, 2:4, 2:4] = [[0.25, 0.25], [-1.0, 0.1]]  # a positive tie of two
    weights = rng.standard_normal((2, 3, 3, 4)).astype(np.float32)
    tx = T.tensor4("x")
    out = pool_2d(lasagne.nonlinearities.rectify(tx), ws=(2, 2), ignore_border=True)
    theano_grad = theano.function([tx], T.grad((out * weights).sum(), tx))(x)
    xt = torch.from_numpy(x).requires_grad_()
    (LasagneReLUMaxPool.apply(xt, 2) * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), theano_grad)
    for layout in (torch.channels_last, torch.contiguous_format):
        xl = torch.from_numpy(x).contiguous(memory_format=layout).requires_grad_()
        (LasagneReLUMaxPool.apply(xl, 2) * torch.from_numpy(weights)).sum().backward()
        np.testing.assert_array_equal(xl.grad.numpy(), theano_grad)


def test_dropout_is_lasagnes_inverted_dropout_in_either_layout():
    """Kept inputs are divided by q = 1 - p, dropped ones are 0, about q of
    them are kept (as Lasagne's ``DropoutLayer`` does in training), the
    gradient goes through the same mask, and a seed repeats the mask."""
    import lasagne
    import theano

    from beetles.paper.torch_layers import LasagneDropout, keep_mask

    p, q = 0.1, 0.9
    x_np = np.random.default_rng(0).uniform(1, 2, (8, 16, 47, 63)).astype(np.float32)  # no zeros
    layer = lasagne.layers.DropoutLayer(lasagne.layers.InputLayer(x_np.shape), p=p)
    theano_out = theano.function([layer.input_layer.input_var], lasagne.layers.get_output(layer))(x_np)
    theano_kept = (theano_out != 0).mean()
    np.testing.assert_allclose(theano_out[theano_out != 0], (x_np / np.float32(q))[theano_out != 0], rtol=1e-6)

    n = x_np.size
    for layout in (torch.channels_last, torch.contiguous_format):
        torch.manual_seed(3)
        x = torch.from_numpy(x_np).contiguous(memory_format=layout).requires_grad_()
        out = LasagneDropout.apply(x, p)
        kept = out.detach() != 0
        assert out.is_contiguous(memory_format=layout)
        # Binomial(n, q): 5 standard deviations (0.0006 here), for both engines.
        for share in (kept.float().mean().item(), theano_kept):
            assert abs(share - q) < 5 * np.sqrt(q * (1 - q) / n), share
        torch.testing.assert_close(out.detach()[kept], (x.detach() / q)[kept], rtol=0, atol=0)
        out.backward(torch.ones_like(out))
        np.testing.assert_array_equal(x.grad.numpy(), np.where(kept.numpy(), np.float32(1 / np.float32(q)), 0))
        torch.manual_seed(3)
        assert torch.equal(keep_mask(x.detach(), q), kept)
    # A keep probability of 1/2 and a 2-D input (the dense layers).
    mask = keep_mask(torch.zeros(1000, 1000), 0.5)
    assert mask.shape == (1000, 1000) and abs(mask.float().mean().item() - 0.5) < 0.0025
