"""runner.run(config): wires the builders together.  It computes nothing."""

import logging
import sys
import time

import keras

import models
from benchmarks import console, environment
from benchmarks.distribution import build_strategy, configure_runtime
from benchmarks.logger import Logger, VERBOSE, metric_metadata
from benchmarks.loop import (build_infer_loop, build_train_loop,
                             learning_rate_of, plan_chunks, run_steps)
from benchmarks.optimization import build_optimizer
from benchmarks.timing import ThroughputMeter
from models import flops as model_flops
from preprocessing.synthetic import build_synthetic_batch

log = logging.getLogger(__name__)


def resolve_data_format(requested, device_kind, stream=None):
    """NCHW on GPUs, NHWC on the CPU unless asked; TF's CPU kernels lack NCHW
    pooling, so an NCHW request on the CPU runs NHWC with a warning."""
    if requested is None:
        return "channels_first" if device_kind == "gpu" else "channels_last"
    if requested == "channels_first" and device_kind == "cpu":
        print("WARNING: --data_format=NCHW is not supported by TensorFlow's CPU "
              "kernels; running NHWC instead", file=stream or sys.stderr)
        return "channels_last"
    return requested


def run(config, *, clock=time.perf_counter, stream=None):
    """Runs one benchmark; returns the summary dict that was logged."""
    configure_runtime(config.dist)
    placement = build_strategy(config.dist)
    strategy = placement.strategy
    keras.utils.set_random_seed(config.loop.tf_random_seed)
    data_format = resolve_data_format(config.model.data_format,
                                      placement.device_kind, stream)
    replicas = placement.num_replicas
    global_batch = config.data.batch_size * replicas
    loop_cfg = config.loop
    prefix = loop_cfg.prefix

    with strategy.scope():
        model = models.build(config.model.name,
                             num_classes=config.model.num_classes,
                             image_size=config.model.image_size,
                             data_format=data_format,
                             dropout=config.model.dropout,
                             dtype_policy=config.model.dtype_policy)
        optimizer = None
        if not loop_cfg.forward_only:
            optimizer = build_optimizer(config.optimizer, config.model.precision)
            optimizer.build(model.trainable_variables)
    params = model_flops.trainable_params(model)
    forward_flops = model_flops.forward_flops_per_image(model)

    logger = Logger(config.log.log_path, stream=stream)
    try:
        parameters = dict(config.to_dict())
        parameters.update(environment.describe(placement))
        parameters.update({
            "model.params": params,
            "model.flops_per_image": forward_flops,
            "model.data_format_used": data_format,
            "global_batch": global_batch,
            "replicas": replicas,
            "logger": logger.backend_name,
        })
        logger.log("PARAMETER", parameters)
        for metric, meta in metric_metadata((prefix,)).items():
            logger.metadata(metric, meta)

        compute_dtype = model.layers[1].compute_dtype
        inputs = build_synthetic_batch(
            strategy, per_replica_batch=config.data.batch_size,
            image_size=config.model.image_size,
            num_classes=config.model.num_classes, data_format=data_format,
            dtype=compute_dtype, seed=loop_cfg.tf_random_seed)
        if loop_cfg.forward_only:
            loop = build_infer_loop(strategy, model, global_batch=global_batch,
                                    xla=loop_cfg.xla)
        else:
            loop = build_train_loop(
                strategy, model, optimizer, global_batch=global_batch,
                weight_decay=config.optimizer.weight_decay, xla=loop_cfg.xla,
                with_accuracy=loop_cfg.print_training_accuracy)

        meter = ThroughputMeter(global_batch, replicas,
                                loop_cfg.num_warmup_batches)
        with_accuracy = loop_cfg.print_training_accuracy or loop_cfg.forward_only
        console.print_header(dict(
            model=config.model.name, params=params, gflops=forward_flops / 1e9,
            mode="inference (forward only)" if loop_cfg.forward_only else "training",
            precision=config.model.precision, data="synthetic",
            replicas=replicas, device_kind=placement.device_kind,
            device_name=environment.device_names(placement)[0],
            strategy=type(strategy).__name__, all_reduce=placement.all_reduce,
            global_batch=global_batch, batch_size=config.data.batch_size,
            warmup=loop_cfg.num_warmup_batches, timed=loop_cfg.num_batches,
            steps_per_loop=loop_cfg.steps_per_loop,
            with_accuracy=with_accuracy, with_lr=optimizer is not None), stream)

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
            logger.log(progress.step, entry, verbosity=VERBOSE)

        chunks = plan_chunks(num_warmup=loop_cfg.num_warmup_batches,
                             num_timed=loop_cfg.num_batches,
                             steps_per_loop=loop_cfg.steps_per_loop,
                             display_every=loop_cfg.display_every)
        last = run_steps(loop, inputs, chunks, meter,
                         num_warmup=loop_cfg.num_warmup_batches,
                         display_every=loop_cfg.display_every,
                         on_display=on_display, clock=clock)

        flops_multiplier = 1 if loop_cfg.forward_only else \
            model_flops.TRAIN_FLOPS_PER_FORWARD_FLOP
        summary = meter.summary(forward_flops, flops_multiplier)
        summary["loss"] = last.loss
        if with_accuracy:
            summary["top1"] = last.top1
        if optimizer:
            summary["learning_rate"] = learning_rate_of(optimizer)
        console.print_summary(summary, stream)
        logger.log([], {f"{prefix}.{k}": v for k, v in summary.items()})
        return {f"{prefix}.{k}": v for k, v in summary.items()}
    finally:
        logger.close()
