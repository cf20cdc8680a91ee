"""Config sections for what runs where: the model, the devices, the data and
the logs.  Each field is one setting (see settings.py)."""

from dataclasses import dataclass, field
from typing import Optional

import models
from preprocessing import defaults as image_defaults
from benchmarks.config.settings import (at_least, boolean, enum, floating,
                                        in_range, integer, listing,
                                        number_pair, one_of,
                                        optional_at_least, string)
from benchmarks.errors import UsageError

PRECISION_TO_POLICY = {"fp32": None, "bf16": "mixed_bfloat16",
                       "fp16": "mixed_float16"}
# --conv_filter_gradient: TensorFlow's kernel, models/gemm_grad.py's matmuls,
# or the device's choice (machine.device_choices.resolve_filter_gradient).
FILTER_GRADIENTS = ("auto", *models.FILTER_GRADIENTS)
# --dense_input_gradient: TensorFlow's MatMul, models/dense_grad.py's batch
# matmul, or the device's choice (machine.device_choices.resolve_dense_gradient).
DENSE_GRADIENTS = ("auto", *models.DENSE_GRADIENTS)
# --conv_algorithm: direct, models/winograd.py's F(4x4, 3x3), or the device's
# choice (machine.device_choices.resolve_conv_algorithm).
CONV_ALGORITHMS = ("auto", *models.CONV_ALGORITHMS)
ONEDNN_MODES = ("auto", "on", "off")  # --onednn (machine.cpu.configure_onednn)
# tf_cnn_benchmarks' --variable_update; compat.py translates what is not
# "replicated" (the same, across workers, for the distributed_* kinds).
VARIABLE_UPDATES = ("replicated", "parameter_server", "distributed_replicated",
                    "distributed_all_reduce", "collective_all_reduce",
                    "independent", "horovod")
# How gradients are summed across replicas (distribute/strategy.py).
ALL_REDUCE_SPECS = (None, "nccl", "hierarchical_copy", "pscpu", "psgpu")
# Images per epoch and classes of the datasets the runner knows: ILSVRC2012,
# and Imagenette (10 ImageNet classes, imagenette2's split sizes) in the same
# TFRecord layout, as DeepSparkHub's tf_cnn_benchmarks reads it.
EXAMPLES_PER_EPOCH = {"imagenet": {"train": 1281167, "validation": 50000},
                      "imagenette": {"train": 9469, "validation": 3925}}
NUM_CLASSES = {"imagenet": 1000, "imagenette": 10}
# --device and --local_parameter_device, in either case as tf_cnn_benchmarks.
DEVICES = ("cpu", "gpu", "CPU", "GPU")
# --resize_method: tf.image.resize's methods, or each in turn by the image's
# position in the batch (round_robin), as tf_cnn_benchmarks.
RESIZE_METHODS = (*image_defaults.RESIZE_METHODS, "round_robin")

# --data_service_processing_mode: tf.data service's sharding policies
# (benchmarks/data_service.py).
DATA_SERVICE_MODES = ("dynamic", "parallel_epochs")
_GRPC = "grpc://"

_LAYOUTS = {"NHWC": "channels_last", "NCHW": "channels_first"}
_LAYOUT_FLAGS = {v: k for k, v in _LAYOUTS.items()}


@dataclass(frozen=True)
class ModelConfig:
    name: str = string(
        "vgg16", f"Model name: {', '.join(models.names())}.", flag="model")
    num_classes: Optional[int] = integer(  # None: the dataset's (RunConfig)
        None, "Number of output classes; default: the dataset's (imagenet "
        f"{NUM_CLASSES['imagenet']}, imagenette {NUM_CLASSES['imagenette']}).")
    image_size: int = integer(224, "Input height and width (>= 32).")
    # channels_last|channels_first; None: per device
    data_format: Optional[str] = enum(
        None, tuple(_LAYOUTS), "Layout; default NCHW on GPUs, NHWC on the CPU.",
        parse=_LAYOUTS.get, to_flag=_LAYOUT_FLAGS.get)
    dropout: float = floating(0.5, "Dropout rate after fc1 and fc2.")
    precision: str = enum(
        "fp32", tuple(PRECISION_TO_POLICY), "Compute precision (Keras mixed "
        "precision; variables stay fp32).")
    filter_gradient: str = enum(
        "auto", FILTER_GRADIENTS, "Convolution filter gradient: TensorFlow's "
        "kernel (native), or matmuls (gemm: one per kernel offset, in layers "
        "of 56x56 and up; gemm_im2col: also one per chunk of images over the "
        "patches below that, down to 14x14); auto: gemm for fp32 on the CPU "
        "under oneDNN without AVX-512.",
        flag="conv_filter_gradient")
    dense_gradient: str = enum(
        "auto", DENSE_GRADIENTS, "Input gradient of fc1 and fc2: TensorFlow's "
        "MatMul (native) or a batch matmul (batch_matmul); auto: batch_matmul "
        "for fp32 on the CPU under oneDNN.",
        flag="dense_input_gradient")
    conv_algorithm: str = enum(
        "auto", CONV_ALGORITHMS, "How the 3x3 convolutions are computed: "
        "directly (direct; the filter gradient as --conv_filter_gradient "
        "says), or by Winograd's F(4x4, 3x3), 4x fewer multiplications, in "
        "the fp32 layers of 4x4 to 112x112 (winograd); auto: winograd "
        "for fp32 on the CPU under oneDNN.")

    def __post_init__(self):
        try:
            models.get(self.name)
        except models.UnknownModelError as e:
            raise UsageError(str(e)) from None
        if self.num_classes is not None:
            at_least("num_classes", self.num_classes, 2)
        at_least("image_size", self.image_size, 32)
        one_of("precision", self.precision, PRECISION_TO_POLICY)
        one_of("data_format", self.data_format,
               (None, "channels_last", "channels_first"))
        one_of("conv_filter_gradient", self.filter_gradient, FILTER_GRADIENTS)
        one_of("dense_input_gradient", self.dense_gradient, DENSE_GRADIENTS)
        one_of("conv_algorithm", self.conv_algorithm, CONV_ALGORITHMS)
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"--dropout must be in [0, 1) (got {self.dropout})")

    @property
    def dtype_policy(self):
        return PRECISION_TO_POLICY[self.precision]


def _lower(value):
    return value.lower() if value else value


def check_host(where, host):
    """host:port with a port TensorFlow's gRPC server can listen on."""
    name, _, port = host.rpartition(":")
    if not name or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"{where}: {host!r} is not host:port (a port "
                         "1..65535, e.g. 10.0.0.1:2222); give every worker as "
                         "host:port, comma-separated")


def _batch_size(value):
    """tf_cnn_benchmarks' --batch_size=0: the model's default."""
    return value or models.DEFAULT_BATCH_SIZE


@dataclass(frozen=True)
class DistConfig:
    device: Optional[str] = enum(  # cpu|gpu; None: gpu when one exists
        None, DEVICES, "Compute device; default gpu "
        "when one exists, else cpu.", parse=_lower)
    num_gpus: int = integer(
        1, "GPUs to replicate over (MirroredStrategy).  With --device=cpu, "
        "tf_cnn_benchmarks' meaning: that many CPU devices.")
    num_cpu_devices: int = integer(
        0, "Split the CPU into N logical devices and mirror over them (for "
        "testing without GPUs).")
    variable_update: str = enum(
        "replicated", VARIABLE_UPDATES, "replicated: mirrored variables, "
        "all-reduced gradients (distributed_replicated, distributed_all_reduce "
        "and collective_all_reduce mean the same: across workers with "
        "--worker_hosts); parameter_server: gradients reduced on one device "
        "(--local_parameter_device); independent and horovod are refused.")
    all_reduce_spec: Optional[str] = string(
        None, "nccl | hierarchical_copy | pscpu (reduce on the CPU) | psgpu "
        "(reduce on GPU 0).")
    gradient_repacking: int = integer(
        0, "Pack the gradients into this many tensors for the all-reduce "
        "(num_packs of NCCL / hierarchical copy); 0: one pack.")

    num_intra_threads: Optional[int] = integer(
        None, "Intra-op threads; 0 or unset: TensorFlow picks.")
    num_inter_threads: int = integer(0, "Inter-op threads; 0: TensorFlow picks.")
    # Several workers (MultiWorkerMirroredStrategy): host:port of every
    # worker and this one's index; empty: TF_CONFIG if set, else one worker.
    worker_hosts: tuple = listing(
        (), "host:port of every worker, the same list on each; worker 0 is "
        "the chief.", parse=tuple)
    task_index: int = integer(0, "This worker's index in --worker_hosts.")
    # How long a worker waits for a peer that has not joined or stopped
    # answering (registration, heartbeats, each collective) before failing.
    worker_timeout_secs: float = floating(
        300.0, "Seconds a worker waits for a peer that never joins or stops "
        "answering before it fails.")
    onednn: str = enum(
        "auto", ONEDNN_MODES, "oneDNN's CPU kernels (TF_ENABLE_ONEDNN_OPTS, "
        "set before TensorFlow starts); auto: on for x86-64 unless the "
        "variable is set.")
    # A tf_cnn_benchmarks parameter-server task (--job_name=ps, compat.py):
    # it has nothing to serve here and exits at once.
    ps_task: bool = field(default=False)

    def __post_init__(self):
        one_of("device", self.device, (None, "cpu", "gpu"))
        one_of("onednn", self.onednn, ONEDNN_MODES)
        for host in self.worker_hosts:
            check_host("--worker_hosts", host)
        if self.worker_hosts and not 0 <= self.task_index < len(self.worker_hosts):
            raise UsageError(f"--task_index={self.task_index} is not one of the "
                             f"{len(self.worker_hosts)} --worker_hosts (0.."
                             f"{len(self.worker_hosts) - 1})")
        if not self.worker_timeout_secs > 0:
            raise UsageError("--worker_timeout_secs must be positive")
        at_least("num_gpus", self.num_gpus, 0)
        at_least("gradient_repacking", self.gradient_repacking, 0)

        at_least("num_cpu_devices", self.num_cpu_devices, 0)
        one_of("all_reduce_spec", self.all_reduce_spec, ALL_REDUCE_SPECS)
        if self.num_cpu_devices and self.device == "gpu":
            raise UsageError("--num_cpu_devices splits the CPU; it cannot be "
                             "combined with --device=gpu")
        optional_at_least("num_intra_threads", self.num_intra_threads, 0)
        at_least("num_inter_threads", self.num_inter_threads, 0)


@dataclass(frozen=True)
class DataConfig:
    batch_size: int = integer(
        models.DEFAULT_BATCH_SIZE, "Batch size per replica (per device); 0: "
        f"the model's default, {models.DEFAULT_BATCH_SIZE}.", parse=_batch_size)
    data_dir: Optional[str] = string(  # None: synthetic data
        None, "ImageNet TFRecord directory; unset: synthetic data.")
    data_name: str = enum(
        "imagenet", tuple(EXAMPLES_PER_EPOCH), "Dataset: imagenet, or "
        f"imagenette ({NUM_CLASSES['imagenette']} ImageNet classes in the "
        "same layout; --num_classes defaults to the dataset's).")
    resize_method: str = string(
        image_defaults.RESIZE_METHOD, f"Image resize method: {', '.join(RESIZE_METHODS)} (each "
        "in turn by the image's position in the batch).")
    crop_area_range: tuple = listing(
        image_defaults.AREA_RANGE, "Training crop area, as a fraction of the image: lo,hi "
        "(timm's --scale).", parse=number_pair("crop_area_range"))
    crop_aspect_range: tuple = listing(
        image_defaults.ASPECT_RANGE, "Training crop aspect ratio range: lo,hi (timm's "
        "--ratio).", parse=number_pair("crop_aspect_range"))
    distortions: bool = boolean(False, "Colour distortions in training "
                                "preprocessing.")
    datasets_use_caching: bool = boolean(
        False, "Cache the raw records in memory after the first epoch.")
    datasets_num_private_threads: Optional[int] = integer(
        None, "Private thread pool for the input pipeline; unset: "
        "TensorFlow's pool.")
    datasets_parallel_interleave_cycle_length: Optional[int] = integer(
        None, "Files read in parallel; unset: AUTOTUNE.")
    datasets_prefetch_buffer_size: Optional[int] = integer(
        None, "Batches prefetched; unset: AUTOTUNE.")
    datasets_shuffle_buffer_size: int = integer(
        image_defaults.SHUFFLE_BUFFER, "Records in the shuffle buffer.")
    strict_input: bool = boolean(
        False, "Fail on a record that does not decode instead of skipping and "
        "counting it.")
    datasets_use_prefetch: bool = boolean(
        True, "Prefetch batches, and copy each replica's batch to its device "
        "ahead of the step.")
    datasets_sloppy_parallel_interleave: bool = boolean(
        False, "Let the file interleave depart from its deterministic order "
        "(faster with slow files; a resumed run no longer sees the same "
        "batches).")
    datasets_repeat_cached_sample: bool = boolean(
        False, "Read one record into memory and repeat it (input benchmarks "
        "without file reads).")
    multi_device_iterator_max_buffer_size: int = integer(
        1, "Batches buffered per replica's device ahead of its step.")
    fuse_decode_and_crop: bool = boolean(
        image_defaults.FUSE_DECODE_AND_CROP, "Decode only the training "
        "crop's part of the JPEG.")
    distort_color_in_yiq: bool = boolean(
        image_defaults.DISTORT_COLOR_IN_YIQ, "With --distortions: hue and saturation in YIQ space (else "
        "HSV).")
    ml_perf: bool = boolean(
        False, "MLPerf's input rules: crops ignore the records' boxes, "
        "pixels are mean-subtracted instead of scaled to [-1, 1].")
    # A tf.data service fleet (scripts/data_service.py) reads, decodes,
    # crops and batches the training split; the trainer only fetches.
    data_service_address: Optional[str] = string(
        None, "grpc://host:port (or host:port) of a tf.data service "
        "dispatcher: its workers read and preprocess the training split "
        "(scripts/data_service.py starts one); unset: this host's pipeline.  "
        "Evaluation reads its split here.",
        parse=lambda v: v or None)
    data_service_job_name: Optional[str] = string(
        None, "The service job the trainer reads (workers of one run share "
        "it); unset: one per run, derived from the flags when several "
        "workers train.")
    data_service_processing_mode: str = enum(
        "dynamic", DATA_SERVICE_MODES, "dynamic: the dispatcher hands the "
        "shards out, so each image is read once per epoch across the fleet "
        "(at most once if a worker dies: its shards in flight are lost); "
        "parallel_epochs: every worker reads the whole split in its own "
        "order, so an epoch's worth of images holds repeats and misses.")
    data_service_timeout_secs: float = floating(
        30.0, "Seconds the trainer waits for the dispatcher to answer and "
        "for each batch from the service before it ends the run (with a "
        "checkpoint).")

    def __post_init__(self):
        at_least("batch_size", self.batch_size, 1, "it is the batch per replica")
        one_of("data_name", self.data_name, tuple(EXAMPLES_PER_EPOCH))
        if self.resize_method == "crop":
            raise UsageError("--resize_method=crop is tf_cnn_benchmarks' CIFAR-10 "
                             "preprocessing; ImageNet images are resized: use "
                             f"one of {', '.join(RESIZE_METHODS)}")
        one_of("resize_method", self.resize_method, RESIZE_METHODS)
        at_least("multi_device_iterator_max_buffer_size",
                 self.multi_device_iterator_max_buffer_size, 1)
        in_range("crop_area_range", self.crop_area_range, 0.0, 1.0)
        in_range("crop_aspect_range", self.crop_aspect_range, 0.0, float("inf"))
        at_least("datasets_shuffle_buffer_size",
                 self.datasets_shuffle_buffer_size, 1)
        if self.data_service_address is not None:
            check_host("--data_service_address",
                       self.data_service_address.removeprefix(_GRPC))
            if self.data_dir is None:
                raise UsageError("--data_service_address needs --data_dir (the "
                                 "shards' path as the service's workers see "
                                 "it); synthetic data has nothing to serve")
        one_of("data_service_processing_mode",
               self.data_service_processing_mode, DATA_SERVICE_MODES)
        if not self.data_service_timeout_secs > 0:
            raise UsageError("--data_service_timeout_secs must be positive")
        for name in ("datasets_num_private_threads",
                     "datasets_parallel_interleave_cycle_length",
                     "datasets_prefetch_buffer_size"):
            optional_at_least(name, getattr(self, name), 1)

    @property
    def synthetic(self):
        return self.data_dir is None


@dataclass(frozen=True)
class LogConfig:
    log_path: Optional[str] = string(  # None: stdout only
        None, "Write the dllogger JSON log here.")
    summary_verbosity: int = integer(
        0, "TensorBoard summaries in --train_dir: 0 none, 1 scalars, 2 "
        "scalars and weight histograms.")
    save_summaries_steps: int = integer(
        0, "With --summary_verbosity: write the training scalars every N "
        "steps (0: at each display step).")
    eval_dir: Optional[str] = string(
        None, "Write TensorBoard summaries of evaluations here (default: "
        "--train_dir's tensorboard/ during training; none for --eval).")
    benchmark_test_id: Optional[str] = string(
        None, "A name for the run, recorded in the log's PARAMETER entry.")
    flush_stdout: bool = boolean(
        False, "Flush standard output after every line (it is flushed after "
        "every progress line anyway).")
    parameters_to_stdout: bool = boolean(
        False, "Also print the dllogger PARAMETER entry (the whole config) on "
        "standard output; it is always in --log_path's JSON log.")
    recipes: tuple = field(default=())  # the --flagfile paths used

    def __post_init__(self):
        if self.summary_verbosity == 3:
            raise UsageError("--summary_verbosity=3 (input images and "
                             "per-gradient histograms) is not built; use 2 "
                             "(scalars and weight histograms)")
        one_of("summary_verbosity", self.summary_verbosity, (0, 1, 2))
        at_least("save_summaries_steps", self.save_summaries_steps, 0)
