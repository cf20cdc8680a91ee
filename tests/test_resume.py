"""Checkpoints end to end through the CLI: a run killed with SIGTERM halfway
and restarted ends exactly where a run that never stopped ends; evaluating
its checkpoint reproduces the accuracy logged at the end of training."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO

TOTAL_STEPS = 20  # 120 train records / batch 8 = 15 steps per epoch


def _flags(data_dir, train_dir, log_path):
    return [
        "--model=vgg11_bn", "--image_size=32", "--num_classes=10",
        "--batch_size=8", "--device=cpu", f"--data_dir={data_dir}",
        "--optimizer=momentum", "--init_learning_rate=0.02",
        "--learning_rate_schedule=cosine", "--minimum_learning_rate=0.001",
        "--num_learning_rate_warmup_epochs=0.2", "--dropout=0.5",
        "--num_warmup_batches=1", f"--num_batches={TOTAL_STEPS - 1}",
        "--display_every=1", "--deterministic", f"--train_dir={train_dir}",
        "--eval_during_training_at_specified_steps=10",
        "--print_training_accuracy", f"--log_path={log_path}"]


def _cli(args, **kw):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen([sys.executable, "-m", "benchmarks", *args],
                            cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _variables(checkpoint_prefix):
    reader = tf.train.load_checkpoint(checkpoint_prefix)
    return {name: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map()
            # How many saves each run made differs, by design.
            if name not in ("_CHECKPOINTABLE_OBJECT_GRAPH",
                            "save_counter/.ATTRIBUTES/VARIABLE_VALUE")}


def _final_entry(log_path):
    with open(log_path) as f:
        entries = [json.loads(line[len("DLLL "):]) for line in f]
    return [e for e in entries if e.get("step") == []][-1]["data"]


@pytest.mark.timeout(600)
def test_sigterm_then_resume_equals_a_straight_run(demo_shards, tmp_path):
    straight_dir, resumed_dir = tmp_path / "straight", tmp_path / "resumed"

    straight = _cli(_flags(demo_shards, straight_dir, tmp_path / "a.json"))
    out, err = straight.communicate()
    assert straight.returncode == 0, err

    # Kill the second run with SIGTERM once it has taken a few timed steps.
    killed = _cli(_flags(demo_shards, resumed_dir, tmp_path / "b.json"))
    for line in killed.stdout:
        if line.split("\t")[0] == "4":  # "timed step 4" progress line
            killed.send_signal(signal.SIGTERM)
            break
    rest, err = killed.communicate()
    assert killed.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM after step" in err
    stopped_at = int(err.split("after step ")[1].split(";")[0])
    assert 5 <= stopped_at < TOTAL_STEPS
    assert tf.train.latest_checkpoint(str(resumed_dir)).endswith(
        f"ckpt-{stopped_at}")

    resumed = _cli(_flags(demo_shards, resumed_dir, tmp_path / "c.json"))
    out, err = resumed.communicate()
    assert resumed.returncode == 0, err
    assert "Resuming from" in out and f"step {stopped_at} of {TOTAL_STEPS}" in out

    a = _variables(str(straight_dir / f"ckpt-{TOTAL_STEPS}"))
    b = _variables(str(resumed_dir / f"ckpt-{TOTAL_STEPS}"))
    assert a.keys() == b.keys()
    for name in a:  # weights, BN statistics, momentum, dropout RNG, step, lr
        np.testing.assert_allclose(b[name], a[name], rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    final_a, final_c = _final_entry(tmp_path / "a.json"), _final_entry(
        tmp_path / "c.json")
    assert final_a["train.step"] == final_c["train.step"] == TOTAL_STEPS
    assert final_a["train.learning_rate"] == final_c["train.learning_rate"]

    # --eval on the final checkpoint reproduces the last logged evaluation.
    evaluated = _cli(["--eval", "--model=vgg11_bn", "--image_size=32",
                      "--num_classes=10", "--batch_size=8", "--device=cpu",
                      f"--data_dir={demo_shards}",
                      f"--train_dir={straight_dir}",
                      f"--log_path={tmp_path / 'e.json'}"])
    out, err = evaluated.communicate()
    assert evaluated.returncode == 0, err
    final_e = _final_entry(tmp_path / "e.json")
    assert final_e["eval.examples"] == final_a["eval.examples"] == 30
    assert final_e["eval.top1"] == pytest.approx(final_a["eval.top1"], abs=1e-6)
    assert final_e["eval.top5"] == pytest.approx(final_a["eval.top5"], abs=1e-6)
    assert final_e["eval.loss"] == pytest.approx(final_a["eval.loss"], rel=1e-5)
