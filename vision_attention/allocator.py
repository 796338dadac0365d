"""Keep freed memory in the process instead of handing it back to the kernel.

Training on real captions changes tensor shapes from batch to batch. With glibc's
defaults, large buffers are mmapped and unmapped at every free and the heap is
trimmed, so each step faults in fresh pages; on some machines that made a Flickr8k
training step 4-25x slower than the same step at a fixed shape. Raising the mmap and
trim thresholds keeps the memory for reuse (``tests/benchmarks/bench_caption_lengths.py``
measures it). Called by the CLI when it starts and by the DataModules when they are set
up (a user's training script, and the DataLoader workers forked after it), never on import:
importing the package leaves the host process's allocator alone. A no-op off glibc, when
``MALLOC_*`` variables already choose, or with ``VISION_ATTENTION_MALLOPT=0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling on 64-bit: larger blocks are still mmapped
TRIM_THRESHOLD = 2**31 - 1  # never trim the heap top
TOP_PAD = 64 * 1024 * 1024  # grow the heap in 64 MiB steps

_ENV = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Apply the settings above; True when glibc accepted them."""
    if not sys.platform.startswith("linux") or os.environ.get("VISION_ATTENTION_MALLOPT") == "0":
        return False
    if any(name in os.environ for name in _ENV):
        return False  # the user chose their own
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD))
    return all(mallopt(option, value) == 1 for option, value in settings)
