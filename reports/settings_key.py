"""Which logged settings change the work a run does, and so must match
between two runs before their figures can be compared.

One table: every PARAMETER entry of a log is a setting; a setting named here
is either IGNORED (it cannot change what is computed or how fast: where the
log goes, how often it prints) or PRESENCE (a path: which file does not
matter, whether there is one does: a data directory makes the run read real
data, a trace file makes it trace).  Every other setting changes the work:
model, image size, batch, precision, devices and threads, data or synthetic,
XLA, layout, optimizer, schedule, step counts, seed, the TensorFlow and
library versions and the host.  Unknown settings count as work on purpose,
so a new flag is compared until someone decides otherwise here.
"""

import json

IGNORED = "ignored"
PRESENCE = "presence"

SETTINGS = {
    # logs and display: where and how often figures are written
    "log.log_path": IGNORED,
    "log.eval_dir": IGNORED,
    "log.benchmark_test_id": IGNORED,
    "log.flush_stdout": IGNORED,
    "log.parameters_to_stdout": IGNORED,
    "log.summary_verbosity": IGNORED,
    "log.save_summaries_steps": IGNORED,
    "log.recipes": IGNORED,          # the flags a recipe sets are logged too
    "loop.display_every": IGNORED,
    "loop.display_perf_ewma": IGNORED,
    "logger": IGNORED,
    # which worker wrote the log, and how long it waits for the others
    "dist.task_index": IGNORED,
    "task_index": IGNORED,
    "dist.worker_timeout_secs": IGNORED,
    "eval.eval_timeout_secs": IGNORED,
    "eval.eval_interval_secs": IGNORED,
    # paths: whether one is set changes the run, which one does not
    "data.data_dir": PRESENCE,
    "checkpoint.train_dir": PRESENCE,
    "checkpoint.checkpoint": PRESENCE,
    "train.resumed_from": PRESENCE,
    "profile.trace_file": PRESENCE,
    "profile.tfprof_file": PRESENCE,
    "profile.graph_file": PRESENCE,
}


def kind(name):
    """IGNORED, PRESENCE or "work"."""
    return SETTINGS.get(name, "work")


def work_settings(parameters, ignore=()):
    """The settings of a run that change its work, as {name: comparable
    text}; ``ignore`` names settings the user compares across on purpose."""
    out = {}
    for name, value in parameters.items():
        k = kind(name)
        if k == IGNORED or name in ignore:
            continue
        if k == PRESENCE:
            value = "set" if value else "not set"
        out[name] = json.dumps(value, sort_keys=True)
    return out


def key(settings):
    """A hashable key of work_settings()."""
    return tuple(sorted(settings.items()))


def differing(a, b):
    """The names of the settings whose values differ (or that only one of
    the two has), sorted."""
    return sorted(n for n in set(a) | set(b) if a.get(n) != b.get(n))
