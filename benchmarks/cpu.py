"""The host CPU: its name and the instruction sets that decide which
precisions run fast (read from /proc/cpuinfo; empty elsewhere)."""

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
