"""The tf_cnn_benchmarks features built here, each doing what its flag says:
profiles, the checkpoint follower, the momentum update, fp16 loss scaling,
preprocessing options, runtime options, progress options and summaries."""

import dataclasses
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import config as cfg
from benchmarks import flags, runner
from conftest import REPO, tiny_config, write_shards
from preprocessing import imagenet


def _run(config, **kwargs):
    stream = io.StringIO()
    return runner.run(config, stream=stream, **kwargs), stream.getvalue()


def _with(config, section, **changes):
    return config.replace(**{section: dataclasses.replace(
        getattr(config, section), **changes)})


# --- profiles -----------------------------------------------------------------

def test_trace_tfprof_and_graph_files(tmp_path):
    trace, table, graph = (tmp_path / "trace.json", tmp_path / "ops.txt",
                           tmp_path / "step.pbtxt.txt")
    config = tiny_config(num_batches=2, num_warmup_batches=3).replace(
        profile=cfg.ProfileConfig(trace_file=str(trace),
                                  tfprof_file=str(table),
                                  graph_file=str(graph)))
    # Direct convolutions, whose ops the table must list (Winograd's are
    # matmuls).
    _run(_with(config, "model", conv_algorithm="direct"))
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("ph") == "X" for e in events)  # complete events to show
    text = table.read_text()
    assert text.startswith("Time per op type over steps 2-3")
    ops = [line.split()[0] for line in text.splitlines()[2:]]
    assert any(op.startswith(("Conv2D", "_FusedConv2D", "_MklConv2D",
                              "_MklNativeConv2D", "_MklFusedConv2D",
                              "_MklNativeFusedConv2D")) for op in ops), ops
    assert "Conv2DBackpropInput" in " ".join(ops) or any(
        "BackpropInput" in op for op in ops), ops
    graph_text = graph.read_text()
    assert "node {" in graph_text and "while" in graph_text.lower()


def test_trace_in_tensorboards_profile_format(tmp_path):
    logdir = tmp_path / "profile"
    config = tiny_config(num_batches=1, num_warmup_batches=2).replace(
        profile=cfg.ProfileConfig(trace_file=str(logdir),
                                  use_chrome_trace_format=False))
    _run(config)
    found = [f for _, _, files in os.walk(logdir) for f in files]
    assert any(f.endswith(".xplane.pb") for f in found), found


def test_profiling_needs_a_warmup_step_after_the_first():
    from benchmarks.errors import UsageError
    config = tiny_config(num_batches=1, num_warmup_batches=1).replace(
        profile=cfg.ProfileConfig(tfprof_file="/tmp/never-written"))
    with pytest.raises(UsageError, match="--num_warmup_batches=2"):
        _run(config)


# --- the checkpoint follower ------------------------------------------------------

def test_eval_interval_secs_evaluates_each_new_checkpoint(tmp_path, demo_shards):
    """Checkpoints become the latest one after the other, as a training run
    writes them: the follower evaluates each new one, waiting between, and
    stops after the run's last step."""
    train_dir = str(tmp_path / "train")
    data = cfg.DataConfig(batch_size=4, data_dir=demo_shards)
    runner.run(tiny_config(num_batches=3).replace(  # 1 warmup + 3: ends at 4
        data=data, checkpoint=cfg.CheckpointConfig(
            train_dir=train_dir, save_model_steps=1, max_ckpts_to_keep=5)),
        stream=io.StringIO())
    paths = [os.path.join(train_dir, f"ckpt-{i}") for i in (1, 2, 3, 4)]

    def written_up_to(step):
        tf.compat.v1.train.update_checkpoint_state(
            train_dir, paths[step - 1], all_model_checkpoint_paths=paths[:step])

    written_up_to(2)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 2:
            written_up_to(4)  # the run's last checkpoint arrives

    follower = tiny_config().replace(
        data=data, eval=cfg.EvalConfig(eval=True, eval_interval_secs=7,
                                       eval_timeout_secs=600),
        checkpoint=cfg.CheckpointConfig(train_dir=train_dir),
        log=cfg.LogConfig(log_path=str(tmp_path / "eval.json")))
    final, printed = _run(follower, sleep=sleep)
    evaluated = [line.split()[1] for line in printed.splitlines()
                 if line.startswith("Evaluating ")]
    assert evaluated == [paths[1], paths[3]]  # ckpt-2, then ckpt-4; stop
    assert waits == [7, 7]  # one look found nothing new
    entries = [json.loads(line[5:]) for line in
               (tmp_path / "eval.json").read_text().splitlines()]
    steps = [e["step"] for e in entries if "eval.top1" in e.get("data", {})]
    assert steps == [2, 4, []]
    assert final["eval.examples"] == 30


def test_the_follower_stops_after_its_bound(tmp_path, demo_shards):
    from benchmarks.errors import UsageError
    ticks = iter(range(0, 10**6, 50))  # each look at the clock: 50 s later
    follower = tiny_config().replace(
        data=cfg.DataConfig(batch_size=4, data_dir=demo_shards),
        eval=cfg.EvalConfig(eval=True, eval_interval_secs=1,
                            eval_timeout_secs=120),
        checkpoint=cfg.CheckpointConfig(train_dir=str(tmp_path / "none")))
    from benchmarks.checkpoint_eval import CheckpointEvaluation
    from types import SimpleNamespace
    evaluation = CheckpointEvaluation(follower, SimpleNamespace(model=None),
                                      None, None)
    with pytest.raises(UsageError, match="no checkpoint appeared"):
        evaluation.follow(sleep=lambda s: None, clock=lambda: next(ticks))


# --- the momentum update and loss scaling ---------------------------------------

@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_is_tf_cnn_benchmarks_update_when_the_rate_changes(nesterov):
    """TF1's MomentumOptimizer (and PyTorch's SGD): accum = m*accum + g;
    w -= lr*accum, or w -= lr*(g + m*accum).  Keras' v = m*v - lr*g takes
    other steps once the rate changes; the check can tell them apart."""
    import keras
    from benchmarks.training.optimizers import FusedSGD
    rng = np.random.default_rng(1)
    start = rng.normal(size=(4, 3)).astype("float32")
    grads = [rng.normal(size=start.shape).astype("float32") for _ in range(3)]
    rates = [0.1, 0.01, 0.5]
    m = 0.9
    w, accum = start.astype("float64"), np.zeros(start.shape)
    for g, lr in zip(grads, rates):
        accum = m * accum + g
        w = w - lr * (g + m * accum if nesterov else accum)
    results = {}
    for cls in (FusedSGD, keras.optimizers.SGD):
        variable = keras.Variable(start)
        opt = cls(rates[0], momentum=m, nesterov=nesterov)
        for g, lr in zip(grads, rates):
            opt.learning_rate = lr
            opt.apply([tf.constant(g)], [variable])
        results[cls.__name__] = variable.numpy()
    np.testing.assert_allclose(results["FusedSGD"], w, rtol=1e-5, atol=1e-6)
    assert not np.allclose(results["SGD"], w, rtol=1e-3)


def _fp16_optimizer(*argv):
    from benchmarks.training.optimizers import build_optimizer
    config = flags.parse(["--use_fp16", "--optimizer=sgd", *argv],
                         notes=io.StringIO())
    return build_optimizer(config.optimizer, config.model.precision)


def test_fp16_loss_scale_flags():
    import keras
    dynamic = _fp16_optimizer()
    assert isinstance(dynamic, keras.optimizers.LossScaleOptimizer)
    assert dynamic.initial_scale == 128  # tf_cnn_benchmarks' default scale
    assert dynamic.dynamic_growth_steps == 1000
    grown = _fp16_optimizer("--fp16_inc_loss_scale_every_n=10",
                            "--fp16_loss_scale=1024",
                            "--fp16_enable_auto_loss_scale")
    assert isinstance(grown, keras.optimizers.LossScaleOptimizer)
    assert (grown.initial_scale, grown.dynamic_growth_steps) == (1024, 10)
    fixed = _fp16_optimizer("--fp16_loss_scale=64")  # tf_cnn_benchmarks': fixed
    assert not isinstance(fixed, keras.optimizers.LossScaleOptimizer)
    assert float(fixed.scale_loss(tf.constant(2.0))) == 128.0
    # The scaled gradient is unscaled before the step.
    variable = keras.Variable(np.ones(3, "float32"))
    fixed.learning_rate = 0.5
    fixed.apply([tf.constant([64.0, 128.0, -64.0])], [variable])
    np.testing.assert_allclose(variable.numpy(), [0.5, 0.0, 1.5])


def test_single_l2_loss_op_is_the_same_sum():
    from benchmarks.training.optimizers import l2_loss
    variables = [tf.constant(np.arange(6.0).reshape(2, 3), tf.float32),
                 tf.constant([1.0, -2.0])]
    assert float(l2_loss(variables, 0.1, single_op=True)) == pytest.approx(
        float(l2_loss(variables, 0.1)))
    assert float(l2_loss(variables, 0.1)) == pytest.approx(
        0.1 * (55 + 5) / 2)


def test_learning_rate_on_the_cpu():
    from benchmarks.training.schedules import LearningRate, StepSchedule
    rate = LearningRate(StepSchedule("constant", init=0.25), on_cpu=True)

    @tf.function
    def value(step):
        return rate(step)

    graph = value.get_concrete_function(tf.constant(3)).graph
    devices = {op.device for op in graph.get_operations() if op.type == "Const"}
    assert any("CPU:0" in d for d in devices)
    assert float(value(tf.constant(3))) == 0.25


# --- preprocessing options ---------------------------------------------------------

def _jpeg(height=40, width=60):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    return tf.io.encode_jpeg(pixels, quality=100)


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic", "area"])
def test_resize_method_is_tf_image_resize(method):
    encoded = _jpeg()
    got = imagenet.eval_image(encoded, image_size=32,
                              options=imagenet.ImageOptions(resize_method=method))
    image = tf.io.decode_jpeg(encoded)
    expected = tf.image.resize(image, [37, 56], method=method)  # 32 / 0.875
    expected = tf.cast(expected, tf.float32)[2:34, 12:44] / 127.5 - 1
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_round_robin_takes_the_methods_by_position_in_the_batch():
    image = tf.cast(tf.io.decode_jpeg(_jpeg()), tf.float32)
    for position, method in enumerate(["nearest", "bilinear", "bicubic",
                                       "area", "nearest"]):
        got = imagenet.resize(image, [16, 16], "round_robin", position,
                              batch_size=8)
        want = tf.cast(tf.image.resize(image, [16, 16], method=method),
                       tf.float32)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4)


def test_decode_then_crop_equals_the_fused_op():
    """The same crop: equal pixels, but for the crop's edges, where the
    fused decode's chroma upsampling lacks the pixels outside the crop."""
    encoded = _jpeg(64, 64)
    outputs = [imagenet.train_image(encoded, tf.zeros([0, 4]), image_size=24,
                                    seed=(3, 4), fuse_decode_and_crop=fused)
               for fused in (True, False)]
    difference = np.abs(outputs[0].numpy() - outputs[1].numpy())
    inner = difference[2:-2, 2:-2]
    assert inner.max() < 1e-5 and np.median(difference) < 1e-5


def test_yiq_hue_and_saturation():
    identity = imagenet.yiq_chroma_transform(tf.constant(0.0), tf.constant(1.0))
    np.testing.assert_allclose(identity.numpy(), np.eye(3), atol=1e-5)
    # Without chroma every channel is the luma Y = 0.299 R + 0.587 G + 0.114 B.
    gray = imagenet.yiq_chroma_transform(tf.constant(0.4), tf.constant(0.0))
    pixel = np.array([0.2, 0.5, 0.9], np.float32)
    luma = 0.299 * 0.2 + 0.587 * 0.5 + 0.114 * 0.9
    np.testing.assert_allclose(gray.numpy() @ pixel, [luma] * 3, atol=1e-5)
    # A hue turn keeps the luma and the chroma's length.
    turned = imagenet.yiq_chroma_transform(tf.constant(1.0), tf.constant(1.0))
    yiq = np.array(imagenet._RGB_TO_YIQ)
    before, after = yiq @ pixel, yiq @ (turned.numpy() @ pixel)
    assert after[0] == pytest.approx(before[0], abs=1e-5)
    assert np.hypot(*after[1:]) == pytest.approx(np.hypot(*before[1:]), abs=1e-5)


def test_ml_perf_ignores_boxes_and_subtracts_the_means():
    encoded = _jpeg(64, 64)
    box = tf.constant([[0.0, 0.0, 0.3, 0.3]])
    options = imagenet.ImageOptions(ml_perf=True)
    with_box, without = (imagenet.train_image(encoded, b, image_size=16,
                                              options=options, seed=(1, 2))
                         for b in (box, tf.zeros([0, 4])))
    np.testing.assert_array_equal(with_box.numpy(), without.numpy())
    plain = imagenet.eval_image(encoded, image_size=16)
    mlperf = imagenet.eval_image(encoded, image_size=16, options=options)
    np.testing.assert_allclose(mlperf.numpy(), (plain.numpy() + 1) * 127.5
                               - np.array(imagenet.CHANNEL_MEANS), atol=1e-3)


def test_repeat_cached_sample_repeats_one_record(tmp_path):
    from preprocessing import dataset, records
    write_shards(str(tmp_path), "train", list(range(1, 9)), num_shards=2)
    split = records.read_split(str(tmp_path), "train")
    ds = dataset.build_dataset(
        split, image_size=32, num_classes=1000, batch_size=4, training=True,
        options=dataset.PipelineOptions(repeat_cached_sample=True,
                                        prefetch_batches=False))
    labels = np.concatenate([b[1].numpy() for b in ds.take(3)])
    assert len(set(labels.tolist())) == 1 and labels.size == 12


# --- runtime options ---------------------------------------------------------------

def test_runtime_options_reach_tensorflow(tmp_path):
    log = tmp_path / "log.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO)
    for name in ("TF_ENABLE_WINOGRAD_NONFUSED", "TF_SYNC_ON_FINISH",
                 "KMP_BLOCKTIME", "KMP_AFFINITY", "TF_ENABLE_ONEDNN_OPTS"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--model=vgg11", "--image_size=32",
         "--num_classes=10", "--batch_size=2", "--num_batches=1",
         "--num_warmup_batches=1", "--device=cpu", f"--log_path={log}",
         "--gpu_memory_frac_for_testing=0.4", "--allow_growth",
         "--force_gpu_compatible", "--gpu_kt_max_pending=4",
         "--use_numa_affinity", "--rewriter_config=layout_optimizer: OFF",
         "--nowinograd_nonfused", "--sync_on_finish", "--mkl",
         "--kmp_blocktime=1", "--num_intra_threads=2", "--flush_stdout",
         "--benchmark_test_id=vgg-ci"],
        capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    params = json.loads(log.read_text().splitlines()[0][5:])["data"]
    gpu = params["env.gpu_options"]
    for fragment in ("per_process_gpu_memory_fraction: 0.4",
                     "allow_growth: true", "force_gpu_compatible: true",
                     "kernel_tracker_max_pending: 4"):
        assert fragment in gpu, gpu
    assert "layout_optimizer: OFF" in params["env.rewrite_options"]
    assert params["env.numa_affinity"] is True
    variables = params["env.variables"]
    assert variables["TF_ENABLE_WINOGRAD_NONFUSED"] == "0"
    assert variables["TF_SYNC_ON_FINISH"] == "1"
    assert variables["KMP_BLOCKTIME"] == "1"
    assert variables["OMP_NUM_THREADS"] == "2"
    assert params["env.onednn_enabled"] is True  # --mkl: oneDNN on
    assert params["log.benchmark_test_id"] == "vgg-ci"


def test_gpu_thread_variables_only_off_the_cpu():
    from benchmarks.machine.runtime_options import set_environment
    config = flags.parse(["--gpu_thread_mode=gpu_shared", "--num_gpus=4",
                          "--per_gpu_thread_count=3"], notes=io.StringIO())
    environ = {}
    set_environment(config.runtime, config.dist, environ)
    assert environ["TF_GPU_THREAD_MODE"] == "gpu_shared"
    assert environ["TF_GPU_THREAD_COUNT"] == "12"
    cpu = flags.parse(["--device=cpu"], notes=io.StringIO())
    environ = {"TF_SYNC_ON_FINISH": "1"}
    set_environment(cpu.runtime, cpu.dist, environ)
    assert "TF_GPU_THREAD_MODE" not in environ
    assert environ["TF_SYNC_ON_FINISH"] == "1"  # the user's is kept
    assert environ["TF_USE_CUDNN_BATCHNORM_SPATIAL_PERSISTENT"] == "1"


def test_gradient_repacking_needs_an_all_reduce_to_pack():
    from benchmarks.distribute.strategy import build_strategy
    from benchmarks.errors import UsageError
    with pytest.raises(UsageError, match="--gradient_repacking"):
        build_strategy(cfg.DistConfig(device="cpu", num_cpu_devices=2,
                                      gradient_repacking=2))


# --- progress options and summaries -------------------------------------------------

def test_display_perf_ewma_weighs_the_newest_steps():
    from benchmarks.loop.meter import ThroughputMeter
    meter = ThroughputMeter(global_batch=10, num_replicas=1, num_warmup_steps=1)
    meter.record(1, 1, 0.0, 9.0)
    times = [1.0, 2.0, 4.0]
    start = 10.0
    for i, t in enumerate(times):
        meter.record(2 + i, 1, start, start + t)
        start += t
    weights = np.array([0.25, 0.5, 1.0])  # (1 - 0.5)^(n - k)
    mean, _, _ = meter.running(ewma=0.5)
    assert mean == pytest.approx(10 / np.average(times, weights=weights))
    assert meter.running()[0] == pytest.approx(10 / np.mean(times))


def test_loss_type_to_report_base_loss():
    config = _with(tiny_config(num_batches=1), "loop",
                   loss_type_to_report="base_loss")
    config = _with(config, "optimizer", weight_decay=0.05)
    stream = io.StringIO()
    runner.run(config, stream=stream)
    lines = stream.getvalue().splitlines()
    assert "Step\tImg/sec\tbase_loss" in lines
    row = next(line for line in lines if line.startswith("1\timages/sec"))
    shown = float(row.split("\t")[2])
    total = runner.run(_with(config, "loop", loss_type_to_report="total_loss"),
                       stream=io.StringIO())["train.loss"]
    assert shown < total - 0.01  # the L2 term of weight decay 0.05 is left out


def _tags_by_step(directory):
    found = {}
    for path in tf.io.gfile.glob(os.path.join(directory, "*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(event.step)
    return found


def test_save_summaries_steps_and_eval_dir(tmp_path, demo_shards):
    train_dir, eval_dir = tmp_path / "train", tmp_path / "eval"
    config = tiny_config(num_batches=4, display_every=1).replace(
        data=cfg.DataConfig(batch_size=4, data_dir=demo_shards),
        eval=cfg.EvalConfig(at_steps=(3,)),
        checkpoint=cfg.CheckpointConfig(train_dir=str(train_dir)),
        log=cfg.LogConfig(summary_verbosity=1, save_summaries_steps=2,
                          eval_dir=str(eval_dir)))
    runner.run(config, stream=io.StringIO())
    train = _tags_by_step(str(train_dir / "tensorboard"))
    assert sorted(train["train/loss"]) == [2, 4]  # every 2 steps, not displays
    assert sorted(train["train/learning_rate"]) == [2, 4]
    assert "train/ips" not in train  # the displays' scalars are not written
    evaluations = _tags_by_step(str(eval_dir))
    assert sorted(evaluations["eval/top1"]) == [3, 5]  # asked for, and the end


def test_rmsprop_starts_its_mean_square_at_one_as_tf1():
    """TF1's RMSPropOptimizer: ms = d*ms + (1-d)*g^2 from ms = 1;
    mom = m*mom + lr*g/sqrt(ms + eps); w -= mom."""
    import keras
    from benchmarks.training.optimizers import build_optimizer
    config = flags.parse(["--optimizer=rmsprop", "--init_learning_rate=0.1",
                          "--rmsprop_epsilon=0.01"], notes=io.StringIO())
    opt = build_optimizer(config.optimizer)
    start = np.array([1.0, -2.0, 3.0], np.float32)
    variable = keras.Variable(start)
    grads = [np.array([0.5, 0.1, -2.0], np.float32)] * 2
    ms, mom, w = np.ones(3), np.zeros(3), start.astype("float64")
    for g in grads:
        opt.apply([tf.constant(g)], [variable])
        ms = 0.9 * ms + 0.1 * g.astype("float64") ** 2
        mom = 0.9 * mom + 0.1 * g / np.sqrt(ms + 0.01)
        w = w - mom
    np.testing.assert_allclose(variable.numpy(), w, rtol=1e-5)


def test_session_config_of_the_gpu_and_rewriter_flags():
    from benchmarks.machine.runtime_options import session_config
    config = flags.parse(["--use_unified_memory", "--timestamped_allocator",
                          "--gpu_kt_max_interval=3", "--gpu_kt_max_bytes=5",
                          "--noenable_optimizations"], notes=io.StringIO())
    proto = session_config(config.runtime)
    assert proto.gpu_options.experimental.use_unified_memory
    assert proto.gpu_options.experimental.timestamped_allocator
    assert proto.gpu_options.experimental.kernel_tracker_max_interval == 3
    assert proto.gpu_options.experimental.kernel_tracker_max_bytes == 5
    assert proto.graph_options.rewrite_options.disable_meta_optimizer
    assert session_config(flags.parse([], notes=io.StringIO()).runtime
                          ).ByteSize() == 0  # nothing asked, nothing set


def test_sloppy_interleave_still_reads_every_record(tmp_path):
    from preprocessing import dataset, records
    write_shards(str(tmp_path), "validation", list(range(1, 13)), num_shards=3)
    split = records.read_split(str(tmp_path), "validation", count=False)
    ds = dataset.build_dataset(
        split, image_size=32, num_classes=1000, batch_size=4, training=False,
        options=dataset.PipelineOptions(sloppy_interleave=True))
    labels = sorted(np.concatenate([b[1].numpy() for b in ds]).tolist())
    assert labels == list(range(12))
