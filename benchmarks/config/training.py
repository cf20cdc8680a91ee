"""Config sections for how long a run lasts and how it learns: the loop, the
optimizer, the learning-rate schedule, evaluation and checkpoints.  Each
field is one setting (see settings.py)."""

from dataclasses import dataclass
from typing import Optional

import models
from benchmarks.config.settings import (at_least, boolean, enum,
                                        falsy_is_none, floating, integer,
                                        listing, numbers, one_of,
                                        optional_at_least, string)
from benchmarks.errors import UsageError

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "piecewise", "step", "cosine")


def _optional_float(value):
    return None if value is None else float(value)


def _optional_int(value):
    return None if value is None else int(value)


DEFAULT_LOSS_SCALE = 128.0  # fp16: tf_cnn_benchmarks' default for its models
DEFAULT_SAVE_SECS = 600.0  # checkpoint period with --train_dir


@dataclass(frozen=True)
class OptimizerConfig:
    optimizer: str = enum(
        "sgd", OPTIMIZERS, "Optimizer; momentum is Nesterov momentum, as in "
        "tf_cnn_benchmarks.")
    init_learning_rate: float = floating(
        models.DEFAULT_LEARNING_RATE, "Learning rate (tf_cnn_benchmarks' VGG "
        "default).")
    momentum: float = floating(0.9, "Momentum.")
    nesterov: bool = boolean(
        True, "Nesterov momentum for --optimizer=momentum (tf_cnn_benchmarks' "
        "choice); --nonesterov for plain (PyTorch) momentum.")
    # L2 on kernels and biases, as tf_cnn_benchmarks; adamw: decoupled decay.
    weight_decay: float = floating(
        4e-5, "L2 weight decay factor (conv and dense weights and biases); "
        "adamw: decoupled decay.")
    label_smoothing: float = floating(
        0.0, "Label smoothing of the cross-entropy.")
    gradient_clip: Optional[float] = floating(  # clip each value to +-this
        None, "Clip every gradient value to [-x, x] after the all-reduce.")
    rmsprop_decay: float = floating(0.9, "RMSProp decay.")
    rmsprop_momentum: float = floating(0.9, "RMSProp momentum.")
    rmsprop_epsilon: float = floating(1.0, "RMSProp epsilon.")
    adam_beta1: float = floating(0.9, "Adam beta1.")
    adam_beta2: float = floating(0.999, "Adam beta2.")
    adam_epsilon: float = floating(1e-8, "Adam epsilon.")
    # fp16 loss scaling: dynamic unless a fixed --fp16_loss_scale is given
    # without --fp16_enable_auto_loss_scale (see fixed_loss_scale).
    fp16_loss_scale: Optional[float] = floating(
        None, "fp16: the loss scale (fixed, or the dynamic scale's start; "
        f"default {DEFAULT_LOSS_SCALE:g}).")
    fp16_enable_auto_loss_scale: Optional[bool] = boolean(
        None, "fp16: adjust the loss scale during training (default: yes, "
        "unless --fp16_loss_scale is given alone).")
    fp16_inc_loss_scale_every_n: int = integer(
        1000, "fp16: double the dynamic loss scale after this many steps "
        "without overflow.")
    single_l2_loss_op: bool = boolean(
        False, "Compute the L2 loss as one op over all decayed variables "
        "concatenated.")
    compute_lr_on_cpu: bool = boolean(
        False, "Compute the learning rate on the CPU.")

    DEFAULT_LOSS_SCALE = DEFAULT_LOSS_SCALE

    def __post_init__(self):
        one_of("optimizer", self.optimizer, OPTIMIZERS)
        if self.fp16_loss_scale is not None and not self.fp16_loss_scale > 0:
            raise UsageError("--fp16_loss_scale must be positive (got "
                             f"{self.fp16_loss_scale})")
        at_least("fp16_inc_loss_scale_every_n",
                 self.fp16_inc_loss_scale_every_n, 1)
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

    @property
    def fixed_loss_scale(self):
        """fp16: a fixed loss scale (tf_cnn_benchmarks' --fp16_loss_scale
        without --fp16_enable_auto_loss_scale), or None for dynamic scaling."""
        auto = self.fp16_enable_auto_loss_scale
        if auto or (auto is None and self.fp16_loss_scale is None):
            return None
        return self.fp16_loss_scale or self.DEFAULT_LOSS_SCALE

    @property
    def initial_loss_scale(self):
        return self.fp16_loss_scale or self.DEFAULT_LOSS_SCALE


def _piecewise_flag(values):
    return ";".join(str(v) for v in values) or None


@dataclass(frozen=True)
class ScheduleConfig:
    """The learning-rate schedule (see training/schedules.py)."""

    # None: piecewise with a piecewise list, step with decay epochs, else
    # constant (resolved in __post_init__).
    kind: Optional[str] = enum(
        None, SCHEDULES, "Default: piecewise if "
        "--piecewise_learning_rate_schedule, step if --num_epochs_per_decay, "
        "else constant.", flag="learning_rate_schedule")
    piecewise: tuple = string(  # (lr0, epoch1, lr1, ...)
        (), "lr0;epoch1;lr1;epoch2;lr2...: lr0 until epoch1, then lr1, ...",
        flag="piecewise_learning_rate_schedule",
        parse=numbers("piecewise_learning_rate_schedule", separator=";"),
        to_flag=_piecewise_flag)
    num_epochs_per_decay: float = floating(
        0.0, "Stepped decay: epochs between decays.")
    learning_rate_decay_factor: float = floating(
        0.0, "Stepped decay: factor per decay.")
    minimum_learning_rate: float = floating(
        0.0, "Floor of stepped decay; end of cosine decay.")
    num_learning_rate_warmup_epochs: float = floating(
        0.0, "Linear warmup epochs (from init/warmup_steps up to init).")

    def __post_init__(self):
        if self.kind is None:
            inferred = ("piecewise" if self.piecewise else
                        "step" if self.num_epochs_per_decay else "constant")
            object.__setattr__(self, "kind", inferred)
        one_of("learning_rate_schedule", self.kind, SCHEDULES)
        if self.piecewise and self.kind != "piecewise":
            raise UsageError("--piecewise_learning_rate_schedule contradicts "
                             f"--learning_rate_schedule={self.kind}")
        if self.kind == "piecewise":
            self._check_piecewise()
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

    def _check_piecewise(self):
        p = self.piecewise
        epochs = p[1::2]
        if (len(p) < 3 or len(p) % 2 == 0 or min(p[0::2]) <= 0
                or min(epochs) <= 0 or list(epochs) != sorted(set(epochs))):
            raise UsageError(
                "--piecewise_learning_rate_schedule must be lr0;epoch1;lr1"
                ";epoch2;lr2... with positive rates and increasing epochs "
                f"(got {';'.join(str(v) for v in p)})")


@dataclass(frozen=True)
class LoopConfig:
    forward_only: bool = boolean(False, "Benchmark inference only.")
    input_only: bool = boolean(  # run the input pipeline alone
        False, "Benchmark the input pipeline alone (needs --data_dir).")
    num_batches: int = integer(  # timed steps, warmup excluded
        100, "Timed batches, warmup excluded.")
    # Train this many epochs after warmup; overrides num_batches.
    num_epochs: Optional[float] = floating(
        None, "Epochs to run, excluding warmup (as --num_batches); not with "
        "--num_batches.")
    num_warmup_batches: int = integer(10, "Batches run before timing starts.")
    display_every: int = integer(
        10, "Show progress at the first timed step and every N steps.")
    display_perf_ewma: Optional[float] = floating(
        None, "Show images/sec as an exponentially weighted moving average "
        "of the step times with this weight for the newest (default: the "
        "plain mean).")
    loss_type_to_report: str = enum(
        "total_loss", ("total_loss", "base_loss"), "The loss shown and "
        "logged: total_loss includes the L2 term, base_loss does not.")
    steps_per_loop: int = integer(
        1, "Training steps per call of the compiled loop; more cuts host "
        "overhead.")
    xla: bool = boolean(False, "Compile the training step with XLA "
                        "(jit_compile).")
    measure_peak: bool = boolean(  # probe the device's peak TFLOP/s first
        False, "Measure the device's peak TFLOP/s first (a matmul and a 3x3 "
        "conv probe in the run's precision; on a CPU in fp32 also numpy's "
        "BLAS matmul, and the better of the two matmuls as the hardware's "
        "own limit) and report the run's fraction of each.")
    print_training_accuracy: bool = boolean(
        False, "Compute and show top-1 on each training batch.")
    tf_random_seed: int = integer(1234, "Random seed.")
    deterministic: bool = boolean(  # deterministic kernels (exact resume)
        False, "Deterministic kernels (tf.config.experimental."
        "enable_op_determinism): the same flags give the same weights, "
        "resumed or not.")

    def __post_init__(self):
        at_least("num_batches", self.num_batches, 1)
        if self.num_epochs is not None and not self.num_epochs > 0:
            raise UsageError(f"--num_epochs must be positive (got {self.num_epochs})")
        at_least("num_warmup_batches", self.num_warmup_batches, 1,
                 "the first step traces and compiles and is never timed")
        at_least("display_every", self.display_every, 1)
        if (self.display_perf_ewma is not None
                and not 0 < self.display_perf_ewma <= 1):
            raise UsageError("--display_perf_ewma must be in (0, 1] (got "
                             f"{self.display_perf_ewma})")
        at_least("steps_per_loop", self.steps_per_loop, 1)
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
        """The benchmark's mode (benchmarks/modes.py), its metrics' prefix:
        train.*, infer.* or input.*"""
        if self.input_only:
            return "input"
        return "infer" if self.forward_only else "train"


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation on the validation split: alone (--eval) or during training."""

    eval: bool = boolean(  # evaluate a checkpoint instead of training
        False, "Evaluate a checkpoint from --train_dir (the latest, or "
        "--checkpoint) on the validation split.")
    batch_size: Optional[int] = integer(  # per replica; None: the training batch
        None, "Eval batch per replica; 0 or unset: --batch_size.",
        flag="eval_batch_size", parse=falsy_is_none)
    num_eval_batches: Optional[int] = integer(  # None: the whole split
        None, "Eval at most this many batches (default: the whole validation "
        "split).")
    num_eval_epochs: Optional[float] = floating(  # fraction of the split, <= 1
        None, "Eval this fraction of the validation split (<= 1).")
    every_n_steps: int = integer(
        0, "Evaluate every N training steps.",
        flag="eval_during_training_every_n_steps")
    every_n_epochs: float = floating(
        0.0, "Evaluate every N training epochs.",
        flag="eval_during_training_every_n_epochs")
    at_steps: tuple = listing(
        (), "Evaluate after these steps.",
        flag="eval_during_training_at_specified_steps",
        parse=numbers("eval_during_training_at_specified_steps", int))
    at_epochs: tuple = listing(
        (), "Evaluate after these epochs.",
        flag="eval_during_training_at_specified_epochs",
        parse=numbers("eval_during_training_at_specified_epochs"))
    stop_at_top_1_accuracy: Optional[float] = floating(  # a fraction, 0..1
        None, "Stop training once an evaluation reaches this top-1 (a "
        "fraction).")
    eval_interval_secs: int = integer(
        0, "With --eval: follow --train_dir and evaluate each new checkpoint, "
        "looking every N seconds, until the run's last step is evaluated or "
        "--eval_timeout_secs pass without a new one; 0: evaluate once.")
    eval_timeout_secs: float = floating(
        3600.0, "With --eval_interval_secs: stop after this long without a "
        "new checkpoint.")

    def __post_init__(self):
        optional_at_least("eval_batch_size", self.batch_size, 1)
        optional_at_least("num_eval_batches", self.num_eval_batches, 1)
        if self.num_eval_epochs is not None and not 0 < self.num_eval_epochs <= 1:
            raise UsageError("--num_eval_epochs must be in (0, 1]: one pass "
                             "covers every validation image once "
                             f"(got {self.num_eval_epochs})")
        at_least("eval_during_training_every_n_steps", self.every_n_steps, 0)
        at_least("eval_interval_secs", self.eval_interval_secs, 0)
        if not self.eval_timeout_secs > 0:
            raise UsageError("--eval_timeout_secs must be positive")
        if self.every_n_epochs < 0:
            raise UsageError("--eval_during_training_every_n_epochs must be >= 0")
        if any(not isinstance(s, int) or s < 1 for s in self.at_steps):
            raise UsageError("--eval_during_training_at_specified_steps must be "
                             f"positive integers (got {self.at_steps})")
        if any(e <= 0 for e in self.at_epochs):
            raise UsageError("--eval_during_training_at_specified_epochs must "
                             f"be positive (got {self.at_epochs})")
        self._check_target()

    def _check_target(self):
        target = self.stop_at_top_1_accuracy
        if target is None:
            return
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
    train_dir: Optional[str] = string(  # None: no checkpoints
        None, "Checkpoint (and TensorBoard) directory; a run on a train_dir "
        "that holds checkpoints resumes from the latest.")
    checkpoint: Optional[str] = string(  # --eval: this one, not the latest
        None, "With --eval: this checkpoint (a path prefix, or a name in "
        "--train_dir) instead of the latest.")
    save_model_steps: int = integer(0, "Checkpoint every N steps.")
    # None: DEFAULT_SAVE_SECS, unless by steps; 0: only at the end.
    save_model_secs: Optional[float] = integer(
        None, "Checkpoint every N seconds; 0: only at the end (default "
        f"{DEFAULT_SAVE_SECS:g} with --train_dir, unless --save_model_steps).",
        parse=_optional_float, to_flag=_optional_int)
    max_ckpts_to_keep: int = integer(
        5, "Checkpoints kept (the best top-1 one is kept apart).")

    DEFAULT_SAVE_SECS = DEFAULT_SAVE_SECS

    def __post_init__(self):
        at_least("save_model_steps", self.save_model_steps, 0)
        at_least("max_ckpts_to_keep", self.max_ckpts_to_keep, 1)
        if self.save_model_secs is not None and self.save_model_secs < 0:
            raise UsageError("--save_model_secs must be >= 0")
        if not self.train_dir and (self.save_model_steps or self.save_model_secs):
            raise UsageError("--save_model_steps/--save_model_secs need "
                             "--train_dir to save into")

    @property
    def every_secs(self):
        """Seconds between checkpoints; 0: none by time."""
        if self.save_model_secs is not None:
            return self.save_model_secs
        return 0.0 if self.save_model_steps else self.DEFAULT_SAVE_SECS
