"""How fast the synthetic beetle generator is.

Renders and JPEG-encodes a few specimens (one process, nothing written) at
the default size and at the study's camera size 3264×2448, prints the
seconds per specimen, and estimates the time to generate the full default
dataset (all five parts, the study's counts) with the given number of
worker processes.  The last line is machine-readable ``key=value`` pairs.

    python benchmarks/synth_speed.py [--parts pronotum left_mandible] [--count 6] [--workers 2]
"""
from __future__ import annotations

import argparse
import time

from beetles.paper.settings import PART_NAMES, PARTS
from beetles.synth.render import specimen_jpeg
from beetles.synth.shapes import shape_model
from beetles.synth.specimens import DEFAULT_SIZE

FULL_SIZE = (3264, 2448)


def seconds_per_specimen(parts, count: int, size) -> float:
    """Mean wall-clock seconds to render and encode one specimen of ``parts``."""
    for name in parts:
        shape_model(name)  # fit the shape models outside the timing
    start = time.perf_counter()
    made = 0
    for name in parts:
        for index in range(count):
            specimen_jpeg(name, index, size=size)
            made += 1
    return (time.perf_counter() - start) / made


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["pronotum", "left_mandible"], choices=PART_NAMES)
    parser.add_argument("--count", type=int, default=6, help="specimens per part at the default size")
    parser.add_argument("--full-count", type=int, default=2, help="specimens per part at 3264×2448")
    parser.add_argument("--workers", type=int, default=2, help="processes assumed for the full-dataset estimate")
    args = parser.parse_args(argv)

    default = seconds_per_specimen(args.parts, args.count, DEFAULT_SIZE)
    full = seconds_per_specimen(args.parts, args.full_count, FULL_SIZE)
    total = sum(p.specimens for p in PARTS.values())
    estimate = default * total / max(args.workers, 1)
    print(f"parts: {', '.join(args.parts)}")
    print(f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}: {default:.3f} s per specimen")
    print(f"{FULL_SIZE[0]}x{FULL_SIZE[1]}: {full:.3f} s per specimen")
    print(f"full default dataset ({total} specimens) on {args.workers} workers: about {estimate / 60:.1f} min")
    print(
        f"default_size={DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]} s_per_specimen_default={default:.4f} "
        f"s_per_specimen_3264x2448={full:.4f} full_dataset_specimens={total} workers={args.workers} "
        f"full_dataset_estimate_s={estimate:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
