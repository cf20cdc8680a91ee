"""tf_cnn_benchmarks' flags: all 137 are known, each of its declared kind; the
flags with no effect say so in one line, the refused ones stop the run in one
line; the hand-written translations; the code's list of names is this one."""

import io

import pytest

from benchmarks import compat, flags
from benchmarks import config as cfg
from benchmarks.errors import UsageError

# Every flag of tf_cnn_benchmarks (scripts/tf_cnn_benchmarks/benchmark_cnn.py,
# 137 of them), by the kind it has here.
TF_CNN_BENCHMARKS_FLAGS = {
    "built": [
        "model", "eval", "eval_interval_secs",
        "eval_during_training_every_n_steps",
        "eval_during_training_every_n_epochs",
        "eval_during_training_at_specified_steps",
        "eval_during_training_at_specified_epochs", "forward_only",
        "print_training_accuracy", "batch_size", "eval_batch_size",
        "num_batches", "num_eval_batches", "num_epochs", "num_eval_epochs",
        "stop_at_top_1_accuracy", "num_warmup_batches", "autotune_threshold",
        "num_gpus", "display_every", "display_perf_ewma",
        "data_dir", "data_name", "resize_method", "distortions",
        "gpu_thread_mode", "per_gpu_thread_count", "hierarchical_copy",
        "gradient_repacking", "datasets_repeat_cached_sample",
        "local_parameter_device", "device", "data_format",
        "num_intra_threads", "num_inter_threads", "use_numa_affinity",
        "trace_file", "use_chrome_trace_format", "tfprof_file", "graph_file",
        "optimizer", "init_learning_rate", "piecewise_learning_rate_schedule",
        "num_epochs_per_decay", "learning_rate_decay_factor",
        "num_learning_rate_warmup_epochs", "minimum_learning_rate",
        "momentum", "rmsprop_decay", "rmsprop_momentum", "rmsprop_epsilon",
        "adam_beta1", "adam_beta2", "adam_epsilon", "gradient_clip",
        "weight_decay", "gpu_memory_frac_for_testing", "use_unified_memory",
        "timestamped_allocator", "gpu_kt_max_interval", "gpu_kt_max_bytes",
        "gpu_kt_max_pending", "tf_random_seed", "ml_perf",
        "datasets_use_prefetch", "datasets_prefetch_buffer_size",
        "datasets_num_private_threads", "datasets_use_caching",
        "datasets_parallel_interleave_cycle_length",
        "datasets_sloppy_parallel_interleave",
        "multi_device_iterator_max_buffer_size", "winograd_nonfused",
        "batchnorm_persistent", "sync_on_finish", "force_gpu_compatible",
        "allow_growth", "xla", "xla_compile", "fuse_decode_and_crop",
        "distort_color_in_yiq", "enable_optimizations", "rewriter_config",
        "loss_type_to_report", "single_l2_loss_op", "compute_lr_on_cpu",
        "mkl", "kmp_blocktime", "kmp_affinity", "kmp_settings", "use_fp16",
        "fp16_loss_scale", "fp16_enable_auto_loss_scale",
        "fp16_inc_loss_scale_every_n", "variable_update", "all_reduce_spec",
        "job_name", "worker_hosts", "task_index", "summary_verbosity",
        "save_summaries_steps", "save_model_secs", "save_model_steps",
        "max_ckpts_to_keep", "train_dir", "eval_dir", "benchmark_test_id"],
    "no effect": [
        "batch_group_size", "collect_eval_results_async", "use_datasets",
        "input_preprocessor", "network_topology", "compact_gradient_transfer",
        "variable_consistency", "resnet_base_lr", "use_tf_layers",
        "use_python32_barrier", "datasets_parallel_interleave_prefetch",
        "use_resource_vars", "sparse_to_dense_grads",
        "agg_small_grads_max_bytes", "agg_small_grads_max_group",
        "allreduce_merge_scope", "ps_hosts", "server_protocol", "gpu_indices",
        "cross_replica_sync", "backbone_model_path"],
    "refused": [
        "freeze_when_forward_only", "partitioned_graph_file_prefix",
        "debugger", "staged_vars", "fp16_vars", "controller_host",
        "horovod_device", "trt_mode", "trt_max_workspace_size_bytes",
        "benchmark_log_dir"],
}
ALL = [(name, kind) for kind, names in TF_CNN_BENCHMARKS_FLAGS.items()
       for name in names]
DEFINED = {f.name: f for f in flags.all_flags()}


def test_the_list_is_tf_cnn_benchmarks_137_flags():
    assert len(ALL) == 137 and len({n for n, _ in ALL}) == 137


@pytest.mark.parametrize("name,kind", ALL)
def test_every_tf_cnn_benchmarks_flag_is_known_with_its_kind(name, kind):
    assert name in DEFINED
    assert compat.kind_of(name) == kind


def _given(flag):
    """A command-line word that gives ``flag`` a value it accepts."""
    value = flag.default
    if flag.flag_type == "boolean":
        return f"--{flag.name}" if value in (True, None) else f"--no{flag.name}"
    if value is None:
        value = {"integer": 1, "float": 0.5, "string": "x"}[flag.flag_type]
    return f"--{flag.name}={value}"


@pytest.mark.parametrize("name", TF_CNN_BENCHMARKS_FLAGS["no effect"])
def test_a_flag_with_no_effect_says_so_in_one_line(name):
    notes = io.StringIO()
    config = flags.parse([_given(DEFINED[name])], notes=notes)
    assert config == flags.parse([], notes=io.StringIO())  # changes nothing
    lines = notes.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"vggbench: note: --{name} has no effect: ")
    # Not given, it is silent.
    quiet = io.StringIO()
    flags.parse([], notes=quiet)
    assert quiet.getvalue() == ""


def _other_value(flag):
    if flag.flag_type == "boolean":
        return f"--{flag.name}" if not flag.default else f"--no{flag.name}"
    if flag.flag_type == "enum":
        return f"--{flag.name}=" + next(c for c in flag.choices
                                         if c != flag.default)
    return f"--{flag.name}=" + {"integer": "7", "string": "x"}[flag.flag_type]


@pytest.mark.parametrize("name", TF_CNN_BENCHMARKS_FLAGS["refused"])
def test_a_refused_flag_stops_with_one_line(name):
    flag = DEFINED[name]
    with pytest.raises(UsageError) as err:
        flags.parse([_other_value(flag)])
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"--{name} is not supported: ")
    # Given its default (where one can be), it asks for what runs.
    if flag.default is not None:
        flags.parse([_given(flag)], notes=io.StringIO())


@pytest.mark.parametrize("argv,fragment", [
    (["--cross_replica_sync=false"], "asynchronous replicas need parameter"),
    (["--server_protocol=grpc+verbs"], "gRPC only"),
    (["--variable_consistency=relaxed"], "parameter-server training"),
    (["--input_preprocessor=official_models_imagenet"], "only the default"),
    (["--collect_eval_results_async"], "ssd300"),
    (["--variable_update=horovod"], "--worker_hosts"),
    (["--variable_update=independent"], "use replicated"),
    (["--job_name=controller"], "controller is not built"),
    (["--resize_method=crop"], "CIFAR-10"),
    (["--resize_method=lanczos"], "--resize_method"),
    (["--save_model_secs=60", "--save_model_steps=10", "--train_dir=/t"],
     "not both"),
    (["--rewriter_config=this is not a proto", "--device=cpu"],
     "RewriterConfig"),
    (["--summary_verbosity=3", "--train_dir=/t"], "use 2"),
    (["--forward_only", "--train_dir=/t", "--save_model_steps=5"],
     "nothing trains"),
    (["--input_only", "--data_dir=/d", "--train_dir=/t"], "omit --train_dir"),
    (["--eval", "--data_dir=/d", "--checkpoint=/t/ckpt-1",
      "--eval_interval_secs=5"], "give --eval and --train_dir"),
])
def test_values_that_ask_for_something_else_are_refused(argv, fragment):
    with pytest.raises(UsageError) as err:
        config = flags.parse(argv, notes=io.StringIO())
        # The rewriter's text is parsed when it is applied.
        from benchmarks.machine.runtime_options import session_config
        session_config(config.runtime)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_the_translations():
    parse = lambda *argv: flags.parse(list(argv), notes=io.StringIO())  # noqa: E731
    assert parse("--job_name=ps").dist.ps_task
    assert not parse("--job_name=worker").dist.ps_task
    assert parse("--xla_compile").loop.xla
    assert parse("--mkl").dist.onednn == "on"
    assert parse("--mkl", "--onednn=off").dist.onednn == "off"
    imagenette = parse("--data_name=imagenette")
    assert imagenette.model.num_classes == 10
    assert parse("--data_name=imagenette",
                 "--num_classes=11").model.num_classes == 11
    # The same default in Python: the dataset's classes.
    assert cfg.RunConfig(data=cfg.DataConfig(
        data_name="imagenette")).model.num_classes == 10
    assert cfg.RunConfig().model.num_classes == 1000
    assert parse("--autotune_threshold=2").loop.num_warmup_batches == 20
    assert parse("--autotune_threshold=2", "--num_warmup_batches=3"
                 ).loop.num_warmup_batches == 3
    assert parse("--eval_batch_size=0").eval.batch_size is None
    ev = parse("--eval", "--data_dir=/d", "--train_dir=/t", "--num_batches=7")
    assert ev.eval.num_eval_batches == 7  # tf_cnn_benchmarks' eval length
    ev = parse("--eval", "--data_dir=/d", "--train_dir=/t", "--num_batches=7",
               "--num_eval_batches=3")
    assert ev.eval.num_eval_batches == 3
    assert parse("--eval", "--data_dir=/d", "--train_dir=/t"
                 ).eval.num_eval_batches is None  # the whole split
    assert parse("--variable_update=distributed_replicated"
                 ).dist.all_reduce_spec is None  # replicated's
    c = parse("--save_model_secs=0", "--train_dir=/t")
    assert c.checkpoint.every_secs == 0  # tf_cnn_benchmarks: only at the end
    # An explicit --all_reduce_spec wins over --hierarchical_copy; replicated
    # with --local_parameter_device=cpu reduces on the CPU.
    assert parse("--hierarchical_copy", "--all_reduce_spec=nccl"
                 ).dist.all_reduce_spec == "nccl"
    assert parse("--hierarchical_copy").dist.all_reduce_spec == \
        "hierarchical_copy"
    assert parse("--local_parameter_device=cpu").dist.all_reduce_spec == "pscpu"
    assert parse().dist.all_reduce_spec is None
    # A parameter-server task joins no worker: any index is fine.
    ps = parse("--job_name=ps", "--task_index=1", "--worker_hosts=a:1")
    assert ps.dist.ps_task and ps.dist.task_index == 1


def test_the_code_knows_the_same_137_names():
    assert sorted(compat.TF_CNN_BENCHMARKS_FLAG_NAMES) == sorted(
        name for name, _ in ALL)
