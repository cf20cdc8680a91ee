"""The whole path learns: the demo dataset made by its script, vgg11_bn at
32x32 trained through the CLI, evaluated on the validation split during
training and stopped by --stop_at_top_1_accuracy.  Slow (minutes): run with
``pytest -m slow``.

Chance is 0.10 (10 classes).  `make demo` (same flags, 180 steps) evaluates
to a top-1 well above 0.5 by the end (see the README); this test stops the
run once an evaluation reaches 0.30, which a pipeline with shuffled labels,
broken preprocessing or a dead optimizer never does."""

import json
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.mark.timeout(1800)
def test_demo_run_learns_and_stops_at_the_target(tmp_path):
    data = tmp_path / "demo"
    subprocess.run([sys.executable, "scripts/make_demo_dataset.py",
                    f"--output_dir={data}"], cwd=REPO, check=True,
                   capture_output=True)
    log = tmp_path / "log.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--model=vgg11_bn",
         f"--data_dir={data}", "--num_classes=10", "--image_size=32",
         "--batch_size=32", "--num_batches=358", "--num_warmup_batches=2",
         "--display_every=20", "--optimizer=momentum",
         "--init_learning_rate=0.01", "--dropout=0", "--crop_area_range=0.6,1",
         "--print_training_accuracy", "--eval_during_training_every_n_steps=45",
         "--stop_at_top_1_accuracy=0.3", f"--train_dir={tmp_path / 'run'}",
         f"--log_path={log}"],
        cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    with open(log) as f:
        entries = [json.loads(line[len("DLLL "):]) for line in f]
    evals = [e["data"] for e in entries if "eval.top1" in e.get("data", {})
             and e.get("step") != []]
    final = [e["data"] for e in entries if e.get("step") == []][-1]
    assert evals[0]["eval.examples"] == 500
    assert final["train.stopped_at_target"] is True
    assert final["eval.top1"] >= 0.3
    assert final["train.step"] < 360  # stopped before the planned end
    assert "Stopping, as eval accuracy at least 0.3 was reached" in run.stdout
