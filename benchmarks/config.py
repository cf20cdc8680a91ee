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

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
# How gradients are summed across replicas (see distribution.py).
ALL_REDUCE_SPECS = (None, "nccl", "hierarchical_copy", "pscpu", "psgpu")

PRECISION_TO_POLICY = {"fp32": None, "bf16": "mixed_bfloat16",
                       "fp16": "mixed_float16"}


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

    def __post_init__(self):
        _one_of("device", self.device, (None, "cpu", "gpu"))
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
    optimizer: str = "sgd"  # sgd|momentum|rmsprop|adam
    init_learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 4e-5  # L2 on kernels and biases, as tf_cnn_benchmarks
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


@dataclass(frozen=True)
class LoopConfig:
    forward_only: bool = False
    input_only: bool = False  # run the input pipeline alone
    num_batches: int = 100  # timed steps, warmup excluded
    num_warmup_batches: int = 10
    display_every: int = 10
    steps_per_loop: int = 1
    xla: bool = False
    print_training_accuracy: bool = False
    tf_random_seed: int = 1234

    def __post_init__(self):
        _at_least("num_batches", self.num_batches, 1)
        _at_least("num_warmup_batches", self.num_warmup_batches, 1,
                  "the first step traces and compiles and is never timed")
        _at_least("display_every", self.display_every, 1)
        _at_least("steps_per_loop", self.steps_per_loop, 1)
        if self.forward_only and self.input_only:
            raise UsageError("--forward_only and --input_only exclude each other")

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
class LogConfig:
    log_path: Optional[str] = None  # dllogger JSON file; None: stdout only


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    dist: DistConfig = field(default_factory=DistConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    log: LogConfig = field(default_factory=LogConfig)

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
