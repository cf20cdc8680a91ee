"""runner.run(config): wires the builders together.  It computes nothing.

Three kinds of run:
- training (the default): schedule, checkpoints and resume, evaluations;
- benchmarks of inference (--forward_only) or of the input alone
  (--input_only);
- --eval: one evaluation of a saved checkpoint.
"""

import contextlib
import functools
import sys
import time

import keras
import tensorflow as tf

import models
from benchmarks import checkpoints, console, environment, peak
from benchmarks import plan as run_plan
from benchmarks.cluster import (agree, explain_lost_worker,
                                per_worker_figures, resolve_cluster,
                                weights_fingerprint)
from benchmarks.config import EXAMPLES_PER_EPOCH
from benchmarks.cpu import cpu_flags, onednn_enabled, precision_warning
from benchmarks.device_choices import resolve_data_format, resolve_filter_gradient
from benchmarks.distribution import (build_strategy, configure_runtime,
                                     device_sync)
from benchmarks.evaluation import Evaluator, build_eval_loop
from benchmarks.inputs import EvalInputs, Inputs, count_examples
from benchmarks.logger import VERBOSE, Logger, metric_metadata
from benchmarks.loop import (build_infer_loop, build_input_loop,
                             build_train_loop, explain_xla_error,
                             learning_rate_of, run_steps)
from benchmarks.optimization import build_optimizer, l2_loss_factor
from benchmarks.schedules import LearningRate, build_schedule
from benchmarks.summaries import Summaries
from benchmarks.timing import ThroughputMeter
from benchmarks.training import TrainingEvents, TrainingSession
from models import flops as model_flops


class _Run:
    """The pieces every kind of run shares: strategy, model, logger."""

    def __init__(self, config, stream):
        configure_runtime(config.dist, deterministic=config.loop.deterministic)
        self.placement = build_strategy(config.dist)
        self.strategy = self.placement.strategy
        keras.utils.set_random_seed(config.loop.tf_random_seed)
        self.data_format = resolve_data_format(
            config.model.data_format, self.placement.device_kind, stream)
        self.replicas = self.placement.num_replicas
        self.global_batch = config.data.batch_size * self.replicas
        self.filter_gradient = resolve_filter_gradient(
            config.model.filter_gradient,
            device_kind=self.placement.device_kind,
            precision=config.model.precision, xla=config.loop.xla,
            data_format=self.data_format, onednn=onednn_enabled())
        self.nhwc_to_nchw = (not config.data.synthetic
                             and self.data_format == "channels_first")
        if self.placement.device_kind == "cpu":
            warning = precision_warning(config.model.precision, cpu_flags())
            if warning:
                print(warning, file=stream or sys.stderr)

    def log_path(self, config):
        """Only the chief writes the dllogger log."""
        return config.log.log_path if self.placement.is_chief else None

    def build_model(self, config):
        m = config.model
        with self.strategy.scope():
            model = models.build(m.name, num_classes=m.num_classes,
                                 image_size=m.image_size,
                                 data_format=self.data_format,
                                 dropout=m.dropout, dtype_policy=m.dtype_policy,
                                 filter_gradient=self.filter_gradient)
        self.params = model_flops.trainable_params(model)
        self.forward_flops = model_flops.forward_flops_per_image(model)
        return model

    def parameters(self, config, logger, description, **extra):
        """The PARAMETER entry: the config, the environment, the run's shape."""
        parameters = dict(config.to_dict())
        parameters.update(environment.describe(self.placement))
        parameters.update({
            "model.params": self.params,
            "model.flops_per_image": self.forward_flops,
            "model.data_format_used": self.data_format,
            "model.filter_gradient_used": self.filter_gradient,
            "global_batch": self.global_batch, "replicas": self.replicas,
            "workers": self.placement.num_workers,
            "task_index": (self.placement.cluster.task_index
                           if self.placement.cluster else 0),
            "data": description, "logger": logger.backend_name})
        parameters.update(environment.recipe_entries(config.log.recipes))
        parameters.update(extra)
        return parameters

    def header(self, config, mode, description, **extra):
        return dict(
            model=config.model.name, params=self.params,
            gflops=self.forward_flops / 1e9, mode=mode,
            precision=config.model.precision, data=description,
            replicas=self.replicas, device_kind=self.placement.device_kind,
            device_name=environment.device_names(self.placement)[0],
            strategy=type(self.strategy).__name__,
            all_reduce=self.placement.all_reduce,
            global_batch=self.global_batch, batch_size=config.data.batch_size,
            steps_per_loop=config.loop.steps_per_loop, **extra)


def run(config, *, clock=time.perf_counter, stream=None):
    """Runs one job; returns the final metrics dict that was logged."""
    cluster = resolve_cluster(config.dist)
    try:
        if config.eval.eval:
            return _evaluate_checkpoint(config, stream)
        return _run_loop(config, clock, stream)
    except tf.errors.OpError as e:
        explained = cluster and explain_lost_worker(
            e, cluster, config.dist.worker_timeout_secs)
        if not explained:
            raise
        raise explained from None


def _evaluator(config, run_, model):
    eval_batch = config.eval.batch_size or config.data.batch_size
    inputs = EvalInputs(config.data, config.model, run_.strategy, eval_batch)
    loop = build_eval_loop(run_.strategy, model, nhwc_to_nchw=run_.nhwc_to_nchw)
    return Evaluator(loop, inputs, num_eval_batches=config.eval.num_eval_batches,
                     num_eval_epochs=config.eval.num_eval_epochs)


def _evaluate_checkpoint(config, stream):
    run_ = _Run(config, stream)
    model = run_.build_model(config)
    path = checkpoints.resolve_checkpoint(config.checkpoint.train_dir,
                                          config.checkpoint.checkpoint)
    run_state = checkpoints.RunState()
    checkpoints.restore_for_eval(path, model, run_state)
    evaluator = _evaluator(config, run_, model)
    logger = Logger(run_.log_path(config), stream=stream)
    try:
        logger.log("PARAMETER", run_.parameters(
            config, logger, evaluator.inputs.description, checkpoint=path))
        for metric, meta in metric_metadata(("eval",)).items():
            logger.metadata(metric, meta)
        console.print_note(f"Evaluating {path} (step "
                           f"{int(run_state.step.numpy())}) on "
                           f"{evaluator.inputs.description}", stream)
        result = evaluator.evaluate(step=int(run_state.step.numpy()))
        console.print_eval(result, stream=stream)
        final = result.as_metrics()
        final["input.skipped_records"] = int(evaluator.inputs.stats.skipped.numpy())
        logger.log([], final)
        return final
    finally:
        logger.close()


def _run_loop(config, clock, stream):
    run_ = _Run(config, stream)
    loop_cfg = config.loop
    prefix = loop_cfg.prefix
    training = prefix == "train"
    model = run_.build_model(config)

    # Epochs, the run's length and the schedule (training only).
    if config.data.synthetic:
        examples_per_epoch = EXAMPLES_PER_EPOCH[config.data.data_name]["train"]
    elif training:
        examples_per_epoch = count_examples(config.data.data_dir, "train")
    else:
        examples_per_epoch = None
    run_state = checkpoints.RunState()
    optimizer = store = None
    start_step, resumed_from = 0, None
    if training:
        steps_per_epoch = examples_per_epoch / run_.global_batch
        last_step = run_plan.total_train_steps(loop_cfg, steps_per_epoch)
        lr_schedule = build_schedule(
            config.schedule, config.optimizer.init_learning_rate,
            steps_per_epoch=steps_per_epoch, total_steps=last_step)
        with run_.strategy.scope():
            optimizer = build_optimizer(config.optimizer, config.model.precision,
                                        learning_rate=LearningRate(lr_schedule),
                                        model=model)
            optimizer.build(model.trainable_variables)
        if config.checkpoint.train_dir:
            store = checkpoints.CheckpointStore(
                config.checkpoint.train_dir, model, optimizer, run_state,
                max_to_keep=config.checkpoint.max_ckpts_to_keep,
                identity=checkpoints.run_identity(config, run_.global_batch),
                is_chief=run_.placement.is_chief)
            resumed_from = store.restore_latest()
            start_step = int(run_state.step.numpy())
        remaining = last_step - start_step
    else:
        steps_per_epoch, last_step = None, loop_cfg.total_steps
        remaining = last_step

    if training and remaining <= 0:
        console.print_note(f"{resumed_from} is at step {start_step} of "
                           f"{last_step}: training is complete; evaluate it "
                           "with --eval", stream)
        return {"train.step": start_step}

    inputs = Inputs(config, run_.strategy, run_.data_format,
                    model.layers[1].compute_dtype, run_.global_batch,
                    start_example=int(run_state.examples_seen.numpy()))
    # The first call compiles; a resumed run may have few steps left.
    num_warmup = min(loop_cfg.num_warmup_batches, max(1, remaining - 1))
    num_timed = remaining - num_warmup

    evaluator = None
    if training and config.eval.during_training:
        evaluator = _evaluator(config, run_, model)
    device_peak = None
    if prefix != "input":
        device_peak = peak.resolve_peak(
            run_.placement.device_kind, run_.placement.devices[0],
            environment.device_names(run_.placement)[0],
            config.model.precision, loop_cfg.measure_peak)
    logger = Logger(run_.log_path(config), stream=stream)
    summaries = Summaries(run_.placement.is_chief and config.checkpoint.train_dir,
                          config.log.summary_verbosity)
    try:
        # The console's "Timed step" k is log step start + warmup + k.
        extra = {"warmup_steps": num_warmup}
        if device_peak is not None:
            extra.update(device_peak.as_metrics())
        if training:
            extra.update({"train.examples_per_epoch": examples_per_epoch,
                          "train.steps_per_epoch": steps_per_epoch,
                          "train.total_steps": last_step,
                          "train.start_step": start_step,
                          "train.resumed_from": resumed_from or "",
                          "train.lr_schedule": str(lr_schedule)})
        logger.log("PARAMETER", run_.parameters(config, logger,
                                                inputs.description, **extra))
        for metric, meta in metric_metadata((prefix, "input", "eval")).items():
            logger.metadata(metric, meta)
        if resumed_from:
            console.print_note(
                f"Resuming from {resumed_from}: step {start_step} of "
                f"{last_step}, epoch {float(run_state.epoch.numpy()):.2f}",
                stream)

        timed_input = not loop_cfg.deterministic  # tf.timestamp is refused
        if prefix == "input":
            loop = build_input_loop(run_.strategy, timed_input)
        elif prefix == "infer":
            loop = build_infer_loop(run_.strategy, model,
                                    global_batch=run_.global_batch,
                                    xla=loop_cfg.xla,
                                    nhwc_to_nchw=run_.nhwc_to_nchw,
                                    timed_input=timed_input)
        else:
            loop = build_train_loop(
                run_.strategy, model, optimizer, global_batch=run_.global_batch,
                weight_decay=l2_loss_factor(config.optimizer), xla=loop_cfg.xla,
                with_accuracy=loop_cfg.print_training_accuracy,
                nhwc_to_nchw=run_.nhwc_to_nchw,
                label_smoothing=config.optimizer.label_smoothing,
                timed_input=timed_input)

        meter = ThroughputMeter(run_.global_batch, run_.replicas, num_warmup)
        with_accuracy = loop_cfg.print_training_accuracy or prefix == "infer"
        mode = {"train": "training", "infer": "inference (forward only)",
                "input": "input pipeline only"}[prefix]
        console.print_header(run_.header(
            config, mode, inputs.description, warmup=num_warmup,
            timed=num_timed, with_accuracy=with_accuracy,
            with_lr=optimizer is not None), stream)

        def on_display(progress):
            ips, uncertainty, jitter = meter.running()
            lr_now = learning_rate_of(optimizer) if optimizer else None
            top1 = progress.top1 if with_accuracy else None
            console.print_progress(progress.timed_step, ips, uncertainty, jitter,
                                   progress.loss, lr_now, top1, stream)
            entry = {f"{prefix}.ips": ips, f"{prefix}.ips_uncertainty": uncertainty,
                     f"{prefix}.ips_jitter": jitter, f"{prefix}.loss": progress.loss}
            if lr_now is not None:
                entry[f"{prefix}.learning_rate"] = lr_now
            if top1 is not None:
                entry[f"{prefix}.top1"] = top1
            step = start_step + progress.step
            logger.log(step, entry, verbosity=VERBOSE)
            summaries.scalars(step, entry)

        session = None
        boundaries = ()
        if training:
            events = TrainingEvents(
                start_step=start_step, last_step=last_step,
                steps_per_epoch=steps_per_epoch,
                epoch_ends=run_plan.epoch_end_steps(steps_per_epoch, last_step),
                eval_steps=frozenset(run_plan.eval_steps(
                    config.eval, steps_per_epoch, last_step)),
                save_every_steps=config.checkpoint.save_model_steps,
                save_every_secs=config.checkpoint.every_secs,
                stop_at_top1=config.eval.stop_at_top_1_accuracy)
            boundaries = events.call_boundaries()
            session = TrainingSession(
                events, run_state=run_state, global_batch=run_.global_batch,
                examples_per_epoch=examples_per_epoch, model=model,
                optimizer=optimizer, logger=logger, summaries=summaries,
                evaluator=evaluator, store=store,
                signals=checkpoints.StopSignals(),
                agree=(functools.partial(agree, run_.strategy)
                       if run_.placement.num_workers > 1 else None),
                with_accuracy=loop_cfg.print_training_accuracy, clock=clock,
                stream=stream)
        chunks = run_plan.plan_chunks(
            num_warmup=num_warmup, num_timed=num_timed,
            steps_per_loop=loop_cfg.steps_per_loop,
            display_every=loop_cfg.display_every, boundaries=boundaries)
        try:
            with session.signals if session else contextlib.nullcontext():
                last = run_steps(loop, inputs.value, chunks, meter,
                                 num_warmup=num_warmup,
                                 display_every=loop_cfg.display_every,
                                 on_display=on_display,
                                 after_chunk=session and session.after_chunk,
                                 clock=clock, sync=device_sync(run_.placement))
                if session:
                    session.save()  # the final weights
        except tf.errors.OpError as e:
            explained = (explain_xla_error(e, run_.placement.devices[0])
                         if loop_cfg.xla else None) or inputs.explain(e)
            if explained is None:
                raise
            raise explained from None

        flops_multiplier = {"train": model_flops.TRAIN_FLOPS_PER_FORWARD_FLOP,
                            "infer": 1, "input": 0}[prefix]
        summary = meter.summary(run_.forward_flops, flops_multiplier)
        summary["loss"] = last.loss
        placement = run_.placement
        fraction = peak.fraction_of_peak(
            summary["tflops"], device_peak,
            devices=(placement.num_workers if placement.device_kind == "cpu"
                     else run_.replicas))  # logical CPUs share one CPU
        if fraction is not None:
            summary["peak_fraction"] = fraction
        if placement.num_workers > 1:
            summary.update(per_worker_figures(placement, summary))
            summary["weights_sha256"] = weights_fingerprint(model)
        if with_accuracy:
            summary["top1"] = last.top1
        if optimizer:
            summary["learning_rate"] = learning_rate_of(optimizer)
        final = {f"{prefix}.{k}": v for k, v in summary.items()}
        if inputs.stats is not None:
            final["input.skipped_records"] = int(inputs.stats.skipped.numpy())
        if session is not None:
            final["train.step"] = session.step
            final["train.epoch"] = float(run_state.epoch.numpy())
            final["train.stopped_at_target"] = session.stopped_at_target
            if session.last_eval is not None:
                final.update(session.last_eval.as_metrics())
            if store is not None:
                final["train.checkpoint"] = store.latest
        console.print_summary(summary, stream, skipped=final.get(
            "input.skipped_records"))
        logger.log([], final)
        return final
    finally:
        summaries.close()
        logger.close()
