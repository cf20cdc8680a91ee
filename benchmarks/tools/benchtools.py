"""Helpers for the benchmark scripts: run one measurement per process and
read its figures back.  One process per run keeps runs independent (thread
pools, caches, memory) and gives each its own peak RSS."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

# The checkout (benchmarks/tools/ is two folders below it): on PYTHONPATH
# and as the cwd, so that `python -m benchmarks` runs this checkout, not
# an installed copy.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_worker(cmd, env=None, python_path=()):
    """Runs ``cmd`` (with ``env`` added to the environment and
    ``python_path`` before the repository on PYTHONPATH); returns (stdout,
    peak RSS in MiB).  Exits on failure."""
    path = os.pathsep.join([*python_path, REPO, os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}),
               PYTHONPATH=path)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"worker failed: {' '.join(cmd)}\n{err.read()[-3000:]}")
        out.seek(0)
        return out.read(), usage.ru_maxrss / 1024  # Linux reports KiB


def run_json_worker(cmd, env=None):
    """Runs a worker that prints its result as JSON on its last line;
    returns (that result, peak RSS in MiB)."""
    out, rss = run_worker(cmd, env)
    return json.loads(out.strip().splitlines()[-1]), rss


def vgg16_flags(batch_size, steps, warmup_steps, *, precision="fp32",
                forward_only=False, measure_peak=False):
    """The harness's flags for the peer benchmarks' VGG16 runs: synthetic
    data, momentum, no dropout or weight decay (so model.fit does the same
    math), one progress row."""
    flags = ["--model=vgg16", f"--batch_size={batch_size}",
             f"--num_batches={steps}", f"--num_warmup_batches={warmup_steps}",
             "--device=cpu", "--optimizer=momentum", "--dropout=0",
             "--weight_decay=0", f"--display_every={steps}",
             f"--precision={precision}"]
    if forward_only:
        flags.append("--forward_only")
    if measure_peak:
        flags.append("--measure_peak")
    return flags


def input_bench_parser(description, steps):
    """The flags the input benchmarks share: the data, its shape, rounds and
    training steps a case."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data_dir", required=True,
                        help="ImageNet-format shards (scripts/make_demo_dataset.py)")
    parser.add_argument("--num_classes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--image_size", type=int, default=224)
    return parser


def run_harness(flags):
    """Runs ``python -m benchmarks FLAGS``; returns (final log entry's data,
    peak RSS in MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.json")
        _, rss = run_worker([sys.executable, "-m", "benchmarks", *flags,
                             f"--log_path={log}"])
        with open(log) as f:
            entries = [json.loads(line[len("DLLL "):]) for line in f]
    return [e for e in entries if e.get("step") == []][-1]["data"], rss


def interleave(cases, rounds, report=print):
    """Runs each (name, fn) in turn, ``rounds`` times (A B A B ...); fn returns
    (value, peak RSS).  Returns {name: [values]}, {name: [rss]}."""
    values = {name: [] for name, _ in cases}
    rss = {name: [] for name, _ in cases}
    for r in range(1, rounds + 1):
        for name, fn in cases:
            value, peak = fn()
            values[name].append(value)
            rss[name].append(peak)
            report(f"round {r}  {name:<22} {value:9.3f} img/s   peak RSS "
                   f"{peak:6.0f} MiB")
    return values, rss


def median(values):
    return statistics.median(values)
