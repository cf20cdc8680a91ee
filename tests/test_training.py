"""Training runs in-process: schedules, evaluation during training, the stop
at a target accuracy, checkpoints and the NaN guard."""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import runner
from benchmarks.loop.chunks import plan_chunks
from benchmarks.training import checkpoints, schedules, steps
from benchmarks import config as cfg
from benchmarks.errors import TrainingError, UsageError
from conftest import REPO, tiny_config, write_shards


# --- schedules --------------------------------------------------------------

def _both(schedule, steps):
    graph = schedules.LearningRate(schedule)
    return ([schedule.value(s) for s in steps],
            [float(graph(tf.constant(s))) for s in steps])


def test_piecewise_schedule_matches_its_definition():
    s = schedules.build_schedule(
        cfg.ScheduleConfig(kind="piecewise", piecewise=(0.1, 2, 0.01, 4, 0.001)),
        0.5, steps_per_epoch=10, total_steps=60)
    python, graph = _both(s, [0, 19, 20, 39, 40, 59])
    assert python == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    np.testing.assert_allclose(graph, python, rtol=1e-6)


def test_stepped_decay_with_floor():
    s = schedules.build_schedule(
        cfg.ScheduleConfig(kind="step", num_epochs_per_decay=2.5,
                           learning_rate_decay_factor=0.1,
                           minimum_learning_rate=2e-4),
        0.1, steps_per_epoch=4, total_steps=100)  # decay every 10 steps
    python, graph = _both(s, [0, 9, 10, 25, 35])
    np.testing.assert_allclose(python, [0.1, 0.1, 0.01, 0.001, 2e-4])
    np.testing.assert_allclose(graph, python, rtol=1e-5)


def test_cosine_with_linear_warmup_as_mindcv():
    # lr 0.01, 2 warmup epochs, min 1e-4, 10 steps per epoch, 12 epochs.
    s = schedules.build_schedule(
        cfg.ScheduleConfig(kind="cosine", minimum_learning_rate=1e-4,
                           num_learning_rate_warmup_epochs=2),
        0.01, steps_per_epoch=10, total_steps=120)
    python, graph = _both(s, [0, 9, 19, 20, 70, 120, 500])
    assert python[0] == pytest.approx(0.01 / 20)  # warmup starts at lr / steps
    assert python[1] == pytest.approx(0.01 * 10 / 20)
    assert python[2] == pytest.approx(0.01)  # the last warmup step
    assert python[3] == pytest.approx(0.01)  # cosine at t = 0
    half = 1e-4 + (0.01 - 1e-4) * 0.5 * (1 + math.cos(math.pi * 50 / 100))
    assert python[4] == pytest.approx(half)
    assert python[5] == pytest.approx(1e-4) and python[6] == pytest.approx(1e-4)
    np.testing.assert_allclose(graph, python, rtol=1e-5)


def test_warmup_on_a_constant_rate():
    s = schedules.build_schedule(
        cfg.ScheduleConfig(num_learning_rate_warmup_epochs=1), 0.4,
        steps_per_epoch=4, total_steps=10)
    python, graph = _both(s, [0, 1, 2, 3, 4, 9])
    np.testing.assert_allclose(python, [0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    np.testing.assert_allclose(graph, python, rtol=1e-6)


# --- plan ---------------------------------------------------------------------

def test_eval_and_epoch_steps():
    ends = steps.epoch_end_steps(7.5, 30)
    assert ends == {8: 1, 15: 2, 23: 3, 30: 4}
    e = cfg.EvalConfig(every_n_epochs=2, at_steps=(3,), at_epochs=(0.5,))
    assert steps.eval_steps(e, 7.5, 40) == [3, 4, 15, 30, 40]


def test_chunks_end_at_boundaries():
    chunks = plan_chunks(num_warmup=2, num_timed=10, steps_per_loop=100,
                         display_every=5, boundaries={4, 9})
    # warmup 1-2; the first timed step shows a row; boundaries 4, 9;
    # display steps 7 (timed 5) and 12 (timed 10).
    assert [c.last_step for c in chunks] == [1, 2, 3, 4, 7, 9, 12]


# --- runs ---------------------------------------------------------------------

def _with_data(config, data_dir, **sections):
    return config.replace(data=cfg.DataConfig(batch_size=4, data_dir=data_dir,
                                              crop_area_range=(0.5, 1.0)),
                          **sections)


def test_stop_at_top_1_accuracy_stops_the_run(demo_shards, tmp_path):
    # Any model scores >= 1/30 on 30 images of 10 classes with 3 each when
    # it predicts a present class; a target of 0.01 is reached at once.
    config = _with_data(tiny_config(num_batches=7, display_every=1),
                        demo_shards, eval=cfg.EvalConfig(
                            every_n_steps=2, stop_at_top_1_accuracy=0.01),
                        checkpoint=cfg.CheckpointConfig(
                            train_dir=str(tmp_path)))
    final = runner.run(config)
    assert final["train.stopped_at_target"] is True
    assert final["train.step"] == 2  # the first evaluation, not 8
    assert final["eval.examples"] == 30
    assert final["eval.top1"] >= 0.01
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-2")
    with open(tmp_path / "best" / "best.json") as f:
        assert json.load(f)["step"] == 2
    # --checkpoint names one in train_dir, the best copy included.
    assert checkpoints.resolve_checkpoint(str(tmp_path), "ckpt-2") == \
        os.path.join(str(tmp_path), "ckpt-2")
    assert checkpoints.resolve_checkpoint(str(tmp_path), "best/best-2") == \
        os.path.join(str(tmp_path), "best/best-2")


def test_eval_counts_every_image_with_two_replicas(demo_shards):
    # 30 validation images, 2 replicas x eval batch 4: 8 global steps of which
    # the last is partly padding, and each replica runs the same number.
    config = _with_data(tiny_config(replicas=2, num_batches=1), demo_shards,
                        eval=cfg.EvalConfig(at_steps=(2,), batch_size=4))
    final = runner.run(config)
    assert final["eval.examples"] == 30


def test_nan_guard_keeps_the_last_good_checkpoint(tmp_path):
    train_dir = str(tmp_path)
    good = tiny_config(num_batches=2).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=train_dir))
    runner.run(good)
    assert tf.train.latest_checkpoint(train_dir).endswith("ckpt-3")
    absurd = tiny_config(num_batches=20).replace(
        optimizer=cfg.OptimizerConfig(optimizer="sgd", init_learning_rate=1e9),
        checkpoint=cfg.CheckpointConfig(train_dir=train_dir,
                                        save_model_steps=1))
    with pytest.raises(TrainingError, match="step"):
        runner.run(absurd)
    latest = tf.train.latest_checkpoint(train_dir)
    reader = tf.train.load_checkpoint(latest)
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all(), (latest, name)


def test_resume_refuses_other_settings(tmp_path):
    train_dir = str(tmp_path)
    runner.run(tiny_config(num_batches=1).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=train_dir)))
    other = tiny_config(num_batches=1).replace(
        data=cfg.DataConfig(batch_size=8),
        checkpoint=cfg.CheckpointConfig(train_dir=train_dir))
    with pytest.raises(UsageError, match="global_batch 4 -> 8"):
        runner.run(other)


def test_completed_run_is_not_trained_again(tmp_path, capsys):
    config = tiny_config(num_batches=1).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(tmp_path)))
    runner.run(config)
    assert runner.run(config) == {"train.step": 2}
    assert "training is complete" in capsys.readouterr().out


def test_eval_of_a_missing_checkpoint_lists_what_exists(tmp_path):
    with pytest.raises(UsageError, match="no checkpoint"):
        checkpoints.resolve_checkpoint(str(tmp_path), None)
    with pytest.raises(UsageError, match="not found"):
        checkpoints.resolve_checkpoint(str(tmp_path), "ckpt-7")


def test_label_smoothing_formula():
    from benchmarks.loop.compiled import cross_entropy_per_example
    logits = tf.constant([[2.0, 0.0, -1.0]])
    log_p = tf.nn.log_softmax(logits)[0].numpy()
    e = 0.1
    expected = -((1 - e + e / 3) * log_p[0] + e / 3 * (log_p[1] + log_p[2]))
    got = float(cross_entropy_per_example(logits, tf.constant([0]), e)[0])
    assert got == pytest.approx(expected, rel=1e-6)


def _entries(log_path):
    with open(log_path) as f:
        return [json.loads(line[len("DLLL "):]) for line in f]


def test_logs_epochs_evaluations_recipe_and_tensorboard(tmp_path):
    data = str(tmp_path / "data")  # 12 train records: 3 steps per epoch
    write_shards(data, "train", [c % 10 + 1 for c in range(12)], size=32)
    write_shards(data, "validation", [c + 1 for c in range(10)], size=32)
    recipe = os.path.join(REPO, "recipes", "vgg11.flags")
    config = _with_data(
        tiny_config(num_batches=5, print_training_accuracy=True), data,
        eval=cfg.EvalConfig(at_steps=(3,)),
        checkpoint=cfg.CheckpointConfig(train_dir=str(tmp_path / "run")),
        log=cfg.LogConfig(log_path=str(tmp_path / "log.json"),
                          summary_verbosity=2, recipes=(recipe,)))
    runner.run(config)
    entries = _entries(tmp_path / "log.json")
    params = [e["data"] for e in entries if e.get("step") == "PARAMETER"][0]
    assert params["recipe.0.path"] == recipe
    assert "--model=vgg11 " in params["recipe.0.flags"] + " "
    epochs = [e for e in entries if "train.epoch_loss" in e.get("data", {})]
    assert [(e["step"], e["data"]["train.epoch"]) for e in epochs] == \
        [(3, 1), (6, 2)]
    for e in epochs:
        assert {"train.epoch_ips", "train.learning_rate",
                "train.epoch_top1"} <= set(e["data"])
    evals = [e for e in entries if "eval.top1" in e.get("data", {})
             and e.get("step") != []]
    assert [e["step"] for e in evals] == [3, 6]  # asked for, and the end
    for e in evals:
        assert e["data"]["eval.examples"] == 10
        assert {"eval.top5", "eval.loss", "eval.ips", "eval.seconds"} <= set(
            e["data"])
    tags = set()
    for path in tf.io.gfile.glob(str(tmp_path / "run" / "tensorboard" / "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags |= {v.tag for v in event.summary.value}
    assert {"train/loss", "train/epoch_loss", "eval/top1", "eval/top5"} <= tags
    assert any("kernel" in t for t in tags)  # histograms at verbosity 2


@pytest.mark.parametrize("limits,examples", [
    (dict(num_eval_batches=3), 12), (dict(num_eval_epochs=0.5), 16)])
def test_eval_limits(demo_shards, limits, examples):
    # 30 images at eval batch 4: 8 steps for the whole split.
    config = _with_data(tiny_config(num_batches=1), demo_shards,
                        eval=cfg.EvalConfig(at_steps=(2,), **limits))
    assert runner.run(config)["eval.examples"] == examples


def test_checkpoints_by_seconds_keep_the_newest(tmp_path):
    ticks = iter(range(0, 10**9, 100))  # every clock reading is 100 s later
    config = tiny_config(num_batches=3).replace(
        checkpoint=cfg.CheckpointConfig(train_dir=str(tmp_path),
                                        save_model_secs=150,
                                        max_ckpts_to_keep=3))
    runner.run(config, clock=lambda: next(ticks))
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == \
        ["ckpt-2", "ckpt-3", "ckpt-4"]
