"""Keep freed memory for reuse while training models 1-3 (both engines).

Model 3 allocates arrays of hundreds of megabytes at every batch of 128 (its
first convolution's output alone is 128 × 32 × 190 × 254 float32, 0.79 GB),
and frees them at the end of the batch.  glibc's ``malloc`` serves blocks
above its mmap threshold (32 MB at most) with a fresh ``mmap`` and returns
them with ``munmap`` when freed, so every batch touches those pages anew:
one page fault per 4 kB.
Measured on this project's 2-core CPU (``python benchmarks/train_speed.py
--engine both``, with ``BEETLES_KEEP_MEMORY=0`` and without), that fault
traffic took half of PyTorch's training time and a sixth of Theano's:
PyTorch 45.2 → 21.0 ms per sample, Theano 75.1 → 61.7.

:func:`keep_freed_memory` tells glibc to serve large blocks from its heap
and to keep what is freed there (``M_MMAP_MAX = 0``, ``M_TRIM_THRESHOLD``
2 GB): later batches reuse the same pages.  The process then keeps its
peak memory until it exits (the benchmark's maximum resident set: 3.8 →
5.8 GB).  The values computed are the same either way.  It is a no-op on
other C libraries, and ``BEETLES_KEEP_MEMORY=0`` turns it off.
"""
from __future__ import annotations

import ctypes
import functools
import os
import platform

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


@functools.cache
def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep large freed blocks for reuse (once per
    process); returns whether the settings are in effect."""
    if os.environ.get("BEETLES_KEEP_MEMORY", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        return False
