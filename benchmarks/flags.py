"""Command-line flags, named and meant as in tf_cnn_benchmarks where it has the
flag, and their translation into a frozen RunConfig.

Only this module and benchmarks/__main__.py touch absl flags.
"""

from absl import flags as absl_flags

from benchmarks import config as cfg
from benchmarks.errors import UsageError

_DEFAULT_NUM_BATCHES = 100  # as tf_cnn_benchmarks
_DEFAULT_NUM_WARMUP_BATCHES = 10
_VGG_DEFAULT_LEARNING_RATE = 0.005  # tf_cnn_benchmarks' VGG default

# Flags accepted for command-line compatibility whose feature is not built yet.
# Setting one to anything but its default is an error that says so, never a
# silent no-op.  Each value names the missing feature, then what to do instead.
NOT_BUILT = {
    "ps_hosts": "parameter servers; MultiWorkerMirroredStrategy needs only "
                "--worker_hosts",
    "trace_file": "tracing; omit it",
    "tfprof_file": "tfprof profiling; omit it",
    "display_perf_ewma": "EWMA display; omit it",
}

_VARIABLE_UPDATES = ("replicated", "parameter_server", "independent",
                     "distributed_replicated", "distributed_all_reduce",
                     "collective_all_reduce", "horovod")

def define_flags(fv=absl_flags.FLAGS):
    """Defines every flag on ``fv`` (the global FLAGS unless given)."""
    d = absl_flags
    # What to run.
    d.DEFINE_string("model", "vgg16", "Model name: vgg11|vgg13|vgg16|vgg19, "
                    "with _bn for batch norm.", flag_values=fv)
    d.DEFINE_integer("num_classes", 1000, "Number of output classes.",
                     flag_values=fv)
    d.DEFINE_integer("image_size", 224, "Input height and width (>= 32).",
                     flag_values=fv)
    d.DEFINE_float("dropout", 0.5, "Dropout rate after fc1 and fc2.",
                   flag_values=fv)
    d.DEFINE_boolean("forward_only", False, "Benchmark inference only.",
                     flag_values=fv)
    d.DEFINE_boolean("eval", False, "Evaluate a checkpoint from --train_dir "
                     "(the latest, or --checkpoint) on the validation split.",
                     flag_values=fv)
    d.DEFINE_boolean("print_training_accuracy", False,
                     "Compute and show top-1 on each training batch.",
                     flag_values=fv)
    # How long.
    d.DEFINE_integer("batch_size", 32, "Batch size per replica (per device).",
                     flag_values=fv)
    d.DEFINE_integer("num_batches", None, "Timed batches, warmup excluded "
                     f"(default {_DEFAULT_NUM_BATCHES}).", flag_values=fv)
    d.DEFINE_float("num_epochs", None, "Epochs to train in all (warmup "
                   "included, unlike --num_batches); not with --num_batches.",
                   flag_values=fv)
    d.DEFINE_integer("num_warmup_batches", None, "Batches run before timing "
                     f"starts (default {_DEFAULT_NUM_WARMUP_BATCHES}).",
                     flag_values=fv)
    d.DEFINE_integer("display_every", 10, "Show progress every N steps.",
                     flag_values=fv)
    d.DEFINE_integer("steps_per_loop", 1, "Training steps per call of the "
                     "compiled loop; more cuts host overhead.", flag_values=fv)
    d.DEFINE_integer("tf_random_seed", 1234, "Random seed.", flag_values=fv)
    d.DEFINE_boolean("deterministic", False, "Deterministic kernels "
                     "(tf.config.experimental.enable_op_determinism): the "
                     "same flags give the same weights, resumed or not.",
                     flag_values=fv)
    # Devices and distribution.
    d.DEFINE_enum("device", None, ("cpu", "gpu", "CPU", "GPU"),
                  "Compute device; default gpu when one exists, else cpu.",
                  flag_values=fv)
    d.DEFINE_integer("num_gpus", 1, "GPUs to replicate over (MirroredStrategy). "
                     "With --device=cpu, tf_cnn_benchmarks' meaning: that many "
                     "CPU devices.", flag_values=fv)
    d.DEFINE_integer("num_cpu_devices", 0, "Split the CPU into N logical "
                     "devices and mirror over them (for testing without GPUs).",
                     flag_values=fv)
    d.DEFINE_enum("variable_update", "replicated", _VARIABLE_UPDATES,
                  "replicated: mirrored variables, all-reduced gradients "
                  "(collective_all_reduce, distributed_replicated and "
                  "distributed_all_reduce mean the same; with --worker_hosts "
                  "or TF_CONFIG across workers); parameter_server: gradients "
                  "reduced on one device.",
                  flag_values=fv)
    d.DEFINE_string("all_reduce_spec", None, "nccl | hierarchical_copy | "
                    "pscpu (reduce on the CPU) | psgpu (reduce on GPU 0).",
                    flag_values=fv)
    d.DEFINE_boolean("hierarchical_copy", False, "Same as "
                     "--all_reduce_spec=hierarchical_copy.", flag_values=fv)
    d.DEFINE_enum("local_parameter_device", "gpu", ("cpu", "gpu", "CPU", "GPU"),
                  "With --variable_update=parameter_server: where gradients "
                  "are reduced.", flag_values=fv)
    d.DEFINE_integer("num_intra_threads", None, "Intra-op threads; 0 or unset: "
                     "TensorFlow picks.", flag_values=fv)
    d.DEFINE_integer("num_inter_threads", 0, "Inter-op threads; 0: TensorFlow "
                     "picks.", flag_values=fv)
    d.DEFINE_enum("data_format", None, ("NHWC", "NCHW"), "Layout; default NCHW "
                  "on GPUs, NHWC on the CPU.", flag_values=fv)
    # Precision and compilation.
    d.DEFINE_enum("precision", "fp32", ("fp32", "bf16", "fp16"),
                  "Compute precision (Keras mixed precision; variables stay "
                  "fp32).", flag_values=fv)
    d.DEFINE_boolean("use_fp16", False, "Same as --precision=fp16.",
                     flag_values=fv)
    d.DEFINE_boolean("xla", False, "Compile the training step with XLA "
                     "(jit_compile).", flag_values=fv)
    d.DEFINE_enum("onednn", "auto", cfg.ONEDNN_MODES, "oneDNN's CPU "
                  "kernels (TF_ENABLE_ONEDNN_OPTS, set before TensorFlow "
                  "starts); auto: on for x86-64 unless the variable is set.",
                  flag_values=fv)
    d.DEFINE_enum("conv_filter_gradient", "auto", cfg.FILTER_GRADIENTS,
                  "Convolution filter gradient: TensorFlow's kernel, or one "
                  "matmul per kernel offset (in layers of 56x56 and up); "
                  "auto: gemm for fp32 on the CPU under oneDNN.",
                  flag_values=fv)
    d.DEFINE_boolean("measure_peak", False, "Measure the device's peak TFLOP/s "
                     "first (a matmul and a 3x3 conv probe in the run's "
                     "precision) and report the run's fraction of it.",
                     flag_values=fv)
    # Optimizer.
    d.DEFINE_enum("optimizer", "sgd", cfg.OPTIMIZERS,
                  "Optimizer; momentum is Nesterov momentum, as in "
                  "tf_cnn_benchmarks.", flag_values=fv)
    d.DEFINE_float("init_learning_rate", None, "Learning rate (default "
                   f"{_VGG_DEFAULT_LEARNING_RATE}).", flag_values=fv)
    d.DEFINE_float("momentum", 0.9, "Momentum.", flag_values=fv)
    d.DEFINE_boolean("nesterov", True, "Nesterov momentum for --optimizer="
                     "momentum (tf_cnn_benchmarks' choice); --nonesterov for "
                     "plain (PyTorch) momentum.", flag_values=fv)
    d.DEFINE_float("weight_decay", 0.00004, "L2 weight decay factor (conv and "
                   "dense weights and biases); adamw: decoupled decay.",
                   flag_values=fv)
    d.DEFINE_float("label_smoothing", 0.0, "Label smoothing of the "
                   "cross-entropy.", flag_values=fv)
    # Learning-rate schedule (benchmarks/schedules.py).
    d.DEFINE_enum("learning_rate_schedule", None, cfg.SCHEDULES, "Default: "
                  "piecewise if --piecewise_learning_rate_schedule, step if "
                  "--num_epochs_per_decay, else constant.", flag_values=fv)
    d.DEFINE_string("piecewise_learning_rate_schedule", None, "lr0;epoch1;lr1;"
                    "epoch2;lr2...: lr0 until epoch1, then lr1, ...",
                    flag_values=fv)
    d.DEFINE_float("num_epochs_per_decay", 0, "Stepped decay: epochs between "
                   "decays.", flag_values=fv)
    d.DEFINE_float("learning_rate_decay_factor", 0, "Stepped decay: factor "
                   "per decay.", flag_values=fv)
    d.DEFINE_float("minimum_learning_rate", 0, "Floor of stepped decay; end "
                   "of cosine decay.", flag_values=fv)
    d.DEFINE_float("num_learning_rate_warmup_epochs", 0, "Linear warmup "
                   "epochs (from init/warmup_steps up to init).",
                   flag_values=fv)
    d.DEFINE_float("gradient_clip", None, "Clip every gradient value to "
                   "[-x, x] after the all-reduce.", flag_values=fv)
    d.DEFINE_float("rmsprop_decay", 0.9, "RMSProp decay.", flag_values=fv)
    d.DEFINE_float("rmsprop_momentum", 0.9, "RMSProp momentum.", flag_values=fv)
    d.DEFINE_float("rmsprop_epsilon", 1.0, "RMSProp epsilon.", flag_values=fv)
    d.DEFINE_float("adam_beta1", 0.9, "Adam beta1.", flag_values=fv)
    d.DEFINE_float("adam_beta2", 0.999, "Adam beta2.", flag_values=fv)
    d.DEFINE_float("adam_epsilon", 1e-8, "Adam epsilon.", flag_values=fv)
    # Data.
    d.DEFINE_string("data_dir", None, "ImageNet TFRecord directory; unset: "
                    "synthetic data.", flag_values=fv)
    d.DEFINE_string("data_name", "imagenet", "Dataset name (imagenet).",
                    flag_values=fv)
    d.DEFINE_list("crop_area_range", ["0.08", "1.0"], "Training crop area, as "
                  "a fraction of the image: lo,hi (timm's --scale).",
                  flag_values=fv)
    d.DEFINE_list("crop_aspect_range", ["0.75", "1.333"], "Training crop "
                  "aspect ratio range: lo,hi (timm's --ratio).", flag_values=fv)
    d.DEFINE_boolean("distortions", False, "Colour distortions in training "
                     "preprocessing.", flag_values=fv)
    d.DEFINE_boolean("datasets_use_caching", False, "Cache the raw records in "
                     "memory after the first epoch.", flag_values=fv)
    d.DEFINE_integer("datasets_num_private_threads", None, "Private thread "
                     "pool for the input pipeline; unset: TensorFlow's pool.",
                     flag_values=fv)
    d.DEFINE_integer("datasets_parallel_interleave_cycle_length", None,
                     "Files read in parallel; unset: AUTOTUNE.", flag_values=fv)
    d.DEFINE_integer("datasets_prefetch_buffer_size", None, "Batches "
                     "prefetched; unset: AUTOTUNE.", flag_values=fv)
    d.DEFINE_integer("datasets_shuffle_buffer_size", 10000, "Records in the "
                     "shuffle buffer.", flag_values=fv)
    d.DEFINE_boolean("strict_input", False, "Fail on a record that does not "
                     "decode instead of skipping and counting it.",
                     flag_values=fv)
    d.DEFINE_boolean("input_only", False, "Benchmark the input pipeline alone "
                     "(needs --data_dir).", flag_values=fv)
    # Logging.
    d.DEFINE_string("log_path", None, "Write the dllogger JSON log here.",
                    flag_values=fv)
    d.DEFINE_integer("summary_verbosity", 0, "TensorBoard summaries in "
                     "--train_dir: 0 none, 1 scalars, 2 scalars and weight "
                     "histograms.", flag_values=fv)
    # Checkpoints.
    d.DEFINE_string("train_dir", None, "Checkpoint (and TensorBoard) "
                    "directory; a run on a train_dir that holds checkpoints "
                    "resumes from the latest.", flag_values=fv)
    d.DEFINE_string("checkpoint", None, "With --eval: this checkpoint (a "
                    "path prefix, or a name in --train_dir) instead of the "
                    "latest.", flag_values=fv)
    d.DEFINE_integer("save_model_steps", None, "Checkpoint every N steps.",
                     flag_values=fv)
    d.DEFINE_integer("save_model_secs", None, "Checkpoint every N seconds "
                     "(default 600 with --train_dir, unless "
                     "--save_model_steps).", flag_values=fv)
    d.DEFINE_integer("max_ckpts_to_keep", 5, "Checkpoints kept (the best "
                     "top-1 one is kept apart).", flag_values=fv)
    # Evaluation.
    d.DEFINE_integer("eval_batch_size", None, "Eval batch per replica "
                     "(default --batch_size).", flag_values=fv)
    d.DEFINE_integer("num_eval_batches", None, "Eval at most this many "
                     "batches (default: the whole validation split).",
                     flag_values=fv)
    d.DEFINE_float("num_eval_epochs", None, "Eval this fraction of the "
                   "validation split (<= 1).", flag_values=fv)
    d.DEFINE_integer("eval_during_training_every_n_steps", None, "Evaluate "
                     "every N training steps.", flag_values=fv)
    d.DEFINE_float("eval_during_training_every_n_epochs", None, "Evaluate "
                   "every N training epochs.", flag_values=fv)
    d.DEFINE_list("eval_during_training_at_specified_steps", [], "Evaluate "
                  "after these steps.", flag_values=fv)
    d.DEFINE_list("eval_during_training_at_specified_epochs", [], "Evaluate "
                  "after these epochs.", flag_values=fv)
    d.DEFINE_float("stop_at_top_1_accuracy", None, "Stop training once an "
                   "evaluation reaches this top-1 (a fraction).",
                   flag_values=fv)
    # Several workers (MultiWorkerMirroredStrategy); TF_CONFIG works too.
    d.DEFINE_list("worker_hosts", [], "host:port of every worker, the same "
                  "list on each; worker 0 is the chief.", flag_values=fv)
    d.DEFINE_integer("task_index", 0, "This worker's index in --worker_hosts.",
                     flag_values=fv)
    d.DEFINE_string("job_name", None, "tf_cnn_benchmarks compatibility: "
                    "'worker' (or unset); there are no parameter servers.",
                    flag_values=fv)
    d.DEFINE_float("worker_timeout_secs", 300.0, "Seconds a worker waits for a "
                   "peer that never joins or stops answering before it fails.",
                   flag_values=fv)
    # Accepted for compatibility; see NOT_BUILT.
    d.DEFINE_float("display_perf_ewma", None, "Not built yet.", flag_values=fv)
    for name in ("ps_hosts", "trace_file", "tfprof_file"):
        d.DEFINE_string(name, None, "Not built yet.", flag_values=fv)


def _check_not_built(fv):
    for name, reason in NOT_BUILT.items():
        flag = fv[name]
        if flag.value != flag.default:
            raise UsageError(f"--{name} is accepted but not built yet ({reason})")


def _pair(name, values):
    try:
        return tuple(float(v) for v in values)
    except ValueError:
        raise UsageError(f"--{name} must be two numbers lo,hi (got "
                         f"{','.join(values)})") from None


def _numbers(name, values, kind=float):
    try:
        return tuple(kind(v) for v in values if str(v).strip())
    except ValueError:
        raise UsageError(f"--{name} must be a list of numbers (got "
                         f"{values})") from None


def _schedule(fv):
    piecewise = ()
    if fv.piecewise_learning_rate_schedule:
        piecewise = _numbers("piecewise_learning_rate_schedule",
                             fv.piecewise_learning_rate_schedule.split(";"))
    kind = fv.learning_rate_schedule or (
        "piecewise" if piecewise else
        "step" if fv.num_epochs_per_decay else "constant")
    if piecewise and kind != "piecewise":
        raise UsageError("--piecewise_learning_rate_schedule contradicts "
                         f"--learning_rate_schedule={kind}")
    return cfg.ScheduleConfig(
        kind=kind, piecewise=piecewise,
        num_epochs_per_decay=fv.num_epochs_per_decay,
        learning_rate_decay_factor=fv.learning_rate_decay_factor,
        minimum_learning_rate=fv.minimum_learning_rate,
        num_learning_rate_warmup_epochs=fv.num_learning_rate_warmup_epochs)


def flagfiles(argv):
    """The --flagfile paths named on a command line (the recipes used)."""
    found = []
    for i, arg in enumerate(argv):
        if arg.startswith("--flagfile="):
            found.append(arg.split("=", 1)[1])
        elif arg == "--flagfile" and i + 1 < len(argv):
            found.append(argv[i + 1])
    return tuple(found)


def to_config(fv=absl_flags.FLAGS, argv=()):
    """Translates parsed flags into a validated, frozen RunConfig; ``argv``
    (the command line) names the recipe flagfiles to record."""
    _check_not_built(fv)
    if fv.variable_update in ("independent", "horovod"):
        raise UsageError(f"--variable_update={fv.variable_update} is not "
                         "supported; use replicated")
    if fv.data_name != "imagenet":
        raise UsageError(f"--data_name={fv.data_name} is not supported; use "
                         "imagenet")

    device = fv.device.lower() if fv.device else None
    num_gpus, num_cpu_devices = fv.num_gpus, fv.num_cpu_devices
    if device == "cpu" and num_gpus > 1 and not num_cpu_devices:
        # tf_cnn_benchmarks' --device=cpu --num_gpus=N means N CPU devices.
        num_cpu_devices, num_gpus = num_gpus, 1
    all_reduce_spec = fv.all_reduce_spec
    if fv.hierarchical_copy:
        all_reduce_spec = "hierarchical_copy"
    if fv.variable_update == "parameter_server" and not all_reduce_spec:
        all_reduce_spec = "ps" + fv.local_parameter_device.lower()

    precision = "fp16" if fv.use_fp16 else fv.precision
    if fv.use_fp16 and fv.precision not in ("fp32", "fp16"):
        raise UsageError(f"--use_fp16 contradicts --precision={fv.precision}")
    data_format = {None: None, "NHWC": "channels_last",
                   "NCHW": "channels_first"}[fv.data_format]

    model = cfg.ModelConfig(name=fv.model, num_classes=fv.num_classes,
                            image_size=fv.image_size, data_format=data_format,
                            dropout=fv.dropout, precision=precision,
                            filter_gradient=fv.conv_filter_gradient)
    dist = cfg.DistConfig(device=device, num_gpus=num_gpus,
                          num_cpu_devices=num_cpu_devices,
                          all_reduce_spec=all_reduce_spec,
                          num_intra_threads=fv.num_intra_threads,
                          num_inter_threads=fv.num_inter_threads,
                          worker_hosts=tuple(fv.worker_hosts),
                          task_index=fv.task_index,
                          worker_timeout_secs=fv.worker_timeout_secs,
                          onednn=fv.onednn)
    if fv.job_name not in (None, "", "worker"):
        raise UsageError(f"--job_name={fv.job_name}: only 'worker' jobs exist "
                         "here (MultiWorkerMirroredStrategy, no parameter "
                         "servers or controller); use --job_name=worker or omit it")
    data = cfg.DataConfig(
        batch_size=fv.batch_size, data_dir=fv.data_dir, data_name=fv.data_name,
        crop_area_range=_pair("crop_area_range", fv.crop_area_range),
        crop_aspect_range=_pair("crop_aspect_range", fv.crop_aspect_range),
        distortions=fv.distortions,
        datasets_use_caching=fv.datasets_use_caching,
        datasets_num_private_threads=fv.datasets_num_private_threads,
        datasets_parallel_interleave_cycle_length=(
            fv.datasets_parallel_interleave_cycle_length),
        datasets_prefetch_buffer_size=fv.datasets_prefetch_buffer_size,
        datasets_shuffle_buffer_size=fv.datasets_shuffle_buffer_size,
        strict_input=fv.strict_input)
    if fv.input_only and data.synthetic:
        raise UsageError("--input_only benchmarks the input pipeline; give "
                         "--data_dir")
    lr = fv.init_learning_rate
    optimizer = cfg.OptimizerConfig(
        optimizer=fv.optimizer,
        init_learning_rate=_VGG_DEFAULT_LEARNING_RATE if lr is None else lr,
        momentum=fv.momentum, nesterov=fv.nesterov,
        weight_decay=fv.weight_decay, label_smoothing=fv.label_smoothing,
        gradient_clip=fv.gradient_clip, rmsprop_decay=fv.rmsprop_decay,
        rmsprop_momentum=fv.rmsprop_momentum,
        rmsprop_epsilon=fv.rmsprop_epsilon, adam_beta1=fv.adam_beta1,
        adam_beta2=fv.adam_beta2, adam_epsilon=fv.adam_epsilon)
    if fv.num_batches is not None and fv.num_epochs is not None:
        raise UsageError("give --num_batches or --num_epochs, not both")
    warmup = fv.num_warmup_batches
    loop = cfg.LoopConfig(
        forward_only=fv.forward_only, input_only=fv.input_only,
        num_batches=(_DEFAULT_NUM_BATCHES if fv.num_batches is None
                     else fv.num_batches),
        num_epochs=fv.num_epochs,
        num_warmup_batches=_DEFAULT_NUM_WARMUP_BATCHES if warmup is None else warmup,
        display_every=fv.display_every, steps_per_loop=fv.steps_per_loop,
        xla=fv.xla, measure_peak=fv.measure_peak,
        print_training_accuracy=fv.print_training_accuracy,
        tf_random_seed=fv.tf_random_seed, deterministic=fv.deterministic)
    evaluation = cfg.EvalConfig(
        eval=fv.eval, batch_size=fv.eval_batch_size,
        num_eval_batches=fv.num_eval_batches,
        num_eval_epochs=fv.num_eval_epochs,
        every_n_steps=fv.eval_during_training_every_n_steps or 0,
        every_n_epochs=fv.eval_during_training_every_n_epochs or 0.0,
        at_steps=_numbers("eval_during_training_at_specified_steps",
                          fv.eval_during_training_at_specified_steps, int),
        at_epochs=_numbers("eval_during_training_at_specified_epochs",
                           fv.eval_during_training_at_specified_epochs),
        stop_at_top_1_accuracy=fv.stop_at_top_1_accuracy)
    checkpoint = cfg.CheckpointConfig(
        train_dir=fv.train_dir, checkpoint=fv.checkpoint,
        save_model_steps=fv.save_model_steps or 0,
        save_model_secs=float(fv.save_model_secs or 0),
        max_ckpts_to_keep=fv.max_ckpts_to_keep)
    log = cfg.LogConfig(log_path=fv.log_path,
                        summary_verbosity=fv.summary_verbosity,
                        recipes=flagfiles(argv))
    return cfg.RunConfig(model=model, dist=dist, data=data, optimizer=optimizer,
                         schedule=_schedule(fv), loop=loop, eval=evaluation,
                         checkpoint=checkpoint, log=log)


def parse(argv):
    """Parses ``argv`` (without the program name) on a fresh FlagValues and
    returns the RunConfig.  For tests and scripts; the CLI uses absl.app."""
    fv = absl_flags.FlagValues()
    define_flags(fv)
    try:
        fv(["vggbench", *argv])
    except absl_flags.Error as e:
        raise UsageError(str(e)) from None
    return to_config(fv, argv)
