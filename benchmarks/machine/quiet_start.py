"""TensorFlow's start-up noise, kept off the terminal.

TF_CPP_MIN_LOG_LEVEL=2 hides TensorFlow's C++ INFO and WARNING lines once
its logging starts, but not the lines absl writes before that (its notice
that early messages go to stderr, the CUDA stub's "Could not find cuda
drivers", oneDNN's "custom operations are on"), nor, on a machine without a
GPU, the failed cuInit.  While TensorFlow is imported and lists its devices,
``quiet_start`` sends file descriptor 2 to a temporary file, then writes back
every line but those: anything else, an error included, still shows.

It applies only where the user has not set TF_CPP_MIN_LOG_LEVEL (a user who
set it sees what that level shows).
"""

import contextlib
import os
import re
import sys
import tempfile

NOISE = tuple(re.compile(p) for p in (
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called",
    r"^[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] ",  # absl INFO and WARNING lines
    r"^E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit",
    r"To enable the following instructions: .*rebuild TensorFlow",
    r"^This TensorFlow binary is optimized to use available CPU instructions",
))


def user_set_log_level(environ=None):
    return "TF_CPP_MIN_LOG_LEVEL" in (os.environ if environ is None
                                      else environ)


def drop_noise(text):
    """``text`` without the lines NOISE matches."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not any(p.search(line) for p in NOISE))


@contextlib.contextmanager
def quiet_start(enabled=True):
    """Filters the C-level stderr of the block (see the module's text)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = drop_noise(captured.read().decode(errors="replace"))
            if kept:
                os.write(2, kept.encode())
