"""The ImageNet TFRecord reader: files -> interleave -> [shard] -> [cache] ->
shuffle -> decode and preprocess -> batch -> prefetch.

Training reads an endless chain of epochs.  Epoch e shuffles the files and
the records with seeds derived from (seed, e), and every record's random crop
and flip are stateless ops seeded by (seed, e, its index in the epoch), so the
stream is a pure function of the seed: a resumed run rebuilds it at the saved
position (``start_example``) and sees the same batches as a run that never
stopped.  (tf.distribute's iterators cannot be checkpointed, see
tensorflow/tensorflow#56372; positions in records are small and exact.)

Sharding across input pipelines (workers): by file when there are at least as
many files as pipelines, else by record, so each record is read by exactly
one pipeline per epoch.  Within a pipeline, tf.distribute splits the global
batch across replicas.

A record whose image does not decode (a corrupt JPEG) is skipped and counted
in ``InputStats.skipped``; with ``strict`` it fails instead, naming the shard.
A shard whose framing is broken fails with the shard's name (see
``records.find_damaged_shard``), never a hang.

For a tf.data service (``service=True``) the same definition is built for the
service's workers: the file list is the source the dispatcher hands out in
splits (dynamic sharding) and repeats, each worker shuffles what it reads
with its own random seed, and nothing refers to the trainer's variables (a
worker cannot reach them), so skipped records are not counted.
"""

from dataclasses import dataclass

import tensorflow as tf

from preprocessing import defaults, imagenet, records

AUTOTUNE = tf.data.AUTOTUNE
_READ_BUFFER_BYTES = 8 << 20


@dataclass(frozen=True)
class PipelineOptions:
    """How the reader runs; defaults suit a few cores."""

    # Image preprocessing (imagenet.ImageOptions' fields).
    area_range: tuple = defaults.AREA_RANGE
    aspect_range: tuple = defaults.ASPECT_RANGE
    distortions: bool = False
    resize_method: str = defaults.RESIZE_METHOD
    fuse_decode_and_crop: bool = defaults.FUSE_DECODE_AND_CROP
    distort_color_in_yiq: bool = defaults.DISTORT_COLOR_IN_YIQ
    ml_perf: bool = False
    # Reading.
    cache: bool = False  # cache the raw records in memory after the first epoch
    sloppy_interleave: bool = False  # files in the order they deliver
    repeat_cached_sample: bool = False  # one record, repeated (benchmarks)
    prefetch_batches: bool = True  # --datasets_use_prefetch
    shuffle_buffer: int = defaults.SHUFFLE_BUFFER
    cycle_length: int = None  # parallel files read; None: AUTOTUNE
    private_threads: int = None  # private thread pool size; None: TF's pool
    prefetch: int = None  # batches; None: AUTOTUNE
    strict: bool = False  # a corrupt image fails the run instead of a skip

    @property
    def image(self):
        return imagenet.ImageOptions(
            area_range=self.area_range, aspect_range=self.aspect_range,
            distortions=self.distortions, resize_method=self.resize_method,
            fuse_decode_and_crop=self.fuse_decode_and_crop,
            distort_color_in_yiq=self.distort_color_in_yiq,
            ml_perf=self.ml_perf)


class InputStats:
    """Counters the pipeline updates as it runs (host variables)."""

    def __init__(self):
        with tf.device("/cpu:0"):
            self.skipped = tf.Variable(0, dtype=tf.int64, trainable=False,
                                       name="input_skipped_records")
            # Skipped since the last image that decoded: an endless stream
            # whose every record is skipped would never yield a batch.
            self.in_a_row = tf.Variable(0, dtype=tf.int64, trainable=False,
                                        name="input_skipped_in_a_row")


def _shard(split, context):
    """(this pipeline's files, their record counts or None, record shard
    (n, i) or None): whole files when there are at least as many as
    pipelines, else every n-th record of all of them."""
    files, counts = split.files, split.counts
    if context is None or context.num_input_pipelines == 1:
        return files, counts, None
    n, i = context.num_input_pipelines, context.input_pipeline_id
    if len(files) >= n:
        return files[i::n], counts and counts[i::n], None
    return files, counts, (n, i)


def _records(files, *, options, record_shard, file_seed=None):
    """(serialized record, source shard path) pairs, one pass over ``files``
    (in an order shuffled by ``file_seed`` when given), in a fixed order."""
    ds = tf.data.Dataset.from_tensor_slices(list(files))
    if file_seed is not None:  # the same seed on every pipeline
        ds = ds.shuffle(len(files), seed=file_seed)
    ds = _read_files(ds, options, deterministic=not options.sloppy_interleave)
    if record_shard:
        ds = ds.shard(*record_shard)
    return ds


def _read_files(paths, options, *, deterministic):
    """(serialized record, source shard path) of each file of ``paths``."""
    return paths.interleave(
        lambda path: tf.data.TFRecordDataset(
            path, buffer_size=_READ_BUFFER_BYTES).map(lambda r: (r, path)),
        cycle_length=options.cycle_length or AUTOTUNE,
        num_parallel_calls=AUTOTUNE, deterministic=deterministic)


def _mix(seed, epoch, stream):
    """An int64 seed for one stream (file order, record order) of one epoch."""
    return (tf.cast(seed, tf.int64) * 1000003 + epoch) * 4 + stream


def _count(counts, record_shard):
    total = sum(counts)
    if record_shard is None:
        return total
    n, i = record_shard
    return total // n + (1 if i < total % n else 0)


def records_per_pipeline(split, input_context=None):
    """Records one input pipeline reads per pass (its file or record shard)
    of a counted Split."""
    _, counts, record_shard = _shard(split, input_context)
    return _count(counts, record_shard)


def eval_batches_per_pipeline(split, batch_size, num_pipelines=1,
                              num_replicas=1):
    """Batches each input pipeline must yield so that one pass of a counted
    Split covers every record and every replica runs the same number of
    steps: the largest pipeline's batch count, rounded up to a multiple of
    the replicas that pipeline feeds (tf.distribute deals a pipeline's
    batches to its replicas in turn)."""
    largest = max(
        records_per_pipeline(split, tf.distribute.InputContext(
            num_pipelines, i, num_replicas)) for i in range(num_pipelines))
    per_pipeline = max(1, num_replicas // num_pipelines)
    batches = -(-largest // batch_size)
    return -(-batches // per_pipeline) * per_pipeline


def _training_records(files, *, options, record_shard, seed, start_example,
                      epoch_records):
    """(epoch, index in epoch, record, source) for epochs start.. forever,
    beginning ``start_example`` records into the stream."""
    seed = 0 if seed is None else seed
    start_epoch, skip = divmod(start_example, max(1, epoch_records))
    cached = None
    if options.cache:  # raw records, in file order, kept after the first pass
        cached = _records(files, options=options,
                          record_shard=record_shard).cache()

    def one_epoch(epoch):
        if cached is not None:  # cached: the record shuffle alone mixes
            ds = cached
        else:
            ds = _records(files, options=options, record_shard=record_shard,
                          file_seed=_mix(seed, epoch, 0))
        ds = ds.shuffle(options.shuffle_buffer, seed=_mix(seed, epoch, 1))
        ds = ds.enumerate().map(lambda i, rec: (epoch, i) + rec)
        return ds.skip(tf.where(epoch == start_epoch, tf.constant(skip, tf.int64),
                                tf.constant(0, tf.int64)))

    return tf.data.Dataset.range(start_epoch, _EPOCHS_FOREVER).flat_map(one_epoch)


_EPOCHS_FOREVER = 1 << 40


def _decode_or_skip(preprocess, image_size, stats, strict, skip_limit=None):
    """Maps (encoded, label, boxes, seed, source) -> (image, label), dropping (and
    counting) images that fail to decode.  Each record goes through a
    one-element dataset whose errors are ignored, followed by a placeholder,
    so exactly one element comes out per record: the image, or the flagged
    placeholder.  ``skip_limit``: fail once that many records in a row were
    skipped (an endless stream's epoch, in which no image decodes)."""
    placeholder = (tf.zeros([image_size, image_size, 3]), tf.constant(-1),
                   tf.constant(False))

    def one(encoded, label, boxes, record_seed, source):
        # Errors are always caught here; strict mode fails just below, with
        # the shard's name, which the decoder's own error lacks.
        decoded = tf.data.Dataset.from_tensors(
            (encoded, label, boxes, record_seed)).map(
            lambda e, l, b, r: (preprocess(e, b, r), l, tf.constant(True))
        ).ignore_errors()
        out = decoded.concatenate(tf.data.Dataset.from_tensors(placeholder))
        return out.take(1).map(lambda image, lab, ok: (image, lab, ok, source))

    def count(image, label, ok, source):
        if stats is None:  # on a service worker: no trainer variables
            if strict:
                check = tf.debugging.Assert(ok, [
                    "an image does not decode (--strict_input) in", source])
                with tf.control_dependencies([check]):
                    ok = tf.identity(ok)
            return image, label, ok
        if strict:
            check = tf.debugging.Assert(ok, [
                "an image does not decode (--strict_input) in", source])
            with tf.control_dependencies([check]):
                ok = tf.identity(ok)
        stats.skipped.assign_add(tf.cast(tf.logical_not(ok), tf.int64))
        if skip_limit:
            in_a_row = tf.where(ok, tf.constant(0, tf.int64),
                                stats.in_a_row + 1)
            stats.in_a_row.assign(in_a_row)
            check = tf.debugging.Assert(in_a_row < skip_limit, [
                "no image decodes: the last", in_a_row, "records in a row "
                "were skipped, a whole epoch, the last in", source, "; "
                "check the JPEGs (image/encoded) of the shards"])
            with tf.control_dependencies([check]):
                ok = tf.identity(ok)
        return image, label, ok

    return one, count


def build_dataset(split, *, image_size, num_classes, batch_size,
                  training, options=PipelineOptions(), input_context=None,
                  seed=None, stats=None, repeat_eval=False, start_example=0,
                  num_batches=None, service=False, epochs=None):
    """A tf.data.Dataset of batches for one input pipeline over ``split``
    (a records.Split; training needs it counted).

    training: endless (images, labels) batches, remainder dropped, starting
    ``start_example`` records into this pipeline's stream (resume).
    evaluation: one pass of (images, labels, weights) batches; the last batch
    is padded to ``batch_size`` with weight 0, so every record counts exactly
    once and batch shapes stay static.  ``num_batches`` pads the pass with
    all-zero-weight batches to that many, so every replica runs the same
    number of steps.  With ``repeat_eval`` (inference benchmarks): eval
    preprocessing, endless (images, labels) batches.
    ``service``: the training stream as a tf.data service's workers run it
    (see the module's docstring), ``epochs`` passes (None: endless).
    """
    if service:
        ds, skip_limit = _service_records(split.files, options=options,
                                          epochs=epochs), None
        stats = None
    else:
        ds, skip_limit = _numbered_records(
            split, training=training, options=options,
            input_context=input_context, seed=seed,
            start_example=start_example, endless=training or repeat_eval)
        stats = stats or InputStats()
    base_seed = tf.constant(0 if seed is None else seed, tf.int64)

    def parse(epoch, index, serialized, source):
        encoded, file_label, boxes = records.parse_example(serialized, source)
        label = records.map_label(file_label, num_classes, source)
        # A service worker draws its crops' seeds: the workers' streams are
        # not a function of the run's seed anyway.
        first = (tf.random.uniform([], 0, 1 << 62, tf.int64) if service
                 else base_seed)
        record_seed = tf.stack([first, epoch * (1 << 32) + index])
        return encoded, label, boxes, record_seed, source

    ds = ds.map(parse, num_parallel_calls=AUTOTUNE)
    one, count = _decode_or_skip(
        _preprocessor(training, image_size, options.image, batch_size),
        image_size, stats, options.strict, skip_limit)
    ds = ds.interleave(one, cycle_length=AUTOTUNE, block_length=1,
                       num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.map(count).filter(lambda image, label, ok: ok)
    ds = _batched(ds, training=training, repeat_eval=repeat_eval,
                  batch_size=batch_size, image_size=image_size,
                  num_batches=num_batches)
    if service:
        ds = ds.map(lambda images, labels: (images, labels, worker_tag()))
    if options.prefetch_batches:
        ds = ds.prefetch(options.prefetch or AUTOTUNE)
    tf_options = tf.data.Options()
    if options.private_threads:
        tf_options.threading.private_threadpool_size = options.private_threads
    # Order is part of the result: a resumed run must see the same batches
    # (unless --datasets_sloppy_parallel_interleave gives that up).
    tf_options.deterministic = not options.sloppy_interleave
    return ds.with_options(tf_options)


def worker_tag():
    """host:pid of the process running the pipeline (read there, on Linux):
    the trainer tells the service's workers apart by it."""
    host = tf.strings.strip(tf.io.read_file("/proc/sys/kernel/hostname"))
    pid = tf.strings.split(tf.io.read_file("/proc/self/stat"), " ")[0]
    return tf.strings.join([host, pid], ":")


def _service_records(files, *, options, epochs):
    """(0, index, serialized record, source shard) from ``epochs`` passes
    over ``files`` (None: endless).  The file list comes first: under dynamic
    sharding the dispatcher hands its elements (whole files, repeated per
    pass) to the workers, so each file is read by one worker per pass."""
    ds = tf.data.Dataset.from_tensor_slices(list(files)).repeat(epochs)
    ds = _read_files(ds.shuffle(len(files)), options, deterministic=False)
    ds = ds.shuffle(options.shuffle_buffer)
    return ds.enumerate().map(
        lambda index, record: (tf.constant(0, tf.int64), index) + record)


def _numbered_records(split, *, training, options, input_context, seed,
                      start_example, endless):
    """((epoch, index in epoch, serialized record, source shard) of this
    pipeline, the most records in a row that may be skipped): the endless
    training stream, or one pass (epoch 0; repeated for inference).  With
    ``options.repeat_cached_sample`` an endless stream is the first record,
    read once and repeated (tf_cnn_benchmarks' regression-test input).  An
    endless stream needs its split counted; one with no record would never
    yield one (records.DataError)."""
    files, counts, record_shard = _shard(split, input_context)
    limit = None
    if endless:
        limit = _count(counts, record_shard)
        if limit == 0:
            raise records.DataError(
                f"no records for this input pipeline in {split.description}"
                "; give it shards that hold records")
    if endless and options.repeat_cached_sample:
        ds, limit = _records(files, options=options,
                             record_shard=record_shard).take(1).cache().repeat(), 1
    elif training:
        return _training_records(files, options=options,
                                 record_shard=record_shard, seed=seed,
                                 start_example=start_example,
                                 epoch_records=limit), limit
    else:
        ds = _records(files, options=options, record_shard=record_shard)
        if options.cache:
            ds = ds.cache()
    ds = ds.enumerate().map(
        lambda index, record: (tf.constant(0, tf.int64), index) + record)
    return ds, limit


def _preprocessor(training, image_size, image_options, batch_size):
    """(encoded, boxes, record seed) -> image: a random crop in training,
    the central crop in evaluation.  A record's place in its batch (for
    --resize_method=round_robin) is its index in the epoch, the seed's low
    32 bits, modulo the batch."""
    def position(record_seed):
        return tf.math.floormod(record_seed[1], 1 << 32)

    if training:
        def preprocess(encoded, boxes, record_seed):
            return imagenet.train_image(
                encoded, boxes, image_size=image_size, options=image_options,
                seed=record_seed, position=position(record_seed),
                batch_size=batch_size)
    else:
        def preprocess(encoded, boxes, record_seed):
            del boxes
            return imagenet.eval_image(
                encoded, image_size=image_size, options=image_options,
                position=position(record_seed), batch_size=batch_size)
    return preprocess


def _batched(ds, *, training, repeat_eval, batch_size, image_size,
             num_batches):
    """(image, label, ok) records -> the batches build_dataset describes."""
    if training:
        ds = ds.map(lambda image, label, ok: (image, label))
        return ds.batch(batch_size, drop_remainder=True)
    if repeat_eval:
        ds = ds.map(lambda image, label, ok: (image, label)).repeat()
        return ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(lambda image, label, ok: (image, label, tf.constant(1.0)))
    ds = ds.batch(batch_size).map(_padder(batch_size))
    if num_batches is not None:
        empty = (tf.zeros([batch_size, image_size, image_size, 3]),
                 tf.zeros([batch_size], tf.int32), tf.zeros([batch_size]))
        ds = ds.concatenate(
            tf.data.Dataset.from_tensors(empty).repeat()).take(num_batches)
    return ds


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
