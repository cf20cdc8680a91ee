"""Several workers: real worker processes on ports of 127.0.0.1 started by the
launcher (2 workers x 1 CPU replica, 2 workers x 2 logical CPUs), a worker
killed mid-run and the job restarted, a worker that never joins; and the
cluster/launcher helpers in-process."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from benchmarks.tools import launcher
from benchmarks.distribute.cluster import Cluster, explain_lost_worker, resolve_cluster
from benchmarks.config import DistConfig
from benchmarks.errors import TrainingError, UsageError

TIMEOUT = 20  # --worker_timeout_secs in these tests


def _flags(data_dir, tmp_path, *extra):
    return ["--model=vgg11", "--image_size=32", "--num_classes=10",
            "--batch_size=4", "--num_warmup_batches=1", "--display_every=1",
            "--device=cpu", "--dropout=0", "--optimizer=momentum",
            f"--data_dir={data_dir}", "--crop_area_range=0.5,1",
            f"--log_path={tmp_path}/log.json",
            f"--worker_timeout_secs={TIMEOUT}", *extra]


def _run(workers, timeout):
    launcher.wait_all(workers, timeout)
    return [w.returncode for w in workers]


def _summary(log_path):
    with open(log_path) as f:
        entries = [json.loads(line[5:]) for line in f if line.startswith("DLLL ")]
    params = entries[0]["data"]
    return params, [e for e in entries if e.get("step") == []][-1]["data"]


def _console(worker):
    with open(worker.log_path) as f:
        return f.read()


def _fingerprint(text):
    line = [l for l in text.splitlines() if l.startswith("weights sha256")][-1]
    return line.split(": ")[1].strip()


def test_two_workers_train_in_sync_and_report_global_throughput(
        tmp_path, demo_shards):
    workers = launcher.start_local(
        2, _flags(demo_shards, tmp_path, "--num_batches=4",
                  f"--train_dir={tmp_path}/train"), str(tmp_path / "logs"))
    assert _run(workers, TIMEOUT) == [0, 0], [_console(w)[-2000:] for w in workers]
    params, summary = _summary(tmp_path / "log.json")
    assert params["workers"] == 2 and params["replicas"] == 2
    # MultiWorkerMirroredStrategy's instances are CollectiveAllReduceStrategy.
    assert params["global_batch"] == 8 and params["env.strategy"] == \
        "CollectiveAllReduceStrategy"
    # Global img/s: every worker's images over the chief's timed wall time.
    assert summary["train.timed_images"] == 4 * 8
    assert summary["train.total_ips"] == pytest.approx(
        summary["train.timed_images"] / summary["train.timed_seconds"])
    assert len(summary["train.worker_ips"]) == 2
    for ips, seconds in zip(summary["train.worker_ips"],
                            summary["train.worker_timed_seconds"]):
        assert ips == pytest.approx(16 / seconds)
    # Only the chief wrote the log and the checkpoints; weights are equal.
    consoles = [_console(w) for w in workers]
    assert _fingerprint(consoles[0]) == _fingerprint(consoles[1]) == \
        summary["train.weights_sha256"]
    assert sorted(f for f in os.listdir(tmp_path / "train")
                  if f.startswith("ckpt-5"))  # the final step's checkpoint
    # The console's rows are this worker's images/sec (tf_cnn_benchmarks');
    # the JSON log's progress entries are global.
    entries = [json.loads(line[5:]) for line in
               open(tmp_path / "log.json") if line.startswith("DLLL ")]
    progress = {e["step"]: e["data"]["train.ips"] for e in entries
                if isinstance(e.get("step"), int) and "train.ips" in e["data"]}
    row = next(line for line in consoles[0].splitlines()
               if line.startswith("4\timages/sec: "))
    shown = float(row.split("images/sec: ")[1].split()[0])
    assert shown == pytest.approx(progress[5] / 2, abs=0.051)
    # The JSON log is the chief's (each console names its own devices).
    assert params["task_index"] == 0
    assert "task:1/cpu:0" in consoles[1] and "task:0/cpu:0" in consoles[0]


def test_two_workers_with_two_logical_cpus_each(tmp_path, demo_shards):
    workers = launcher.start_local(
        2, _flags(demo_shards, tmp_path, "--num_batches=2",
                  "--num_cpu_devices=2"), str(tmp_path / "logs"))
    assert _run(workers, TIMEOUT) == [0, 0], [_console(w)[-2000:] for w in workers]
    params, summary = _summary(tmp_path / "log.json")
    assert params["replicas"] == 4 and params["global_batch"] == 16
    assert summary["train.timed_images"] == 2 * 16
    consoles = [_console(w) for w in workers]
    assert _fingerprint(consoles[0]) == _fingerprint(consoles[1])


def _wait_for_checkpoint(train_dir, workers, deadline_secs=120):
    deadline = time.monotonic() + deadline_secs
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(train_dir, "checkpoint")):
            return
        if any(w.process.poll() is not None for w in workers):
            pytest.fail("a worker ended before the first checkpoint: " +
                        _console(workers[0])[-2000:])
        time.sleep(0.2)
    pytest.fail("no checkpoint in time")


def test_a_killed_worker_fails_the_other_in_time_and_the_job_resumes(
        tmp_path, demo_shards):
    train_dir = str(tmp_path / "train")
    flags = _flags(demo_shards, tmp_path, f"--train_dir={train_dir}",
                   "--save_model_steps=3")
    workers = launcher.start_local(2, flags + ["--num_batches=500"],
                                   str(tmp_path / "logs1"))
    _wait_for_checkpoint(train_dir, workers)
    killed_at = time.monotonic()
    workers[1].process.send_signal(signal.SIGKILL)
    codes = _run(workers, TIMEOUT)
    waited = time.monotonic() - killed_at
    chief = _console(workers[0])
    assert codes[0] not in (0, "killed"), chief[-2000:]
    assert waited < TIMEOUT + 15, waited
    error = [l for l in chief.splitlines() if l.startswith("vggbench: error:")]
    assert error and "worker 1 at 127.0.0.1:" in error[-1], chief[-2000:]
    # Restart both: they resume from the chief's last checkpoint.
    restarted = launcher.start_local(2, flags + ["--num_batches=8"],
                                     str(tmp_path / "logs2"))
    assert _run(restarted, TIMEOUT) == [0, 0], _console(restarted[0])[-2000:]
    text = _console(restarted[0])
    assert "Resuming from" in text and "ckpt-" in text
    _, summary = _summary(tmp_path / "log.json")
    assert summary["train.step"] == 9
    assert _fingerprint(text) == _fingerprint(_console(restarted[1]))


def test_a_worker_that_never_joins_fails_the_other_in_time(tmp_path):
    hosts = [f"127.0.0.1:{p}" for p in launcher.free_ports(2)]
    start = time.monotonic()
    result = subprocess.run(
        launcher.worker_command(hosts, 0, [
            "--model=vgg11", "--image_size=32", "--num_classes=10",
            "--batch_size=2", "--num_batches=1", "--device=cpu",
            "--worker_timeout_secs=5"]),
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode != 0
    assert time.monotonic() - start < 60
    error = [l for l in result.stderr.splitlines()
             if l.startswith("vggbench: error:")]
    assert error and f"worker 1 at {hosts[1]}" in error[-1], result.stderr[-2000:]


# --- in-process ---------------------------------------------------------------

def test_cluster_from_flags_and_tf_config():
    flags = DistConfig(worker_hosts=("a:1", "b:2"), task_index=1)
    assert resolve_cluster(flags, environ={}) == Cluster(("a:1", "b:2"), 1)
    assert resolve_cluster(DistConfig(), environ={}) is None
    tf_config = {"cluster": {"worker": ["a:1", "b:2", "c:3"]},
                 "task": {"type": "worker", "index": 2}}
    c = resolve_cluster(DistConfig(), environ={"TF_CONFIG": json.dumps(tf_config)})
    assert c.workers == ("a:1", "b:2", "c:3") and c.task_index == 2
    assert not c.is_chief and c.tf_config() == tf_config
    with_chief = {"cluster": {"chief": ["a:1"], "worker": ["b:2"]},
                  "task": {"type": "worker", "index": 0}}
    c = resolve_cluster(DistConfig(), environ={"TF_CONFIG": json.dumps(with_chief)})
    assert c.workers == ("a:1", "b:2") and c.task_index == 1
    assert c.tf_config() == with_chief  # exported as it came
    assert c.index_of("worker", 0) == 1 and c.index_of("chief", 0) == 0


@pytest.mark.parametrize("raw, fragment", [
    ("{not json", "TF_CONFIG cannot be used"),
    (json.dumps({"cluster": {"worker": ["a:1"], "ps": ["p:1"]},
                 "task": {"type": "worker", "index": 0}}), "parameter servers"),
    (json.dumps({"cluster": {"worker": ["a:1"]}}), "TF_CONFIG cannot be used"),
])
def test_bad_tf_config_is_one_clear_line(raw, fragment):
    with pytest.raises(UsageError) as err:
        resolve_cluster(DistConfig(), environ={"TF_CONFIG": raw})
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_lost_worker_errors_name_the_worker():
    cluster = Cluster(("127.0.0.1:1000", "127.0.0.1:1001", "127.0.0.1:1002"), 0)
    error = explain_lost_worker(RuntimeError(
        "UNAVAILABLE: Task /job:worker/replica:0/task:2 heartbeat timeout.\nmore"),
        cluster, 20)
    assert isinstance(error, TrainingError)
    assert "worker 2 at 127.0.0.1:1002" in str(error)
    assert "--worker_timeout_secs=20" in str(error) and "\n" not in str(error)
    assert explain_lost_worker(RuntimeError("labels out of range"),
                               cluster, 20) is None


def test_cluster_commands_for_real_hosts():
    lines = launcher.cluster_commands(["h1:2222", "h2:2222"], ["--model=vgg16"])
    assert lines[0].startswith("# on h1, worker 0 (chief")
    assert lines[1] == ("python -m benchmarks --worker_hosts=h1:2222,h2:2222 "
                        "--task_index=0 --model=vgg16")
    assert lines[3].endswith("--task_index=1 --model=vgg16")


def test_launcher_kills_the_rest_after_a_failure(tmp_path):
    def proc(cmd):
        return subprocess.Popen(cmd)
    workers = [launcher.Worker(0, "h:0", "", proc(["false"])),
               launcher.Worker(1, "h:1", "", proc(["sleep", "60"]))]
    start = time.monotonic()
    launcher._GRACE_SECS, grace = 0, launcher._GRACE_SECS
    try:
        launcher.wait_all(workers, timeout_secs=1, poll=0.1)
    finally:
        launcher._GRACE_SECS = grace
    assert [w.returncode for w in workers] == [1, "killed"]
    assert time.monotonic() - start < 10


def test_launcher_script_prints_cluster_commands():
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "launch_multiworker.py"),
         "--hosts=h1:1,h2:1", "--", "--model=vgg11"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--worker_hosts=h1:1,h2:1 --task_index=1 --model=vgg11" in result.stdout


def test_launcher_script_runs_workers_on_this_host(tmp_path):
    log_dir = tmp_path / "logs"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "launch_multiworker.py"),
         "--num_workers=2", f"--log_dir={log_dir}", "--",
         "--model=vgg11", "--image_size=32", "--num_classes=10",
         "--batch_size=2", "--num_batches=2", "--num_warmup_batches=1",
         "--device=cpu", f"--worker_timeout_secs={TIMEOUT}"],
        capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "worker 0 (chief): exit 0" in result.stdout
    assert "worker 1: exit 0" in result.stdout
    assert "chief: total images/sec:" in result.stdout
    assert "chief: img/s per worker" in result.stdout
    assert sorted(os.listdir(log_dir)) == ["worker_0.log", "worker_1.log"]


def test_deepsparkhub_ps_and_worker_pair_runs_to_the_end(tmp_path, demo_shards):
    """DeepSparkHub's distributed VGG script, tiny: a --job_name=ps task in
    the background and a worker, tf_cnn_benchmarks' distributed_replicated
    flags and the imagenette data name; on this CPU --device=cpu with its
    --num_gpus=2 gives the worker two CPU replicas."""
    ps_port, worker_port = launcher.free_ports(2)
    common = ["--data_name=imagenette", f"--data_dir={demo_shards}",
              "--data_format=NCHW", "--optimizer=momentum",
              "--datasets_use_prefetch=False", "--local_parameter_device=gpu",
              "--num_gpus=2", "--device=cpu", "--batch_size=4", "--model=vgg11",
              "--image_size=32", "--variable_update=distributed_replicated",
              "--num_epochs=0.2", "--num_warmup_batches=1",
              f"--ps_hosts=127.0.0.1:{ps_port}",
              f"--worker_hosts=127.0.0.1:{worker_port}",
              f"--train_dir={tmp_path}/train", "--print_training_accuracy=True",
              f"--worker_timeout_secs={TIMEOUT}"]
    env = dict(os.environ, PYTHONPATH=REPO)
    command = [sys.executable, os.path.join(REPO, "scripts",
                                            "tf_cnn_benchmarks.py")]
    ps = subprocess.Popen(command + common + ["--job_name=ps", "--task_index=0"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env, cwd=str(tmp_path))
    worker = subprocess.run(command + common + ["--job_name=worker",
                                                "--task_index=0"],
                            capture_output=True, text=True, timeout=300,
                            env=env, cwd=str(tmp_path))
    ps_out, ps_err = ps.communicate(timeout=60)
    assert ps.returncode == 0, ps_err
    assert "Parameter server task 0 (--job_name=ps)" in ps_out
    assert worker.returncode == 0, worker.stderr[-2000:]
    out = worker.stdout
    assert "Dataset:     imagenette" in out and "Sync:        True" in out
    assert "Step\tImg/sec\ttotal_loss\ttop_1_accuracy\ttop_5_accuracy" in out
    assert re.search(r"^total images/sec: \d+\.\d\d$", out, re.M)
    # 120 records / global batch 8 = 15 steps an epoch: 0.2 epochs is 3
    # timed steps after the warmup one, over 2 replicas.
    assert "Replicas:    2 (1 worker)" in out and "then 3 timed" in out
    assert "--data_format=NCHW is not supported by TensorFlow's CPU" in \
        worker.stderr
    assert "--ps_hosts has no effect" in worker.stderr
