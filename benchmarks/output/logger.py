"""Logging through NVIDIA's dllogger, or an identical built-in writer.

Two outputs, in dllogger's formats:
  * a JSON-lines file (--log_path): ``DLLL {"timestamp": ..., "datetime": ...,
    "elapsedtime": ..., "type": "LOG"|"METADATA", "step": ..., "data": ...}``
  * stdout: ``DLL <datetime> - <step> <metric> : <value> <unit> ...``

dllogger is not on PyPI; when it is importable it is used, otherwise the
built-in backends below write byte-for-byte the same formats.

The JSON file gets every entry.  Standard output is tf_cnn_benchmarks'
console (output/console.py) with the DLL lines of the DEFAULT-verbosity
entries (evaluations, epochs, the final summary) among them, each entry cut
into lines of at most STDOUT_LINE_LIMIT characters (several DLL lines of the
same step); the PARAMETER entry (the whole config) only with
--parameters_to_stdout, and the per-display progress entries (VERBOSE) never:
the console shows them as the progress table.
"""

import json
import math
import os
import sys
from datetime import datetime

import numpy as np

from benchmarks.errors import ResourceError, UsageError
from benchmarks.paths import check_output

DEFAULT = 0
VERBOSE = 1
STDOUT_LINE_LIMIT = 200

# Every metric the runner logs, with its unit and display format.  Prefixes
# train.* and infer.* share the same suffixes.
_SUFFIX_METADATA = {
    "ips": ("img/s", ":.2f"),
    "ips_uncertainty": ("img/s", ":.2f"),
    "ips_jitter": ("img/s", ":.2f"),
    "loss": ("", ":.4f"),
    "base_loss": ("", ":.4f"),
    "learning_rate": ("", ":.6g"),
    "top1": ("", ":.4f"),
    "total_ips": ("img/s", ":.2f"),
    "ips_per_replica": ("img/s", ":.2f"),
    "ms_per_step": ("ms", ":.1f"),
    "step_time_p50_ms": ("ms", ":.1f"),
    "step_time_p90_ms": ("ms", ":.1f"),
    "step_time_p99_ms": ("ms", ":.1f"),
    "compile_time_s": ("s", ":.2f"),
    "tflops": ("TFLOP/s", ":.4f"),
    "peak_fraction": ("", ":.3f"),
    "hw_peak_fraction": ("", ":.3f"),
    "workers": ("", ""),
    "worker_ips": ("img/s", ""),
    "worker_timed_seconds": ("s", ""),
    "weights_sha256": ("", ""),
    "timed_images": ("images", ""),
    "timed_steps": ("steps", ""),
    "timed_seconds": ("s", ":.2f"),
    "input_wait_s": ("s", ":.3f"),
    "input_wait_pct": ("%", ":.1f"),
    "skipped_records": ("records", ""),
    "service_workers_seen": ("workers", ""),
    "service_batches": ("batches", ""),
    "global_batch": ("images", ""),
    "replicas": ("", ""),
    "paused_s": ("s", ":.2f"),
    "top5": ("", ":.4f"),
    "examples": ("images", ""),
    "seconds": ("s", ":.2f"),
    "epoch": ("epochs", ":.2f"),
    "epoch_loss": ("", ":.4f"),
    "epoch_top1": ("", ":.4f"),
    "epoch_ips": ("img/s", ":.2f"),
}


def metric_metadata(prefixes):
    """{metric: {"unit": ..., "format": ...}} of the metrics under ``prefixes``."""
    out = {}
    for prefix in prefixes:
        for suffix, (unit, fmt) in _SUFFIX_METADATA.items():
            meta = {"unit": unit}
            if fmt:
                meta["format"] = fmt
            out[f"{prefix}.{suffix}"] = meta
    return out


def _jsonable(value):
    """numpy scalars and arrays, tuples, NaN: into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Inf; keep them readable
    return value


def _prepare(path):
    """Creates the log's directory; a path that cannot be written is a
    UsageError, found before any work is done."""
    check_output(path, "--log_path", directory=False)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        open(path, "a").close()
    except OSError as e:
        raise UsageError(f"--log_path={path} cannot be written ({e.strerror}); "
                         "choose a writable path") from None


class _JSONStreamBackend:
    """Writes what dllogger.JSONStreamBackend writes."""

    def __init__(self, verbosity, filename):
        self.verbosity = verbosity
        self.file = open(filename, "w")

    def _write(self, entry):
        self.file.write("DLLL {}\n".format(json.dumps(entry)))

    # dllogger 1.1.0 writes the local time with its UTC offset.
    def metadata(self, timestamp, elapsedtime, metric, metadata):
        self._write(dict(timestamp=str(timestamp.timestamp()),
                         elapsedtime=str(elapsedtime),
                         datetime=str(timestamp.astimezone()),
                         type="METADATA", metric=metric, metadata=metadata))

    def log(self, timestamp, elapsedtime, step, data):
        self._write(dict(timestamp=str(timestamp.timestamp()),
                         datetime=str(timestamp.astimezone()),
                         elapsedtime=str(elapsedtime),
                         type="LOG", step=step, data=data))

    def flush(self):
        self.file.flush()

    def close(self):
        self.file.close()


def format_metric(metric, metadata, value):
    """dllogger's default metric format: ``name : value unit``."""
    unit = metadata.get("unit", "")
    fmt = "{" + metadata["format"] + "}" if "format" in metadata else "{}"
    try:
        shown = fmt.format(value) if value is not None else value
    except (ValueError, TypeError):
        shown = value  # e.g. a string value with a float format
    return "{} : {} {}".format(metric, shown, unit)


class _StdOutBackend:
    """Prints what dllogger.StdOutBackend prints."""

    def __init__(self, verbosity, stream=None):
        self.verbosity = verbosity
        self.stream = stream
        self._metadata = {}

    def metadata(self, timestamp, elapsedtime, metric, metadata):
        self._metadata.setdefault(metric, {}).update(metadata)

    def log(self, timestamp, elapsedtime, step, data):
        metrics = " ".join(format_metric(m, self._metadata.get(m, {}), v)
                           for m, v in data.items())
        print("DLL {} - {} {}".format(timestamp, step, metrics),
              file=self.stream or sys.stdout, flush=True)

    def flush(self):
        pass

    def close(self):
        pass


class _BuiltinLogger:
    def __init__(self, backends):
        self.backends = backends
        self.starttime = datetime.now()

    def metadata(self, metric, metadata):
        now = datetime.now()
        for b in self.backends:
            b.metadata(now, (now - self.starttime).total_seconds(), metric, metadata)

    def log(self, step, data, verbosity=1):
        now = datetime.now()
        for b in self.backends:
            if b.verbosity >= verbosity:
                b.log(now, (now - self.starttime).total_seconds(), step, data)

    def flush(self):
        for b in self.backends:
            b.flush()


def _dllogger_module():
    try:
        import dllogger
        dllogger.Logger, dllogger.StdOutBackend, dllogger.JSONStreamBackend
        return dllogger
    except (ImportError, AttributeError):
        return None


def stdout_chunks(step, data, metadata, limit=STDOUT_LINE_LIMIT):
    """``data`` cut into consecutive dicts whose stdout line (the DLL prefix
    with a 26-character datetime, the step, then each metric) stays within
    ``limit`` characters; a metric too long for any line gets its own."""
    prefix = len("DLL 2026-01-01 00:00:00.000000 - ") + len(str(step)) + 1
    chunks, chunk, width = [], {}, prefix
    for metric, value in data.items():
        text = len(format_metric(metric, metadata.get(metric, {}), value)) + 1
        if chunk and width + text > limit:
            chunks.append(chunk)
            chunk, width = {}, prefix
        chunk[metric] = value
        width += text
    if chunk:
        chunks.append(chunk)
    return chunks


class Logger:
    """The run's logger: ``log(step, data)``, ``metadata(metric, meta)``.

    Steps are dllogger's: "PARAMETER" for the configuration, an int for a
    training step, [] for the final summary.
    """

    def __init__(self, log_path=None, use_dllogger=None, stream=None,
                 parameters_to_stdout=False):
        if log_path:
            _prepare(log_path)
        module = _dllogger_module() if use_dllogger in (None, True) else None
        if use_dllogger and module is None:
            raise ImportError("dllogger is not installed")
        self.backend_name = "dllogger" if module else "built-in"
        self.log_path = log_path
        self.parameters_to_stdout = parameters_to_stdout
        self.starttime = datetime.now()
        self._metadata = {}
        if module:  # dllogger's StdOutBackend prints to sys.stdout
            self._stdout = module.StdOutBackend(module.Verbosity.DEFAULT)
            json_backends = ([module.JSONStreamBackend(
                module.Verbosity.VERBOSE, log_path)] if log_path else [])
            self._json = module.Logger(json_backends)
        else:
            self._stdout = _StdOutBackend(DEFAULT, stream)
            json_backends = ([_JSONStreamBackend(VERBOSE, log_path)]
                             if log_path else [])
            self._json = _BuiltinLogger(json_backends)
        self._files = [b.file for b in json_backends]

    def metadata(self, metric, metadata):
        self._metadata.setdefault(metric, {}).update(metadata)
        now = datetime.now()
        self._stdout.metadata(now, (now - self.starttime).total_seconds(),
                              metric, metadata)
        self._json.metadata(metric, metadata)

    def log(self, step, data, verbosity=DEFAULT):
        step, data = _jsonable(step), _jsonable(data)
        try:
            self._json.log(step, data, verbosity=verbosity)
            self._json.flush()
        except OSError as e:
            raise ResourceError(f"cannot write the log --log_path="
                                f"{self.log_path} ({e.strerror}); free space "
                                "there or give another --log_path") from None
        if verbosity == DEFAULT and (step != "PARAMETER"
                                     or self.parameters_to_stdout):
            now = datetime.now()
            elapsed = (now - self.starttime).total_seconds()
            for chunk in stdout_chunks(step, data, self._metadata):
                self._stdout.log(now, elapsed, step, chunk)
            sys.stdout.flush()

    def close(self):
        self._json.flush()
        for f in self._files:
            if not f.closed:
                f.close()
        # dllogger flushes its backends at exit; closed files must be gone.
        self._json.backends = []
