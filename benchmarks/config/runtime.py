"""Config sections for TensorFlow's runtime and for profiling: what
tf_cnn_benchmarks set through environment variables, GPU options and the
graph rewriter, and the trace, op table and graph files.  Each field is one
setting (see settings.py); machine/runtime_options.py applies them."""

from dataclasses import dataclass
from typing import Optional

from benchmarks.config.settings import (at_least, boolean, enum,
                                        falsy_is_none, floating, integer,
                                        one_of, string)
from benchmarks.errors import UsageError

GPU_THREAD_MODES = ("global", "gpu_private", "gpu_shared")


def _none_is_empty(value):
    return value or ""


@dataclass(frozen=True)
class RuntimeConfig:
    # GPU options (GPUOptions of the runtime's ConfigProto).
    gpu_memory_frac_for_testing: float = floating(
        0.0, "Use at most this fraction of each GPU's memory (several "
        "processes on one GPU); 0: TensorFlow's default.")
    allow_growth: Optional[bool] = boolean(
        None, "Grow GPU memory as needed instead of taking it all at start.")
    force_gpu_compatible: bool = boolean(
        False, "Allocate CPU tensors in pinned (GPU-compatible) memory.")
    use_unified_memory: Optional[bool] = boolean(
        None, "Allocate GPU memory as CUDA unified memory (larger models than "
        "the GPU holds).")
    timestamped_allocator: bool = boolean(
        False, "Mark freed GPU memory with the time it was freed (GPU "
        "allocator option).")
    gpu_kt_max_interval: int = integer(
        0, "GPU kernel tracker: at most this many ops queued without a "
        "tracking event; 0: off.")
    gpu_kt_max_bytes: int = integer(
        0, "GPU kernel tracker: at most this many bytes allocated by queued "
        "ops without a tracking event; 0: off.")
    gpu_kt_max_pending: int = integer(
        0, "GPU kernel tracker: at most this many tracking events pending; "
        "0: off.")
    use_numa_affinity: bool = boolean(
        False, "Pin each device's threads to its NUMA node.")
    # Environment read when TensorFlow starts (set by benchmarks/__main__).
    gpu_thread_mode: str = enum(
        "gpu_private", GPU_THREAD_MODES, "GPU host threads: global (shared "
        "with everything), gpu_private (a pool per GPU), gpu_shared (one "
        "pool for the GPUs).")
    per_gpu_thread_count: int = integer(
        0, "Threads per GPU for gpu_private/gpu_shared; 0: 2.")
    autotune_threshold: Optional[int] = integer(
        None, "cuDNN autotuning threshold (TF_AUTOTUNE_THRESHOLD); also "
        "lengthens the default warmup to 5 x threshold^2 steps.")
    batchnorm_persistent: bool = boolean(
        True, "cuDNN's persistent batch-norm kernels "
        "(TF_USE_CUDNN_BATCHNORM_SPATIAL_PERSISTENT).")
    winograd_nonfused: bool = boolean(
        True, "cuDNN's non-fused Winograd convolutions "
        "(TF_ENABLE_WINOGRAD_NONFUSED).")
    sync_on_finish: bool = boolean(
        False, "Synchronise the GPUs after each step inside TensorFlow "
        "(TF_SYNC_ON_FINISH); the timing syncs before every clock reading "
        "either way.")
    mkl: bool = boolean(
        False, "Turn oneDNN on and set the OpenMP variables below (KMP_*, "
        "OMP_NUM_THREADS from --num_intra_threads) before TensorFlow starts; "
        "builds whose oneDNN runs on OpenMP read them (the pip wheel runs it "
        "on TensorFlow's own threads and does not).")
    kmp_blocktime: int = integer(
        0, "With --mkl: KMP_BLOCKTIME, ms an OpenMP thread spins after a "
        "parallel region.")
    kmp_affinity: str = string(
        "granularity=fine,verbose,compact,1,0", "With --mkl: KMP_AFFINITY.")
    kmp_settings: int = integer(
        1, "With --mkl: KMP_SETTINGS (1: OpenMP prints its settings).")
    # The graph rewriter (Grappler).
    enable_optimizations: bool = boolean(
        True, "Grappler's graph optimizations; false turns them all off.")
    rewriter_config: Optional[str] = string(
        None, "Grappler's RewriterConfig, as a text protocol buffer (e.g. "
        "'layout_optimizer: OFF').")

    def __post_init__(self):
        if not 0 <= self.gpu_memory_frac_for_testing < 1:
            raise UsageError("--gpu_memory_frac_for_testing must be in [0, 1) "
                             f"(got {self.gpu_memory_frac_for_testing})")
        for name in ("gpu_kt_max_interval", "gpu_kt_max_bytes",
                     "gpu_kt_max_pending", "per_gpu_thread_count",
                     "kmp_blocktime"):
            at_least(name, getattr(self, name), 0)
        one_of("gpu_thread_mode", self.gpu_thread_mode, GPU_THREAD_MODES)
        if self.per_gpu_thread_count and self.gpu_thread_mode == "global":
            raise UsageError("--per_gpu_thread_count needs --gpu_thread_mode="
                             "gpu_private or gpu_shared")
        if self.autotune_threshold is not None:
            at_least("autotune_threshold", self.autotune_threshold, 1)


@dataclass(frozen=True)
class ProfileConfig:
    trace_file: Optional[str] = string(
        None, "Trace steps like the timed ones (the last warmup steps, up to "
        "10, never the first) and write it here: Chrome trace JSON (open in "
        "chrome://tracing or Perfetto), or with --nouse_chrome_trace_format "
        "TensorFlow's profiler files for TensorBoard, in this directory.",
        parse=falsy_is_none, to_flag=_none_is_empty)
    use_chrome_trace_format: bool = boolean(
        True, "--trace_file as Chrome trace JSON (else TensorBoard's profiler "
        "format).")
    tfprof_file: Optional[str] = string(
        None, "Profile steps like the timed ones (as --trace_file) and write "
        "a table of the time each op type took here.")
    graph_file: Optional[str] = string(
        None, "Write the training (or inference) step's graph here after the "
        "run: text if the name ends in txt, else a binary GraphDef.")
