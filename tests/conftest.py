"""Test setup: split the CPU into logical devices before TensorFlow starts, so
MirroredStrategy with 2 replicas runs in-process without GPUs."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pytest  # noqa: E402

from benchmarks.machine.malloc import tune_glibc_malloc  # noqa: E402

tune_glibc_malloc()  # as the CLI does (see benchmarks/malloc.py)

import tensorflow as tf  # noqa: E402

NUM_LOGICAL_CPUS = 2
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * NUM_LOGICAL_CPUS)

from benchmarks import config as cfg  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(*, replicas=1, log_path=None, **loop):
    """vgg11 on 32x32 synthetic images, 10 classes, a few steps."""
    loop_args = dict(num_batches=4, num_warmup_batches=1, display_every=2)
    loop_args.update(loop)
    return cfg.RunConfig(
        model=cfg.ModelConfig(name="vgg11", num_classes=10, image_size=32,
                              dropout=0.0),
        dist=cfg.DistConfig(device="cpu",
                            num_cpu_devices=replicas if replicas > 1 else 0),
        data=cfg.DataConfig(batch_size=4),
        optimizer=cfg.OptimizerConfig(optimizer="momentum",
                                      init_learning_rate=0.05),
        loop=cfg.LoopConfig(**loop_args),
        log=cfg.LogConfig(log_path=log_path))


@pytest.fixture
def repo_dir():
    return REPO


def write_shards(directory, split, labels, *, num_shards=1, size=40,
                 corrupt=(), boxes=None, seed=0):
    """Writes ImageNet-format shards whose record i has file label labels[i]
    and a small drawn JPEG; records listed in ``corrupt`` get bytes that are
    not a decodable JPEG.  Returns the shard paths."""
    import numpy as np
    from preprocessing import demo, records
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    paths = [os.path.join(directory, records.shard_name(split, s, num_shards))
             for s in range(num_shards)]
    writers = [tf.io.TFRecordWriter(p) for p in paths]
    for i, label in enumerate(labels):
        pixels = demo.draw(int(label) % len(demo.CLASSES), rng, size)
        encoded = tf.io.encode_jpeg(pixels).numpy()
        if i in corrupt:
            encoded = encoded[:2] + b"\x00" * 64  # JPEG magic, then garbage
        example = records.make_example(
            encoded=encoded, label=int(label), height=size, width=size,
            filename=f"img_{i}.JPEG", bboxes=(boxes or {}).get(i, ()))
        writers[i % num_shards].write(example.SerializeToString())
    for w in writers:
        w.close()
    return paths


@pytest.fixture(scope="session")
def demo_shards(tmp_path_factory):
    """10 classes, 12 train images each in 4 shards, 3 validation each in 2."""
    root = str(tmp_path_factory.mktemp("demo"))
    train = [c + 1 for c in range(10) for _ in range(12)]
    val = [c + 1 for c in range(10) for _ in range(3)]
    write_shards(root, "train", train, num_shards=4, size=48)
    write_shards(root, "validation", val, num_shards=2, size=48, seed=1)
    return root


def assert_trains_as_the_native_model(name, seed, **options):
    """A ``name`` model at 32x32 with 10 classes built with ``options`` gives
    the native model's gradients on one random batch, each within 2e-5 of
    that gradient's largest magnitude; returns the model built with them.
    ``seed`` fixes the batch and the initial weights: an option that changes
    the forward pass's rounding (Winograd's) legitimately changes the
    gradients where a ReLU input lies within that rounding of zero, which
    unseeded weights made happen in about one run in three."""
    import keras
    import numpy as np
    import models
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    images = tf.constant(rng.uniform(-1, 1, (4, 32, 32, 3)), tf.float32)
    labels = tf.constant(rng.integers(0, 10, 4), tf.int32)
    native, other = (models.build(name, image_size=32, num_classes=10,
                                  dropout=0.0, **opts) for opts in ({}, options))
    other.set_weights(native.get_weights())
    grads = []
    for model in (native, other):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, logits))
        grads.append(tape.gradient(loss, model.trainable_variables))
    for native_grad, other_grad in zip(*grads):
        scale = float(tf.reduce_max(tf.abs(native_grad))) or 1.0
        np.testing.assert_allclose(other_grad.numpy() / scale,
                                   native_grad.numpy() / scale, atol=2e-5)
    return other


def depends_on(op, target):
    """Whether graph op ``op`` waits for ``target``, through data or control
    inputs."""
    seen, stack = set(), [op]
    while stack:
        node = stack.pop()
        if node is target:
            return True
        if node.name not in seen:
            seen.add(node.name)
            stack.extend([t.op for t in node.inputs] + list(node.control_inputs))
    return False
