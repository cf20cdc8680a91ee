"""Input from a tf.data service fleet on 127.0.0.1: what each processing mode
delivers per epoch, a wrong or silent dispatcher address, workers stopped
mid-run, and (slow) training through the service against the local
pipeline.  Every fleet is stopped in a finally, each wait is bounded."""

import collections
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO
from benchmarks import data_service
from benchmarks.config import DataConfig
from benchmarks.tools import launcher, service_fleet
from preprocessing import dataset as input_dataset
from preprocessing import records


@pytest.fixture
def fleet(tmp_path):
    """start(num_workers) -> (address, [(name, Popen, log)]); all stopped at
    the end, whatever the test did."""
    started = []

    def start(num_workers):
        port = launcher.free_ports(1)[0]
        servers = service_fleet.start_local(port, num_workers,
                                            str(tmp_path / f"fleet_{port}"))
        started.extend(p for _, p, _ in servers)
        return f"grpc://127.0.0.1:{port}", servers

    yield start
    service_fleet.stop(started)


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _one_pass_labels(split, address, mode):
    data = DataConfig(data_dir=split.files[0], data_service_address=address,
                      data_service_processing_mode=mode)
    ds = input_dataset.build_dataset(
        split, image_size=32, num_classes=10, batch_size=10, training=True,
        service=True, epochs=1)
    labels, workers = [], set()
    for _, batch_labels, tag in data_service.distributed(
            ds, data, "test-" + mode).as_numpy_iterator():
        labels.extend(batch_labels.tolist())
        workers.add(tag)
    return collections.Counter(labels), workers


@pytest.mark.timeout(240)
def test_dynamic_sharding_reads_each_image_once_parallel_epochs_once_per_worker(
        fleet, demo_shards):
    split = records.read_split(demo_shards, "train")  # 12 images per class
    address, _ = fleet(2)
    counts, workers = _one_pass_labels(split, address, "dynamic")
    assert counts == {c: 12 for c in range(10)}, counts
    counts, workers = _one_pass_labels(split, address, "parallel_epochs")
    assert len(workers) == 2
    assert counts == {c: 24 for c in range(10)}, counts  # a copy per worker


def _runner_args(data_dir, address, *extra):
    return [sys.executable, "-m", "benchmarks", "--model=vgg11",
            f"--data_dir={data_dir}", "--num_classes=10", "--image_size=32",
            "--batch_size=10", "--device=cpu", "--display_every=1",
            f"--data_service_address={address}", *extra]


@pytest.mark.timeout(120)
def test_a_dispatcher_nobody_runs_fails_at_start_in_one_line(demo_shards):
    port = launcher.free_ports(1)[0]
    start = time.monotonic()
    run = subprocess.run(_runner_args(demo_shards, f"127.0.0.1:{port}",
                                      "--num_batches=5"),
                         capture_output=True, text=True, cwd=REPO, env=_env(),
                         timeout=100)
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert run.returncode == 2, run.stderr
    assert lines[-1].startswith(
        f"vggbench: error: no tf.data service dispatcher at 127.0.0.1:{port}")
    assert "scripts/data_service.py" in lines[-1]
    assert "Traceback" not in run.stderr
    assert time.monotonic() - start < 60


@pytest.mark.timeout(120)
def test_an_address_that_is_no_dispatcher_fails_within_the_timeout(
        demo_shards):
    """Something listens but never speaks gRPC: the job is never made."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        start = time.monotonic()
        run = subprocess.run(
            _runner_args(demo_shards, f"127.0.0.1:{port}", "--num_batches=5",
                         "--data_service_timeout_secs=3"),
            capture_output=True, text=True, cwd=REPO, env=_env(), timeout=100)
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert run.returncode in (1, 2), run.stderr
    assert lines[-1].startswith("vggbench: error:"), run.stderr
    assert "127.0.0.1:%d" % port in lines[-1]
    assert "Traceback" not in run.stderr
    assert time.monotonic() - start < 60


def _wait_for(path, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(path) as f:
            if text in f.read():
                return True
        time.sleep(0.5)
    return False


@pytest.mark.timeout(240)
def test_stopping_the_workers_mid_run_ends_it_with_a_checkpoint(
        fleet, demo_shards, tmp_path):
    address, servers = fleet(2)
    train_dir, out = tmp_path / "run", tmp_path / "stdout.txt"
    with open(out, "w") as stdout, open(tmp_path / "stderr.txt", "w") as err:
        trainer = subprocess.Popen(
            _runner_args(demo_shards, address, "--num_batches=100000",
                         "--num_warmup_batches=1",
                         "--data_service_timeout_secs=4",
                         f"--train_dir={train_dir}"),
            stdout=stdout, stderr=err, cwd=REPO, env=_env())
    try:
        assert _wait_for(out, "images/sec", 120), out.read_text()
        service_fleet.stop([p for name, p, _ in servers
                            if name.startswith("worker")])
        code = trainer.wait(90)
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    stderr = (tmp_path / "stderr.txt").read_text()
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert code == 1, stderr
    assert lines[-1].startswith(
        f"vggbench: error: the tf.data service at {address} delivered no "
        "batch"), stderr
    assert "checkpoint " in lines[-1] and "rerun the same command" in lines[-1]
    assert tf.train.latest_checkpoint(str(train_dir)) is not None
    assert "Traceback" not in stderr


def _final_loss(log):
    with open(log) as f:
        entries = [json.loads(line[len("DLLL "):]) for line in f]
    losses = [e["data"]["train.loss"] for e in entries
              if "train.loss" in e.get("data", {}) and e.get("step") != []]
    return losses[0], float(np.mean(losses[-5:]))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_training_through_the_service_learns_as_the_local_pipeline(
        fleet, demo_shards, tmp_path):
    address, _ = fleet(2)
    # test_learning.py's recipe (vgg11_bn learns the demo shapes quickly).
    flags = ["--model=vgg11_bn", "--num_batches=80", "--num_warmup_batches=1",
             "--optimizer=momentum", "--init_learning_rate=0.01",
             "--dropout=0", "--crop_area_range=0.6,1", "--tf_random_seed=1"]
    results = {}
    for name, where in (("local", ""), ("service", address)):
        log = tmp_path / f"{name}.json"
        run = subprocess.run(
            _runner_args(demo_shards, where, *flags, f"--log_path={log}"),
            capture_output=True, text=True, cwd=REPO, env=_env(), timeout=800)
        assert run.returncode == 0, run.stderr
        results[name] = _final_loss(log)
    (first_l, last_l), (first_s, last_s) = results["local"], results["service"]
    assert last_l < 0.8 * first_l, results  # the local pipeline learns...
    assert last_s < 0.8 * first_s, results  # ...and so does the service's
    assert abs(last_s - last_l) < 0.35 * first_l, results


def test_the_watchdog_ends_a_wait_and_names_a_silent_worker(capsys):
    """In-process, on a fake clock: an unanswered request past the timeout
    calls on_stall and exits with its code; a slow answer within it does
    not; a worker silent while another delivers is named once."""
    now = [0.0]
    exits = []
    dog = data_service.Watchdog(5.0, poll=0.01, clock=lambda: now[0],
                                exit=exits.append, stream=sys.stdout)
    try:
        dog.lost_note = "what the mode loses"
        dog.on_stall = lambda waited: (f"stalled {waited:.0f} s", 7)
        dog._ask(0)
        now[0] = 4.0
        time.sleep(0.1)
        dog._came(tf.constant("a:1"))  # within the timeout
        dog._came(tf.constant("b:2"))
        now[0] = 10.0
        dog._came(tf.constant("a:1"))  # b has been silent for 8 s
        time.sleep(0.1)
        assert exits == []
        out = capsys.readouterr().out
        assert out.count("worker b:2 has sent nothing") == 1
        assert "what the mode loses" in out
        dog._ask(0)
        now[0] = 15.5
        deadline = time.monotonic() + 5
        while not exits and time.monotonic() < deadline:
            time.sleep(0.01)
        assert exits == [7]
        assert "vggbench: error: stalled 6 s" in capsys.readouterr().out
    finally:
        dog.close()


def test_the_launcher_prints_each_hosts_command():
    run = subprocess.run(
        [sys.executable, "scripts/data_service.py", "--print_commands",
         "--hosts=in0,in1", "--dispatcher_port=5050", "--num_workers=3"],
        capture_output=True, text=True, cwd=REPO, env=_env(), timeout=60)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert ("python scripts/data_service.py --dispatcher_port=5050 "
            "--num_workers=3") in lines
    assert ("python scripts/data_service.py --dispatcher_address=in0:5050 "
            "--num_workers=3") in lines
    assert any("--data_service_address=grpc://in0:5050" in ln for ln in lines)


@pytest.mark.timeout(120)
def test_the_launcher_serves_until_sigterm_and_stops_its_servers(tmp_path):
    port = launcher.free_ports(1)[0]
    out = tmp_path / "out.txt"
    with open(out, "w") as stdout:
        fleet = subprocess.Popen(
            [sys.executable, "scripts/data_service.py",
             f"--dispatcher_port={port}", "--num_workers=1",
             f"--log_dir={tmp_path / 'logs'}"],
            stdout=stdout, stderr=subprocess.STDOUT, cwd=REPO, env=_env())
    try:
        assert _wait_for(out, f"grpc://127.0.0.1:{port}", 60), out.read_text()
        # the dispatcher answers
        socket.create_connection(("127.0.0.1", port), timeout=30).close()
        pids = [int(ln.split("pid ")[1].split(",")[0])
                for ln in out.read_text().splitlines() if ": pid " in ln]
        fleet.terminate()
        assert fleet.wait(60) == 0
    finally:
        if fleet.poll() is None:
            fleet.kill()
            fleet.wait()
    assert "fleet stopped" in out.read_text()
    for pid in pids:  # each server exited (not a zombie of ours: reaped)
        assert not os.path.exists(f"/proc/{pid}") or open(
            f"/proc/{pid}/stat").read().split()[2] == "Z"
