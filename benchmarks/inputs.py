"""What the loops read: a fixed synthetic batch, or distributed iterators
over the ImageNet TFRecords (train split for training, validation split for
evaluation and inference), plus the one-line explanation of a read error."""

import re

import tensorflow as tf

from benchmarks.errors import UsageError
from preprocessing import dataset as input_dataset
from preprocessing import records
from preprocessing.synthetic import build_synthetic_batch


def pipeline_options(data):
    """PipelineOptions from a DataConfig."""
    return input_dataset.PipelineOptions(
        area_range=data.crop_area_range, aspect_range=data.crop_aspect_range,
        distortions=data.distortions, cache=data.datasets_use_caching,
        shuffle_buffer=data.datasets_shuffle_buffer_size,
        cycle_length=data.datasets_parallel_interleave_cycle_length,
        private_threads=data.datasets_num_private_threads,
        prefetch=data.datasets_prefetch_buffer_size,
        strict=data.strict_input)


def list_split(data_dir, split):
    """The split's shards, or a one-line UsageError naming what is wrong."""
    try:
        return records.list_shards(data_dir, split)
    except records.DataError as e:
        raise UsageError(str(e)) from None


def count_examples(data_dir, split):
    try:
        return input_dataset.records_per_pipeline(data_dir, split)
    except records.DataError as e:
        raise UsageError(str(e)) from None


class Inputs:
    """The training or inference stream: ``value`` is a per-replica synthetic
    batch or a distributed iterator; ``stats`` counts skipped records."""

    def __init__(self, config, strategy, data_format, dtype, global_batch, *,
                 start_example=0):
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
        self.files = list_split(data.data_dir, split)
        self.description = f"{data.data_dir} ({split}, {len(self.files)} shards)"
        self.stats = input_dataset.InputStats()
        options = pipeline_options(data)

        def dataset_fn(context):
            # Each pipeline has read start_example / pipelines records so far.
            return input_dataset.build_dataset(
                data.data_dir, split, image_size=model_cfg.image_size,
                num_classes=model_cfg.num_classes,
                batch_size=context.get_per_replica_batch_size(global_batch),
                training=split == "train", repeat_eval=split != "train",
                options=options, input_context=context,
                seed=config.loop.tf_random_seed, stats=self.stats,
                start_example=start_example // context.num_input_pipelines)

        # Batches are copied to each replica's device ahead of the step that
        # takes them (fetch to device, one per replica buffered), so the
        # host-to-device copy overlaps the previous step.
        self.value = iter(strategy.distribute_datasets_from_function(
            dataset_fn, options=tf.distribute.InputOptions(
                experimental_fetch_to_device=True,
                experimental_per_replica_buffer_size=1)))

    def explain(self, error):
        return explain_read_error(error, self.files, self.description)


def explain_read_error(error, files, description):
    """A one-line UsageError for a TF error raised while reading, or None."""
    if isinstance(error, tf.errors.DataLossError):
        damaged = records.find_damaged_shard(files)
        where = (f"{damaged[0]}: {damaged[1]}" if damaged
                 else "a shard of " + description)
        return UsageError(f"corrupt input shard {where}; re-create it (e.g. "
                          "with scripts/build_imagenet_tfrecords.py)")
    match = re.search(r"assertion failed: (.*)", str(error))
    if match:
        words = re.findall(r"\[([^\]]*)\]", match.group(1))
        return UsageError("bad input record: " + " ".join(words))
    return None


class EvalInputs:
    """A fresh one-pass iterator over the validation split per evaluation;
    every replica runs ``num_steps`` steps (padding has weight 0)."""

    def __init__(self, data, model_cfg, strategy, per_replica_batch):
        self.files = list_split(data.data_dir, "validation")
        self.description = f"{data.data_dir} (validation, {len(self.files)} shards)"
        self.stats = input_dataset.InputStats()
        self._strategy = strategy
        replicas = strategy.num_replicas_in_sync
        self.global_batch = per_replica_batch * replicas
        self.num_steps = None
        options = pipeline_options(data)

        def dataset_fn(context):
            batch = context.get_per_replica_batch_size(self.global_batch)
            batches = input_dataset.eval_batches_per_pipeline(
                data.data_dir, "validation", batch, context)
            self.num_steps = batches * context.num_input_pipelines // replicas
            return input_dataset.build_dataset(
                data.data_dir, "validation", image_size=model_cfg.image_size,
                num_classes=model_cfg.num_classes, batch_size=batch,
                training=False, options=options, input_context=context,
                stats=self.stats, num_batches=batches)

        self._dataset_fn = dataset_fn

    def iterator(self):
        return iter(self._strategy.distribute_datasets_from_function(
            self._dataset_fn))

    def explain(self, error):
        return explain_read_error(error, self.files, self.description)
