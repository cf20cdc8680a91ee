"""The frozen run configuration.

Flags are parsed once (benchmarks/flags.py) into a RunConfig; every builder
takes only the section it needs, so each can be called from tests and scripts
without absl flags.  Each field of a section is one setting, declared once
with its flag (settings.py); the sections live in run.py (model, devices,
data, logs), training.py (loop, optimizer, schedule, evaluation,
checkpoints) and runtime.py (TensorFlow's runtime options, profiling).
"""

import dataclasses
from dataclasses import dataclass, field

from benchmarks.config.run import (ALL_REDUCE_SPECS, EXAMPLES_PER_EPOCH,
                                   FILTER_GRADIENTS, NUM_CLASSES,
                                   ONEDNN_MODES, PRECISION_TO_POLICY,
                                   DataConfig, DistConfig, LogConfig,
                                   ModelConfig)
from benchmarks.config.runtime import ProfileConfig, RuntimeConfig
from benchmarks.config.settings import settings_of
from benchmarks.config.training import (OPTIMIZERS, SCHEDULES,
                                        CheckpointConfig, EvalConfig,
                                        LoopConfig, OptimizerConfig,
                                        ScheduleConfig)
from benchmarks.errors import UsageError

__all__ = [
    "ALL_REDUCE_SPECS", "EXAMPLES_PER_EPOCH", "FILTER_GRADIENTS",
    "NUM_CLASSES", "ONEDNN_MODES", "OPTIMIZERS", "PRECISION_TO_POLICY",
    "SCHEDULES", "CheckpointConfig", "DataConfig", "DistConfig", "EvalConfig",
    "LogConfig", "LoopConfig", "ModelConfig", "OptimizerConfig",
    "ProfileConfig", "RunConfig", "RuntimeConfig", "ScheduleConfig",
    "all_settings"]


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
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    profile: ProfileConfig = field(default_factory=ProfileConfig)

    def __post_init__(self):
        """Defaults and checks that need two sections."""
        if self.model.num_classes is None:  # the dataset's classes
            object.__setattr__(self, "model", dataclasses.replace(
                self.model, num_classes=NUM_CLASSES[self.data.data_name]))
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
        if self.loop.input_only and self.data.synthetic:
            raise UsageError("--input_only benchmarks the input pipeline; give "
                             "--data_dir")
        if self.log.summary_verbosity and not self.checkpoint.train_dir:
            raise UsageError("--summary_verbosity writes TensorBoard summaries "
                             "into --train_dir; give it")
        if self.eval.eval_interval_secs and not (
                self.eval.eval and self.checkpoint.train_dir):
            raise UsageError("--eval_interval_secs follows the checkpoints a "
                             "training run writes in --train_dir; give --eval "
                             "and --train_dir")
        self._check_checkpoint_use()
        profiling = self.profile.trace_file or self.profile.tfprof_file
        if profiling and self.eval.eval:
            raise UsageError("--trace_file and --tfprof_file profile the timed "
                             "steps of a benchmark; they do not go with --eval")

    def _check_checkpoint_use(self):
        c, prefix = self.checkpoint, self.loop.prefix
        saves = c.save_model_steps or c.save_model_secs
        if saves and (prefix != "train" or self.eval.eval):
            raise UsageError("--save_model_steps/--save_model_secs save a "
                             "training run; nothing trains with --eval, "
                             "--forward_only or --input_only: omit them")
        if c.train_dir and prefix == "input":
            raise UsageError("--input_only reads the input alone, no model: "
                             "omit --train_dir")

    @classmethod
    def from_values(cls, values):
        """A RunConfig from {"section.field": value}; unnamed fields keep
        their defaults.  Sections are built (and checked) in order."""
        sections = {}
        for f in dataclasses.fields(cls):
            own = {key.split(".", 1)[1]: value for key, value in values.items()
                   if key.split(".", 1)[0] == f.name}
            sections[f.name] = f.default_factory(**own)
        return cls(**sections)

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


def all_settings():
    """Every config field that is a flag, section by section."""
    return [s for f in dataclasses.fields(RunConfig)
            for s in settings_of(f.name, f.default_factory)]
