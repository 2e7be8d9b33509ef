"""Training and inference speed of the paper's model on this machine (Theano).

    python benchmarks/train_speed.py [--model 3] [--batches 3] [--landmarks 8]

Prints the training milliseconds per sample (batch 128, Nesterov momentum
update included), the inference milliseconds per image (batch 128, dropout
off), and the ratio to the compute floor: the model's FLOPs per training
sample over this machine's measured float32 matrix-product rate.  The last
line is machine-readable ``key=value`` pairs.
"""
import argparse
import os
import platform
import time

import numpy as np

import beetles  # noqa: F401  (Theano flags and compatibility layer)
from beetles.models import build_nolearn, layer_table, training_flops


def matmul_gflops(size: int = 4096, repeats: int = 3) -> float:
    """Best float32 GFLOP/s of a ``size``² matrix product with NumPy."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=int, default=3, choices=[1, 2, 3])
    parser.add_argument("--batches", type=int, default=3, help="timed batches of 128 (after one warm-up)")
    parser.add_argument("--landmarks", type=int, default=8)
    args = parser.parse_args()

    import theano

    batch = 128
    rng = np.random.default_rng(0)
    X = rng.random((batch, 1, 192, 256), dtype=np.float32)
    y = rng.uniform(-1, 1, (batch, 2 * args.landmarks)).astype(np.float32)
    start = time.perf_counter()
    net = build_nolearn(args.model, args.landmarks, max_epochs=1)
    net.initialize()
    compile_s = time.perf_counter() - start

    net.train_iter_(X, y)  # warm-up
    start = time.perf_counter()
    for _ in range(args.batches):
        net.train_iter_(X, y)
    train_ms = (time.perf_counter() - start) / (args.batches * batch) * 1000

    net.predict_iter_(X)
    start = time.perf_counter()
    for _ in range(args.batches):
        net.predict_iter_(X)
    infer_ms = (time.perf_counter() - start) / (args.batches * batch) * 1000

    gflops = matmul_gflops()
    flops = training_flops(args.model, args.landmarks)
    floor_ms = flops / (gflops * 1e9) * 1000
    params = sum(row["params"] for row in layer_table(args.model, args.landmarks))
    print(f"model {args.model}: {params / 1e6:.1f} M parameters, {flops / 1e9:.2f} GFLOP per training sample")
    print(f"engine theano {theano.__version__}, blas.ldflags={theano.config.blas.ldflags or '(NumPy C-API)'}, "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    print(f"compile (or load from cache): {compile_s:.1f} s")
    print(f"training:  {train_ms:.1f} ms per sample (batch {batch})")
    print(f"inference: {infer_ms:.1f} ms per image (batch {batch}, dropout off)")
    print(f"matrix product: {gflops:.0f} GFLOP/s float32 -> compute floor {floor_ms:.1f} ms per training sample; "
          f"training runs at {floor_ms / train_ms:.1%} of it")
    print(f"engine=theano model={args.model} train_ms_per_sample={train_ms:.2f} infer_ms_per_image={infer_ms:.2f} "
          f"matmul_gflops={gflops:.0f} floor_ms_per_sample={floor_ms:.2f} ratio_to_floor={train_ms / floor_ms:.1f}")


if __name__ == "__main__":
    main()
