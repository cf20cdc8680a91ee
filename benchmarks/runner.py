"""runner.run(config): wires the builders together.  It computes nothing."""

import re
import sys
import time

import keras
import tensorflow as tf

import models
from benchmarks import console, environment
from benchmarks.distribution import build_strategy, configure_runtime
from benchmarks.errors import UsageError
from benchmarks.logger import Logger, VERBOSE, metric_metadata
from benchmarks.loop import (build_infer_loop, build_input_loop,
                             build_train_loop, learning_rate_of, plan_chunks,
                             run_steps)
from benchmarks.optimization import build_optimizer
from benchmarks.timing import ThroughputMeter
from models import flops as model_flops
from preprocessing import dataset as input_dataset
from preprocessing import records
from preprocessing.synthetic import build_synthetic_batch


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


class _Inputs:
    """What the loop reads: a fixed synthetic batch or a distributed iterator."""

    def __init__(self, config, strategy, data_format, dtype, global_batch):
        data, model_cfg = config.data, config.model
        self.stats = None
        if data.synthetic:
            self.description = "synthetic"
            self.files = ()
            self.value = build_synthetic_batch(
                strategy, per_replica_batch=data.batch_size,
                image_size=model_cfg.image_size,
                num_classes=model_cfg.num_classes, data_format=data_format,
                dtype=dtype, seed=config.loop.tf_random_seed)
            return
        # Training reads the train split; inference benchmarks the
        # validation split with eval preprocessing.
        split = "validation" if config.loop.forward_only else "train"
        try:
            self.files = records.list_shards(data.data_dir, split)
        except records.DataError as e:
            raise UsageError(str(e)) from None
        self.description = f"{data.data_dir} ({split}, {len(self.files)} shards)"
        self.stats = input_dataset.InputStats()
        options = input_dataset.PipelineOptions(
            area_range=data.crop_area_range, aspect_range=data.crop_aspect_range,
            distortions=data.distortions, cache=data.datasets_use_caching,
            shuffle_buffer=data.datasets_shuffle_buffer_size,
            cycle_length=data.datasets_parallel_interleave_cycle_length,
            private_threads=data.datasets_num_private_threads,
            prefetch=data.datasets_prefetch_buffer_size,
            strict=data.strict_input)

        def dataset_fn(context):
            return input_dataset.build_dataset(
                data.data_dir, split, image_size=model_cfg.image_size,
                num_classes=model_cfg.num_classes,
                batch_size=context.get_per_replica_batch_size(global_batch),
                training=split == "train", repeat_eval=split != "train",
                options=options, input_context=context,
                seed=config.loop.tf_random_seed, stats=self.stats)

        self.value = iter(strategy.distribute_datasets_from_function(dataset_fn))

    def explain(self, error):
        """A one-line UsageError for a TF error raised while reading."""
        if isinstance(error, tf.errors.DataLossError):
            damaged = records.find_damaged_shard(self.files)
            where = (f"{damaged[0]}: {damaged[1]}" if damaged
                     else "a shard of " + self.description)
            return UsageError(f"corrupt input shard {where}; re-create it (e.g. "
                              "with scripts/build_imagenet_tfrecords.py)")
        match = re.search(r"assertion failed: (.*)", str(error))
        if match:
            words = re.findall(r"\[([^\]]*)\]", match.group(1))
            return UsageError("bad input record: " + " ".join(words))
        return None


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
        if prefix == "train":
            optimizer = build_optimizer(config.optimizer, config.model.precision)
            optimizer.build(model.trainable_variables)
    params = model_flops.trainable_params(model)
    forward_flops = model_flops.forward_flops_per_image(model)
    inputs = _Inputs(config, strategy, data_format,
                     model.layers[1].compute_dtype, global_batch)
    nhwc_to_nchw = not config.data.synthetic and data_format == "channels_first"

    logger = Logger(config.log.log_path, stream=stream)
    try:
        parameters = dict(config.to_dict())
        parameters.update(environment.describe(placement))
        parameters.update({
            "model.params": params, "model.flops_per_image": forward_flops,
            "model.data_format_used": data_format, "global_batch": global_batch,
            "replicas": replicas, "data": inputs.description,
            "logger": logger.backend_name})
        logger.log("PARAMETER", parameters)
        for metric, meta in metric_metadata((prefix, "input")).items():
            logger.metadata(metric, meta)

        if prefix == "input":
            loop = build_input_loop(strategy)
        elif prefix == "infer":
            loop = build_infer_loop(strategy, model, global_batch=global_batch,
                                    xla=loop_cfg.xla, nhwc_to_nchw=nhwc_to_nchw)
        else:
            loop = build_train_loop(
                strategy, model, optimizer, global_batch=global_batch,
                weight_decay=config.optimizer.weight_decay, xla=loop_cfg.xla,
                with_accuracy=loop_cfg.print_training_accuracy,
                nhwc_to_nchw=nhwc_to_nchw)

        meter = ThroughputMeter(global_batch, replicas,
                                loop_cfg.num_warmup_batches)
        with_accuracy = loop_cfg.print_training_accuracy or prefix == "infer"
        mode = {"train": "training", "infer": "inference (forward only)",
                "input": "input pipeline only"}[prefix]
        console.print_header(dict(
            model=config.model.name, params=params, gflops=forward_flops / 1e9,
            mode=mode, precision=config.model.precision,
            data=inputs.description, replicas=replicas,
            device_kind=placement.device_kind,
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
        try:
            last = run_steps(loop, inputs.value, chunks, meter,
                             num_warmup=loop_cfg.num_warmup_batches,
                             display_every=loop_cfg.display_every,
                             on_display=on_display, clock=clock)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
            explained = inputs.explain(e)
            if explained is None:
                raise
            raise explained from None

        flops_multiplier = {"train": model_flops.TRAIN_FLOPS_PER_FORWARD_FLOP,
                            "infer": 1, "input": 0}[prefix]
        summary = meter.summary(forward_flops, flops_multiplier)
        summary["loss"] = last.loss
        if with_accuracy:
            summary["top1"] = last.top1
        if optimizer:
            summary["learning_rate"] = learning_rate_of(optimizer)
        final = {f"{prefix}.{k}": v for k, v in summary.items()}
        if inputs.stats is not None:
            final["input.skipped_records"] = int(inputs.stats.skipped.numpy())
        console.print_summary(summary, stream, skipped=final.get(
            "input.skipped_records"))
        logger.log([], final)
        return final
    finally:
        logger.close()
