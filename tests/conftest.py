"""Test setup: split the CPU into logical devices before TensorFlow starts, so
MirroredStrategy with 2 replicas runs in-process without GPUs."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pytest  # noqa: E402
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
