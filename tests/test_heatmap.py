"""The compact models (beetles/heatmap.py): soft-argmax, augmentation that
moves landmarks with the pixels, learning on small generated photos, weights,
the experiment and comparison scripts."""
import json

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from beetles.comparison import comparison_main  # noqa: E402
from beetles.dataset import load_part  # noqa: E402
from beetles.engines import make_engine, resolve_engine  # noqa: E402
from beetles.errors import BeetlesError  # noqa: E402
from beetles.experiment import Schedule, scratch_main  # noqa: E402
from beetles.frames import NETWORK, denormalise, normalise  # noqa: E402
from beetles.heatmap import (  # noqa: E402
    HeatmapNet,
    augment_batch,
    gaussian_targets,
    heatmap_spread,
    random_affine,
    soft_argmax,
)
from beetles.models import parse_model  # noqa: E402
from beetles.torch_engine import build_torch_net  # noqa: E402
from beetles.training import WeightsError  # noqa: E402

COLOURS = [(200, 30, 30), (30, 30, 200), (30, 160, 30)]


def coloured_part(folder, count=40, landmarks=2, seed=0, size=(320, 240)):
    """A part folder: grey photos with one coloured disc per landmark (so
    landmark k is recognisable), TPS with y up."""
    rng = np.random.default_rng(seed)
    width, height = size
    images = folder / "images"
    images.mkdir(parents=True)
    yy, xx = np.mgrid[0:height, 0:width]
    blocks = []
    for k in range(count):
        points = rng.uniform([0.15 * width, 0.15 * height], [0.85 * width, 0.85 * height], size=(landmarks, 2))
        rgb = np.full((height, width, 3), 190, np.uint8)
        rgb += rng.integers(0, 20, size=rgb.shape, dtype=np.uint8)
        for (x, y), colour in zip(points, COLOURS):
            rgb[(xx - x) ** 2 + (yy - y) ** 2 < (0.03 * width) ** 2] = colour
        Image.fromarray(rgb).save(images / f"c{k:02d}.png")
        blocks.append("\n".join([f"LM={landmarks}", *(f"{x:.3f} {height - y:.3f}" for x, y in points),
                                 f"IMAGE=c{k:02d}.png"]))
    (folder / "landmarks.tps").write_text("\n".join(blocks) + "\n")
    return folder


def test_soft_argmax_finds_a_peak_and_its_spread():
    logits = torch.full((1, 2, 24, 32), -50.0)
    logits[0, 0, 5, 7] = 50.0  # cell centre: x = (2*7+1)/32 - 1, y = (2*5+1)/24 - 1
    logits[0, 1] = 0.0  # uniform
    coords = soft_argmax(logits)
    np.testing.assert_allclose(coords[0, 0].numpy(), [15 / 32 - 1, 11 / 24 - 1], atol=1e-5)
    np.testing.assert_allclose(coords[0, 1].numpy(), [0, 0], atol=1e-5)
    spread = heatmap_spread(logits, coords)[0].numpy()
    assert spread[0] < 1e-3
    # a uniform map over 256×192 px: sd sqrt(W²/12 + H²/12) (minus the cell discretisation)
    assert abs(spread[1] - np.sqrt((256**2 - 8**2) / 12 + (192**2 - 8**2) / 12)) < 0.5


def test_gaussian_targets_are_normalised_and_centred():
    target = torch.tensor([[[0.1, -0.3], [-0.7, 0.5]]])
    maps = gaussian_targets(target, 24, 32)
    np.testing.assert_allclose(maps.sum(dim=(-2, -1)).numpy(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(soft_argmax(maps.log()).numpy(), target.numpy(), atol=0.01)


def test_augmentation_moves_landmarks_with_the_pixels():
    """A bright dot drawn at a landmark is still under the landmark after a
    random affine map (rotation, scale, shift on the 4:3 frame)."""
    generator = torch.Generator().manual_seed(3)
    points_px = np.array([[60.0, 50.0], [190.0, 140.0], [128.0, 96.0]])
    images = torch.zeros(6, 3, 192, 256)
    yy, xx = torch.meshgrid(torch.arange(192) + 0.5, torch.arange(256) + 0.5, indexing="ij")
    for x, y in points_px:
        images[:, :, ((xx - x) ** 2 + (yy - y) ** 2) < 2.5**2] = 1.0
    points = torch.tensor(normalise(points_px), dtype=torch.float32).view(1, 3, 2).repeat(6, 1, 1)
    moved, moved_points = augment_batch(images, points, generator)
    moved_px = denormalise(moved_points.reshape(6, -1).numpy())
    assert not np.allclose(moved_px, points_px[None], atol=2)  # the maps did move them
    for b in range(6):
        gray = moved[b].mean(0).numpy()
        for x, y in moved_px[b]:
            row, col = int(y), int(x)
            window = gray[row - 2:row + 3, col - 2:col + 3]
            assert window.max() > gray.mean() + 0.3, (b, x, y)


def test_affine_maps_rotate_on_the_pixel_grid():
    theta = random_affine(50, torch.Generator().manual_seed(0), "cpu", shift=0.0, scale=(1.0, 1.0))
    half = torch.tensor([NETWORK.width / 2, NETWORK.height / 2])
    a_pixels = theta[:, :, :2] * half[:, None] / half[None, :]  # D A D^-1: a rotation
    identity = a_pixels @ a_pixels.transpose(1, 2)
    np.testing.assert_allclose(identity.numpy(), np.broadcast_to(np.eye(2), identity.shape), atol=1e-5)


@pytest.fixture(scope="module")
def coloured(tmp_path_factory):
    return coloured_part(tmp_path_factory.mktemp("coloured") / "discs")


def test_heatmap_model_learns_and_its_weights_travel(coloured, tmp_path):
    data = load_part(coloured, name="discs")
    from beetles.preprocess import network_rgb_arrays

    X, y, _ = network_rgb_arrays(data.specimens[:32], progress=False)
    X_test, y_test, _ = network_rgb_arrays(data.specimens[32:], progress=False)
    assert X.network.dtype == np.uint8 and X.network.shape == (32, 3, 192, 256) and X.fine is None
    net = HeatmapNet("heatmap", 2, max_epochs=25, seed=1)
    net.fit(X, y)
    losses = [row["train_loss"] for row in net.train_history_]
    assert len(losses) == 25 and np.mean(losses[-3:]) < 0.2 * np.mean(losses[:3])
    predicted, spread = net.predict_with_spread(X_test)
    errors = np.linalg.norm(denormalise(predicted) - denormalise(y_test), axis=-1)
    trivial = np.linalg.norm(denormalise(y).mean(0)[None] - denormalise(y_test), axis=-1)
    assert errors.mean() < 0.3 * trivial.mean(), (errors.mean(), trivial.mean())
    assert spread.shape == (8, 2) and np.all(spread > 0)
    # weights: a rebuilt net predicts the same; another landmark count is refused
    again = HeatmapNet.from_state(net.state())
    np.testing.assert_allclose(again.predict(X_test), predicted, atol=1e-5)
    with pytest.raises(WeightsError, match=r"out.weight has shape \(2, 64, 1, 1\).*needs \(3, 64, 1, 1\)"):
        HeatmapNet("heatmap", 3, max_epochs=1).set_params(net.get_params(), source="w.npz")
    with pytest.raises(WeightsError, match="not a 'heatmap' model's weights"):
        HeatmapNet("heatmap", 2, max_epochs=1).set_params({"conv1/0": np.zeros(3)})


def test_cascade_refines_on_the_fine_photos(coloured):
    """The cascade's refiner, trained on patches of the 1024×768 photos,
    pulls estimates a few pixels off towards the truth, and the cascade
    beats its own coarse stage; its weights travel with it."""
    from beetles.heatmap import FINE_SCALE
    from beetles.preprocess import network_rgb_arrays

    data = load_part(coloured, name="discs")
    X, y, _ = network_rgb_arrays(data.specimens[:32], progress=False, fine_scale=FINE_SCALE)
    X_test, y_test, _ = network_rgb_arrays(data.specimens[32:], progress=False, fine_scale=FINE_SCALE)
    assert X.fine.shape == (32, 3, 768, 1024) and X.network.shape == (32, 3, 192, 256)
    net = HeatmapNet("cascade", 2, max_epochs=20, batch_size=8, seed=1)
    with pytest.raises(ValueError, match="needs the fine photos"):
        net.fit(X.network, y)
    net.fit(X, y)
    assert len(net.train_history_) == 40 and net.refined  # 20 coarse epochs, then 20 of the refiner
    truth = denormalise(y_test)  # (8, 2, 2) network pixels
    # the refiner alone, from starts 2.5 px (sd) off the truth
    start = truth + np.random.default_rng(0).normal(0, 2.5, truth.shape)
    moved, _ = net.refine(X_test.fine, normalise(start).reshape(8, 2, 2))
    before = np.linalg.norm(start - truth, axis=-1).mean()
    after = np.linalg.norm(denormalise(moved.reshape(8, -1)) - truth, axis=-1).mean()
    assert after < 0.5 * before, (after, before)
    # the whole cascade against its coarse stage
    refined, spread = net.predict_with_spread(X_test)
    net.refined = False
    coarse = net.predict(X_test)
    net.refined = True
    refined_error = np.linalg.norm(denormalise(refined) - truth, axis=-1).mean()
    coarse_error = np.linalg.norm(denormalise(coarse) - truth, axis=-1).mean()
    assert refined_error < coarse_error, (refined_error, coarse_error)
    assert spread.shape == (8, 2) and np.all(spread > 0)
    again = HeatmapNet.from_state(net.state())
    assert again.refined
    np.testing.assert_allclose(again.predict(X_test), refined, atol=1e-4)


def test_time_budget_stops_training():
    X = np.random.default_rng(0).integers(0, 255, (8, 3, 192, 256), dtype=np.uint8)
    y = np.zeros((8, 2), np.float32)
    net = HeatmapNet("regress", 1, minutes=0.5 / 60, seed=0)  # half a second
    net.fit(X, y)
    assert 1 <= len(net.train_history_) < 50 and net.max_epochs == len(net.train_history_)
    assert net.update_learning_rate.get_value() < 0.003  # the cosine ran down with the clock
    # model 3 on the torch engine plans its epochs from the first one
    X1 = np.zeros((6, 1, 192, 256), np.float32)
    paper_net = build_torch_net(1, 1, max_epochs=5000, batch_size=4, minutes=1e-4)
    paper_net.fit(X1, np.zeros((6, 2), np.float32))
    assert paper_net.max_epochs == 1 and len(paper_net.train_history_) == 1


def test_engines_for_the_compact_models():
    assert resolve_engine(None, "heatmap") == "torch" and resolve_engine(None, 3) == "theano"
    with pytest.raises(BeetlesError, match="--model heatmap runs on the torch engine"):
        make_engine("theano", model="heatmap")
    assert parse_model("3") == 3 and parse_model("regress") == "regress"
    with pytest.raises(ValueError, match="unknown model 'unet'"):
        parse_model("unet")
    schedule = Schedule.for_model("heatmap", minutes=2)
    assert schedule.epochs is None and schedule.minutes == 2 and schedule.batch_size == 16
    assert Schedule(model=3, epochs=6).key() == Schedule.for_model(3, epochs=6).key()
    assert Schedule.for_model(3, epochs=6, minutes=1).key() != Schedule(model=3, epochs=6).key()


def test_experiment_script_with_the_heatmap_model(coloured, tmp_path, capsys):
    out = tmp_path / "out"
    status = scratch_main("discs", ["--data", str(coloured), "--model", "heatmap", "--epochs", "4",
                                    "--out", str(out), "--quiet"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "model heatmap" in printed and "rank correlation with the error" in printed
    recorded = json.loads((out / "run.json").read_text())
    assert recorded["engine"] == "torch" and recorded["schedule"]["model"] == "heatmap"
    assert recorded["rounds"][0]["epochs"] == 4
    assert -1 <= recorded["results"]["spread_error_spearman"] <= 1
    spread = (out / "rounds" / "round01" / "spread.csv").read_text().splitlines()
    assert spread[0] == "image,landmark,spread" and len(spread) == 1 + 5 * 2  # 40 specimens: 9 rounds, 5 tested
    assert (out / "spread.csv").is_file() and (out / "rounds" / "round01" / "params.npz").is_file()
    # resuming skips the finished round
    scratch_main("discs", ["--data", str(coloured), "--model", "heatmap", "--epochs", "4", "--out", str(out)])
    assert "finished earlier, skipped" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        scratch_main("discs", ["--model", "unet"])
    assert scratch_main("discs", ["--data", str(coloured), "--model", "heatmap", "--engine", "theano",
                                  "--out", str(out)]) != 0
    assert "runs on the torch engine" in capsys.readouterr().err


def test_model_comparison_end_to_end(tmp_path, capsys):
    dataset = tmp_path / "data"
    coloured_part(dataset / "pronotum", count=12, landmarks=2)
    out = tmp_path / "cmp"
    status = comparison_main(["--data", str(dataset), "--parts", "pronotum", "--models", "3,heatmap",
                              "--minutes", "0.05", "--out", str(out), "--quiet"])
    assert status == 0
    rows = (out / "comparison.csv").read_text().splitlines()
    assert rows[0].startswith("part,model,mean_distance_px,ratio_to_trivial")
    assert [r.split(",")[1] for r in rows[1:]] == ["model3", "heatmap", "trivial"]
    assert Image.open(out / "comparison.png").size[0] > 100
    for model in ("model3", "heatmap"):
        recorded = json.loads((out / "pronotum" / model / "run.json").read_text())
        assert recorded["engine"] == "torch" and recorded["schedule"]["minutes"] == 0.05
        assert recorded["rounds"][0]["seconds"] < 60
    trivial = float(rows[3].split(",")[2])
    assert trivial == pytest.approx(json.loads((out / "pronotum" / "heatmap" / "run.json").read_text())
                                    ["results"]["trivial_mean_distance_px"], abs=1e-3)
