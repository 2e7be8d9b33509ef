"""Peak memory of ``beetles predict`` over collections of growing size.

Writes ``--distinct`` generated JPEGs of ``--size`` (default 40, 640×480)
and, for each count of ``--counts`` (default 1000 and 10000), a folder of
that many photos (hard links to them, each its own file name), then runs
``beetles predict`` on each folder in a process of its own with a model
folder of untrained, random weights (default zoom; the memory does not
depend on the weights) and reports its wall time, photos per second and
peak resident memory (the child's ``ru_maxrss``).  Memory that stays flat
from one count to the next is what "bounded" means here: the photos are
decoded a few dozen ahead of the network and dropped once placed; what grows
is only each photo's landmarks (a few hundred bytes) and its path.

    python benchmarks/predict_memory.py [--counts 1000,10000] [--size 640x480] [--model zoom]

The last line is machine-readable: ``photos_N_peak_mb=… photos_N_per_s=…``
for each count.
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


def run_predict(model: Path, photos: Path, out: Path, save_every: int) -> tuple[float, float, int]:
    """``(seconds, peak resident MB, exit status)`` of ``beetles predict`` in a child process."""
    command = [sys.executable, "-m", "beetles", "predict", str(model), str(photos), "--out", str(out), "--quiet",
               "--save-every", str(save_every)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,10000", help="collection sizes, comma-separated (default %(default)s)")
    parser.add_argument("--size", default="640x480", help="photo size WxH (default %(default)s)")
    parser.add_argument("--distinct", type=int, default=40, help="distinct photos generated (default %(default)s)")
    parser.add_argument("--model", default="zoom", help="the model of the untrained folder (default %(default)s)")
    parser.add_argument("--save-every", type=int, default=256, help="beetles predict --save-every (default 256)")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.counts.split(",")]
    size = tuple(int(v) for v in args.size.lower().split("x"))
    found = {}
    with tempfile.TemporaryDirectory(prefix="beetles_predict_memory_") as tmp:
        tmp = Path(tmp)
        (tmp / "distinct").mkdir()
        sources = write_photos(tmp / "distinct", args.distinct, size)
        model = untrained_model(tmp / "model", args.model)
        for count in counts:
            folder = tmp / f"photos_{count}"
            folder.mkdir()
            for k in range(count):
                os.link(sources[k % len(sources)], folder / f"photo_{k:06d}.jpg")
            seconds, peak, status = run_predict(model, folder, tmp / f"out_{count}.tps", args.save_every)
            if status != 0:
                print(f"beetles predict on {count} photos exited with {status}", file=sys.stderr)
                return 1
            found[count] = (peak, count / seconds)
            print(f"{count} photos {size[0]}×{size[1]}: {seconds:.1f} s, {count / seconds:.1f} photos/s, "
                  f"peak resident memory {peak:.0f} MB")
    print(" ".join(f"photos_{c}_peak_mb={peak:.0f} photos_{c}_per_s={rate:.2f}" for c, (peak, rate) in found.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
