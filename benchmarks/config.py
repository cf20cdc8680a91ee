"""The frozen run configuration.

Flags are parsed once (benchmarks/flags.py) into a RunConfig; every builder
takes only the piece it needs, so each can be called from tests and scripts
without absl flags.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from benchmarks.errors import UsageError

# Images per epoch of the datasets the runner knows (ILSVRC2012).
EXAMPLES_PER_EPOCH = {"imagenet": {"train": 1281167, "validation": 50000}}

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "piecewise", "step", "cosine")
# How gradients are summed across replicas (see distribution.py).
ALL_REDUCE_SPECS = (None, "nccl", "hierarchical_copy", "pscpu", "psgpu")

PRECISION_TO_POLICY = {"fp32": None, "bf16": "mixed_bfloat16",
                       "fp16": "mixed_float16"}
# --conv_filter_gradient: TensorFlow's kernel, models/gemm_grad.py's matmuls,
# or the device's choice (device_choices.resolve_filter_gradient).
FILTER_GRADIENTS = ("auto", "native", "gemm")
ONEDNN_MODES = ("auto", "on", "off")  # --onednn (cpu.configure_onednn)


def _at_least(name, value, minimum, why=""):
    if not isinstance(value, int) or value < minimum:
        hint = f"; {why}" if why else ""
        raise UsageError(f"--{name} must be an integer >= {minimum} "
                         f"(got {value!r}){hint}")


def _one_of(name, value, choices):
    if value not in choices:
        shown = ", ".join(str(c) for c in choices if c is not None)
        raise UsageError(f"--{name}={value} is not one of: {shown}")


def _range(name, value, low, high):
    ok = (isinstance(value, tuple) and len(value) == 2
          and low < value[0] <= value[1] <= high)
    if not ok:
        raise UsageError(f"--{name} must be two numbers lo,hi with "
                         f"{low} < lo <= hi <= {high} (got {value!r})")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "vgg16"
    num_classes: int = 1000
    image_size: int = 224
    data_format: Optional[str] = None  # channels_last|channels_first; None: per device
    dropout: float = 0.5
    precision: str = "fp32"  # fp32|bf16|fp16
    filter_gradient: str = "auto"  # one of FILTER_GRADIENTS

    def __post_init__(self):
        import models  # the registry owns the list of names
        try:
            models.get(self.name)
        except models.UnknownModelError as e:
            raise UsageError(str(e)) from None
        _at_least("num_classes", self.num_classes, 2)
        _at_least("image_size", self.image_size, 32)
        _one_of("precision", self.precision, PRECISION_TO_POLICY)
        _one_of("data_format", self.data_format,
                (None, "channels_last", "channels_first"))
        _one_of("conv_filter_gradient", self.filter_gradient, FILTER_GRADIENTS)
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"--dropout must be in [0, 1) (got {self.dropout})")

    @property
    def dtype_policy(self):
        return PRECISION_TO_POLICY[self.precision]


@dataclass(frozen=True)
class DistConfig:
    device: Optional[str] = None  # cpu|gpu; None: gpu when one exists
    num_gpus: int = 1
    num_cpu_devices: int = 0  # >0: split the CPU into this many logical devices
    all_reduce_spec: Optional[str] = None  # nccl|hierarchical_copy|pscpu
    num_intra_threads: Optional[int] = None
    num_inter_threads: Optional[int] = None
    # Several workers (MultiWorkerMirroredStrategy): host:port of every
    # worker and this one's index; empty: TF_CONFIG if set, else one worker.
    worker_hosts: tuple = ()
    task_index: int = 0
    # How long a worker waits for a peer that has not joined or stopped
    # answering (registration, heartbeats, each collective) before failing.
    worker_timeout_secs: float = 300.0
    onednn: str = "auto"  # auto|on|off: TF_ENABLE_ONEDNN_OPTS, set at startup

    def __post_init__(self):
        _one_of("device", self.device, (None, "cpu", "gpu"))
        _one_of("onednn", self.onednn, ONEDNN_MODES)
        if self.worker_hosts and not 0 <= self.task_index < len(self.worker_hosts):
            raise UsageError(f"--task_index={self.task_index} is not one of the "
                             f"{len(self.worker_hosts)} --worker_hosts (0.."
                             f"{len(self.worker_hosts) - 1})")
        if not self.worker_timeout_secs > 0:
            raise UsageError("--worker_timeout_secs must be positive")
        _at_least("num_gpus", self.num_gpus, 0)
        _at_least("num_cpu_devices", self.num_cpu_devices, 0)
        _one_of("all_reduce_spec", self.all_reduce_spec, ALL_REDUCE_SPECS)
        if self.num_cpu_devices and self.device == "gpu":
            raise UsageError("--num_cpu_devices splits the CPU; it cannot be "
                             "combined with --device=gpu")
        for name in ("num_intra_threads", "num_inter_threads"):
            if getattr(self, name) is not None:
                _at_least(name, getattr(self, name), 0)


@dataclass(frozen=True)
class DataConfig:
    batch_size: int = 32  # per replica
    data_dir: Optional[str] = None  # None: synthetic data
    data_name: str = "imagenet"
    crop_area_range: tuple = (0.08, 1.0)
    crop_aspect_range: tuple = (0.75, 1.333)
    distortions: bool = False
    datasets_use_caching: bool = False
    datasets_num_private_threads: Optional[int] = None
    datasets_parallel_interleave_cycle_length: Optional[int] = None
    datasets_prefetch_buffer_size: Optional[int] = None  # None: AUTOTUNE
    datasets_shuffle_buffer_size: int = 10000
    strict_input: bool = False

    def __post_init__(self):
        _at_least("batch_size", self.batch_size, 1,
                  "it is the batch per replica")
        _range("crop_area_range", self.crop_area_range, 0.0, 1.0)
        _range("crop_aspect_range", self.crop_aspect_range, 0.0, float("inf"))
        _at_least("datasets_shuffle_buffer_size",
                  self.datasets_shuffle_buffer_size, 1)
        for name in ("datasets_num_private_threads",
                     "datasets_parallel_interleave_cycle_length",
                     "datasets_prefetch_buffer_size"):
            if getattr(self, name) is not None:
                _at_least(name, getattr(self, name), 1)

    @property
    def synthetic(self):
        return self.data_dir is None


@dataclass(frozen=True)
class OptimizerConfig:
    optimizer: str = "sgd"  # sgd|momentum|rmsprop|adam|adamw
    init_learning_rate: float = 0.01
    momentum: float = 0.9
    nesterov: bool = True  # tf_cnn_benchmarks' momentum is Nesterov's
    # L2 on kernels and biases, as tf_cnn_benchmarks; adamw: decoupled decay.
    weight_decay: float = 4e-5
    label_smoothing: float = 0.0
    gradient_clip: Optional[float] = None  # clip each gradient value to +-this
    rmsprop_decay: float = 0.9
    rmsprop_momentum: float = 0.9
    rmsprop_epsilon: float = 1.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8

    def __post_init__(self):
        _one_of("optimizer", self.optimizer, OPTIMIZERS)
        if not self.init_learning_rate > 0:
            raise UsageError("--init_learning_rate must be positive "
                             f"(got {self.init_learning_rate})")
        if self.weight_decay < 0:
            raise UsageError(f"--weight_decay must be >= 0 (got {self.weight_decay})")
        if self.gradient_clip is not None and not self.gradient_clip > 0:
            raise UsageError(f"--gradient_clip must be positive (got {self.gradient_clip})")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UsageError("--label_smoothing must be in [0, 1) "
                             f"(got {self.label_smoothing})")


@dataclass(frozen=True)
class ScheduleConfig:
    """The learning-rate schedule (see benchmarks/schedules.py)."""

    kind: str = "constant"  # constant|piecewise|step|cosine
    piecewise: tuple = ()  # (lr0, epoch1, lr1, ...)
    num_epochs_per_decay: float = 0.0
    learning_rate_decay_factor: float = 1.0
    minimum_learning_rate: float = 0.0
    num_learning_rate_warmup_epochs: float = 0.0

    def __post_init__(self):
        _one_of("learning_rate_schedule", self.kind, SCHEDULES)
        if self.kind == "piecewise":
            p = self.piecewise
            epochs = p[1::2]
            if (len(p) < 3 or len(p) % 2 == 0 or min(p[0::2]) <= 0
                    or min(epochs) <= 0 or list(epochs) != sorted(set(epochs))):
                raise UsageError(
                    "--piecewise_learning_rate_schedule must be lr0;epoch1;lr1"
                    ";epoch2;lr2... with positive rates and increasing epochs "
                    f"(got {';'.join(str(v) for v in p)})")
        if self.kind == "step":
            if not self.num_epochs_per_decay > 0:
                raise UsageError("stepped decay needs --num_epochs_per_decay > 0")
            if not 0 < self.learning_rate_decay_factor <= 1:
                raise UsageError("--learning_rate_decay_factor must be in (0, 1] "
                                 f"(got {self.learning_rate_decay_factor})")
        if self.minimum_learning_rate < 0:
            raise UsageError("--minimum_learning_rate must be >= 0")
        if self.num_learning_rate_warmup_epochs < 0:
            raise UsageError("--num_learning_rate_warmup_epochs must be >= 0")


@dataclass(frozen=True)
class LoopConfig:
    forward_only: bool = False
    input_only: bool = False  # run the input pipeline alone
    num_batches: int = 100  # timed steps, warmup excluded
    # Train this many epochs in all (warmup included); overrides num_batches.
    num_epochs: Optional[float] = None
    num_warmup_batches: int = 10
    display_every: int = 10
    steps_per_loop: int = 1
    xla: bool = False
    measure_peak: bool = False  # probe the device's peak TFLOP/s first
    print_training_accuracy: bool = False
    tf_random_seed: int = 1234
    deterministic: bool = False  # deterministic kernels (exact resume tests)

    def __post_init__(self):
        _at_least("num_batches", self.num_batches, 1)
        if self.num_epochs is not None and not self.num_epochs > 0:
            raise UsageError(f"--num_epochs must be positive (got {self.num_epochs})")
        _at_least("num_warmup_batches", self.num_warmup_batches, 1,
                  "the first step traces and compiles and is never timed")
        _at_least("display_every", self.display_every, 1)
        _at_least("steps_per_loop", self.steps_per_loop, 1)
        if self.forward_only and self.input_only:
            raise UsageError("--forward_only and --input_only exclude each other")
        if self.num_epochs is not None and self.prefix != "train":
            raise UsageError("--num_epochs counts training epochs; with "
                             "--forward_only or --input_only use --num_batches")

    @property
    def total_steps(self):
        return self.num_warmup_batches + self.num_batches

    @property
    def prefix(self):
        """Metric name prefix: train.*, infer.* or input.*"""
        if self.input_only:
            return "input"
        return "infer" if self.forward_only else "train"


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation on the validation split: alone (--eval) or during training."""

    eval: bool = False  # evaluate a checkpoint instead of training
    batch_size: Optional[int] = None  # per replica; None: the training batch
    num_eval_batches: Optional[int] = None  # None: the whole split
    num_eval_epochs: Optional[float] = None  # fraction of the split, <= 1
    every_n_steps: int = 0
    every_n_epochs: float = 0.0
    at_steps: tuple = ()
    at_epochs: tuple = ()
    stop_at_top_1_accuracy: Optional[float] = None  # a fraction, 0..1

    def __post_init__(self):
        if self.batch_size is not None:
            _at_least("eval_batch_size", self.batch_size, 1)
        if self.num_eval_batches is not None:
            _at_least("num_eval_batches", self.num_eval_batches, 1)
        if self.num_eval_epochs is not None and not 0 < self.num_eval_epochs <= 1:
            raise UsageError("--num_eval_epochs must be in (0, 1]: one pass "
                             "covers every validation image once "
                             f"(got {self.num_eval_epochs})")
        _at_least("eval_during_training_every_n_steps", self.every_n_steps, 0)
        if self.every_n_epochs < 0:
            raise UsageError("--eval_during_training_every_n_epochs must be >= 0")
        if any(not isinstance(s, int) or s < 1 for s in self.at_steps):
            raise UsageError("--eval_during_training_at_specified_steps must be "
                             f"positive integers (got {self.at_steps})")
        if any(e <= 0 for e in self.at_epochs):
            raise UsageError("--eval_during_training_at_specified_epochs must "
                             f"be positive (got {self.at_epochs})")
        target = self.stop_at_top_1_accuracy
        if target is not None:
            if not 0 < target <= 1:
                raise UsageError("--stop_at_top_1_accuracy is a fraction in "
                                 f"(0, 1] (got {target})")
            if not self.during_training:
                raise UsageError("--stop_at_top_1_accuracy needs evaluations: "
                                 "add --eval_during_training_every_n_epochs=1 "
                                 "(or another eval_during_training_* flag)")

    @property
    def during_training(self):
        return bool(self.every_n_steps or self.every_n_epochs or self.at_steps
                    or self.at_epochs)


@dataclass(frozen=True)
class CheckpointConfig:
    train_dir: Optional[str] = None  # None: no checkpoints
    checkpoint: Optional[str] = None  # --eval: this one instead of the latest
    save_model_steps: int = 0
    save_model_secs: float = 0.0  # 0 with train_dir: DEFAULT_SAVE_SECS
    max_ckpts_to_keep: int = 5

    DEFAULT_SAVE_SECS = 600.0

    def __post_init__(self):
        _at_least("save_model_steps", self.save_model_steps, 0)
        _at_least("max_ckpts_to_keep", self.max_ckpts_to_keep, 1)
        if self.save_model_secs < 0:
            raise UsageError("--save_model_secs must be >= 0")
        if not self.train_dir and (self.save_model_steps or self.save_model_secs):
            raise UsageError("--save_model_steps/--save_model_secs need "
                             "--train_dir to save into")

    @property
    def every_secs(self):
        if self.save_model_steps and not self.save_model_secs:
            return 0.0  # by steps only
        return self.save_model_secs or self.DEFAULT_SAVE_SECS


@dataclass(frozen=True)
class LogConfig:
    log_path: Optional[str] = None  # dllogger JSON file; None: stdout only
    summary_verbosity: int = 0  # TensorBoard: 0 none, 1 scalars, 2 + histograms
    recipes: tuple = ()  # --flagfile paths the flags came from

    def __post_init__(self):
        _one_of("summary_verbosity", self.summary_verbosity, (0, 1, 2))


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    dist: DistConfig = field(default_factory=DistConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def __post_init__(self):
        """Checks that need two sections."""
        needs_validation = (self.eval.eval or self.eval.during_training)
        if needs_validation and self.data.synthetic:
            raise UsageError("evaluation reads the validation split; give "
                             "--data_dir")
        if self.eval.eval:
            if self.loop.forward_only or self.loop.input_only:
                raise UsageError("--eval evaluates a checkpoint; it excludes "
                                 "--forward_only and --input_only")
            if not (self.checkpoint.train_dir or self.checkpoint.checkpoint):
                raise UsageError("--eval needs --train_dir (its latest "
                                 "checkpoint) or --checkpoint=PATH")
        elif self.eval.during_training and self.loop.prefix != "train":
            raise UsageError("eval_during_training_* flags need a training run")
        if self.log.summary_verbosity and not self.checkpoint.train_dir:
            raise UsageError("--summary_verbosity writes TensorBoard summaries "
                             "into --train_dir; give it")

    def to_dict(self):
        """A flat {"section.field": value} dict, as logged under PARAMETER."""
        flat = {}
        for section in dataclasses.fields(self):
            for key, value in dataclasses.asdict(getattr(self, section.name)).items():
                flat[f"{section.name}.{key}"] = value
        return flat

    def replace(self, **sections):
        """A copy with some sections replaced, e.g. loop=LoopConfig(...)."""
        return dataclasses.replace(self, **sections)
