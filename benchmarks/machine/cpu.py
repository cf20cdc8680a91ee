"""The host CPU: its name and the instruction sets that decide which
precisions run fast (read from /proc/cpuinfo; empty elsewhere), and whether
TensorFlow runs oneDNN's kernels on it."""

import os
import platform

# Instruction sets that compute bf16 dot products natively.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo_field(name):
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.split(":", 1)[0].strip() == name:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model_name():
    return _cpuinfo_field("model name") or platform.processor() or "unknown CPU"


def cpu_flags():
    """The first CPU's feature flags, as a frozenset."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def has_avx512(flags):
    """AVX-512 foundation: oneDNN then runs its avx512_core kernels."""
    return "avx512f" in flags


def native_bf16(flags):
    return any(f in flags for f in BF16_FLAGS)


def vector_isa(flags):
    """The widest vector ISA, for the log."""
    for isa in ("amx_bf16", "avx512_bf16", "avx512f", "avx2", "avx"):
        if isa in flags:
            return isa
    return "none of avx/avx2/avx512"


def precision_warning(precision, flags):
    """A one-line warning for a precision this CPU runs slowly, or None."""
    if precision == "fp16":
        return ("WARNING: --precision=fp16 on the CPU is slow: TensorFlow has no "
                "fast fp16 CPU kernels and Keras adds loss scaling; use fp32, or "
                "bf16 on a CPU with AVX512_BF16/AMX")
    if precision == "bf16" and not native_bf16(flags):
        return ("WARNING: --precision=bf16 on a CPU without AVX512_BF16 or "
                f"AMX_BF16 ({vector_isa(flags)} here): no bf16 kernel runs "
                "natively, so expect it slower than fp32 "
                "(scripts/check_bf16_kernels.py shows what ran)")
    return None


_ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
# With oneDNN on, TensorFlow's CPU tensors come from a pool of oneDNN's own
# (TF_ONEDNN_USE_SYSTEM_ALLOCATOR unset or "0"), which the runner leaves as
# it is.  Through malloc ("1") every big tensor is a fresh mmap that the
# kernel faults in and zeroes.  VGG16 training through malloc was slower
# than through the pool in every case measured (Winograd's convolutions
# about half the speed; direct and bf16 ones slower too) for a peak RSS only
# a little lower, and still below model.fit's.  The figures are in
# docs/performance.md.


def configure_onednn(mode, environ=None, machine=None):
    """Sets oneDNN's environment for a TensorFlow not yet imported; returns
    what TF_ENABLE_ONEDNN_OPTS is then ("1", "0" or None: TF's default).

    auto: a TF_ENABLE_ONEDNN_OPTS the user set is kept; otherwise oneDNN is
    turned on for x86-64 CPUs (TensorFlow's own default left it off on this
    project's AVX2 machines, where VGG16 training then ran faster with it
    and models.gemm_grad's filter gradient; docs/performance.md).
    Other machines keep TensorFlow's default.  The allocator stays
    TensorFlow's (oneDNN's pool; see above).
    """
    environ = os.environ if environ is None else environ
    machine = machine or platform.machine()
    if mode == "on" or (mode == "auto" and _ONEDNN_ENV not in environ
                        and machine.lower() in ("x86_64", "amd64")):
        environ[_ONEDNN_ENV] = "1"
    elif mode == "off":
        environ[_ONEDNN_ENV] = "0"
    return environ.get(_ONEDNN_ENV)


def onednn_enabled():
    """Whether this process's TensorFlow runs oneDNN's kernels (fixed when
    TensorFlow was imported)."""
    from tensorflow.python.util import _pywrap_util_port
    return bool(_pywrap_util_port.IsMklEnabled())
