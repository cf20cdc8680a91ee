"""Learning-rate schedules, in tf_cnn_benchmarks' flag meanings plus cosine.

Every schedule is a pure function of the 0-based index of the update (the
optimizer's step count), so a resumed run continues the same curve.  Epochs
are converted to steps with the run's steps_per_epoch (train examples /
global batch, not rounded).

- constant: init_learning_rate.
- piecewise "lr0;e1;lr1;e2;lr2": lr0 before epoch e1, lr1 from e1 to e2, ...
- step (stepped decay): init * factor ** floor(step / decay_steps), never
  below minimum_learning_rate.
- cosine: from init down to minimum_learning_rate over the steps after
  warmup, as MindCV's cosine_decay.
- warmup (any schedule): the first update uses init / warmup_steps, rising
  linearly to init at the last warmup step; the schedule proper starts after.

Linear scaling rule: for a global batch B, use init_learning_rate =
base_lr * B / 256 (Goyal et al.); the recipes in recipes/ state their B.
"""

import math
from dataclasses import dataclass

import keras
import tensorflow as tf


@dataclass(frozen=True)
class StepSchedule:
    """A ScheduleConfig resolved into steps (see build_schedule)."""

    kind: str  # constant | piecewise | step | cosine
    init: float
    warmup_steps: int = 0
    boundaries: tuple = ()  # piecewise: steps where the next value starts
    values: tuple = ()  # piecewise: len(boundaries) + 1 values
    decay_steps: int = 0  # step decay
    decay_factor: float = 1.0
    minimum: float = 0.0
    total_steps: int = 0  # cosine

    def value(self, step):
        """The learning rate of update ``step`` (0-based), in plain Python:
        the reference formula the tests check the graph version against."""
        if step < self.warmup_steps:
            return self.init * (step + 1) / self.warmup_steps
        if self.kind == "piecewise":
            return self.values[sum(1 for b in self.boundaries if step >= b)]
        if self.kind == "step":
            return max(self.init * self.decay_factor ** (step // self.decay_steps),
                       self.minimum)
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            t = min(step - self.warmup_steps, span) / span
            return self.minimum + (self.init - self.minimum) * 0.5 * (
                1 + math.cos(math.pi * t))
        return self.init


class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """A StepSchedule as a Keras schedule (evaluated in the graph; on the CPU
    with ``on_cpu``, --compute_lr_on_cpu)."""

    def __init__(self, schedule, on_cpu=False):
        self.schedule = schedule
        self.on_cpu = on_cpu

    def __call__(self, step):
        if self.on_cpu:
            with tf.device("/cpu:0"):
                return self._rate(step)
        return self._rate(step)

    def _rate(self, step):
        s = self.schedule
        step = tf.cast(step, tf.float32)
        if s.kind == "piecewise":
            lr = tf.gather(tf.constant(s.values, tf.float32), tf.reduce_sum(
                tf.cast(step >= tf.constant(s.boundaries, tf.float32), tf.int32)))
        elif s.kind == "step":
            lr = tf.maximum(s.init * tf.pow(s.decay_factor, tf.floor(
                step / s.decay_steps)), s.minimum)
        elif s.kind == "cosine":
            span = float(max(1, s.total_steps - s.warmup_steps))
            t = tf.minimum(step - s.warmup_steps, span) / span
            lr = s.minimum + (s.init - s.minimum) * 0.5 * (
                1.0 + tf.cos(math.pi * t))
        else:
            lr = tf.constant(s.init, tf.float32)
        if s.warmup_steps:
            warm = s.init * (step + 1.0) / s.warmup_steps
            lr = tf.where(step < s.warmup_steps, warm, lr)
        return lr

    def get_config(self):
        return dict(vars(self.schedule))


def build_schedule(sched, init_learning_rate, *, steps_per_epoch, total_steps):
    """A StepSchedule from a ScheduleConfig (epochs -> steps)."""
    warmup = int(round(sched.num_learning_rate_warmup_epochs * steps_per_epoch))
    common = dict(init=init_learning_rate, warmup_steps=warmup,
                  minimum=sched.minimum_learning_rate)
    if sched.kind == "piecewise":
        values = sched.piecewise[0::2]
        boundaries = tuple(int(round(e * steps_per_epoch))
                           for e in sched.piecewise[1::2])
        return StepSchedule("piecewise", init=values[0], warmup_steps=warmup,
                            boundaries=boundaries, values=values)
    if sched.kind == "step":
        decay_steps = max(1, int(sched.num_epochs_per_decay * steps_per_epoch))
        return StepSchedule("step", decay_steps=decay_steps,
                            decay_factor=sched.learning_rate_decay_factor,
                            **common)
    if sched.kind == "cosine":
        return StepSchedule("cosine", total_steps=total_steps, **common)
    return StepSchedule("constant", **common)
