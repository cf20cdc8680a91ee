"""Devices and the tf.distribute strategy.

    --device=cpu                 one CPU device (OneDeviceStrategy)
    --num_gpus=N (N > 1)         MirroredStrategy over GPUs 0..N-1, NCCL all-reduce
    --num_cpu_devices=N          MirroredStrategy over N logical CPU devices
    --all_reduce_spec=...        nccl | hierarchical_copy | pscpu | psgpu
"""

import logging
from dataclasses import dataclass

import tensorflow as tf

from benchmarks.errors import UsageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """What the strategy runs on, for the log and the summary."""

    strategy: tf.distribute.Strategy
    device_kind: str  # "cpu" or "gpu"
    devices: tuple  # logical device names, one per replica
    all_reduce: str  # name of the cross-device reduction

    @property
    def num_replicas(self):
        return self.strategy.num_replicas_in_sync


def configure_runtime(dist, deterministic=False):
    """Thread pools, logical CPU devices and deterministic kernels.  TensorFlow
    fixes the first two when its runtime starts, so this must run before the
    first op of the process; in a process where TF already started (tests), a
    differing request is reported by build_strategy rather than silently
    dropped."""
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    threading = tf.config.threading
    for value, setter, getter in (
            (dist.num_intra_threads, threading.set_intra_op_parallelism_threads,
             threading.get_intra_op_parallelism_threads),
            (dist.num_inter_threads, threading.set_inter_op_parallelism_threads,
             threading.get_inter_op_parallelism_threads)):
        if value is None or value == getter():
            continue
        try:
            setter(value)
        except RuntimeError:
            log.warning("thread count %s not applied: the TensorFlow runtime "
                        "was already started in this process", value)
    if dist.num_cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * dist.num_cpu_devices)
        except RuntimeError:
            pass  # already started: build_strategy checks there are enough


def _cross_device_ops(spec, device_kind, devices):
    """The all-reduce for MirroredStrategy, by tf_cnn_benchmarks' spec name."""
    if spec is None:
        spec = "nccl" if device_kind == "gpu" else "pscpu"
    if spec in ("nccl", "hierarchical_copy") and device_kind != "gpu":
        raise UsageError(f"--all_reduce_spec={spec} needs GPUs; on CPU devices "
                         "use pscpu")
    if spec == "nccl":
        return spec, tf.distribute.NcclAllReduce()
    if spec == "hierarchical_copy":
        return spec, tf.distribute.HierarchicalCopyAllReduce()
    if spec == "pscpu":
        return spec, tf.distribute.ReductionToOneDevice("/cpu:0")
    return spec, tf.distribute.ReductionToOneDevice(devices[0])  # psgpu


def build_strategy(dist):
    """Returns a Placement for a DistConfig; UsageError for impossible asks."""
    gpus = tf.config.list_physical_devices("GPU")
    if dist.num_cpu_devices:
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) < dist.num_cpu_devices:
            raise UsageError(
                f"--num_cpu_devices={dist.num_cpu_devices} but this process has "
                f"{len(logical)} logical CPU devices (TensorFlow started before "
                "they could be split)")
        devices = tuple(d.name for d in logical[:dist.num_cpu_devices])
        kind = "cpu"
    else:
        kind = dist.device or ("gpu" if gpus or dist.num_gpus > 1 else "cpu")
        if kind == "cpu":
            devices = ("/cpu:0",)
        else:
            if dist.num_gpus < 1:
                raise UsageError("--device=gpu needs --num_gpus >= 1")
            if dist.num_gpus > len(gpus):
                fix = (f"use --num_gpus={len(gpus)} or fewer" if gpus
                       else "run with --device=cpu")
                raise UsageError(f"--num_gpus={dist.num_gpus} asks for more GPUs "
                                 f"than exist: found {len(gpus)}; {fix}")
            devices = tuple(f"/gpu:{i}" for i in range(dist.num_gpus))
    if len(devices) == 1:
        if dist.all_reduce_spec in ("nccl", "hierarchical_copy") and kind != "gpu":
            raise UsageError(f"--all_reduce_spec={dist.all_reduce_spec} needs "
                             "GPUs; on the CPU use pscpu")
        strategy = tf.distribute.OneDeviceStrategy(devices[0])
        return Placement(strategy, kind, devices, "none (one replica)")
    name, ops = _cross_device_ops(dist.all_reduce_spec, kind, devices)
    strategy = tf.distribute.MirroredStrategy(list(devices), cross_device_ops=ops)
    return Placement(strategy, kind, devices, f"{name} ({type(ops).__name__})")
