"""End to end through the command line: python -m benchmarks, the vggbench
console script and the two run_train scripts."""

import json
import os
import platform
import shutil
import subprocess
import sys

import pytest

from benchmarks.machine import cpu
from conftest import REPO

TINY = ["--model=vgg11", "--image_size=32", "--num_classes=10",
        "--batch_size=2", "--num_batches=2", "--num_warmup_batches=1"]


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _runner(*args, **env):
    return subprocess.run([sys.executable, "-m", "benchmarks", *args],
                          capture_output=True, text=True, cwd=REPO,
                          env=_env(**env), timeout=300)


def _assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("vggbench: error:")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0]  # the error is the last word
    for fragment in fragments:
        assert fragment in errors[0]


@pytest.mark.parametrize("args,fragments", [
    (["--model=resnet50"], ["unknown model 'resnet50'", "vgg16_bn"]),
    (["--batch_size=-1"], ["--batch_size"]),
    (["--eval"], ["validation split", "--data_dir"]),
    (["--eval", "--data_dir=/tmp"], ["--eval needs --train_dir"]),
    (["--summary_verbosity=1"], ["--train_dir"]),
    (["--job_name=controller"], ["--job_name=controller", "not built"]),
    (["--staged_vars"], ["--staged_vars is not supported", "omit it"]),
])
def test_usage_errors_are_one_line(args, fragments):
    result = _runner(*args)
    assert result.returncode == 2
    _assert_one_line_error(result, *fragments)


def test_more_gpus_than_available_is_one_line():
    import tensorflow as tf
    found = len(tf.config.list_physical_devices("GPU"))
    result = _runner(f"--num_gpus={found + 1}", "--device=gpu")
    assert result.returncode == 2
    _assert_one_line_error(result, f"found {found}")


def test_training_run_with_flagfile_writes_the_log(tmp_path):
    flagfile = tmp_path / "tiny.flags"
    flagfile.write_text("\n".join(TINY) + "\n")
    log = tmp_path / "run.json"
    result = _runner(f"--flagfile={flagfile}", f"--log_path={log}",
                     "--num_cpu_devices=2", "--num_intra_threads=1",
                     "--num_inter_threads=3")
    assert result.returncode == 0, result.stderr
    assert "total images/sec:" in result.stdout
    entries = [json.loads(line[5:]) for line in log.read_text().splitlines()]
    # The thread pools TensorFlow ran with are the ones asked for.
    assert entries[0]["data"]["env.intra_op_threads"] == 1
    assert entries[0]["data"]["env.inter_op_threads"] == 3
    final = [e for e in entries if e.get("step") == []]
    assert final and final[0]["data"]["train.replicas"] == 2
    assert final[0]["data"]["train.timed_images"] == 2 * 2 * 2
    # --onednn=auto turns oneDNN on for x86-64 before TensorFlow starts, and
    # then the convolutions' filter gradients are matmuls, unless the CPU
    # has AVX-512 (oneDNN's own kernel is fast there).
    params = entries[0]["data"]
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    if "TF_ENABLE_ONEDNN_OPTS" not in os.environ and x86:
        assert params["env.onednn_enabled"] is True
        assert params["env.onednn_opts"] == "1"
        assert params["model.filter_gradient_used"] == (
            "native" if cpu.has_avx512(cpu.cpu_flags()) else "gemm")
        assert params["model.dense_gradient_used"] == "batch_matmul"
        assert params["model.conv_algorithm_used"] == "winograd"


def test_onednn_off_keeps_tensorflows_kernels(tmp_path):
    log = tmp_path / "run.json"
    result = _runner(*TINY, "--device=cpu", "--onednn=off", f"--log_path={log}")
    assert result.returncode == 0, result.stderr
    params = json.loads(log.read_text().splitlines()[0][5:])["data"]
    assert params["env.onednn_enabled"] is False
    assert params["env.onednn_opts"] == "0"
    assert params["model.filter_gradient_used"] == "native"
    assert params["model.dense_gradient_used"] == "native"
    assert params["model.conv_algorithm_used"] == "direct"


def test_console_script_is_installed():
    script = shutil.which("vggbench", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("package not installed (pip install -e .)")
    result = subprocess.run([script, "--model=nope"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    _assert_one_line_error(result, "unknown model 'nope'")


def _script(name, *args, **env):
    return subprocess.run(["bash", os.path.join(REPO, name), *args],
                          capture_output=True, text=True, timeout=300,
                          env=_env(PYTHON=sys.executable, **env))


@pytest.mark.parametrize("name", ["run_train_vgg16_imagenet.sh",
                                  "run_train_vgg16_multigpu_imagenet.sh"])
def test_run_scripts_translate_flags(name, tmp_path):
    result = _script(name, "--epoch", "3", "--display_every=5", DRY_RUN="1",
                     BATCH_SIZE="48", LOG_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    command = result.stdout.strip().splitlines()[-1]
    for flag in ("-m benchmarks", "--model=vgg16", "--batch_size=48",
                 "--optimizer=momentum", "--num_epochs=3", "--display_every=5",
                 f"--log_path={tmp_path}/"):
        assert flag in command
    import tensorflow as tf
    if not tf.config.list_physical_devices("GPU"):
        assert "--device=cpu" in command
        assert "no GPU" in result.stdout


def test_run_script_tees_the_log_and_keeps_the_exit_status(tmp_path):
    ok = _script("run_train_vgg16_imagenet.sh", *TINY, LOG_DIR=str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    logs = sorted(tmp_path.glob("*.log"))
    assert len(logs) == 1 and "total images/sec:" in logs[0].read_text()
    assert len(list(tmp_path.glob("*.json"))) == 1
    bad = _script("run_train_vgg16_imagenet.sh", "--model=bogus",
                  LOG_DIR=str(tmp_path / "bad"))
    assert bad.returncode == 2  # the runner's status, not tee's
    text = next((tmp_path / "bad").glob("*.log")).read_text()
    assert "vggbench: error: unknown model 'bogus'" in text


def test_missing_and_empty_data_dir_are_one_line(tmp_path):
    missing = _runner(f"--data_dir={tmp_path}/nope", *TINY)
    _assert_one_line_error(missing, "does not exist")
    (tmp_path / "notes.txt").write_text("x")
    empty = _runner(f"--data_dir={tmp_path}", *TINY)
    _assert_one_line_error(empty, "no train-* shards", "notes.txt")


def test_label_out_of_range_is_one_line(tmp_path):
    from conftest import write_shards
    write_shards(str(tmp_path), "train", [1, 2, 30, 4])
    result = _runner(f"--data_dir={tmp_path}", *TINY,
                     "--datasets_shuffle_buffer_size=2")
    _assert_one_line_error(result, "label out of range", "train-00000-of-00001")
