"""Golden formats: the console lines tf_cnn_benchmarks' users parse, matched
by anchored patterns, in its order, for training, forward-only and
evaluation; and nothing a tf_cnn_benchmarks parser keys on among the
harness's own lines."""

import io
import os
import re
import subprocess
import sys

import pytest

from benchmarks import config as cfg
from benchmarks import runner
from conftest import REPO, tiny_config

RULE = "-" * 64
HEADER = (
    r"TensorFlow:  \d+\.\d+",
    r"Model:       vgg11",
    r"Dataset:     imagenet( \(synthetic\))?",
    r"Mode:        (training|forward only|evaluation|training \+ evaluation)",
    r"SingleSess:  False",
    r"Batch size:  \d+ global",
    r"             \d+ per device",
    r"Num batches: \d+",
    r"Num epochs:  \d+\.\d\d",
    r"Devices:     \['/cpu:\d+'(, '/cpu:\d+')*\]",
    r"NUMA bind:   False",
    r"Data format: NHWC",
    r"Optimizer:   \w+",
    r"Variables:   \w+",
    r"AllReduce:   \S+",
    r"==========",
)
ROW = (r"\d+\timages/sec: \d+\.\d \+/- \d+\.\d \(jitter = \d+\.\d\)"
       r"\t\d+\.\d{3}")
ACCURACY = r"\t\d\.\d{3}\t\d\.\d{3}"


def _console(config):
    stream = io.StringIO()
    final = runner.run(config, stream=stream)
    return stream.getvalue().splitlines(), final


def _check_header(lines):
    for pattern, line in zip(HEADER, lines):
        assert re.fullmatch(pattern, line), (pattern, line)


def _table(lines, header):
    """The progress rows after the table's header, as tf_cnn_benchmarks'
    test utility reads them (every line with "images/sec" and "+/-")."""
    i = lines.index(header)
    assert lines[i - 1] == "Done warm up"
    assert "Running warm up" in lines[:i - 1]
    return [line for line in lines if "images/sec" in line and "+/-" in line]


def _closing(lines):
    i = lines.index(RULE)
    assert lines[i + 2] == RULE
    total = lines[i + 1]
    assert re.fullmatch(r"total images/sec: \d+\.\d{2}", total)
    # cut -d: -f2 and "the text after the last colon" both give the number.
    assert float(total.split(":")[1]) == float(total.rsplit(":", 1)[-1])
    return float(total.split(":")[1]), lines[i + 3:]


def _no_keyed_lines(extra):
    """The harness's own lines match none of tf_cnn_benchmarks' formats."""
    for line in extra:
        assert "images/sec" not in line and "Accuracy @" not in line, line
        assert not re.match(r"\d+\t", line), line


def test_training_in_tf_cnn_benchmarks_formats():
    lines, final = _console(tiny_config(num_batches=5, num_warmup_batches=2,
                                        display_every=2))
    _check_header(lines)
    rows = _table(lines, "Step\tImg/sec\ttotal_loss")
    # Rows at the first timed step and every --display_every.
    assert [int(r.split("\t")[0]) for r in rows] == [1, 2, 4]
    for row in rows:
        assert re.fullmatch(ROW, row), row
        assert len(row.split()) == 9
    total, extra = _closing(lines)
    assert total == pytest.approx(final["train.total_ips"], abs=0.006)
    _no_keyed_lines(extra)
    assert all(len(line) <= 200 for line in lines)
    assert not any(" - PARAMETER " in line for line in lines)


def test_training_accuracy_columns():
    lines, _ = _console(tiny_config(num_batches=2, print_training_accuracy=True))
    rows = _table(lines, "Step\tImg/sec\ttotal_loss\ttop_1_accuracy\t"
                         "top_5_accuracy")
    for row in rows:
        assert re.fullmatch(ROW + ACCURACY, row), row
        assert len(row.split()) == 11


def test_forward_only_in_tf_cnn_benchmarks_formats():
    lines, _ = _console(tiny_config(num_batches=2, forward_only=True))
    _check_header(lines)
    assert "Mode:        forward only" in lines
    rows = _table(lines, "Step\tImg/sec\ttotal_loss\ttop_1_accuracy\t"
                         "top_5_accuracy")
    assert rows and all(len(r.split()) == 11 for r in rows)
    _, extra = _closing(lines)
    _no_keyed_lines(extra)


def _with_data(config, data_dir, **sections):
    return config.replace(data=cfg.DataConfig(batch_size=4, data_dir=data_dir,
                                              crop_area_range=(0.5, 1.0)),
                          **sections)


ACCURACY_LINE = (r"Accuracy @ 1 = \d\.\d{4} Accuracy @ 5 = \d\.\d{4} "
                 r"\[\d+ examples\]")


def test_evaluation_in_tf_cnn_benchmarks_formats(tmp_path, demo_shards):
    train_dir = str(tmp_path / "train")
    training = _with_data(
        tiny_config(num_batches=2, display_every=1), demo_shards,
        eval=cfg.EvalConfig(at_steps=(2,)),
        checkpoint=cfg.CheckpointConfig(train_dir=train_dir))
    lines, _ = _console(training)
    assert "Mode:        training + evaluation" in lines
    i = lines.index("Running evaluation at global_step 2")
    assert re.fullmatch(ACCURACY_LINE, lines[i + 1])
    assert len(lines[i + 1].split()) == 12  # as tf_cnn_benchmarks' test util
    assert "Resuming training" in lines[i + 2:]
    # The last step's evaluation comes after the run's figures, as in
    # tf_cnn_benchmarks.
    _, after = _closing(lines)
    i = after.index("Running final evaluation at global_step 3")
    assert re.fullmatch(ACCURACY_LINE, after[i + 1])
    evaluation = _with_data(tiny_config(), demo_shards,
                            eval=cfg.EvalConfig(eval=True),
                            checkpoint=cfg.CheckpointConfig(train_dir=train_dir))
    lines, final = _console(evaluation)
    _check_header(lines)
    assert "Mode:        evaluation" in lines
    accuracy = [line for line in lines if line.startswith("Accuracy @")]
    assert len(accuracy) == 1 and re.fullmatch(ACCURACY_LINE, accuracy[0])
    assert accuracy[0].endswith(f"[{final['eval.examples']} examples]")
    i = lines.index(accuracy[0])
    assert lines[i + 1] == RULE and lines[i + 3] == RULE
    assert float(lines[i + 2].split(":")[1]) == pytest.approx(
        final["eval.ips"], abs=0.006)
    assert all(len(line) <= 200 for line in lines)


def test_a_tf_cnn_benchmarks_command_line_runs_under_its_program_name(tmp_path):
    """tf_cnn_benchmarks.py's path, its flags (one that has no effect, its
    parameter-server default spelled out), its parsers."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    log = tmp_path / "log.json"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "tf_cnn_benchmarks.py"),
         "--model=vgg11", "--image_size=32", "--num_classes=10",
         "--batch_size=2", "--num_batches=2", "--num_warmup_batches=1",
         "--device=cpu", "--data_format=NHWC", "--variable_update="
         "parameter_server", "--local_parameter_device=cpu",
         "--use_tf_layers=True", "--display_every=1", f"--log_path={log}"],
        capture_output=True, text=True, timeout=300, cwd=str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    # stderr: the one note, and none of TensorFlow's start-up noise.
    assert result.stderr.splitlines() == [
        "vggbench: note: --use_tf_layers has no effect: the models are Keras "
        "layers either way (tf_cnn_benchmarks: it changes neither speed nor "
        "accuracy)"]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("TensorFlow:  ")
    assert "Variables:   parameter_server" in lines
    rows = [line for line in lines if "images/sec" in line and "+/-" in line]
    assert [len(r.split()) for r in rows] == [9, 9]
    total = [line for line in lines if line.startswith("total images/sec")]
    assert len(total) == 1 and float(total[0].split(":")[1]) > 0
    assert max(len(line) for line in lines) <= 200
    assert log.read_text().startswith('DLLL {"timestamp"')  # all in JSON
