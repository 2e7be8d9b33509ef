"""How fast ``beetles predict`` places landmarks on camera-sized photos.

Writes ``--photos`` generated JPEGs (default 20, 3264×2448, the study's
camera size: a textured background with dark ellipses, JPEG quality 90) to a
temporary folder, then as many 2000×2600 portrait photos (``--size``: the
sizes measured in one run), builds a model
folder for ``--model`` (default zoom)
with **untrained, random weights** (the speed does not depend on the
weights) or uses a trained one (``--model-dir``), and times the predict path
on this CPU:

* decoding: :meth:`beetles.model.LandmarkModel.decode` per photo
  (:func:`beetles.core.letterbox.letterbox_rgb`: EXIF orientation, JPEG draft
  mode, letterbox to 256×192, and the 1024×768 fine photo for cascade);
* the network: :meth:`~beetles.model.LandmarkModel.predict_photos` on the
  decoded photos in batches of 16 (the 256×192 input; decoding excluded);
* end to end: :func:`beetles.tool.predict.predict`, what the command runs
  (decode, network, TPS file).

For models 1-3 each is timed with one deterministic pass (no spread) and
with ``--passes`` Monte-Carlo dropout passes (model 3; test-time
augmentation for models 1 and 2).  For the compact models the spread comes
with the prediction (the heatmap's; regress: its 8 test-time
augmentations), so they are timed once.  Pillow's full-size decode of the
same photos on one core is timed too, the yardstick of the throughput target;
the last lines are machine-readable ``key=value`` pairs, one per size, then
``end_to_end_per_s=… pillow_full_decode_per_s=… ratio=… size=3264x2448
end_to_end_per_s_2000x2600=…`` (the first size's, then each other's rate).

    python benchmarks/predict_speed.py [--model zoom] [--size 3264x2448,2000x2600] [--photos 20] [--passes 8]
                                       [--model-dir DIR]
"""
from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE = (3264, 2448)
LANDMARKS = 8
FINE_NOTE = " (and 64×64 patches of the 1024×768 photo for the refiner)"


def write_photos(folder: Path, count: int, size=SIZE, seed: int = 0) -> list[Path]:
    """``count`` JPEGs of ``size``: smooth coloured noise with dark ellipses."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    width, height = size
    paths = []
    for k in range(count):
        small = rng.integers(120, 230, (height // 16, width // 16, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize(size, Image.Resampling.BILINEAR)
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height
            rx, ry = rng.uniform(0.03, 0.15) * width, rng.uniform(0.03, 0.15) * height
            draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=tuple(int(v) for v in rng.integers(10, 80, 3)))
        image = image.filter(ImageFilter.GaussianBlur(2))
        grain = rng.integers(-6, 7, (height, width, 1), dtype=np.int16)
        image = Image.fromarray(np.clip(np.asarray(image, np.int16) + grain, 0, 255).astype(np.uint8))
        path = folder / f"photo_{k:03d}.jpg"
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def untrained_model(folder: Path, model, n_landmarks: int = LANDMARKS) -> Path:
    """A model folder with random weights (the model's weight file) and ``settings.json``."""
    from beetles.core.files import write_text
    from beetles.registry import build_model, model_info
    from beetles.tool.modelfolder import SETTINGS_JSON

    info = model_info(model)
    folder.mkdir(parents=True, exist_ok=True)
    build_model(info, n_landmarks, info.schedule(epochs=1, seed=0), engine="torch").save(folder / info.weights_file)
    settings = {"format": 1, "model": info.name, "landmarks": n_landmarks, "note": "untrained, random weights"}
    write_text(folder / SETTINGS_JSON, json.dumps(settings, indent=2))
    return folder


def pillow_full_decode_rate(photos) -> float:
    """Photos per second Pillow decodes at full size on one core (``Image.load``,
    no draft mode, no resize): the yardstick of issue 18's throughput target."""
    from PIL import Image

    started = time.perf_counter()
    for path in photos:
        with Image.open(path) as image:
            image.load()
    return len(photos) / (time.perf_counter() - started)


def time_path(model, photos, passes: int, out: Path) -> dict:
    """Seconds for decoding, the network (batches of 16) and end to end."""
    from beetles.tool.predict import PredictSettings, predict
    from beetles.tool.validate import BATCH

    started = time.perf_counter()
    decoded = [model.decode(path) for path in photos]
    decode = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(decoded), BATCH):
        model.predict_photos(decoded[start:start + BATCH], passes)
    network = time.perf_counter() - started
    del decoded
    model_dir = out.parent / "model"
    started = time.perf_counter()
    predict(PredictSettings(model_dir, [photos[0].parent], out, passes=passes, progress=False), log=lambda *_: None)
    total = time.perf_counter() - started
    return {"decode": decode, "network": network, "total": total}


def measure_size(args, size, tmp: Path, model_dir: Path | None) -> dict:
    """Everything measured on ``args.photos`` photos of ``size`` in ``tmp``:
    ``{"results": {label: seconds}, "pillow": per second, "end_to_end": per
    second, "model": name, "load": seconds}``, said as it goes."""
    import torch

    from beetles.tool.modelfolder import load_folder, read_settings

    (tmp / "photos").mkdir()
    started = time.perf_counter()
    photos = write_photos(tmp / "photos", args.photos, size)
    print(f"{len(photos)} photos {size[0]}×{size[1]} JPEG written in {time.perf_counter() - started:.1f} s "
          f"({sum(p.stat().st_size for p in photos) / len(photos) / 1e6:.1f} MB each)")
    if model_dir is not None:
        (tmp / "model").symlink_to(model_dir, target_is_directory=True)
        weights = f"trained weights from {model_dir}"
    else:
        untrained_model(tmp / "model", args.model)
        weights = "untrained, random weights (the speed does not depend on them)"
    settings = read_settings(tmp / "model")
    started = time.perf_counter()
    model = load_folder(tmp / "model")
    load = time.perf_counter() - started
    print(f"model {settings['model']}, {settings['landmarks']} landmarks, {weights}; loading it takes "
          f"{load:.2f} s (part of each end-to-end time)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    model.predict_photos([model.decode(photos[0])], args.passes)  # warm-up (allocations, compilation)
    passes_matter = model.info.spread_needs_passes
    runs = {"1 pass": 1, f"{args.passes} passes": args.passes} if passes_matter else {"spread": args.passes}
    results = {}
    for label, passes in runs.items():
        seconds = time_path(model, photos, passes, tmp / "out.tps")
        results[label] = seconds
        n = len(photos)
        print(f"{label if passes_matter else 'with its spread'}: "
              f"{n / seconds['total']:.2f} images/s end to end "
              f"(decode {1000 * seconds['decode'] / n:.0f} ms/photo, network {1000 * seconds['network'] / n:.0f} "
              f"ms/photo); decode excluded, 256×192 input{FINE_NOTE if model.info.fine_scale else ''}: "
              f"{n / seconds['network']:.1f} images/s")
    if not passes_matter:
        print("(this model gives the spread with the prediction: no separate run without it)")
    pillow = pillow_full_decode_rate(photos)
    end_to_end = len(photos) / results[next(iter(results))]["total"]
    print(f"Pillow alone decodes {pillow:.1f} of these photos per second at full size on one core; beetles "
          f"predict places {end_to_end:.1f} per second end to end ({end_to_end / pillow:.2f}×)")
    return {"results": results, "pillow": pillow, "end_to_end": end_to_end, "model": settings["model"], "load": load}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zoom", help="zoom (default), cascade, heatmap, regress, 1, 2 or 3")
    parser.add_argument("--size", default="3264x2448,2000x2600",
                        help="photo sizes WxH, comma-separated, measured one after the other (default %(default)s: "
                        "the study's camera, landscape, and a portrait photo)")
    parser.add_argument("--model-dir", default=None, help="a trained model folder instead of random weights")
    parser.add_argument("--photos", type=int, default=20, help="photos to generate per size (default %(default)s)")
    parser.add_argument("--passes", type=int, default=8, help="models 1-3: passes for the spread (default 8)")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in size.lower().split("x")) for size in args.size.split(",")]

    import torch

    from beetles.core.torchutil import use_all_cores

    use_all_cores()
    model_dir = Path(args.model_dir).resolve() if args.model_dir else None
    measured = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="beetles_predict_speed_") as tmp:
            measured[size] = measure_size(args, size, Path(tmp), model_dir)
    for (width, height), m in measured.items():
        key = " ".join(f"{label.replace(' ', '_')}_{what}_s={value:.3f}" for label, seconds in m["results"].items()
                       for what, value in seconds.items())
        print(f"model={m['model']} photos={args.photos} size={width}x{height} threads={torch.get_num_threads()} "
              f"load_s={m['load']:.3f} {key}")
    first, *others = measured.items()
    (size, m) = first
    print(f"end_to_end_per_s={m['end_to_end']:.2f} pillow_full_decode_per_s={m['pillow']:.2f} "
          f"ratio={m['end_to_end'] / m['pillow']:.3f} size={size[0]}x{size[1]}"
          + "".join(f" end_to_end_per_s_{w}x{h}={o['end_to_end']:.2f}" for (w, h), o in others))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
