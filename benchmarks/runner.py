"""runner.run(config): picks the mode and wires the pieces together.  It
computes nothing itself.

    setup (run_setup)          strategy, layout, model, FLOPs    every mode
    splits (inputs)            the shards, listed and counted    real data
    plan (training.plan)       epochs, schedule, optimizer,      training
                               checkpoints, resume point
    loop (modes)               the compiled loop of the mode
    drive (loop.driver)        timed calls -> meter, progress, session
    results                    the final figures -> console, log

--eval instead evaluates saved checkpoints (checkpoint_eval.py).
"""

import contextlib
import functools
import time

import tensorflow as tf

from benchmarks import run_setup
from benchmarks.checkpoint_eval import CheckpointEvaluation, weight_identity
from benchmarks.distribute.cluster import (agree, explain_lost_worker,
                                           is_chief, resolve_cluster)
from benchmarks.distribute.strategy import device_sync
from benchmarks.errors import ResourceError
from benchmarks.evaluation import Evaluator
from benchmarks.inputs import (EvalInputs, Inputs, read_splits,
                               records_per_epoch, split_read)
from benchmarks.loop.chunks import plan_chunks
from benchmarks.loop.compiled import explain_xla_error
from benchmarks.loop.driver import drive
from benchmarks.loop.meter import ThroughputMeter
from benchmarks.machine import peak
from benchmarks.modes import MODES, mode_of
from benchmarks.output import console
from benchmarks.output.logger import Logger, metric_metadata
from benchmarks.output.profile import StepProfiler, write_graph
from benchmarks.output.summaries import Summaries
from benchmarks.progress import ProgressReport
from benchmarks.results import benchmark_summary, final_metrics
from benchmarks.training import checkpoints, damage, steps
from benchmarks.training.lock import TrainDirLock
from benchmarks.training.plan import build_training_plan
from benchmarks.training.session import TrainingEvents, TrainingSession


def run(config, *, clock=time.perf_counter, stream=None, sleep=time.sleep):
    """Runs one job; returns the final metrics dict that was logged."""
    cluster = resolve_cluster(config.dist)
    mode = mode_of(config)
    try:
        # The lock comes first: the one-writer rule covers the whole run,
        # and a second run into the same train_dir builds nothing.
        with _train_dir_lock(config, mode, cluster, stream):
            setup = run_setup.build_setup(config, cluster, stream)
            if mode.name == "eval":
                return _evaluate_checkpoints(config, mode, setup, stream,
                                             sleep)
            return _benchmark(config, mode, setup, clock, stream)
    except (tf.errors.ResourceExhaustedError, MemoryError) as e:
        raise _out_of_memory(config, e) from None
    except tf.errors.OpError as e:
        explained = cluster and explain_lost_worker(
            e, cluster, config.dist.worker_timeout_secs)
        if not explained:
            raise
        raise explained from None


def _out_of_memory(config, error):
    """The one line for a model or batch too large for the device."""
    m = config.model
    first = (str(getattr(error, "message", error)).strip().splitlines()
             or [type(error).__name__])[0]
    where = first.split("}}")[-1].strip()[:160]  # TensorFlow's op prefix off
    return ResourceError(
        f"out of memory running {m.name} at --image_size={m.image_size} with "
        f"--batch_size={config.data.batch_size} per replica ({where}); lower "
        "--batch_size, or --image_size (fc1's weights grow with its square)")


def _evaluator(config, setup, split):
    eval_batch = config.eval.batch_size or config.data.batch_size
    inputs = EvalInputs(config.data, config.model, split, setup.strategy,
                        eval_batch, num_pipelines=setup.placement.num_workers)
    loop = MODES["eval"].build_loop(config, setup, None)
    return Evaluator(loop, inputs, num_eval_batches=config.eval.num_eval_batches,
                     num_eval_epochs=config.eval.num_eval_epochs)


def _eval_summaries(config, setup):
    """--eval_dir's TensorBoard writer (the chief's), or None."""
    if config.log.eval_dir and setup.placement.is_chief:
        return Summaries(config.log.eval_dir, verbosity=1)
    return None


def _logger(config, setup, stream):
    return Logger(setup.log_path(config), stream=stream,
                  parameters_to_stdout=config.log.parameters_to_stdout)


def _evaluate_checkpoints(config, mode, setup, stream, sleep):
    split = read_splits(config, mode)["validation"]
    evaluator = _evaluator(config, setup, split)
    logger = _logger(config, setup, stream)
    summaries = _eval_summaries(config, setup)
    with contextlib.closing(logger):
        logger.log("PARAMETER", run_setup.parameters(
            config, setup, mode, data=evaluator.inputs.description,
            logger=logger))
        for metric, meta in metric_metadata((mode.name,)).items():
            logger.metadata(metric, meta)
        console.print_header(run_setup.header(
            config, setup, mode, data=evaluator.inputs.description, warmup=1,
            timed=evaluator.steps - 1, examples_per_epoch=split.records,
            batch_size=evaluator.inputs.global_batch // setup.replicas,
            num_batches=evaluator.steps), stream)
        evaluation = CheckpointEvaluation(config, setup, evaluator, logger,
                                          summaries, stream)
        if config.eval.eval_interval_secs:
            return evaluation.follow(sleep=sleep)
        return evaluation.once()


def _restore_for_inference(config, setup, stream):
    """tf_cnn_benchmarks' --forward_only with --train_dir: the latest (or
    --checkpoint's) weights, when there are any."""
    c = config.checkpoint
    run_state = checkpoints.RunState()

    def restore(path):
        checkpoints.restore_for_eval(path, setup.model, run_state,
                                     weight_identity(config))

    if c.checkpoint:
        path = checkpoints.resolve_checkpoint(c.train_dir, c.checkpoint)
        restore(path)
    else:
        path, note = damage.restore_newest_good(c.train_dir, restore)
        if note:
            console.print_note(note, stream)
    if path is None:
        console.print_note(f"No checkpoint in --train_dir={c.train_dir}: "
                           "inference runs on freshly initialised weights",
                           stream)
        return
    console.print_note(f"Restored {path} (step {int(run_state.step.numpy())}) "
                       "for inference", stream)


def _train_dir_lock(config, mode, cluster, stream):
    """A training run's chief holds --train_dir's lock (one writer)."""
    train_dir = config.checkpoint.train_dir
    if mode.name != "train" or not train_dir or not is_chief(cluster):
        return contextlib.nullcontext()
    checkpoints.make_train_dir(train_dir)
    return TrainDirLock(train_dir,
                        note=lambda line: console.print_note(line, stream))


def _benchmark(config, mode, setup, clock, stream):
    """A training, inference or input benchmark."""
    splits = read_splits(config, mode)
    if mode.name == "infer" and (config.checkpoint.train_dir
                                 or config.checkpoint.checkpoint):
        _restore_for_inference(config, setup, stream)
    plan = None
    if mode.name == "train":
        plan = build_training_plan(config, setup,
                                   records_per_epoch(config.data, splits.get("train")))
        if plan.finished:
            console.print_note(
                f"{plan.resumed_from} is at step {plan.start_step} of "
                f"{plan.last_step}: training is complete; evaluate it with "
                "--eval", stream)
            return {"train.step": plan.start_step}
    benchmark = _Benchmark(config, mode, setup, plan, splits, clock, stream)
    with contextlib.closing(benchmark.logger), \
            contextlib.closing(benchmark.summaries):
        return benchmark.run()


class _Benchmark:
    """The pieces of one benchmark run, wired together."""

    def __init__(self, config, mode, setup, plan, splits, clock, stream):
        self.config, self.mode, self.setup, self.plan = config, mode, setup, plan
        self.splits, self.clock, self.stream = splits, clock, stream
        remaining = plan.remaining if plan else config.loop.total_steps
        # The first call compiles; a resumed run may have few steps left.
        self.num_warmup = min(config.loop.num_warmup_batches,
                              max(1, remaining - 1))
        self.num_timed = remaining - self.num_warmup
        self.optimizer = plan.optimizer if plan else None
        self.inputs = Inputs(
            config, split_read(splits, mode), setup.strategy,
            setup.data_format, setup.model.layers[1].compute_dtype,
            setup.global_batch,
            start_example=int(plan.run_state.examples_seen.numpy()) if plan else 0,
            num_workers=setup.placement.num_workers)
        self.evaluator = (_evaluator(config, setup, splits["validation"])
                          if plan and config.eval.during_training else None)
        self.device_peak = (peak.resolve_peak(
            setup.placement.device_kind, setup.placement.devices[0],
            setup.device_name, config.model.precision,
            config.loop.measure_peak) if mode.wants_peak else None)
        self.logger = _logger(config, setup, stream)
        self.summaries = Summaries.of_train_dir(
            setup.placement.is_chief and config.checkpoint.train_dir,
            config.log.summary_verbosity)
        self.meter = ThroughputMeter(setup.global_batch, setup.replicas,
                                     self.num_warmup)
        self.with_accuracy = mode.shows_accuracy(config)
        self.session = self._session() if plan else None
        profiling = config.profile.trace_file or config.profile.tfprof_file
        self.profiler = (StepProfiler(config.profile, self.num_warmup)
                         if profiling and setup.placement.is_chief else None)

    def _session(self):
        config, plan = self.config, self.plan
        events = TrainingEvents(
            start_step=plan.start_step, last_step=plan.last_step,
            steps_per_epoch=plan.steps_per_epoch,
            epoch_ends=steps.epoch_end_steps(plan.steps_per_epoch,
                                             plan.last_step),
            eval_steps=frozenset(steps.eval_steps(
                config.eval, plan.steps_per_epoch, plan.last_step)),
            save_every_steps=config.checkpoint.save_model_steps,
            save_every_secs=config.checkpoint.every_secs,
            stop_at_top1=config.eval.stop_at_top_1_accuracy)
        several = self.setup.placement.num_workers > 1
        return TrainingSession(
            events, run_state=plan.run_state,
            global_batch=self.setup.global_batch,
            examples_per_epoch=plan.examples_per_epoch, model=self.setup.model,
            optimizer=plan.optimizer, logger=self.logger,
            summaries=self.summaries, evaluator=self.evaluator,
            store=plan.store, signals=checkpoints.StopSignals(),
            agree=(functools.partial(agree, self.setup.strategy)
                   if several else None),
            with_accuracy=self.config.loop.print_training_accuracy,
            clock=self.clock, stream=self.stream,
            summary_every=config.log.save_summaries_steps,
            schedule=plan.schedule,
            eval_summaries=_eval_summaries(config, self.setup))

    def run(self):
        self._log_start()
        try:
            last = self._drive()
        finally:
            if self.inputs.service:
                self.inputs.service.watchdog.close()
        summary = benchmark_summary(
            self.mode, self.setup, self.meter, last,
            device_peak=self.device_peak, optimizer=self.optimizer,
            with_accuracy=self.with_accuracy)
        final = final_metrics(self.mode, summary, input_stats=self.inputs.stats,
                              session=self.session, plan=self.plan)
        if self.inputs.service:
            final.update(self.inputs.service.metrics())
        console.print_summary(summary, self.stream,
                              skipped=final.get("input.skipped_records"))
        if self.session is not None and self.session.final_evaluation():
            final.update(self.session.last_eval.as_metrics())
        self.logger.log([], final)
        return final

    def _log_start(self):
        """The PARAMETER entry, the metrics' units, the console header."""
        config, setup, plan = self.config, self.setup, self.plan
        # The console's timed step k is log step start + warmup + k.
        extra = {"warmup_steps": self.num_warmup}
        if self.device_peak is not None:
            extra.update(self.device_peak.as_metrics())
        elif self.mode.wants_peak:
            note = peak.missing_peak_note(
                setup.placement.device_kind, setup.device_name,
                config.model.precision)
            if note:
                extra["peak.source"] = note
                print(f"NOTE: {note}", file=self.stream)
        if plan:
            extra.update(plan.log_entries())
        if self.inputs.service:
            extra.update(self.inputs.service.parameters())
        self.logger.log("PARAMETER", run_setup.parameters(
            config, setup, self.mode, data=self.inputs.description,
            logger=self.logger, **extra))
        for metric, meta in metric_metadata(
                (self.mode.name, "input", "eval")).items():
            self.logger.metadata(metric, meta)
        console.print_header(run_setup.header(
            config, setup, self.mode, data=self.inputs.description,
            warmup=self.num_warmup, timed=self.num_timed,
            examples_per_epoch=records_per_epoch(
                config.data, self.inputs.split)), self.stream)
        if plan and plan.resume_note:
            console.print_note(plan.resume_note, self.stream)
        if plan and plan.resumed_from:
            console.print_note(
                f"Resuming from {plan.resumed_from}: step {plan.start_step} of "
                f"{plan.last_step}, epoch "
                f"{float(plan.run_state.epoch.numpy()):.2f}", self.stream)
        if self.inputs.service:
            console.print_note(
                f"Input: tf.data service {self.inputs.service.address}, "
                f"{self.inputs.service.mode}; "
                f"{self.inputs.service.parameters()['data_service.on_lost_worker']}",
                self.stream)
        console.print_warmup_start(self.stream)

    def _drive(self):
        """Runs the planned calls; the last Progress."""
        config, session = self.config, self.session
        loop = self.mode.build_loop(config, self.setup, self.optimizer)
        boundaries = set(session.events.call_boundaries()) if session else set()
        if self.profiler:
            boundaries.add(self.profiler.boundary)
        chunks = plan_chunks(
            num_warmup=self.num_warmup, num_timed=self.num_timed,
            steps_per_loop=config.loop.steps_per_loop,
            display_every=config.loop.display_every, boundaries=boundaries)
        placement = self.setup.placement
        progress = ProgressReport(
            self.mode, self.meter, logger=self.logger,
            worker_share=len(placement.devices) / self.setup.replicas,
            summaries=(None if config.log.save_summaries_steps
                       else self.summaries),
            loop_config=config.loop,
            start_step=self.plan.start_step if self.plan else 0,
            optimizer=self.optimizer, with_accuracy=self.with_accuracy,
            stream=self.stream)
        if self.inputs.service and session:
            self.inputs.service.during_training(session.save_now)
        try:
            with session.signals if session else contextlib.nullcontext():
                last = drive(loop, self.inputs.value, chunks, self.meter,
                             num_warmup=self.num_warmup,
                             display_every=config.loop.display_every,
                             on_display=progress, profiler=self.profiler,
                             after_chunk=session and session.after_chunk,
                             clock=self.clock,
                             sync=device_sync(self.setup.placement))
                if session:
                    session.save()  # the final weights
        except tf.errors.OpError as e:
            if isinstance(e, tf.errors.ResourceExhaustedError):
                raise  # out of memory: run() says so, with or without XLA
            explained = (explain_xla_error(e, self.setup.placement.devices[0])
                         if config.loop.xla else None) or self.inputs.explain(e)
            if explained is None:
                raise
        else:
            explained = None
        if explained is not None:
            # Out of the except block, nothing holds the failed iterator: its
            # reader threads stop before the error line is printed.
            self.inputs.close()
            raise explained
        if config.profile.graph_file and self.setup.placement.is_chief:
            write_graph(loop, (tf.constant(1, tf.int32), self.inputs.value),
                        config.profile.graph_file)
        return last
