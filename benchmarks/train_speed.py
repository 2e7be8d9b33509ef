"""Training and inference speed of the paper's model on this machine, per engine.

    python benchmarks/train_speed.py [--engine theano|torch|both] [--device cpu|cuda]
                                     [--model 3] [--batches 5] [--landmarks 8]

Prints, for each engine, the training milliseconds per sample (batch 128,
dropout on, Nesterov momentum update included: the mean over the timed
batches, and their median, which a batch slowed by another process on the
machine moves less), the inference milliseconds
per image (batch 128, dropout off), and the ratio to the compute floor: the
model's FLOPs per training sample over this machine's measured float32
matrix-product rate (NumPy on the CPU, PyTorch on a GPU).  ``--engine both``
measures Theano and PyTorch in the same run and prints the speed ratio.  The
last line of each engine is machine-readable ``key=value`` pairs.
"""
import argparse
import os
import platform
import time

import numpy as np

import beetles.paper.nolearn  # noqa: F401  (Theano flags and compatibility layer)
from beetles.paper.networks import layer_table, training_flops

BATCH = 128
#: Untimed training batches before the timed ones.  The first compiles (the
#: torch engine's kernels) and the second still grows the process's heap to
#: its peak: on 2 cores, model 3's first three batches on the torch engine
#: took 82, 21 and 12.4 ms per sample (89 000 page faults in the second, none
#: after), so one warm-up batch alone added ~3 ms to a mean over three.
WARM_UP = 2


def matmul_gflops(size: int = 4096, repeats: int = 3, device: str = "cpu") -> float:
    """Best float32 GFLOP/s of a ``size``² matrix product (NumPy, or PyTorch on a GPU)."""
    if device.startswith("cuda"):
        import torch

        a = torch.rand((size, size), device=device)
        a @ a
        torch.cuda.synchronize()
        timer = lambda: (torch.cuda.synchronize(), time.perf_counter())[1]  # noqa: E731
        product = lambda: a @ a  # noqa: E731
    else:
        a = np.random.default_rng(0).random((size, size), dtype=np.float32)
        timer, product = time.perf_counter, lambda: a @ a  # noqa: E731
    best = np.inf
    for _ in range(repeats):
        start = timer()
        product()
        best = min(best, timer() - start)
    return 2 * size**3 / best / 1e9


def data(landmarks: int):
    rng = np.random.default_rng(0)
    X = rng.random((BATCH, 1, 192, 256), dtype=np.float32)
    y = rng.uniform(-1, 1, (BATCH, 2 * landmarks)).astype(np.float32)
    return X, y


def timed_batches(step, batches: int, sync=lambda: None) -> list[float]:
    """Milliseconds per sample of each of ``batches`` calls of ``step`` (one
    batch of 128 each), waiting for the device (``sync``) after each."""
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - start) / BATCH * 1000)
    return times


def time_theano(args) -> dict:
    """Theano: nolearn's compiled training and prediction functions."""
    import theano

    from beetles.paper.nolearn import build_nolearn

    X, y = data(args.landmarks)
    start = time.perf_counter()
    net = build_nolearn(args.model, args.landmarks, max_epochs=1)
    net.initialize()
    setup_s = time.perf_counter() - start
    for _ in range(WARM_UP):
        net.train_iter_(X, y)
    train_batches = timed_batches(lambda: net.train_iter_(X, y), args.batches)
    net.predict_iter_(X)
    start = time.perf_counter()
    for _ in range(args.batches):
        net.predict_iter_(X)
    infer_ms = (time.perf_counter() - start) / (args.batches * BATCH) * 1000
    blas = theano.config.blas.ldflags or "(NumPy C-API)"
    return {"engine": "theano", "device": "cpu", "train_batches": train_batches, "infer_ms": infer_ms, "setup_s": setup_s,
            "about": f"theano {theano.__version__}, blas.ldflags={blas}"}


def time_torch(args) -> dict:
    """PyTorch: the torch engine's training step and prediction, data on the device."""
    import torch

    from beetles.core.torchutil import device_description
    from beetles.paper.torch_training import build_torch_net

    X, y = data(args.landmarks)
    start = time.perf_counter()
    net = build_torch_net(args.model, args.landmarks, max_epochs=1, device=args.device)
    device = net.device
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    Xb, yb = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    net.module.train()
    for _ in range(WARM_UP):  # compiles the kernels, allocates the momentum buffers
        net.train_step(Xb, yb)
    sync()
    setup_s = time.perf_counter() - start
    train_batches = timed_batches(lambda: net.train_step(Xb, yb), args.batches, sync)
    net.module.eval()
    with torch.no_grad():
        net.module(Xb)
        sync()
        start = time.perf_counter()
        for _ in range(args.batches):
            net.module(Xb)
        sync()
    infer_ms = (time.perf_counter() - start) / (args.batches * BATCH) * 1000
    return {"engine": "torch", "device": device.type, "train_batches": train_batches, "infer_ms": infer_ms, "setup_s": setup_s,
            "about": f"torch {torch.__version__} ({device_description(device)})"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", default="theano", choices=["theano", "torch", "both"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="the torch engine's device")
    parser.add_argument("--model", type=int, default=3, choices=[1, 2, 3])
    parser.add_argument("--batches", type=int, default=5, help="timed batches of 128 (after %d untimed ones)" % WARM_UP)
    parser.add_argument("--landmarks", type=int, default=8)
    args = parser.parse_args()
    if args.device == "cuda" and args.engine != "torch":
        parser.error("--device cuda needs --engine torch (Theano runs on the CPU only)")

    engines = ["theano", "torch"] if args.engine == "both" else [args.engine]
    flops = training_flops(args.model, args.landmarks)
    params = sum(row["params"] for row in layer_table(args.model, args.landmarks))
    gflops = matmul_gflops(device=args.device if args.engine == "torch" else "cpu")
    floor_ms = flops / (gflops * 1e9) * 1000
    print(f"model {args.model}: {params / 1e6:.1f} M parameters, {flops / 1e9:.2f} GFLOP per training sample; "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    print(f"matrix product: {gflops:.0f} GFLOP/s float32 ({args.device if args.engine == 'torch' else 'cpu'}) "
          f"-> compute floor {floor_ms:.1f} ms per training sample")
    results = []
    for engine in engines:
        r = time_theano(args) if engine == "theano" else time_torch(args)
        r["train_ms"] = float(np.mean(r["train_batches"]))
        r["train_median_ms"] = float(np.median(r["train_batches"]))
        results.append(r)
        print(f"{r['about']}: setup (compile or build) {r['setup_s']:.1f} s")
        print(f"  training:  {r['train_ms']:.1f} ms per sample (batch {BATCH}), {floor_ms / r['train_ms']:.1%} of the floor; "
              f"median batch {r['train_median_ms']:.1f}, batches {' '.join(f'{t:.1f}' for t in r['train_batches'])}")
        print(f"  inference: {r['infer_ms']:.1f} ms per image (batch {BATCH}, dropout off)")
        print(f"engine={r['engine']} device={r['device']} model={args.model} train_ms_per_sample={r['train_ms']:.2f} "
              f"train_median_ms_per_sample={r['train_median_ms']:.2f} "
              f"infer_ms_per_image={r['infer_ms']:.2f} matmul_gflops={gflops:.0f} floor_ms_per_sample={floor_ms:.2f} "
              f"ratio_to_floor={r['train_ms'] / floor_ms:.1f}")
    if len(results) == 2:
        theano_r, torch_r = results
        print(f"torch/theano speed: training {theano_r['train_ms'] / torch_r['train_ms']:.2f}x, "
              f"inference {theano_r['infer_ms'] / torch_r['infer_ms']:.2f}x faster with torch")
        print(f"speedup_train={theano_r['train_ms'] / torch_r['train_ms']:.2f} "
              f"speedup_infer={theano_r['infer_ms'] / torch_r['infer_ms']:.2f}")


if __name__ == "__main__":
    main()
