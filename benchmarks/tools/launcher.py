"""Starting N workers of the runner: on this host (ports of 127.0.0.1, one
log file each), or as the command to type on each host of a real cluster.

The launcher never hangs: when a worker exits with an error the others get
--worker_timeout_secs (plus a margin) to notice and exit on their own, then
they are killed.
"""

import os
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from benchmarks.config import DistConfig

# The checkout (benchmarks/tools/ is two folders below it): on PYTHONPATH
# and as the cwd, so that `python -m benchmarks` runs this checkout, not
# an installed copy.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_GRACE_SECS = 30  # beyond --worker_timeout_secs, for a worker to exit cleanly


def free_ports(count, host="127.0.0.1"):
    """``count`` distinct ports the OS reports free on ``host``."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def worker_command(hosts, index, runner_flags, python=sys.executable):
    return [python, "-m", "benchmarks", f"--worker_hosts={','.join(hosts)}",
            f"--task_index={index}", *runner_flags]


def cluster_commands(hosts, runner_flags):
    """The command for each host of a real cluster, as shell lines."""
    lines = []
    for i, host in enumerate(hosts):
        cmd = worker_command(hosts, i, runner_flags, python="python")
        role = " (chief: writes the log and checkpoints)" if i == 0 else ""
        lines.append(f"# on {host.rsplit(':', 1)[0]}, worker {i}{role}:")
        lines.append(" ".join(shlex.quote(c) for c in cmd))
    return lines


def timeout_of(runner_flags, default=DistConfig.worker_timeout_secs):
    """--worker_timeout_secs=S among the runner flags, else its default."""
    for flag in runner_flags:
        if flag.startswith("--worker_timeout_secs="):
            return float(flag.split("=", 1)[1])
    return default


@dataclass
class Worker:
    index: int
    host: str
    log_path: str
    process: subprocess.Popen
    returncode: int = None


def start_local(num_workers, runner_flags, log_dir):
    """Starts ``num_workers`` workers on 127.0.0.1; returns the Workers."""
    os.makedirs(log_dir, exist_ok=True)
    hosts = [f"127.0.0.1:{p}" for p in free_ports(num_workers)]
    env = dict(os.environ)
    env.pop("TF_CONFIG", None)  # the flags say where everyone is
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    workers = []
    for i, host in enumerate(hosts):
        log_path = os.path.join(log_dir, f"worker_{i}.log")
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                worker_command(hosts, i, runner_flags), stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=os.getcwd())
        workers.append(Worker(i, host, log_path, process))
    return workers


def wait_all(workers, timeout_secs, poll=0.5, clock=time.monotonic):
    """Waits for every worker; once one fails, the rest have ``timeout_secs``
    + a margin to exit before they are killed (returncode None -> killed)."""
    deadline = None
    while True:
        for w in workers:
            if w.returncode is None and w.process.poll() is not None:
                w.returncode = w.process.returncode
                if w.returncode != 0 and deadline is None:
                    deadline = clock() + timeout_secs + _GRACE_SECS
        running = [w for w in workers if w.process.poll() is None]
        if not running:
            return workers
        if deadline is not None and clock() > deadline:
            for w in running:
                w.process.kill()
                w.process.wait()
                w.returncode = "killed"
            return workers
        time.sleep(poll)


def last_lines(path, count=3, containing=None):
    try:
        with open(path, errors="replace") as f:
            lines = [line.rstrip("\n") for line in f]
    except OSError:
        return []
    if containing:
        lines = [line for line in lines if any(c in line for c in containing)]
    return lines[-count:]
