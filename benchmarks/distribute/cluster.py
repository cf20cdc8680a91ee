"""Several workers: the cluster from --worker_hosts/--task_index or TF_CONFIG,
TensorFlow's coordination service with one timeout for everything a worker
waits on, the decisions all workers must take together, and the one-line
error for a lost worker.

TensorFlow's own engine does the work: MultiWorkerMirroredStrategy with
collective all-reduce (NCCL on GPUs, ring on CPUs); its coordination service
registers the workers and watches their heartbeats.  Worker 0 is the chief:
it alone writes the log and the checkpoints.
"""

import hashlib
import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from benchmarks.config.run import check_host
from benchmarks.errors import LostWorker, UsageError


def is_chief(cluster):
    """Whether this process writes the log and checkpoints: a run without a
    cluster, or a cluster's worker 0."""
    return cluster is None or cluster.is_chief


@dataclass(frozen=True)
class Cluster:
    workers: tuple   # "host:port" of every worker; index 0 is the chief
    task_index: int
    # TF_CONFIG named worker 0 as a "chief" job (its workers then count from
    # 0 again in TensorFlow's task names).
    chief_job: bool = False

    @property
    def num_workers(self):
        return len(self.workers)

    @property
    def is_chief(self):
        return self.task_index == 0

    def tf_config(self):
        if not self.chief_job:
            return {"cluster": {"worker": list(self.workers)},
                    "task": {"type": "worker", "index": self.task_index}}
        task = ({"type": "chief", "index": 0} if self.is_chief else
                {"type": "worker", "index": self.task_index - 1})
        return {"cluster": {"chief": [self.workers[0]],
                            "worker": list(self.workers[1:])}, "task": task}

    def index_of(self, job, task):
        """Our worker index of TensorFlow's /job:<job>/task:<task>."""
        return task + (1 if job == "worker" and self.chief_job else 0)

    def describe(self, index):
        role = " (chief)" if index == 0 else ""
        return f"worker {index}{role} at {self.workers[index]}"


def resolve_cluster(dist, environ=None):
    """The Cluster of --worker_hosts, else of TF_CONFIG, else None (one
    worker, no multi-worker strategy)."""
    environ = os.environ if environ is None else environ
    if dist.worker_hosts:
        return Cluster(tuple(dist.worker_hosts), dist.task_index)
    raw = environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        spec = json.loads(raw)
        jobs = spec["cluster"]
        task = spec["task"]
        workers = list(jobs.get("chief", [])) + list(jobs.get("worker", []))
        index = int(task["index"]) + (len(jobs.get("chief", []))
                                      if task["type"] == "worker" else 0)
        if task["type"] not in ("chief", "worker") or not workers:
            raise ValueError(f"task type {task['type']!r}")
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"TF_CONFIG cannot be used ({e}); give "
                         '{"cluster": {"worker": ["host:port", ...]}, "task": '
                         '{"type": "worker", "index": i}} or --worker_hosts '
                         "with --task_index") from None
    if set(jobs) - {"chief", "worker"}:
        raise UsageError(f"TF_CONFIG has jobs {sorted(set(jobs))}: only chief "
                         "and worker jobs exist here (no parameter servers)")
    for host in workers:
        check_host("TF_CONFIG's cluster", host)
    return Cluster(tuple(workers), index, chief_job="chief" in jobs)


def configure_cluster(cluster, timeout_secs):
    """Exports TF_CONFIG for the strategy and sets the coordination service's
    timeouts (registration, heartbeats, shutdown barrier) to ``timeout_secs``.
    Must run before TensorFlow's runtime starts."""
    spec = cluster.tf_config()
    if not cluster.chief_job:  # a chief job only comes from the user's TF_CONFIG
        os.environ["TF_CONFIG"] = json.dumps(spec)
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.eager import context
    jobs = spec["cluster"]
    millis = int(timeout_secs * 1000)
    # MultiWorkerMirroredStrategy configures the service only when nobody
    # did; this is its configuration with bounded waits (its defaults wait
    # up to an hour for a worker that never joins).
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader="/job:{}/replica:0/task:0".format(
            "chief" if "chief" in jobs else "worker"),
        cluster_register_timeout_in_ms=millis,
        heartbeat_timeout_in_ms=millis,
        shutdown_barrier_timeout_in_ms=millis,
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(
            name=name, num_tasks=len(jobs[name])) for name in jobs])


def _sum_over_replicas(strategy, local):
    """The sum over every replica of all workers of ``local`` (a vector each
    replica of this worker contributes), on every worker."""
    values = strategy.experimental_distribute_values_from_function(
        lambda _: tf.identity(local))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, values,
                           axis=None).numpy()


def agree(strategy, flags):
    """Each flag made true on every worker when it is true on any: decisions
    taken on one worker's clock or signal (save now, stop now) must be taken
    by all, or the others would wait in a collective that never comes."""
    local = tf.constant([1.0 if f else 0.0 for f in flags])
    return [bool(v > 0) for v in _sum_over_replicas(strategy, local)]


def gather_per_worker(strategy, cluster, value, local_replicas):
    """[value of worker 0, value of worker 1, ...] on every worker."""
    slot = tf.one_hot(cluster.task_index, cluster.num_workers,
                      dtype=tf.float64) * (value / local_replicas)
    return [float(v) for v in _sum_over_replicas(strategy, slot)]


# What TensorFlow says when a peer is gone: collective timeouts, failed
# heartbeats, refused connections, aborted collectives.
_LOST = ("heartbeat", "Collective ops is aborted", "collective", "Socket closed",
         "Connection reset", "failed to connect", "Failed to connect",
         "unavailable", "UNAVAILABLE", "DEADLINE_EXCEEDED", "deadline",
         "timed out", "Timed out", "barrier", "coordination")
_TASK = re.compile(r"/job:(worker|chief)/(?:replica:\d+/)?task:(\d+)")


def explain_lost_worker(error, cluster, timeout_secs):
    """A LostWorker error naming the worker a TensorFlow error blames, for
    errors that mean a peer is lost or never came; else None."""
    message = str(getattr(error, "message", error))
    if not any(m in message for m in _LOST):
        return None
    blamed = sorted({cluster.index_of(job, int(i))
                     for job, i in _TASK.findall(message)}
                    - {cluster.task_index})
    if not blamed and cluster.num_workers == 2:
        blamed = [1 - cluster.task_index]  # the only peer there is
    who = (", ".join(cluster.describe(i) for i in blamed
                     if i < cluster.num_workers) or "a peer worker")
    lines = [l.strip() for l in message.splitlines() if l.strip()]
    telling = [l for l in lines if any(m in l for m in _LOST)]
    first = (telling or lines or [""])[0][:240]
    return LostWorker(
        f"{cluster.describe(cluster.task_index)} lost contact with {who} "
        f"(waited up to --worker_timeout_secs={timeout_secs:g}): {first}; "
        "restart every worker with the same command to resume from the "
        "chief's last checkpoint")


def weights_fingerprint(model):
    """sha256 (16 hex digits) of every weight's bytes: equal on all workers
    exactly when their replicas are in sync."""
    digest = hashlib.sha256()
    for v in model.weights:
        digest.update(np.ascontiguousarray(v.numpy()).tobytes())
    return digest.hexdigest()[:16]


def per_worker_figures(placement, summary):
    """Each worker's own img/s (its share of every global batch over its own
    timed wall time), gathered on every worker; the global figure stays the
    chief's: all images over its timed wall time."""
    seconds = gather_per_worker(placement.strategy, placement.cluster,
                                summary["timed_seconds"], len(placement.devices))
    share = summary["timed_images"] / placement.num_workers
    return {"workers": placement.num_workers,
            "worker_ips": [share / s if s > 0 else float("nan") for s in seconds],
            "worker_timed_seconds": seconds}


class JoinWatchdog:
    """Bounds the wait for the other workers to join.  TensorFlow's remote
    context setup keeps retrying a worker that never starts, and holds the
    GIL while it does, so no Python thread or signal handler can act; a
    forked watchdog process sleeps ``timeout_secs``, prints the one-line
    error and kills this process, unless it is stopped first (exit status
    137: nothing was trained, so nothing is lost)."""

    def __init__(self, cluster, timeout_secs):
        self.cluster = cluster
        self.timeout_secs = timeout_secs
        self._pid = None

    def message(self):
        me = self.cluster.task_index
        others = ", ".join(self.cluster.describe(i)
                           for i in range(self.cluster.num_workers) if i != me)
        return (f"{self.cluster.describe(me)} waited --worker_timeout_secs="
                f"{self.timeout_secs:g} for {others} to join; start every "
                "worker with the same --worker_hosts and its own --task_index, "
                "or check that the addresses are reachable")

    def __enter__(self):
        line = f"vggbench: error: {self.message()}\n".encode()
        parent = os.getpid()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the watchdog: only sleeps, writes and signals
            try:
                time.sleep(self.timeout_secs)
                os.write(2, line)
                os.kill(parent, signal.SIGKILL)  # a SIGTERM handler would
                # only run once TensorFlow returns
            finally:
                os._exit(0)
        self._pid = pid
        return self

    def __exit__(self, *exc):
        os.kill(self._pid, signal.SIGKILL)
        os.waitpid(self._pid, 0)
        return False
