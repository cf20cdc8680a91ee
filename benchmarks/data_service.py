"""The trainer's side of a tf.data service fleet (--data_service_address):
the dispatcher probed before any job is made, the training pipeline handed
to the service's workers, and the watchdog that bounds every wait on it.

TensorFlow's service client has no timeout a user can set: it retries a
dispatcher that is not there for about an hour and waits for a batch from a
job whose workers are all gone forever (a one-pass job whose worker died
with a shard in flight never ends either).  So the trainer bounds the waits
itself: a TCP probe of the dispatcher (refused: one line at once; silent:
one line after --data_service_timeout_secs), and a watchdog thread that
notes when the last batch arrived and, once none has for that long while
the loop waits for one, saves a checkpoint and ends the process with one
line (the loop's call cannot be interrupted from Python).
"""

import hashlib
import json
import os
import socket
import sys
import threading
import time
import uuid

import tensorflow as tf

from benchmarks.errors import UsageError, VggbenchError
from preprocessing import dataset as input_dataset

_GRPC = "grpc://"
_POLICIES = {"dynamic": tf.data.experimental.service.ShardingPolicy.DYNAMIC,
             "parallel_epochs": tf.data.experimental.service.ShardingPolicy.OFF}
# What an epoch gets when a worker is lost, per processing mode.
LOSS_NOTE = {
    "dynamic": "a worker lost mid-run takes the shards it was reading with "
               "it: that epoch misses their unread images (none repeats)",
    "parallel_epochs": "a worker lost mid-run takes its own copy of the "
                       "epoch with it; the others' copies go on",
}


class ServiceInput:
    """A training split read from the service: the address probed, the job
    named, the pipeline built for the workers, the watchdog started."""

    def __init__(self, config, split, options, num_workers):
        data = self.data = config.data
        self.address = address_of(data)
        self.mode = data.data_service_processing_mode
        self.job = job_name(data, config.to_dict(), num_workers)
        self.options = options
        self._build = lambda batch_size: input_dataset.build_dataset(
            split, image_size=config.model.image_size,
            num_classes=config.model.num_classes, batch_size=batch_size,
            training=True, options=options, service=True)
        probe(data)
        self.watchdog = Watchdog(data.data_service_timeout_secs)
        self.watchdog.on_stall = self._no_job
        self.watchdog.lost_note = LOSS_NOTE[self.mode]

    def dataset(self, batch_size):
        """The trainer's side: the service's batches, watched, prefetched."""
        ds = self.watchdog.watched(
            distributed(self._build(batch_size), self.data, self.job))
        if self.options.prefetch_batches:
            ds = ds.prefetch(self.options.prefetch or tf.data.AUTOTUNE)
        return ds

    def describe(self, split):
        return (f"{split.description}, from the tf.data service at "
                f"{self.address} ({self.mode}, job {self.job})")

    def parameters(self):
        """The PARAMETER entry's service fields."""
        return {"data_service.address": self.address,
                "data_service.processing_mode": self.mode,
                "data_service.job_name": self.job,
                "data_service.on_lost_worker": LOSS_NOTE[self.mode]}

    def metrics(self):
        """The final figures: which workers delivered."""
        return {"input.service_workers_seen": len(self.watchdog.workers),
                "input.service_batches": self.watchdog.batches}

    def _no_job(self, waited):
        return (f"the tf.data service dispatcher at {self.address} accepted "
                f"a connection but made no job within {waited:.0f} s "
                "(--data_service_timeout_secs); check that the address is "
                "a dispatcher's (scripts/data_service.py prints it)", 2)

    def during_training(self, save):
        """From now on a stall saves (``save() -> checkpoint path or None``)
        and ends the run."""
        def stalled(waited):
            try:
                saved = save()
            except VggbenchError as e:
                saved = f"none ({e})"
            where = (f"; checkpoint {saved}, rerun the same command to resume"
                     if saved else "; nothing saved (no --train_dir)")
            return (f"the tf.data service at {self.address} delivered no "
                    f"batch for {waited:.0f} s (--data_service_timeout_secs): "
                    "its workers are gone or stuck; restart them "
                    f"(scripts/data_service.py){where}", 1)
        self.watchdog.on_stall = stalled


def address_of(data):
    """grpc://host:port of --data_service_address."""
    return _GRPC + data.data_service_address.removeprefix(_GRPC)


def job_name(data, run_values, num_workers):
    """--data_service_job_name, else a fresh name for one trainer, else (all
    workers of one run must share the job) a hash of the run's flags."""
    if data.data_service_job_name:
        return data.data_service_job_name
    if num_workers == 1:
        return "vggbench-" + uuid.uuid4().hex[:12]
    values = {k: v for k, v in run_values.items() if k != "task_index"}
    text = json.dumps(values, sort_keys=True, default=str)
    return "vggbench-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def probe(data, clock=time.monotonic):
    """Raises a one-line UsageError unless something accepts a TCP
    connection at the dispatcher's address within the timeout."""
    host, _, port = address_of(data)[len(_GRPC):].rpartition(":")
    timeout = data.data_service_timeout_secs
    fix = ("start one (python scripts/data_service.py --dispatcher_port="
           f"{port} --num_workers=N) or fix --data_service_address")
    start = clock()
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return
    except socket.timeout:
        raise UsageError(
            f"the tf.data service dispatcher at {host}:{port} did not answer "
            f"within {timeout:g} s (--data_service_timeout_secs); {fix}") from None
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise UsageError(
            f"no tf.data service dispatcher at {host}:{port} ({reason}, after "
            f"{clock() - start:.1f} s); {fix}") from None


def distributed(dataset, data, job):
    """``dataset`` (built for the workers) read from the service's job."""
    return dataset.apply(tf.data.experimental.service.distribute(
        processing_mode=_POLICIES[data.data_service_processing_mode],
        service=address_of(data), job_name=job))


class Watchdog:
    """Ends the process when the service stops delivering.

    ``watched(dataset)`` wraps the trainer's side of the pipeline so that
    each pull notes when it asked for a batch and when the batch came (and
    from which worker).  A request unanswered for ``timeout_secs``, or an
    ``armed`` wait (the iterator's creation, which registers the job) that
    long, makes the watchdog's thread call ``on_stall(seconds) -> (message,
    exit code)``, print the one line and exit the process: the blocked call
    cannot be interrupted from Python.  A slow step is no stall: while the
    trainer computes, its buffers are full and nothing is asked."""

    def __init__(self, timeout_secs, *, poll=None, stream=None,
                 clock=time.monotonic, exit=os._exit):
        self.timeout = timeout_secs
        self.on_stall = None
        self.workers = set()  # host:pid of each worker a batch came from
        self.batches = 0
        self.lost_note = None  # printed once per worker that falls silent
        self._seen_at, self._told = {}, set()
        self._poll = poll or min(1.0, timeout_secs / 4)
        self._armed_at = self._asked_at = None
        self._stream = stream or sys.stderr
        self._clock, self._exit = clock, exit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name="data-service-watchdog")
        self._thread.start()

    def _ask(self, number):
        if self._asked_at is None:
            self._asked_at = self._clock()
        return number

    def _came(self, tag):
        self._asked_at = None
        self.batches += 1
        worker = tag.numpy().decode()
        self.workers.add(worker)
        self._seen_at[worker] = self._clock()
        return tag

    def watched(self, dataset):
        """(images, labels, worker tag) batches -> (images, labels), each
        request and arrival noted.  zip pulls its inputs in order: the
        counter (the request) first, then the service (the wait)."""
        asks = tf.data.Dataset.range(1 << 62).map(
            lambda n: tf.py_function(self._ask, [n], tf.int64))

        def came(n, batch):
            images, labels, tag = batch
            noted = tf.py_function(self._came, [tag], tf.string)
            with tf.control_dependencies([n, noted]):
                return tf.identity(images), tf.identity(labels)

        return tf.data.Dataset.zip((asks, dataset)).map(came)

    def armed(self, call, *args):
        """call(*args) with the watchdog armed around it."""
        self._armed_at = self._clock()
        try:
            return call(*args)
        finally:
            self._armed_at = None

    def close(self):
        self._stop.set()

    def waiting_for(self):
        """Seconds the trainer has waited on the service, 0 if it is not."""
        since = [t for t in (self._armed_at, self._asked_at) if t is not None]
        return self._clock() - min(since) if since else 0.0

    def silent_workers(self):
        """Workers that delivered before but nothing for ``timeout`` while
        another one did."""
        seen = dict(self._seen_at)
        if len(seen) < 2:
            return []
        latest = max(seen.values())
        return sorted(w for w, t in seen.items()
                      if latest - t > self.timeout and w not in self._told)

    def _watch(self):
        while not self._stop.wait(self._poll):
            for worker in self.silent_workers():
                self._told.add(worker)
                print(f"tf.data service: worker {worker} has sent nothing for "
                      f"over {self.timeout:g} s while others did (lost?); "
                      f"{self.lost_note}", flush=True)
            waited = self.waiting_for()
            if waited > self.timeout:
                message, code = self.on_stall(waited)
                self._stream.write(f"vggbench: error: {message}\n")
                self._stream.flush()
                sys.stdout.flush()
                self._exit(code)
                return
