"""What the loops read: a fixed synthetic batch, or distributed iterators over
the ImageNet TFRecords (train split for training, validation split for
evaluation and inference), plus the one-line explanation of a read error.

Each split a run reads is listed, and counted where the run needs its size,
once (``read_splits``); the resulting records.Split values are handed to
every reader of that split.
"""

import gc
import os
import re

import tensorflow as tf

from benchmarks import data_service
from benchmarks.config import EXAMPLES_PER_EPOCH
from benchmarks.errors import UsageError
from preprocessing import dataset as input_dataset
from preprocessing import records
from preprocessing.synthetic import build_synthetic_batch

def read_splits(config, mode):
    """{split name: records.Split} of what the run reads (nothing for
    synthetic data); UsageError naming the directory or shard at fault.

    Every split read is counted: the epoch length, the resume position, one
    pass of evaluation, and the bound on records skipped in a row all need
    it, and a split with no record must stop the run before it waits for a
    batch that never comes."""
    data = config.data
    if data.synthetic:
        return {}
    wanted = [mode.split]
    if mode.name == "train" and config.eval.during_training:
        wanted.append("validation")
    try:
        splits = {name: records.read_split(data.data_dir, name)
                  for name in wanted}
    except records.DataError as e:
        raise UsageError(str(e)) from None
    for split in splits.values():
        if split.records == 0:
            raise UsageError(
                f"no records in {split.description}: its shards are empty "
                f"({', '.join(os.path.basename(f) for f in split.files[:3])}"
                f"{' ...' if len(split.files) > 3 else ''}); make them from "
                "images with scripts/build_imagenet_tfrecords.py")
    return splits


def records_per_epoch(data, split):
    """Records per epoch of ``split``: its count, else (synthetic data) the
    published size of the dataset's train split."""
    if split is not None and split.counts is not None:
        return split.records
    return EXAMPLES_PER_EPOCH[data.data_name][
        "train" if split is None else split.name]


def split_read(splits, mode):
    """The Split a mode's stream reads, or None for synthetic data."""
    return splits.get(mode.split)


def pipeline_options(data):
    """PipelineOptions from a DataConfig."""
    return input_dataset.PipelineOptions(
        area_range=data.crop_area_range, aspect_range=data.crop_aspect_range,
        distortions=data.distortions, resize_method=data.resize_method,
        fuse_decode_and_crop=data.fuse_decode_and_crop,
        distort_color_in_yiq=data.distort_color_in_yiq, ml_perf=data.ml_perf,
        cache=data.datasets_use_caching,
        sloppy_interleave=data.datasets_sloppy_parallel_interleave,
        repeat_cached_sample=data.datasets_repeat_cached_sample,
        prefetch_batches=data.datasets_use_prefetch,
        shuffle_buffer=data.datasets_shuffle_buffer_size,
        cycle_length=data.datasets_parallel_interleave_cycle_length,
        private_threads=data.datasets_num_private_threads,
        prefetch=data.datasets_prefetch_buffer_size,
        strict=data.strict_input)


class Inputs:
    """The stream of a training, inference or input benchmark: ``value`` is a
    per-replica synthetic batch or a distributed iterator over ``split``;
    ``stats`` counts skipped records."""

    def __init__(self, config, split, strategy, data_format, dtype,
                 global_batch, *, start_example=0, num_workers=1):
        data, model_cfg = config.data, config.model
        self.split = split
        self.stats = None
        self.service = None  # a ServiceInput when a tf.data service serves
        if split is None:
            self.description = "synthetic"
            self.value = build_synthetic_batch(
                strategy, per_replica_batch=data.batch_size,
                image_size=model_cfg.image_size,
                num_classes=model_cfg.num_classes, data_format=data_format,
                dtype=dtype, seed=config.loop.tf_random_seed)
            return
        # Training reads the train split; inference benchmarks the
        # validation split with eval preprocessing.
        self.description = split.description
        self.stats = input_dataset.InputStats()
        options = pipeline_options(data)
        training = split.name == "train"
        if training and data.data_service_address:
            self.service = data_service.ServiceInput(
                config, split, options, num_workers)
            self.description = self.service.describe(split)
            self.stats = None  # the workers cannot count into our variables

        def dataset_fn(context):
            if self.service is not None:
                return self.service.dataset(
                    context.get_per_replica_batch_size(global_batch))
            # Each pipeline has read start_example / pipelines records so far.
            return _built(
                input_dataset.build_dataset,
                split, image_size=model_cfg.image_size,
                num_classes=model_cfg.num_classes,
                batch_size=context.get_per_replica_batch_size(global_batch),
                training=training, repeat_eval=not training,
                options=options, input_context=context,
                seed=config.loop.tf_random_seed, stats=self.stats,
                start_example=start_example // context.num_input_pipelines)

        # Batches are copied to each replica's device ahead of the step that
        # takes them (fetch to device, --multi_device_iterator_max_buffer_size
        # per replica buffered), so the host-to-device copy overlaps the
        # previous step; --nodatasets_use_prefetch copies at the step.
        def iterator():
            return iter(strategy.distribute_datasets_from_function(
                dataset_fn, options=tf.distribute.InputOptions(
                    experimental_fetch_to_device=data.datasets_use_prefetch,
                    experimental_per_replica_buffer_size=(
                        data.multi_device_iterator_max_buffer_size))))

        # Registering the pipeline and making the job wait on the dispatcher.
        self.value = (self.service.watchdog.armed(iterator) if self.service
                      else iterator())

    def explain(self, error):
        return explain_read_error(error, self.split)

    def close(self):
        """Drops the iterator, so that its reader threads stop now."""
        if self.service is not None:
            self.service.watchdog.close()
        self.value = None
        gc.collect()


def _built(build, split, **kwargs):
    """build(split, **kwargs), its records.DataError a UsageError."""
    try:
        return build(split, **kwargs)
    except records.DataError as e:
        raise UsageError(str(e)) from None


def explain_read_error(error, split):
    """A one-line UsageError for a TF error raised while reading ``split``,
    or None."""
    if split is None:  # synthetic input reads nothing
        return None
    if isinstance(error, tf.errors.DataLossError):
        at = re.search(r"corrupted record at (\d+)", str(error))
        damaged = records.find_damaged_shard(
            split.files, int(at.group(1)) if at else None)
        if damaged:
            return UsageError(f"corrupt input shard {damaged[0]}: "
                              f"{damaged[1]}; re-create it (e.g. with "
                              "scripts/build_imagenet_tfrecords.py)")
        where = f" at byte {at.group(1)}" if at else ""
        return UsageError(f"a corrupt record{where} in one of the "
                          f"{len(split.files)} shards of {split.description}"
                          "; re-create them (e.g. with "
                          "scripts/build_imagenet_tfrecords.py)")
    match = re.search(r"assertion failed: (.*)", str(error))
    if match:  # the assertion's words, each in [brackets]
        text = " ".join(re.findall(r"\[([^\]]*)\]", match.group(1)))
        return UsageError("input: " + re.sub(r" ([:;,])", r"\1", text))
    return None


class EvalInputs:
    """A fresh one-pass iterator over the (counted) validation split per
    evaluation; every replica runs ``num_steps`` steps (padding has weight
    0)."""

    def __init__(self, data, model_cfg, split, strategy, per_replica_batch,
                 num_pipelines=1):
        self.split = split
        self.description = split.description
        self.stats = input_dataset.InputStats()
        self._strategy = strategy
        replicas = strategy.num_replicas_in_sync
        self.global_batch = per_replica_batch * replicas
        batches = input_dataset.eval_batches_per_pipeline(
            split, per_replica_batch, num_pipelines, replicas)
        self.num_steps = batches * num_pipelines // replicas
        options = pipeline_options(data)

        def dataset_fn(context):
            return input_dataset.build_dataset(
                split, image_size=model_cfg.image_size,
                num_classes=model_cfg.num_classes,
                batch_size=per_replica_batch, training=False,
                options=options, input_context=context,
                stats=self.stats, num_batches=batches)

        self._dataset_fn = dataset_fn

    def iterator(self):
        return iter(self._strategy.distribute_datasets_from_function(
            self._dataset_fn))

    def explain(self, error):
        return explain_read_error(error, self.split)
