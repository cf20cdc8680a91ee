"""Profiles of a benchmark: a trace of its steps (--trace_file: Chrome trace
JSON, or TensorFlow's profiler files for TensorBoard), a table of the time
each op type took (--tfprof_file), and the step's graph (--graph_file).

The profiled steps are the last warmup steps (up to ten, never the first,
which traces and compiles): steps like the timed ones whose time the
measured figures never include, so profiling cannot slow the timed steps.
tf_cnn_benchmarks traced a warmup step the same way.
"""

import json
import os
import shutil
import tempfile

import tensorflow as tf

from benchmarks.errors import UsageError

MAX_PROFILED_STEPS = 10  # as tf_cnn_benchmarks' tfprof profile


def profile_window(num_warmup):
    """(first, last) steps profiled, or None when warmup has no step after
    the first."""
    if num_warmup < 2:
        return None
    return max(2, num_warmup - MAX_PROFILED_STEPS + 1), num_warmup


def _profiler_plugin():
    try:
        from tensorflow.python.profiler.internal import \
            _pywrap_profiler_plugin as plugin
        return plugin
    except ImportError:
        return None


class StepProfiler:
    """The driver's ``profiler``: starts TensorFlow's profiler before the
    window's first call and writes the files after its last."""

    def __init__(self, profile, num_warmup):
        self.profile = profile
        self.window = profile_window(num_warmup)
        if self.window is None:
            raise UsageError("--trace_file and --tfprof_file profile warmup "
                             "steps after the first (which compiles); give "
                             "--num_warmup_batches=2 or more")
        self.plugin = _profiler_plugin()
        if self.plugin is None:
            raise UsageError("--trace_file and --tfprof_file need TensorFlow's "
                             "profiler, which this TensorFlow build lacks")
        self._logdir = None

    @property
    def boundary(self):
        """A step after which a loop call must end (so one starts the window)."""
        return self.window[0] - 1

    def before(self, chunk):
        if chunk.first_step == self.window[0]:
            chrome = self.profile.use_chrome_trace_format
            if self.profile.trace_file and not chrome:
                self._logdir = self.profile.trace_file  # TensorBoard's logdir
            else:
                self._logdir = tempfile.mkdtemp(prefix="vggbench-profile-")
            tf.profiler.experimental.start(self._logdir)

    def after(self, chunk):
        if self._logdir is None or chunk.last_step != self.window[1]:
            return
        tf.profiler.experimental.stop()
        try:
            self._write(_xplanes(self._logdir))
        finally:
            if self._logdir != self.profile.trace_file:
                shutil.rmtree(self._logdir, ignore_errors=True)
            self._logdir = None

    def _write(self, xplanes):
        p = self.profile
        if p.trace_file and p.use_chrome_trace_format:
            trace, _ = self.plugin.xspace_to_tools_data(xplanes,
                                                        "trace_viewer@", {})
            _write_file(p.trace_file, trace)
        if p.tfprof_file:
            stats, _ = self.plugin.xspace_to_tools_data(
                xplanes, "framework_op_stats", {})
            _write_file(p.tfprof_file, op_table(
                json.loads(stats), *self.window).encode())


def _xplanes(logdir):
    found = []
    for root, _, files in os.walk(logdir):
        found += [os.path.join(root, f) for f in files
                  if f.endswith(".xplane.pb")]
    return sorted(found)


def _write_file(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def op_table(stats, first_step, last_step):
    """A text table of self time per op type from the profiler's
    framework_op_stats (its second table leaves out idle time)."""
    table = stats[-1]
    columns = [c["label"] for c in table["cols"]]
    at = {label: columns.index(label) for label in (
        "Operation Type", "#Occurrences", "Total self-time (us)")}
    by_type = {}
    for row in table["rows"]:
        values = [c.get("v") for c in row["c"]]
        op = values[at["Operation Type"]]
        count, micros = by_type.get(op, (0, 0.0))
        by_type[op] = (count + int(values[at["#Occurrences"]]),
                       micros + float(values[at["Total self-time (us)"]]))
    total = sum(m for _, m in by_type.values()) or 1.0
    lines = [f"Time per op type over steps {first_step}-{last_step} (warmup "
             "steps after the first; TensorFlow's profiler, host and device "
             "self time)",
             f"{'op type':<40}{'count':>8}{'total ms':>12}{'avg us':>12}"
             f"{'share':>8}"]
    for op, (count, micros) in sorted(by_type.items(),
                                      key=lambda kv: -kv[1][1]):
        lines.append(f"{op:<40}{count:>8}{micros / 1e3:>12.2f}"
                     f"{micros / max(1, count):>12.1f}{micros / total:>8.1%}")
    return "\n".join(lines) + "\n"


def write_graph(loop, args, path):
    """The compiled loop's graph, as traced for ``args``, to ``path``: text
    when it ends in txt (tf_cnn_benchmarks' rule), else a binary GraphDef."""
    graph = loop.get_concrete_function(*args).graph.as_graph_def()
    directory, name = os.path.split(os.path.abspath(path))
    tf.io.write_graph(graph, directory, name, as_text=path.endswith("txt"))
