"""Devices and the tf.distribute strategy.

    --device=cpu                 one CPU device (OneDeviceStrategy)
    --num_gpus=N (N > 1)         MirroredStrategy over GPUs 0..N-1, NCCL all-reduce
    --num_cpu_devices=N          MirroredStrategy over N logical CPU devices
    --all_reduce_spec=...        nccl | hierarchical_copy | pscpu | psgpu
    --worker_hosts / TF_CONFIG   MultiWorkerMirroredStrategy: every worker's
                                 GPUs (--num_gpus) or CPU (--num_cpu_devices),
                                 collective all-reduce (NCCL / ring)
"""

import contextlib
import logging
from dataclasses import dataclass
from typing import Optional

import tensorflow as tf

from benchmarks.distribute.cluster import (Cluster, JoinWatchdog,
                                           configure_cluster, is_chief)
from benchmarks.errors import UsageError
from benchmarks.machine.gpus import default_all_reduce, default_device_kind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """What the strategy runs on, for the log and the summary."""

    strategy: tf.distribute.Strategy
    device_kind: str  # "cpu" or "gpu"
    devices: tuple  # this worker's device names, one per local replica
    all_reduce: str  # name of the cross-device reduction
    cluster: Optional[Cluster] = None  # several workers

    @property
    def num_replicas(self):
        """Replicas in sync: all workers' together."""
        return self.strategy.num_replicas_in_sync

    @property
    def num_workers(self):
        return self.cluster.num_workers if self.cluster else 1

    @property
    def is_chief(self):
        return is_chief(self.cluster)


def configure_runtime(dist, cluster=None, deterministic=False):
    """Thread pools, logical CPU devices, the cluster's coordination service
    and deterministic kernels.  TensorFlow fixes these when its runtime
    starts, so this must run before the first op of the process; in a
    process where TF already started (tests), a differing request is
    reported by build_strategy rather than silently dropped."""
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
    if cluster is not None:
        configure_cluster(cluster, dist.worker_timeout_secs)
        gpus = tf.config.list_physical_devices("GPU")
        if gpus and dist.device != "cpu":
            try:  # the strategy takes every visible GPU of a worker
                tf.config.set_visible_devices(gpus[:max(1, dist.num_gpus)], "GPU")
            except RuntimeError:
                pass
    if dist.num_cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * dist.num_cpu_devices)
        except RuntimeError:
            pass  # already started: build_strategy checks there are enough


def _cross_device_ops(spec, device_kind, devices, num_packs=0):
    """The all-reduce for MirroredStrategy, by tf_cnn_benchmarks' spec name;
    ``num_packs`` (--gradient_repacking) for NCCL and hierarchical copy."""
    if spec is None:
        spec = default_all_reduce(device_kind)
    if spec in ("nccl", "hierarchical_copy") and device_kind != "gpu":
        raise UsageError(f"--all_reduce_spec={spec} needs GPUs; on CPU devices "
                         "use pscpu")
    packs = {"num_packs": num_packs} if num_packs else {}
    if num_packs and spec not in ("nccl", "hierarchical_copy"):
        raise UsageError(f"--gradient_repacking packs the nccl and "
                         f"hierarchical_copy all-reduce; --all_reduce_spec="
                         f"{spec} reduces on one device; omit it")
    if spec == "nccl":
        return spec, tf.distribute.NcclAllReduce(**packs)
    if spec == "hierarchical_copy":
        return spec, tf.distribute.HierarchicalCopyAllReduce(**packs)
    if spec == "pscpu":
        return spec, tf.distribute.ReductionToOneDevice("/cpu:0")
    return spec, tf.distribute.ReductionToOneDevice(devices[0])  # psgpu


@contextlib.contextmanager
def _cpu_devices_per_worker(count):
    """MultiWorkerMirroredStrategy puts one replica on a worker's CPU; to
    test several replicas per worker without GPUs, its (private) choice of
    local devices is replaced by ``count`` logical CPU devices while the
    strategy is built."""
    from tensorflow.python.distribute import collective_all_reduce_strategy as cars
    extended = cars.CollectiveAllReduceExtended
    original = extended._initialize_local_devices

    def local_devices(self, cluster_resolver, worker_device):
        del self, cluster_resolver
        return tuple(f"{worker_device}/device:CPU:{i}"
                     for i in range(count)), "CPU"
    extended._initialize_local_devices = local_devices
    try:
        yield
    finally:
        extended._initialize_local_devices = original


def _multi_worker_strategy(dist, cluster):
    if dist.gradient_repacking:
        raise UsageError("--gradient_repacking packs MirroredStrategy's "
                         "all-reduce; across workers the collective all-reduce "
                         "packs by itself; omit it")
    gpus = tf.config.list_physical_devices("GPU")
    kind = "cpu" if dist.device == "cpu" or not gpus else "gpu"
    if kind == "gpu" and dist.num_gpus > len(gpus):
        raise UsageError(f"--num_gpus={dist.num_gpus} asks for more GPUs than "
                         f"this worker has: found {len(gpus)}")
    collective = tf.distribute.experimental.CommunicationImplementation
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=collective.NCCL if kind == "gpu" else collective.RING,
        timeout_seconds=dist.worker_timeout_secs)
    # (Listing logical devices here would start the runtime before the
    # strategy configures collective ops; configure_runtime made them.)
    per_worker = dist.num_cpu_devices if kind == "cpu" else 0
    with (_cpu_devices_per_worker(per_worker) if per_worker > 1
          else contextlib.nullcontext()), \
            JoinWatchdog(cluster, dist.worker_timeout_secs):
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options)
    devices = tuple(strategy.extended.worker_devices)
    name = "nccl" if kind == "gpu" else "ring"
    return Placement(strategy, kind, devices,
                     f"{name} (collective, {cluster.num_workers} workers)",
                     cluster)


def build_strategy(dist, cluster=None):
    """Returns a Placement for a DistConfig on this worker of ``cluster``
    (None: one worker); UsageError for impossible asks."""
    if cluster is not None:
        return _multi_worker_strategy(dist, cluster)
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
        kind = dist.device or ("gpu" if dist.num_gpus > 1
                               else default_device_kind(gpus))
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
    name, ops = _cross_device_ops(dist.all_reduce_spec, kind, devices,
                                  dist.gradient_repacking)
    strategy = tf.distribute.MirroredStrategy(list(devices), cross_device_ops=ops)
    return Placement(strategy, kind, devices, f"{name} ({type(ops).__name__})")


def device_sync(placement):
    """What the loop calls before reading the clock: wait for all queued
    device work.  tf.test.experimental.sync_devices covers every device of a
    local context but is refused under MultiWorkerMirroredStrategy; there, a
    tiny op on each local device, fetched, waits for the work queued before
    it on that device."""
    if placement.cluster is None:
        return tf.test.experimental.sync_devices
    devices = placement.devices

    def sync():
        for device in devices:
            with tf.device(device):
                tf.identity(tf.zeros(())).numpy()
    return sync
