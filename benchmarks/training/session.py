"""What happens between calls of the training loop (``after_chunk``): step
and epoch counting, per-epoch log entries, evaluations (with the best-top-1
copy and the stop at a target), checkpoints by steps or seconds, and the
checkpoint-then-exit on SIGTERM/SIGINT.

``TrainingEvents.call_boundaries`` tells the runner where calls must end
(every epoch end, evaluation step and save step); this module acts there.
"""

import signal
import time
from dataclasses import dataclass, field

from benchmarks.output import console
from benchmarks.training.optimizers import learning_rate_of


@dataclass(frozen=True)
class TrainingEvents:
    """Global steps (1-based) at which something happens."""

    start_step: int  # steps done before this process (resume)
    last_step: int
    steps_per_epoch: float
    epoch_ends: dict = field(default_factory=dict)  # step -> epoch number
    eval_steps: frozenset = frozenset()
    save_every_steps: int = 0
    save_every_secs: float = 0.0
    stop_at_top1: float = None

    def save_step(self, step):
        return bool(self.save_every_steps) and step % self.save_every_steps == 0

    def call_boundaries(self):
        """Process-local steps after which a loop call must end."""
        steps = set(self.epoch_ends) | self.eval_steps | {
            s for s in range(self.start_step + 1, self.last_step + 1)
            if self.save_step(s)}
        return {s - self.start_step for s in steps if s > self.start_step}


class TrainingSession:
    def __init__(self, events, *, run_state, global_batch,
                 examples_per_epoch, model, optimizer, logger, summaries,
                 evaluator=None, store=None, signals=None,
                 with_accuracy=False, clock=time.perf_counter, stream=None,
                 agree=None, summary_every=0, schedule=None,
                 eval_summaries=None):
        self.events = events
        self.run_state = run_state
        self.global_batch = global_batch
        self.examples_per_epoch = examples_per_epoch
        self.model = model
        self.optimizer = optimizer
        self.logger = logger
        self.summaries = summaries
        # --save_summaries_steps: the loss and learning rate of every N-th
        # step (the schedule gives the rate of any step).
        self.summary_every = summary_every
        self.schedule = schedule
        self.eval_summaries = eval_summaries  # --eval_dir, or None
        self.evaluator = evaluator
        self.store = store
        self.signals = signals
        self.with_accuracy = with_accuracy
        self.clock = clock
        self.stream = stream
        # Several workers: f(flags) -> flags true on all when true on any.
        self.agree = agree
        self.last_eval = None
        self.stopped_at_target = False
        self.saved_step = None
        self._last_save = clock()
        self._epoch = dict(loss=0.0, top1=0.0, steps=0, seconds=0.0)

    @property
    def step(self):
        return int(self.run_state.step.numpy())

    def after_chunk(self, result):
        """Returns True to stop the run (target accuracy reached)."""
        chunk = result.chunk
        self.run_state.advance(chunk.num_steps, self.global_batch,
                               self.examples_per_epoch)
        step = self.step
        e = self._epoch
        e["loss"] += float(result.losses.sum())
        e["top1"] += float(result.top1.sum())
        e["steps"] += chunk.num_steps
        e["seconds"] += result.seconds
        if self.summary_every:
            self._step_summaries(chunk, result.losses, step)
        if step in self.events.epoch_ends:
            self._end_epoch(self.events.epoch_ends[step], step)
        stop = False
        if (step in self.events.eval_steps and self.evaluator is not None
                and step < self.events.last_step):  # the last: final_evaluation
            stop = self._evaluate(step)
        save_due, signalled = self._save_due(step), self._signalled()
        if self.agree is not None:
            save_due, signalled = self.agree([save_due, signalled])
            if signalled and not self._signalled():
                self.signals.received = signal.SIGTERM  # a peer was stopped
        if self.store is not None and (stop or save_due or signalled):
            self.save()
        if self.signals is not None:
            self.signals.check(step, self.store.latest if self.store else None)
        return stop

    def _step_summaries(self, chunk, losses, step):
        first = step - chunk.num_steps + 1  # global step of losses[0]
        for i, loss in enumerate(losses):
            if (first + i) % self.summary_every == 0:
                self.summaries.scalars(first + i, {
                    "train.loss": float(loss),
                    "train.learning_rate": self.schedule.value(first + i - 1)})

    def _signalled(self):
        return self.signals is not None and self.signals.received is not None

    def _save_due(self, step):
        if self.events.save_step(step):
            return True
        secs = self.events.save_every_secs
        return bool(secs) and self.clock() - self._last_save >= secs

    def save(self):
        """A checkpoint of the current step, unless it was just written."""
        if self.store is None or self.saved_step == self.step:
            return
        self.store.save()
        self.saved_step = self.step
        self._last_save = self.clock()

    def save_now(self):
        """A checkpoint now, from any thread (a stalled input's watchdog);
        its path, or None without a checkpoint store.  The weights may hold
        steps of the unfinished loop call that the step counter lacks."""
        if self.store is None:
            return None
        self.save()
        return self.store.latest

    def _end_epoch(self, epoch, step):
        e = self._epoch
        steps = max(1, e["steps"])
        entry = {"train.epoch": epoch, "train.epoch_loss": e["loss"] / steps,
                 "train.learning_rate": learning_rate_of(self.optimizer),
                 "train.epoch_ips": e["steps"] * self.global_batch /
                 max(e["seconds"], 1e-9)}
        top1 = e["top1"] / steps if self.with_accuracy else None
        if top1 is not None:
            entry["train.epoch_top1"] = top1
        self.logger.log(step, entry)
        self.summaries.scalars(step, entry)
        self.summaries.weights(step, self.model)
        console.print_epoch(epoch, step, entry["train.epoch_loss"],
                            entry["train.learning_rate"],
                            entry["train.epoch_ips"], top1, self.stream)
        self._epoch = dict(loss=0.0, top1=0.0, steps=0, seconds=0.0)

    def final_evaluation(self):
        """The evaluation after the last step, after the run's figures, as
        tf_cnn_benchmarks places it (none after a stop at the target
        accuracy, or when no evaluation was asked for); True if it ran."""
        step = self.step
        if (self.evaluator is None or self.stopped_at_target
                or step != self.events.last_step
                or step not in self.events.eval_steps):
            return False
        self._evaluate(step, final=True)
        return True

    def _evaluate(self, step, final=False):
        console.print_eval_start(step, final, self.stream)
        result = self.evaluator.evaluate(step=step)
        self.last_eval = result
        epoch = step / self.events.steps_per_epoch
        console.print_eval(result, epoch, stream=self.stream)
        metrics = dict(result.as_metrics(), **{"train.epoch": epoch})
        self.logger.log(step, metrics)
        for summaries in (self.summaries, self.eval_summaries):
            if summaries is not None:
                summaries.scalars(step, result.as_metrics())
        self.summaries.weights(step, self.model)
        if self.store is not None:
            _, note = self.store.save_if_best(result)
            if note:
                console.print_note(note, self.stream)
        target = self.events.stop_at_top1
        if target is not None and result.top1 >= target and not final:
            self.stopped_at_target = True
            # The run ends here: an evaluator following the train_dir stops
            # after this checkpoint (checkpoint_eval.py).
            self.run_state.last_step.assign(step)
            console.print_note("Stopping, as eval accuracy at least "
                               f"{target} was reached", self.stream)
            return True
        if not final:
            console.print_note("Resuming training", self.stream)
        return False
