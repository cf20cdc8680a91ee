"""TensorFlow's start-up noise, kept off the terminal.

TF_CPP_MIN_LOG_LEVEL=2 hides TensorFlow's C++ INFO and WARNING lines once
its logging starts, but not the lines absl writes before that (its notice
that early messages go to stderr, the CUDA stub's "Could not find cuda
drivers", oneDNN's "custom operations are on"), nor, on a machine without a
GPU, the failed cuInit.  While TensorFlow is imported and lists its devices,
``quiet_start`` sends file descriptor 2 through a small filter process that
passes every line but those to the real stderr as it comes: anything else,
an error or a fatal abort's last words included, still shows.

It applies only where the user has not set TF_CPP_MIN_LOG_LEVEL (a user who
set it sees what that level shows).
"""

import contextlib
import os
import re
import subprocess
import sys

NOISE = tuple(re.compile(p) for p in (
    rb"^WARNING: All log messages before absl::InitializeLog\(\) is called",
    rb"^[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] ",  # absl INFO and WARNING lines
    rb"^E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit",
    rb"To enable the following instructions: .*rebuild TensorFlow",
    rb"^This TensorFlow binary is optimized to use available CPU instructions",
))
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
_FILTER = ("import sys; sys.path.insert(0, sys.argv[1]); "
           "from benchmarks.machine.quiet_start import forward; "
           "forward(sys.stdin.buffer, sys.stderr.buffer)")


def user_set_log_level(environ=None):
    return "TF_CPP_MIN_LOG_LEVEL" in (os.environ if environ is None
                                      else environ)


def is_noise(line):
    return any(p.search(line) for p in NOISE)


def forward(source, sink):
    """Copies ``source``'s lines but the noise to ``sink`` as they come (the
    filter process's loop)."""
    for line in iter(source.readline, b""):
        if not is_noise(line):
            sink.write(line)
            sink.flush()


@contextlib.contextmanager
def quiet_start(enabled=True):
    """Filters the C-level stderr of the block (see the module's text)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    # -S: no site packages to import; the filter needs only this module.
    filtering = subprocess.Popen([sys.executable, "-S", "-c", _FILTER, _REPO],
                                 stdin=subprocess.PIPE, stderr=saved)
    os.dup2(filtering.stdin.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        filtering.stdin.close()  # the filter drains what is left and ends
        try:
            filtering.wait(timeout=10)
        except subprocess.TimeoutExpired:
            filtering.kill()
