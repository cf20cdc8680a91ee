"""In-process runs of the whole runner on tiny synthetic problems."""

import io
import json
import re

import pytest

from benchmarks import runner
from conftest import tiny_config

SUMMARY_SUFFIXES = ("total_ips", "ips_per_replica", "ms_per_step",
                    "step_time_p50_ms", "step_time_p90_ms", "step_time_p99_ms",
                    "compile_time_s", "tflops", "loss")


def _entries(path):
    with open(path) as f:
        return [json.loads(line[len("DLLL "):]) for line in f]


def _run(tmp_path, **kwargs):
    log_path = str(tmp_path / "log.json")
    stream = io.StringIO()
    summary = runner.run(tiny_config(log_path=log_path, **kwargs), stream=stream)
    return summary, _entries(log_path), stream.getvalue()


@pytest.mark.parametrize("replicas", [1, 2])
def test_synthetic_training_finishes_and_the_loss_falls(tmp_path, replicas):
    summary, entries, printed = _run(tmp_path, replicas=replicas, num_batches=8)
    progress = [e for e in entries if e["type"] == "LOG"
                and isinstance(e["step"], int)]
    # 1 warmup + 8 timed: rows at timed steps 1, 2, 4, 6, 8.
    assert [e["step"] for e in progress] == [2, 3, 5, 7, 9]
    losses = [e["data"]["train.loss"] for e in progress]
    # One fixed batch, no dropout: a working step lowers the loss every time.
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.95 * losses[0], losses
    assert summary["train.replicas"] == replicas
    assert summary["train.global_batch"] == 4 * replicas
    assert summary["train.timed_images"] == 8 * 4 * replicas
    assert summary["train.ips_per_replica"] == pytest.approx(
        summary["train.total_ips"] / replicas)
    assert "images/sec:" in printed and "+/-" in printed and "jitter" in printed


def test_json_log_holds_every_metric_and_matches_the_printout(tmp_path):
    summary, entries, printed = _run(tmp_path, replicas=2)
    params = [e for e in entries if e.get("step") == "PARAMETER"]
    assert len(params) == 1
    p = params[0]["data"]
    for key in ("model.name", "data.batch_size", "loop.num_batches",
                "env.tensorflow", "env.keras", "env.devices", "env.device_names",
                "model.params", "model.flops_per_image", "global_batch",
                "replicas"):
        assert key in p, key
    assert p["replicas"] == 2 and p["global_batch"] == 8
    assert p["model.params"] == 28_144_010  # vgg11, 32x32, 10 classes
    metadata = {e["metric"]: e["metadata"] for e in entries
                if e["type"] == "METADATA"}
    final = [e for e in entries if e.get("step") == []]
    assert len(final) == 1
    data = final[0]["data"]
    for suffix in SUMMARY_SUFFIXES:
        assert f"train.{suffix}" in data, suffix
        assert "unit" in metadata[f"train.{suffix}"]
    assert data == pytest.approx(summary)
    # The console summary shows the same figures, rounded.
    shown = float(re.search(r"total images/sec: ([\d.]+)", printed).group(1))
    assert shown == pytest.approx(data["train.total_ips"], abs=0.006)
    p50 = float(re.search(r"p50 ([\d.]+)", printed).group(1))
    assert p50 == pytest.approx(data["train.step_time_p50_ms"], abs=0.06)
    compile_s = float(re.search(r"first step .*: ([\d.]+) s", printed).group(1))
    assert compile_s == pytest.approx(data["train.compile_time_s"], abs=0.006)
    assert data["train.tflops"] == pytest.approx(
        data["train.total_ips"] * 3 * p["model.flops_per_image"] / 1e12)


def test_forward_only_logs_infer_metrics(tmp_path):
    summary, entries, _ = _run(tmp_path, forward_only=True)
    assert all(k.startswith("infer.") for k in summary)
    final = [e for e in entries if e.get("step") == []][0]["data"]
    for suffix in SUMMARY_SUFFIXES:
        assert f"infer.{suffix}" in final
    flops = [e for e in entries if e.get("step") == "PARAMETER"][0]["data"][
        "model.flops_per_image"]
    assert final["infer.tflops"] == pytest.approx(   # forward only: 1x FLOPs
        final["infer.total_ips"] * flops / 1e12)


def test_absurd_learning_rate_stops_with_the_step(tmp_path):
    from benchmarks import config as cfg
    from benchmarks.errors import TrainingError
    c = tiny_config(num_batches=6)
    c = c.replace(optimizer=cfg.OptimizerConfig(optimizer="sgd",
                                                init_learning_rate=1e6))
    with pytest.raises(TrainingError, match=r"at step \d+"):
        runner.run(c, stream=io.StringIO())


def _real(tmp_path, demo_shards, input_only=False, **loop):
    import dataclasses
    from benchmarks import config as cfg
    c = tiny_config(log_path=str(tmp_path / "log.json"), **loop)
    c = c.replace(
        model=cfg.ModelConfig(name="vgg11", num_classes=10, image_size=32,
                              dropout=0.0),
        data=cfg.DataConfig(batch_size=4, data_dir=demo_shards,
                            datasets_shuffle_buffer_size=64))
    # --input_only needs real data: set once the data is.
    return c.replace(loop=dataclasses.replace(c.loop, input_only=input_only))


@pytest.mark.parametrize("replicas", [1, 2])
def test_real_data_training_reports_input_wait_and_skips(tmp_path, demo_shards,
                                                         replicas):
    c = _real(tmp_path, demo_shards, replicas=replicas, num_batches=6)
    summary = runner.run(c, stream=io.StringIO())
    assert summary["train.timed_images"] == 6 * 4 * replicas
    assert summary["input.skipped_records"] == 0
    assert 0.0 <= summary["train.input_wait_s"] <= summary["train.timed_seconds"]
    entries = _entries(str(tmp_path / "log.json"))
    param = [e for e in entries if e.get("step") == "PARAMETER"][0]["data"]
    assert demo_shards in param["data"] and "train" in param["data"]


def test_input_only_mode(tmp_path, demo_shards):
    c = _real(tmp_path, demo_shards, num_batches=5, input_only=True)
    summary = runner.run(c, stream=io.StringIO())
    assert summary["input.timed_images"] == 20
    assert summary["input.total_ips"] > 0 and summary["input.tflops"] == 0


def test_truncated_shard_is_a_usage_error_naming_it(tmp_path):
    import os
    from benchmarks import config as cfg
    from benchmarks.errors import UsageError
    from conftest import write_shards
    paths = write_shards(str(tmp_path / "d"), "train", list(range(1, 11)),
                         num_shards=2)
    with open(paths[1], "r+b") as f:
        f.truncate(os.path.getsize(paths[1]) - 30)
    c = tiny_config(num_batches=8).replace(
        data=cfg.DataConfig(batch_size=4, data_dir=str(tmp_path / "d"),
                            datasets_shuffle_buffer_size=4))
    with pytest.raises(UsageError, match="train-00001-of-00002.*truncated"):
        runner.run(c, stream=io.StringIO())


def test_forward_only_on_real_data_reads_the_validation_split(tmp_path,
                                                              demo_shards):
    c = _real(tmp_path, demo_shards, num_batches=3, forward_only=True)
    summary = runner.run(c, stream=io.StringIO())
    assert summary["infer.timed_images"] == 12
    entries = _entries(str(tmp_path / "log.json"))
    param = [e for e in entries if e.get("step") == "PARAMETER"][0]["data"]
    assert "validation" in param["data"]
