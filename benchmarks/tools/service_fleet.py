"""A tf.data service fleet: a dispatcher and workers as processes of this
host until stopped, or the command to type on each host of a real fleet
(worker of scripts/data_service.py).

Each server runs in its own process (``python -m
benchmarks.tools.service_fleet dispatcher|worker ...``), so one can be
stopped alone.  A worker needs TensorFlow and the shards' paths: the trainer
sends it the pipeline as a graph.  SIGINT or SIGTERM stops the servers
(each is stopped explicitly: a DispatchServer left to the interpreter's exit
can crash, tensorflow/tensorflow#113163), then the fleet, within a bound.
"""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time

from benchmarks.tools.launcher import REPO, free_ports

# Heartbeats and the dispatcher's patience with a silent worker: a lost
# worker's shards are handed on after this long, not TensorFlow's minutes.
HEARTBEAT_MS = 1000
WORKER_TIMEOUT_MS = 10000
_STOP_SECS = 10  # for a server process to exit after SIGTERM
_START_SECS = 60  # for the dispatcher to listen (TensorFlow's import)


def serve(role, dispatcher_port, port=0, dispatcher_host="127.0.0.1"):
    """Runs one server in this process until SIGINT/SIGTERM."""
    import tensorflow as tf
    service = tf.data.experimental.service
    if role == "dispatcher":
        server = service.DispatchServer(service.DispatcherConfig(
            port=dispatcher_port, worker_timeout_ms=WORKER_TIMEOUT_MS))
    else:
        server = service.WorkerServer(service.WorkerConfig(
            dispatcher_address=f"{dispatcher_host}:{dispatcher_port}",
            port=port, heartbeat_interval_ms=HEARTBEAT_MS))
    print(f"{role} serving", flush=True)
    stopped = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.append(True))
    while not stopped:
        time.sleep(0.2)
    server.stop()
    sys.stdout.flush()
    os._exit(0)


def server_command(role, dispatcher_port, *, dispatcher_host="127.0.0.1",
                   port=0, python=sys.executable):
    cmd = [python, "-m", "benchmarks.tools.service_fleet", role,
           str(dispatcher_port)]
    if role == "worker":
        cmd += [dispatcher_host, str(port)]
    return cmd


def start_local(dispatcher_port, num_workers, log_dir, start_dispatcher=True,
                dispatcher_host="127.0.0.1"):
    """Starts the dispatcher (unless elsewhere) and ``num_workers`` workers
    on this host; returns [(name, Popen, log path)]."""
    os.makedirs(log_dir, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    roles = [("dispatcher", 0)] if start_dispatcher else []
    roles += [(f"worker_{i}", p)
              for i, p in enumerate(free_ports(num_workers))]
    servers = []
    for name, port in roles:
        log_path = os.path.join(log_dir, f"{name}.log")
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                server_command(name.split("_")[0], dispatcher_port,
                               dispatcher_host=dispatcher_host, port=port),
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        servers.append((name, process, log_path))
        if name == "dispatcher" and not listening(
                process, "127.0.0.1", dispatcher_port, _START_SECS):
            stop([p for _, p, _ in servers])
            raise RuntimeError(
                f"the dispatcher did not listen on port {dispatcher_port} "
                f"within {_START_SECS} s (port taken? see {log_path})")
    return servers


def listening(process, host, port, timeout):
    """True once ``host:port`` accepts a connection, False if ``process``
    exits or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def stop(processes, timeout=_STOP_SECS):
    """SIGTERM to each running process, then SIGKILL after ``timeout``."""
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in processes:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def fleet_commands(hosts, dispatcher_port, workers_per_host):
    """Shell lines for a real fleet: the dispatcher on the first host, the
    workers on every host, and the trainer's flag."""
    first = hosts[0]
    script = "python scripts/data_service.py"
    lines = [f"# on {first}: the dispatcher"
             + (f" and {workers_per_host} workers" if workers_per_host else ""),
             f"{script} --dispatcher_port={dispatcher_port} "
             f"--num_workers={workers_per_host}"]
    for host in hosts[1:]:
        lines += [f"# on {host}: {workers_per_host} workers",
                  f"{script} --dispatcher_address="
                  f"{shlex.quote(f'{first}:{dispatcher_port}')} "
                  f"--num_workers={workers_per_host}"]
    lines += ["# the trainer (every worker of a multi-worker run):",
              f"python -m benchmarks --data_dir=<shards as the workers see "
              f"them> --data_service_address=grpc://{first}:{dispatcher_port} "
              "..."]
    return lines


if __name__ == "__main__":
    role, dispatcher_port = sys.argv[1], int(sys.argv[2])
    host, port = (sys.argv[3], int(sys.argv[4])) if role == "worker" else (
        "127.0.0.1", 0)
    serve(role, dispatcher_port, port, dispatcher_host=host)
