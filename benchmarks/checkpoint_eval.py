"""--eval: evaluate a saved checkpoint on the validation split; with
--eval_interval_secs, follow --train_dir and evaluate each new checkpoint as
training writes it (as tf_cnn_benchmarks' evaluator did), until the
training run's last step is evaluated or --eval_timeout_secs pass without a
new checkpoint.  Every wait has that bound."""

import time

from benchmarks.errors import UsageError
from benchmarks.output import console
from benchmarks.training import checkpoints, damage


def weight_identity(config):
    """What a checkpoint's weights depend on (checked against its run.json)."""
    identity = checkpoints.run_identity(config, global_batch=None)
    return {k: identity[k] for k in checkpoints.WEIGHT_KEYS}


class CheckpointEvaluation:
    """Evaluates checkpoints into a model with an Evaluator; logs each."""

    def __init__(self, config, setup, evaluator, logger, summaries=None,
                 stream=None):
        self.config = config
        self.model = setup.model
        self.evaluator = evaluator
        self.logger = logger
        self.summaries = summaries  # --eval_dir
        self.stream = stream
        self.evaluated = []  # (path, EvalResult)

    def _restore(self, path):
        run_state = checkpoints.RunState()
        checkpoints.restore_for_eval(path, self.model, run_state,
                                     weight_identity(self.config))
        return run_state

    def evaluate(self, path, run_state=None):
        """Restores ``path`` (unless given its ``run_state``, restored) and
        evaluates it; returns its final metrics and whether it is its
        training run's last checkpoint."""
        run_state = run_state or self._restore(path)
        step = int(run_state.step.numpy())
        console.print_note(f"Evaluating {path} (step {step}) on "
                           f"{self.evaluator.inputs.description}", self.stream)
        result = self.evaluator.evaluate(step=step)
        console.print_eval(result, standalone=True, stream=self.stream)
        final = result.as_metrics()
        final["input.skipped_records"] = int(
            self.evaluator.inputs.stats.skipped.numpy())
        self.logger.log([] if not self.config.eval.eval_interval_secs
                        else step, final)
        if self.summaries is not None:
            self.summaries.scalars(step, result.as_metrics())
        self.evaluated.append((path, result))
        last_step = int(run_state.last_step.numpy())
        return final, bool(last_step) and step >= last_step

    def once(self):
        c = self.config.checkpoint
        if c.checkpoint:  # named: a damaged one is refused, not replaced
            path = checkpoints.resolve_checkpoint(c.train_dir, c.checkpoint)
            return self.evaluate(path)[0]
        restored = {}
        path, note = damage.restore_newest_good(
            c.train_dir, lambda p: restored.update(state=self._restore(p)))
        if path is None:
            checkpoints.resolve_checkpoint(c.train_dir, None)  # its message
        if note:
            console.print_note(note, self.stream)
        return self.evaluate(path, restored["state"])[0]

    def follow(self, *, sleep=time.sleep, clock=time.monotonic):
        """Evaluates each new latest checkpoint of --train_dir until one is
        its run's last, or none comes for --eval_timeout_secs."""
        e, train_dir = self.config.eval, self.config.checkpoint.train_dir
        final, seen, waiting_since = None, None, clock()
        while True:
            latest = checkpoints.latest_checkpoint(train_dir)
            if latest is not None and latest != seen:
                seen = latest
                try:
                    final, last = self.evaluate(latest)
                except damage.DamagedCheckpoint as damaged:
                    console.print_note(f"Skipping {damaged.path}: damaged "
                                       f"({damaged.problem})", self.stream)
                    continue
                if last:
                    break
                waiting_since = clock()
            elif clock() - waiting_since >= e.eval_timeout_secs:
                if final is None:
                    raise UsageError(
                        f"no checkpoint appeared in --train_dir={train_dir} "
                        f"within --eval_timeout_secs={e.eval_timeout_secs:g}; "
                        "start the training run, or evaluate later")
                console.print_note(
                    f"No new checkpoint in {train_dir} for "
                    f"{e.eval_timeout_secs:g} s; stopping after "
                    f"{len(self.evaluated)} evaluation(s).", self.stream)
                break
            sleep(e.eval_interval_secs)
        self.logger.log([], final)
        return final
