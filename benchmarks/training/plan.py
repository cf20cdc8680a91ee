"""The training plan: how long an epoch is, how many steps the run takes, the
learning-rate schedule and the optimizer, the checkpoint store and where a
resumed run starts."""

from dataclasses import dataclass
from typing import Optional

from benchmarks.training import steps
from benchmarks.training.checkpoints import (CheckpointStore, RunState,
                                             run_identity)
from benchmarks.training.optimizers import build_optimizer
from benchmarks.training.schedules import (LearningRate, StepSchedule,
                                           build_schedule)


@dataclass
class TrainingPlan:
    examples_per_epoch: int
    steps_per_epoch: float  # not rounded
    last_step: int  # global, 1-based
    schedule: StepSchedule
    optimizer: object  # a Keras optimizer
    run_state: RunState
    store: Optional[CheckpointStore]  # None without --train_dir
    start_step: int  # steps done before this process
    resumed_from: Optional[str]  # the checkpoint restored
    resume_note: Optional[str] = None  # damaged checkpoints passed over

    @property
    def remaining(self):
        return self.last_step - self.start_step

    @property
    def finished(self):
        return self.remaining <= 0

    def log_entries(self):
        """What the PARAMETER entry says of the plan."""
        return {"train.examples_per_epoch": self.examples_per_epoch,
                "train.steps_per_epoch": self.steps_per_epoch,
                "train.total_steps": self.last_step,
                "train.start_step": self.start_step,
                "train.resumed_from": self.resumed_from or "",
                "train.lr_schedule": str(self.schedule)}


def build_training_plan(config, setup, examples_per_epoch):
    """The plan of a training run on ``setup`` (run_setup.RunSetup); restores
    the latest checkpoint of --train_dir, if any, into the model, the
    optimizer and the run state."""
    steps_per_epoch = examples_per_epoch / setup.global_batch
    last_step = steps.total_train_steps(config.loop, steps_per_epoch)
    schedule = build_schedule(config.schedule,
                              config.optimizer.init_learning_rate,
                              steps_per_epoch=steps_per_epoch,
                              total_steps=last_step)
    with setup.strategy.scope():
        optimizer = build_optimizer(config.optimizer, config.model.precision,
                                    learning_rate=LearningRate(
                                        schedule,
                                        config.optimizer.compute_lr_on_cpu),
                                    model=setup.model)
        optimizer.build(setup.model.trainable_variables)
    run_state = RunState()
    store, resumed_from, note = None, None, None
    if config.checkpoint.train_dir:
        store = CheckpointStore(
            config.checkpoint.train_dir, setup.model, optimizer, run_state,
            max_to_keep=config.checkpoint.max_ckpts_to_keep,
            identity=run_identity(config, setup.global_batch),
            is_chief=setup.placement.is_chief)
        resumed_from, note = store.restore_latest()
    run_state.last_step.assign(last_step)
    return TrainingPlan(examples_per_epoch, steps_per_epoch, last_step,
                        schedule, optimizer, run_state, store,
                        int(run_state.step.numpy()), resumed_from, note)
