"""Where model 3's training time goes beyond its floating-point floor: the
ReLU + max-pool layers of the torch engine, timed alone at the network's
shapes (batch 128), against the machine's memory copy rate.

    python benchmarks/pool_speed.py

The pooling does no floating-point work the compute floor counts, and moves
memory: its forward pass reads each convolution's output once, its backward
pass reads it again and writes the gradient.  The last line is
``key=value`` pairs.
"""
import time

import torch

from beetles.core.torchutil import use_all_cores
from beetles.paper.allocator import keep_freed_memory
from beetles.paper.torch_layers import LasagneReLUMaxPool

#: Model 3's convolution outputs for a batch of 128 (N, C, H, W).
SHAPES = [(128, 32, 190, 254), (128, 64, 94, 126), (128, 128, 46, 62)]


def best_of(function, repeats: int = 3) -> float:
    """The shortest of ``repeats`` timed calls, after one warm-up, in seconds."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def copy_rate() -> float:
    """GB/s read plus written by a copy of the first convolution's output."""
    x = torch.randn(SHAPES[0])
    y = torch.empty_like(x)
    return 2 * x.numel() * 4 / 1e9 / best_of(lambda: y.copy_(x))


def main() -> None:
    use_all_cores()
    keep_freed_memory()  # as training does: no page faults from fresh mmaps
    torch.manual_seed(0)
    forward = backward = 0.0
    for shape in SHAPES:
        x = torch.randn(shape).contiguous(memory_format=torch.channels_last).requires_grad_(True)
        y = LasagneReLUMaxPool.apply(x, 2)
        grad = torch.randn_like(y)
        f = best_of(lambda: LasagneReLUMaxPool.apply(x, 2))
        b = best_of(lambda: torch.autograd.grad(y, x, grad, retain_graph=True))
        forward, backward = forward + f, backward + b
        print(f"{shape}: forward {f * 1000:.0f} ms, backward {b * 1000:.0f} ms per batch of 128")
    rate = copy_rate()
    per_sample = (forward + backward) / 128 * 1000
    print(f"pooling: {per_sample:.2f} ms per training sample (forward {forward / 128 * 1000:.2f}, backward "
          f"{backward / 128 * 1000:.2f}); memory copy {rate:.1f} GB/s")
    print(f"pool_ms_per_sample={per_sample:.2f} pool_forward_ms={forward / 128 * 1000:.2f} "
          f"pool_backward_ms={backward / 128 * 1000:.2f} copy_gb_per_s={rate:.1f}")


if __name__ == "__main__":
    main()
