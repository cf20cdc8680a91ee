"""Synthetic input, as tf_cnn_benchmarks does it: one fixed batch of random
images and labels made once on each device and fed to every step, so the input
costs nothing and the model can memorise it (the loss falls)."""

import tensorflow as tf


def image_shape(image_size, data_format):
    if data_format == "channels_first":
        return (3, image_size, image_size)
    return (image_size, image_size, 3)


def build_synthetic_batch(strategy, *, per_replica_batch, image_size,
                          num_classes, data_format="channels_last",
                          dtype=tf.float32, seed=1234):
    """Returns per-replica (images, labels) living on each replica's device.

    Images are uniform in [-1, 1] (the range of the real-data pipeline's
    normalisation) in ``dtype``, the model's compute dtype, so no cast runs
    per step.  Each replica gets a different batch, drawn from ``seed``.
    """
    shape = (per_replica_batch, *image_shape(image_size, data_format))
    devices = strategy.extended.worker_devices  # one per replica

    def make(context):
        replica = context.replica_id_in_sync_group  # global, over workers
        # distribute_values_from_function does not place values itself; a
        # worker's local replica k has global id worker * local + k.
        with tf.device(devices[replica % len(devices)]):
            images = tf.random.stateless_uniform(
                shape, seed=[seed, 2 * replica], minval=-1.0, maxval=1.0)
            labels = tf.random.stateless_uniform(
                (per_replica_batch,), seed=[seed, 2 * replica + 1], minval=0,
                maxval=num_classes, dtype=tf.int32)
            return tf.cast(images, dtype), labels

    return strategy.experimental_distribute_values_from_function(make)
