"""glibc malloc settings for a training process (no TensorFlow import here).

TensorFlow's CPU allocator gets its buffers from malloc.  With glibc's
defaults the heap is trimmed back to the OS whenever its free top exceeds
128 KiB, and the tensors of every step are then faulted in again.  Training
on real data churns the heap far more than a fixed synthetic batch: a
12-step vgg11_bn run on the demo data made ~49,000 mmap and ~48,000 munmap
calls (strace -c).  Keeping freed memory in the process (a high trim
threshold, a generous top pad) removes that, and training on the demo data
ran markedly faster with these settings than with glibc's defaults
(docs/performance.md has the figures).

Set VGGBENCH_MALLOC_TUNING=0 to keep glibc's defaults.
"""

import ctypes
import ctypes.util
import os

# mallopt(3) parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2

TRIM_THRESHOLD = 2**31 - 1  # bytes of free heap top kept before trimming
TOP_PAD = 256 << 20  # extra bytes requested from the OS on each heap growth


def tune_glibc_malloc():
    """Applies the settings; returns True if glibc accepted them."""
    if os.environ.get("VGGBENCH_MALLOC_TUNING", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and \
        bool(mallopt(_M_TOP_PAD, TOP_PAD))
