"""tf_cnn_benchmarks' flags that are not one config field each, written by hand
and kept together here: their declarations, their kind, and their
translation into config values.

Every tf_cnn_benchmarks flag is one of three kinds:

  built       it does here what it did there: a config field of its own
              (benchmarks/config/), or a translation below;
  no effect   TF2 (or this harness) already does what it asked: accepted,
              and one line on stderr says so and why;
  refused     it asks for something not built here: one line names the
              reason and the alternative, and the run does not start.

benchmarks/flags.py defines every flag and calls ``translate`` between
reading them and building the RunConfig.
"""

from dataclasses import dataclass
from typing import Callable, Optional

from benchmarks.config.run import DEVICES
from benchmarks.config.settings import Flag
from benchmarks.errors import UsageError

BUILT, NO_EFFECT, REFUSED = "built", "no effect", "refused"


@dataclass(frozen=True)
class CompatFlag:
    flag: Flag
    kind: str
    # built: what it does; no effect: why; refused: why, and what to do.
    note: str
    # no effect: the values that would ask for something else -> a one-line
    # reason to refuse them (None: the value is fine).
    refuse: Optional[Callable] = None


def _flag(name, flag_type, default, help, choices=()):
    return Flag(name, flag_type, default, help, tuple(choices))


def _built(name, flag_type, default, help, choices=()):
    return CompatFlag(_flag(name, flag_type, default, help, choices), BUILT,
                      help)


def _no_effect(name, flag_type, default, why, refuse=None, choices=()):
    return CompatFlag(_flag(name, flag_type, default, f"No effect: {why}.",
                            choices), NO_EFFECT, why, refuse)


def _refused(name, flag_type, default, why, choices=()):
    return CompatFlag(_flag(name, flag_type, default, f"Refused: {why}.",
                            choices), REFUSED, why)


def _unless(allowed, why):
    """A ``refuse`` for values other than ``allowed``."""
    return lambda value: None if value in allowed else why


FLAGS = (
    # Built: translated below.
    _built("use_fp16", "boolean", False, "Same as --precision=fp16."),
    _built("hierarchical_copy", "boolean", False,
           "Same as --all_reduce_spec=hierarchical_copy (an explicit "
           "--all_reduce_spec wins)."),
    _built("local_parameter_device", "enum", "gpu",
           "Where gradients are reduced with --variable_update="
           "parameter_server (pscpu / psgpu), and with replicated when cpu "
           "(unless --all_reduce_spec says).", DEVICES),
    _built("job_name", "enum", "", "worker: a worker of --worker_hosts; ps: "
           "a parameter-server task, which has nothing to do here (workers "
           "all-reduce) and exits at once, saying so; controller is refused.",
           ("ps", "worker", "controller", "")),
    _built("xla_compile", "boolean", False, "Same as --xla: compile the step "
           "with XLA; where it cannot, one line says so."),
    # No effect: TF2 already does it.
    _no_effect("use_datasets", "boolean", True, "the input pipeline is "
               "tf.data (datasets) either way"),
    _no_effect("input_preprocessor", "string", "default", "ImageNet images "
               "go through the default (Inception-style) preprocessing",
               _unless(("default",), "only the default preprocessor is built "
                       "for ImageNet; omit --input_preprocessor")),
    _no_effect("batch_group_size", "integer", 1, "tf.data batches the input "
               "itself; there is no image-producer thread to group batches for"),
    _no_effect("collect_eval_results_async", "boolean", False, "evaluation "
               "results are summed inside the compiled step",
               _unless((False,), "tf_cnn_benchmarks built it for ssd300 only; "
                       "omit it")),
    _no_effect("network_topology", "enum", "dgx1", "TF2's "
               "HierarchicalCopyAllReduce picks its own hierarchy",
               choices=("dgx1", "gcp_v100")),
    _no_effect("compact_gradient_transfer", "boolean", True, "TF2's "
               "all-reduce packs gradients itself (see --gradient_repacking)"),
    _no_effect("gpu_indices", "string", "", "the GPUs' order in the "
               "all-reduce ring: TF2's NCCL and collective all-reduce order "
               "their rings themselves"),
    _no_effect("agg_small_grads_max_bytes", "integer", 0, "TF2's all-reduce "
               "batches small gradients itself (see --gradient_repacking)"),
    _no_effect("agg_small_grads_max_group", "integer", 10, "TF2's all-reduce "
               "batches small gradients itself (see --gradient_repacking)"),
    _no_effect("allreduce_merge_scope", "integer", 1, "TF2's all-reduce "
               "merges its collectives itself"),
    _no_effect("variable_consistency", "enum", "strong", "replicas always "
               "start a step from the previous step's update (strong), the "
               "only consistency synchronous all-reduce has",
               _unless(("strong",), "relaxed consistency belongs to "
                       "parameter-server training, which is not built; omit "
                       "it"), ("strong", "relaxed")),
    _no_effect("datasets_parallel_interleave_prefetch", "integer", None,
               "tf.data's autotuned interleave prefetches its files itself"),
    _no_effect("use_resource_vars", "boolean", False, "TF2's variables are "
               "resource variables"),
    _no_effect("sparse_to_dense_grads", "boolean", False, "VGG's gradients "
               "are dense"),
    _no_effect("use_tf_layers", "boolean", True, "the models are Keras layers "
               "either way (tf_cnn_benchmarks: it changes neither speed nor "
               "accuracy)"),
    _no_effect("use_python32_barrier", "boolean", False, "there is no "
               "image-producer thread to synchronise"),
    _no_effect("resnet_base_lr", "float", None, "only ResNet's "
               "learning-rate heuristic reads it; VGG's rate is "
               "--init_learning_rate"),
    _no_effect("backbone_model_path", "string", None, "only SSD's backbone "
               "reads it"),
    _no_effect("cross_replica_sync", "boolean", True, "replicas always step "
               "in sync (all-reduce)",
               _unless((True,), "asynchronous replicas need parameter "
                       "servers, which are not built; train synchronously")),
    _no_effect("server_protocol", "string", "grpc", "workers talk gRPC, what "
               "MultiWorkerMirroredStrategy uses",
               _unless(("grpc",), "TensorFlow's pip builds carry gRPC only; "
                       "use --server_protocol=grpc or omit it")),
    _no_effect("ps_hosts", "string", "", "workers all-reduce their gradients "
               "(MultiWorkerMirroredStrategy) and need no parameter servers"),
    # Refused: not built; the line says what to do instead.
    _refused("staged_vars", "boolean", False, "staged variables belong to "
             "parameter-server training, which is not built; omit it"),
    _refused("fp16_vars", "boolean", False, "Keras mixed precision keeps the "
             "variables in fp32 (tf_cnn_benchmarks recommends that too); omit "
             "it"),
    _refused("freeze_when_forward_only", "boolean", False, "freezing the "
             "weights into constants is not built; --forward_only already runs "
             "the step as one compiled tf.function"),
    _refused("trt_mode", "enum", "", "TensorRT conversion (TF-TRT) is not "
             "built; omit it", ("", "FP32", "FP16", "INT8")),
    _refused("trt_max_workspace_size_bytes", "integer", 4 << 30, "TensorRT "
             "conversion (TF-TRT) is not built; omit it"),
    _refused("debugger", "string", None, "TF1's tfdbg is gone in TF2; use "
             "tf.debugging.experimental.enable_dump_debug_info and "
             "TensorBoard's Debugger V2"),
    _refused("horovod_device", "string", "", "Horovod is not built; run "
             "several workers with --worker_hosts (MultiWorkerMirroredStrategy)"),
    _refused("controller_host", "string", None, "the distributed_all_reduce "
             "controller is not built; --worker_hosts workers all-reduce "
             "without one"),
    _refused("partitioned_graph_file_prefix", "string", None, "TF2 runs "
             "functions, not partitioned session graphs; use --graph_file "
             "for the step's graph, or --trace_file"),
    _refused("benchmark_log_dir", "string", None, "Model Garden's "
             "BenchmarkFileLogger is not built; --log_path writes every "
             "figure as dllogger JSON"),
    _refused("ml_perf_compliance_logging", "boolean", False, "MLPerf "
             "compliance logging is not built; --log_path writes every "
             "figure as dllogger JSON"),
)
_BY_NAME = {c.flag.name: c for c in FLAGS}


# Every flag tf_cnn_benchmarks declares (scripts/tf_cnn_benchmarks/
# benchmark_cnn.py and the modules it imports flags from), by name: each is
# defined here, as a config field or in FLAGS, with its kind (kind_of).
TF_CNN_BENCHMARKS_FLAG_NAMES = (
    "adam_beta1", "adam_beta2", "adam_epsilon",
    "agg_small_grads_max_bytes", "agg_small_grads_max_group",
    "all_reduce_spec", "allow_growth", "allreduce_merge_scope",
    "autotune_threshold", "backbone_model_path", "batch_group_size",
    "batch_size", "batchnorm_persistent", "benchmark_log_dir",
    "benchmark_test_id", "collect_eval_results_async",
    "compact_gradient_transfer", "compute_lr_on_cpu", "controller_host",
    "cross_replica_sync", "data_dir", "data_format", "data_name",
    "datasets_num_private_threads",
    "datasets_parallel_interleave_cycle_length",
    "datasets_parallel_interleave_prefetch",
    "datasets_prefetch_buffer_size", "datasets_repeat_cached_sample",
    "datasets_sloppy_parallel_interleave", "datasets_use_caching",
    "datasets_use_prefetch", "debugger", "device", "display_every",
    "display_perf_ewma", "distort_color_in_yiq", "distortions",
    "enable_optimizations", "eval", "eval_batch_size", "eval_dir",
    "eval_during_training_at_specified_epochs",
    "eval_during_training_at_specified_steps",
    "eval_during_training_every_n_epochs",
    "eval_during_training_every_n_steps", "eval_interval_secs",
    "force_gpu_compatible", "forward_only", "fp16_enable_auto_loss_scale",
    "fp16_inc_loss_scale_every_n", "fp16_loss_scale", "fp16_vars",
    "freeze_when_forward_only", "fuse_decode_and_crop", "gpu_indices",
    "gpu_kt_max_bytes", "gpu_kt_max_interval", "gpu_kt_max_pending",
    "gpu_memory_frac_for_testing", "gpu_thread_mode", "gradient_clip",
    "gradient_repacking", "graph_file", "hierarchical_copy",
    "horovod_device", "init_learning_rate", "input_preprocessor",
    "job_name", "kmp_affinity", "kmp_blocktime", "kmp_settings",
    "learning_rate_decay_factor", "local_parameter_device",
    "loss_type_to_report", "max_ckpts_to_keep", "minimum_learning_rate",
    "mkl", "ml_perf", "model", "momentum",
    "multi_device_iterator_max_buffer_size", "network_topology",
    "num_batches", "num_epochs", "num_epochs_per_decay",
    "num_eval_batches", "num_eval_epochs", "num_gpus", "num_inter_threads",
    "num_intra_threads", "num_learning_rate_warmup_epochs",
    "num_warmup_batches", "optimizer", "partitioned_graph_file_prefix",
    "per_gpu_thread_count", "piecewise_learning_rate_schedule",
    "print_training_accuracy", "ps_hosts", "resize_method",
    "resnet_base_lr", "rewriter_config", "rmsprop_decay",
    "rmsprop_epsilon", "rmsprop_momentum", "save_model_secs",
    "save_model_steps", "save_summaries_steps", "server_protocol",
    "single_l2_loss_op", "sparse_to_dense_grads", "staged_vars",
    "stop_at_top_1_accuracy", "summary_verbosity", "sync_on_finish",
    "task_index", "tf_random_seed", "tfprof_file", "timestamped_allocator",
    "trace_file", "train_dir", "trt_max_workspace_size_bytes", "trt_mode",
    "use_chrome_trace_format", "use_datasets", "use_fp16",
    "use_numa_affinity", "use_python32_barrier", "use_resource_vars",
    "use_tf_layers", "use_unified_memory", "variable_consistency",
    "variable_update", "weight_decay", "winograd_nonfused", "worker_hosts",
    "xla", "xla_compile",
)


def kind_of(name):
    """The kind of a flag (config fields are all built)."""
    return _BY_NAME[name].kind if name in _BY_NAME else BUILT


def note_of(name):
    """What a compatibility flag does, or why it has no effect or is
    refused; None for config fields (their help says)."""
    return _BY_NAME[name].note if name in _BY_NAME else None


def translate(given, present, values):
    """Applies the compatibility flags to the config values.

    ``given``: {flag: value} of the flags in FLAGS; ``present``: the names of
    every flag set on the command line (or in a flagfile); ``values``: the
    config fields read from their own flags, {"section.field": value}.
    Returns (the values to build the RunConfig from, the notes to print: one
    line per no-effect flag given).
    """
    notes = _check_kinds(given, present)
    values = dict(values)
    _devices(given, values)
    _precision(given, values)
    _job(given, values)
    _run_length(present, values)
    if given["xla_compile"]:
        values["loop.xla"] = True
    if values["runtime.mkl"] and "onednn" not in present:
        values["dist.onednn"] = "on"
    return values, notes


def _check_kinds(given, present):
    notes = []
    for c in FLAGS:
        name, value = c.flag.name, given[c.flag.name]
        if c.kind == REFUSED and value != c.flag.default:
            raise UsageError(f"--{name} is not supported: {c.note}")
        if c.kind == NO_EFFECT and name in present:
            refusal = c.refuse(value) if c.refuse else None
            if refusal:
                raise UsageError(f"--{name}={value} is not supported: {refusal}")
            notes.append(f"--{name} has no effect: {c.note}")
    return notes


def _devices(given, values):
    """--variable_update, --hierarchical_copy, --local_parameter_device and
    tf_cnn_benchmarks' --device=cpu --num_gpus=N (N CPU devices)."""
    update = values["dist.variable_update"]
    if update == "independent":
        raise UsageError("--variable_update=independent (replicas that never "
                         "exchange gradients) is not supported; use "
                         "replicated")
    if update == "horovod":
        raise UsageError("--variable_update=horovod is not supported: run "
                         "several workers with --worker_hosts "
                         "(MultiWorkerMirroredStrategy)")
    if (values["dist.device"] == "cpu" and values["dist.num_gpus"] > 1
            and not values["dist.num_cpu_devices"]):
        values["dist.num_cpu_devices"] = values["dist.num_gpus"]
        values["dist.num_gpus"] = 1
    if values["dist.all_reduce_spec"]:
        return  # an explicit spec wins, as in tf_cnn_benchmarks
    device = given["local_parameter_device"].lower()
    if given["hierarchical_copy"]:
        values["dist.all_reduce_spec"] = "hierarchical_copy"
    elif update == "parameter_server" or device == "cpu":
        # tf_cnn_benchmarks reduced on the parameter device; replicated with
        # --local_parameter_device=cpu reduced on the CPU too.  (On GPUs
        # replicated's default here is NCCL: docs/tf_cnn_benchmarks.md.)
        values["dist.all_reduce_spec"] = "ps" + device


def _precision(given, values):
    if not given["use_fp16"]:
        return
    if values["model.precision"] not in ("fp32", "fp16"):
        raise UsageError("--use_fp16 contradicts "
                         f"--precision={values['model.precision']}")
    values["model.precision"] = "fp16"


def _job(given, values):
    job = given["job_name"]
    if job == "controller":
        raise UsageError("--job_name=controller is not supported: the "
                         "distributed_all_reduce controller is not built; run "
                         "the workers with --job_name=worker")
    values["dist.ps_task"] = job == "ps"
    if job == "ps":  # it exits at once; its index counts parameter servers
        values["dist.worker_hosts"] = ()


def _run_length(present, values):
    """tf_cnn_benchmarks' rules for how long a run lasts."""
    if "num_batches" in present and "num_epochs" in present:
        raise UsageError("give --num_batches or --num_epochs, not both")
    if "save_model_secs" in present and "save_model_steps" in present:
        raise UsageError("give --save_model_secs or --save_model_steps, not "
                         "both")
    threshold = values["runtime.autotune_threshold"]
    if threshold and "num_warmup_batches" not in present:
        values["loop.num_warmup_batches"] = max(10, 5 * threshold * threshold)
    # --eval's length: --num_batches (or --num_epochs) unless --num_eval_*.
    if values["eval.eval"] and not {"num_eval_batches",
                                    "num_eval_epochs"} & present:
        if "num_batches" in present:
            values["eval.num_eval_batches"] = values["loop.num_batches"]
        elif "num_epochs" in present:
            values["eval.num_eval_epochs"] = min(values["loop.num_epochs"], 1.0)

