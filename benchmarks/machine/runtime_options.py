"""TensorFlow runtime options that tf_cnn_benchmarks set, applied as TF2 still
takes them:

* environment variables, read when TensorFlow starts (``set_environment``,
  called by benchmarks/__main__ before the import): GPU host threads,
  cuDNN's autotune threshold, persistent batch norm and non-fused Winograd
  kernels, sync-on-finish, and with --mkl the OpenMP variables;
* the runtime's ConfigProto, fixed when the runtime starts
  (``apply_session_options``, before the first op): GPU memory options,
  NUMA affinity and Grappler's rewriter, and the GPUs it may see.

A variable the user already set is kept (but --mkl sets its OpenMP variables,
as tf_cnn_benchmarks did).  Most of these only act on GPUs; the PARAMETER
entry logs what TensorFlow was given (``describe``).
"""

import os

from benchmarks.errors import UsageError

# The variables this module may set, for the log.
VARIABLES = ("TF_GPU_THREAD_MODE", "TF_GPU_THREAD_COUNT", "TF_AUTOTUNE_THRESHOLD",
             "TF_USE_CUDNN_BATCHNORM_SPATIAL_PERSISTENT",
             "TF_ENABLE_WINOGRAD_NONFUSED", "TF_SYNC_ON_FINISH", "KMP_BLOCKTIME",
             "KMP_AFFINITY", "KMP_SETTINGS", "OMP_NUM_THREADS")


def set_environment(runtime, dist, environ=None):
    """Sets the variables of a RuntimeConfig (and DistConfig) in ``environ``
    (os.environ by default)."""
    environ = os.environ if environ is None else environ
    if dist.device != "cpu" and runtime.gpu_thread_mode != "global":
        count = runtime.per_gpu_thread_count or 2
        if runtime.gpu_thread_mode == "gpu_shared":
            count *= max(1, dist.num_gpus)
        environ.setdefault("TF_GPU_THREAD_MODE", runtime.gpu_thread_mode)
        environ.setdefault("TF_GPU_THREAD_COUNT", str(count))
    elif dist.device != "cpu":
        environ.setdefault("TF_GPU_THREAD_MODE", "global")
    if runtime.autotune_threshold:
        environ.setdefault("TF_AUTOTUNE_THRESHOLD",
                           str(runtime.autotune_threshold))
    for name, on in (("TF_USE_CUDNN_BATCHNORM_SPATIAL_PERSISTENT",
                      runtime.batchnorm_persistent),
                     ("TF_ENABLE_WINOGRAD_NONFUSED", runtime.winograd_nonfused),
                     ("TF_SYNC_ON_FINISH", runtime.sync_on_finish)):
        environ.setdefault(name, "1" if on else "0")
    if runtime.mkl:
        environ["KMP_BLOCKTIME"] = str(runtime.kmp_blocktime)
        environ["KMP_AFFINITY"] = runtime.kmp_affinity
        environ["KMP_SETTINGS"] = str(runtime.kmp_settings)
        if dist.num_intra_threads:
            environ["OMP_NUM_THREADS"] = str(dist.num_intra_threads)


def session_config(runtime):
    """The ConfigProto fields a RuntimeConfig asks for (empty if none)."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import config_pb2

    config = config_pb2.ConfigProto()
    # Only what is asked is touched: a submessage read is a submessage set.
    gpu = {"per_process_gpu_memory_fraction": runtime.gpu_memory_frac_for_testing,
           "allow_growth": runtime.allow_growth,
           "force_gpu_compatible": runtime.force_gpu_compatible}
    experimental = {
        "use_unified_memory": runtime.use_unified_memory,
        "timestamped_allocator": runtime.timestamped_allocator,
        "kernel_tracker_max_interval": runtime.gpu_kt_max_interval,
        "kernel_tracker_max_bytes": runtime.gpu_kt_max_bytes,
        "kernel_tracker_max_pending": runtime.gpu_kt_max_pending}
    for message, fields in ((lambda: config.gpu_options, gpu),
                            (lambda: config.gpu_options.experimental,
                             experimental)):
        for name, value in fields.items():
            if value:  # proto3 does not keep a false or zero anyway
                setattr(message(), name, value)
    if runtime.use_numa_affinity:
        config.experimental.use_numa_affinity = True
    if not (runtime.rewriter_config or not runtime.enable_optimizations):
        return config
    rewrites = config.graph_options.rewrite_options
    if runtime.rewriter_config:
        try:
            text_format.Merge(runtime.rewriter_config, rewrites)
        except text_format.ParseError as e:
            raise UsageError(f"--rewriter_config is not a RewriterConfig text "
                             f"proto ({e}); e.g. 'layout_optimizer: OFF'") from None
    if not runtime.enable_optimizations:
        rewrites.disable_meta_optimizer = True
    return config


def apply_session_options(runtime):
    """Merges session_config into the runtime's ConfigProto.  Must run
    before TensorFlow's runtime starts (in a process where it has, only
    later functions see Grappler's options)."""
    from tensorflow.python.eager import context

    config = session_config(runtime)
    ctx = context.context()
    if config.ByteSize():
        merged = type(config)()
        if ctx._config is not None:  # what tf.config has set so far
            merged.CopyFrom(ctx._config)
        merged.MergeFrom(config)
        ctx._config = merged
        ctx.function_call_options = None  # recomputed from the new config


def describe(environ=None):
    """What TensorFlow was given, for the PARAMETER entry."""
    from tensorflow.python.eager import context

    environ = os.environ if environ is None else environ
    config = context.context().config
    return {
        "env.variables": {v: environ[v] for v in VARIABLES if v in environ},
        "env.gpu_options": str(config.gpu_options).replace("\n", " ").strip(),
        "env.rewrite_options": str(
            config.graph_options.rewrite_options).replace("\n", " ").strip(),
        "env.numa_affinity": config.experimental.use_numa_affinity,
    }
