"""The ImageNet TFRecord reader: files -> interleave -> [shard] -> [cache] ->
shuffle -> decode and preprocess -> repeat -> batch -> prefetch.

Sharding across input pipelines (workers): by file when there are at least as
many files as pipelines, else by record, so each record is read by exactly
one pipeline per epoch.  Within a pipeline, tf.distribute splits the global
batch across replicas.

A record whose image does not decode (a corrupt JPEG) is skipped and counted
in ``InputStats.skipped``; with ``strict`` it fails instead, naming the shard.
A shard whose framing is broken fails with the shard's name (see
``records.find_damaged_shard``), never a hang.
"""

from dataclasses import dataclass

import tensorflow as tf

from preprocessing import imagenet, records

AUTOTUNE = tf.data.AUTOTUNE
_READ_BUFFER_BYTES = 8 << 20


@dataclass(frozen=True)
class PipelineOptions:
    """How the reader runs; defaults suit a few cores."""

    area_range: tuple = imagenet.DEFAULT_AREA_RANGE
    aspect_range: tuple = imagenet.DEFAULT_ASPECT_RANGE
    distortions: bool = False
    cache: bool = False  # cache the raw records in memory after the first epoch
    shuffle_buffer: int = 10000
    cycle_length: int = None  # parallel files read; None: AUTOTUNE
    private_threads: int = None  # private thread pool size; None: TF's pool
    prefetch: int = None  # batches; None: AUTOTUNE
    strict: bool = False  # a corrupt image fails the run instead of a skip


class InputStats:
    """Counters the pipeline updates as it runs (host variables)."""

    def __init__(self):
        with tf.device("/cpu:0"):
            self.skipped = tf.Variable(0, dtype=tf.int64, trainable=False,
                                       name="input_skipped_records")


def _shard(files, context):
    """(files for this pipeline, record shard (n, i) or None)."""
    if context is None or context.num_input_pipelines == 1:
        return files, None
    n, i = context.num_input_pipelines, context.input_pipeline_id
    if len(files) >= n:
        return files[i::n], None
    return files, (n, i)


def _records(files, *, training, options, seed, record_shard):
    """(serialized record, source shard path) pairs, one pass in file order
    (shuffled per epoch when training)."""
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:  # the same seed on every pipeline: the same file order
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    # Sharding by record needs every pipeline to read records in one order.
    deterministic = not training or record_shard is not None
    ds = ds.interleave(
        lambda path: tf.data.TFRecordDataset(
            path, buffer_size=_READ_BUFFER_BYTES).map(lambda r: (r, path)),
        cycle_length=options.cycle_length or AUTOTUNE,
        num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if record_shard:
        ds = ds.shard(*record_shard)
    return ds


def _decode_or_skip(preprocess, image_size, stats, strict):
    """Maps (encoded, label, boxes, source) -> (image, label), dropping (and
    counting) images that fail to decode.  Each record goes through a
    one-element dataset whose errors are ignored, followed by a placeholder,
    so exactly one element comes out per record: the image, or the flagged
    placeholder."""
    placeholder = (tf.zeros([image_size, image_size, 3]), tf.constant(-1),
                   tf.constant(False))

    def one(encoded, label, boxes, source):
        # Errors are always caught here; strict mode fails just below, with
        # the shard's name, which the decoder's own error lacks.
        decoded = tf.data.Dataset.from_tensors((encoded, label, boxes)).map(
            lambda e, l, b: (preprocess(e, b), l, tf.constant(True))
        ).ignore_errors()
        out = decoded.concatenate(tf.data.Dataset.from_tensors(placeholder))
        return out.take(1).map(lambda image, lab, ok: (image, lab, ok, source))

    def count(image, label, ok, source):
        if strict:
            check = tf.debugging.Assert(ok, [
                "an image does not decode (--strict_input) in", source])
            with tf.control_dependencies([check]):
                ok = tf.identity(ok)
        stats.skipped.assign_add(tf.cast(tf.logical_not(ok), tf.int64))
        return image, label, ok

    return one, count


def build_dataset(data_dir, split, *, image_size, num_classes, batch_size,
                  training, options=PipelineOptions(), input_context=None,
                  seed=None, stats=None, repeat_eval=False):
    """A tf.data.Dataset of batches for one input pipeline.

    training: infinite (images, labels) batches, remainder dropped.
    evaluation: one pass of (images, labels, weights) batches; the last batch
    is padded to ``batch_size`` with weight 0, so every record counts exactly
    once and batch shapes stay static.  With ``repeat_eval`` (inference
    benchmarks): eval preprocessing, infinite (images, labels) batches.
    """
    files = records.list_shards(data_dir, split)
    files, record_shard = _shard(files, input_context)
    stats = stats or InputStats()
    ds = _records(files, training=training, options=options, seed=seed,
                  record_shard=record_shard)
    if options.cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(options.shuffle_buffer, seed=seed,
                        reshuffle_each_iteration=True)

    def parse(serialized, source):
        encoded, file_label, boxes = records.parse_example(serialized)
        label = records.map_label(file_label, num_classes, source)
        return encoded, label, boxes, source

    ds = ds.map(parse, num_parallel_calls=AUTOTUNE, deterministic=not training)
    if training:
        def preprocess(encoded, boxes):
            return imagenet.train_image(
                encoded, boxes, image_size=image_size,
                area_range=options.area_range, aspect_range=options.aspect_range,
                distortions=options.distortions, seed=seed)
    else:
        def preprocess(encoded, boxes):
            return imagenet.eval_image(encoded, image_size=image_size)
    one, count = _decode_or_skip(preprocess, image_size, stats, options.strict)
    ds = ds.interleave(one, cycle_length=AUTOTUNE, block_length=1,
                       num_parallel_calls=AUTOTUNE, deterministic=not training)
    ds = ds.map(count).filter(lambda image, label, ok: ok)
    if training:
        # Repeat after the parallel stages: each epoch drains before the next
        # starts, so every record is used exactly once per epoch.
        ds = ds.map(lambda image, label, ok: (image, label)).repeat()
        ds = ds.batch(batch_size, drop_remainder=True)
    elif repeat_eval:
        ds = ds.map(lambda image, label, ok: (image, label)).repeat()
        ds = ds.batch(batch_size, drop_remainder=True)
    else:
        ds = ds.map(lambda image, label, ok: (image, label, tf.constant(1.0)))
        ds = ds.batch(batch_size).map(_padder(batch_size))
    ds = ds.prefetch(options.prefetch or AUTOTUNE)
    tf_options = tf.data.Options()
    if options.private_threads:
        tf_options.threading.private_threadpool_size = options.private_threads
    tf_options.deterministic = not training
    return ds.with_options(tf_options)


def _padder(batch_size):
    def pad(images, labels, weights):
        missing = batch_size - tf.shape(labels)[0]
        images = tf.pad(images, [[0, missing], [0, 0], [0, 0], [0, 0]])
        labels = tf.pad(labels, [[0, missing]])
        weights = tf.pad(weights, [[0, missing]])
        images.set_shape([batch_size, None, None, 3])
        labels.set_shape([batch_size])
        weights.set_shape([batch_size])
        return images, labels, weights
    return pad
