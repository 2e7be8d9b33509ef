"""``beetles predict`` on a local Ray cluster against one process.

Writes ``--distinct`` generated JPEGs of ``--size`` (default 20, 3264×2448)
and hard links to them up to ``--photos`` (default 160), builds a model
folder of untrained, random weights (default zoom), then times ``beetles
predict`` on them in one process, and with ``--ray auto`` on a local Ray
cluster of ``--cpus`` CPUs (``ray start --head``; one actor per CPU, each
with one thread and its own model load) that it starts and stops, and
checks that both write the same file.  Needs ``pip install 'beetles[ray]'``.

    python benchmarks/predict_ray.py [--photos 160] [--cpus 2] [--size 3264x2448] [--model zoom]

The last line is machine-readable: ``one_process_per_s=… ray_per_s=…
ray_per_worker_per_s=… same_files=…``.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from predict_speed import untrained_model, write_photos


def timed_predict(model: Path, photos: Path, out: Path, *extra: str) -> float:
    """Seconds of one ``beetles predict`` in a child process (an error stops the benchmark)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "beetles", "predict", str(model), str(photos), "--out", str(out),
                           "--quiet", "--save-every", "16", *extra], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"beetles predict {' '.join(extra)} failed: {done.stderr.strip()}")
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=160, help="photos to place (default %(default)s)")
    parser.add_argument("--distinct", type=int, default=20, help="distinct photos generated (default %(default)s)")
    parser.add_argument("--size", default="3264x2448", help="photo size WxH (default %(default)s)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="CPUs of the local Ray cluster")
    parser.add_argument("--model", default="zoom", help="the model of the untrained folder (default %(default)s)")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    ray = str(Path(sys.executable).with_name("ray"))
    with tempfile.TemporaryDirectory(prefix="beetles_predict_ray_") as tmp:
        tmp = Path(tmp)
        (tmp / "distinct").mkdir()
        (tmp / "photos").mkdir()
        sources = write_photos(tmp / "distinct", args.distinct, size)
        for k in range(args.photos):
            os.link(sources[k % len(sources)], tmp / "photos" / f"photo_{k:05d}.jpg")
        model = untrained_model(tmp / "model", args.model)
        one = args.photos / timed_predict(model, tmp / "photos", tmp / "one.tps")
        print(f"one process ({os.cpu_count()} cores): {one:.2f} photos/s")
        subprocess.run([ray, "start", "--head", f"--num-cpus={args.cpus}", "--include-dashboard=false"],
                       capture_output=True, check=True)
        try:
            on_ray = args.photos / timed_predict(model, tmp / "photos", tmp / "ray.tps", "--ray", "auto")
        finally:
            subprocess.run([ray, "stop"], capture_output=True)
        same = (tmp / "one.tps").read_bytes() == (tmp / "ray.tps").read_bytes()
        print(f"local Ray cluster of {args.cpus} CPUs: {on_ray:.2f} photos/s, {on_ray / args.cpus:.2f} per worker "
              f"(actors' start and model loads included); the same file: {same}")
    print(f"one_process_per_s={one:.2f} ray_per_s={on_ray:.2f} ray_per_worker_per_s={on_ray / args.cpus:.2f} "
          f"same_files={same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
