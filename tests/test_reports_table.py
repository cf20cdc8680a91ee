"""reports.table and reports.report: rows equal the logs' figures (real runs
of the runner and hand-written logs), the scaling arithmetic, the formats,
and the report surviving unreadable files; scripts/report.py end to end."""

import csv
import io
import json
import os
import struct
import subprocess
import sys

import pytest
from conftest import REPO, tiny_config
from test_reports_logs import PARAMS, write_json_log

from benchmarks import config as cfg
from benchmarks import runner
from reports import table
from reports.logs import read_log
from reports.report import make_report


def _row(path):
    return table.run_row(read_log(str(path)))


# --- real runs of the runner --------------------------------------------------

@pytest.fixture(scope="module")
def real_runs(tmp_path_factory, demo_shards):
    """A 1-replica run with evaluations on the demo shards and a 2-replica
    synthetic run; each leaves a JSON log and the stdout it printed."""
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    one = tiny_config(log_path=str(root / "one.json"), num_batches=4,
                      display_every=2).replace(
        data=cfg.DataConfig(batch_size=4, data_dir=demo_shards,
                            crop_area_range=(0.5, 1.0)),
        eval=cfg.EvalConfig(at_steps=(3,)))
    two = tiny_config(replicas=2, log_path=str(root / "two.json"),
                      num_batches=4, display_every=2)
    for name, config in (("one", one), ("two", two)):
        stream = io.StringIO()
        summary = runner.run(config, stream=stream)
        (root / f"{name}.log").write_text(stream.getvalue())
        runs[name] = (root / f"{name}.json", root / f"{name}.log", summary)
    return runs


def test_rows_equal_the_summary_of_real_runs(real_runs):
    for name, replicas in (("one", 1), ("two", 2)):
        json_log, _, summary = real_runs[name]
        row = _row(json_log)
        assert row["status"] == "ok"
        assert (row["model"], row["precision"], row["mode"]) == \
            ("vgg11", "fp32", "train")
        assert row["replicas"] == replicas and row["workers"] == 1
        assert row["batch_per_replica"] == 4
        assert row["global_batch"] == 4 * replicas == summary["train.global_batch"]
        assert row["image_size"] == 32
        for key, metric in (("compile_s", "train.compile_time_s"),
                            ("ms_per_step", "train.ms_per_step"),
                            ("total_ips", "train.total_ips"),
                            ("ips_per_replica", "train.ips_per_replica"),
                            ("tflops", "train.tflops"),
                            ("epochs", "train.epoch")):
            assert row[key] == pytest.approx(summary[metric], rel=1e-12), key
    one = _row(real_runs["one"][0])
    assert one["acc1_pct"] == pytest.approx(100 * real_runs["one"][2]["eval.top1"])
    assert one["acc5_pct"] == pytest.approx(100 * real_runs["one"][2]["eval.top5"])
    assert _row(real_runs["two"][0])["acc1_pct"] is None  # no evaluation


def test_stdout_logs_of_real_runs_give_the_same_rows(real_runs):
    # The stdout backend prints each figure with its METADATA format.
    places = {"compile_s": 2, "ms_per_step": 1, "total_ips": 2,
              "ips_per_replica": 2, "tflops": 4, "acc1_pct": 2, "acc5_pct": 2,
              "epochs": 2}
    for name in ("one", "two"):
        json_log, stdout_log, _ = real_runs[name]
        from_json, from_stdout = _row(json_log), _row(stdout_log)
        for key in [c.key for c in table.COLUMNS]:
            if key == "run":
                continue
            if key in places and from_json[key] is not None:
                scale = 100 if key.startswith("acc") else 1
                assert from_stdout[key] == pytest.approx(
                    from_json[key], abs=0.51 * 10 ** -places[key] * scale), key
            else:
                assert from_stdout[key] == from_json[key], key
        # The progress table lands on the JSON log's steps.
        j, s = read_log(str(json_log)), read_log(str(stdout_log))
        assert [st for st, _ in s.series("train.ips")] == \
            [st for st, _ in j.series("train.ips")]


def test_real_runs_scale_against_the_smaller(real_runs):
    rows = table.add_scaling([_row(real_runs["one"][0]),
                              _row(real_runs["two"][0])])
    # The 1-replica run read real data, the 2-replica one synthetic: both
    # are vgg11 fp32 32px batch 4 per replica, so they form one group.
    base, two = rows
    assert base["speedup"] == pytest.approx(1.0)
    assert two["speedup"] == pytest.approx(two["total_ips"] / base["total_ips"])
    assert two["scaling_efficiency_pct"] == pytest.approx(
        100 * two["speedup"] / 2)


# --- hand-written logs --------------------------------------------------------

def _scaling_log(tmp_path, name, replicas, ips, batch=32, model="vgg16"):
    params = dict(PARAMS, replicas=replicas, global_batch=batch * replicas,
                  **{"data.batch_size": batch, "model.name": model})
    return write_json_log(tmp_path / f"{name}.json", params=params,
                          summary={"train.total_ips": ips,
                                   "train.ms_per_step": 1e3 * batch * replicas / ips})


def test_speedup_and_scaling_efficiency_arithmetic(tmp_path):
    paths = [_scaling_log(tmp_path, "r2", 2, 180.0),
             _scaling_log(tmp_path, "r1", 1, 100.0),
             _scaling_log(tmp_path, "r8", 8, 640.0),
             _scaling_log(tmp_path, "r4", 4, 380.0),
             _scaling_log(tmp_path, "other_batch", 8, 500.0, batch=16),
             _scaling_log(tmp_path, "other_model", 8, 300.0, model="vgg19")]
    text, status = make_report(paths, fmt="json", warn=lambda line: None)
    assert status == 0
    rows = {r["run"]: r for r in json.loads(text)}
    assert rows["r1"]["speedup"] == 1.0
    assert rows["r1"]["scaling_efficiency_pct"] == 100.0
    assert rows["r2"]["speedup"] == pytest.approx(1.8)
    assert rows["r2"]["scaling_efficiency_pct"] == pytest.approx(90.0)
    assert rows["r4"]["speedup"] == pytest.approx(3.8)
    assert rows["r4"]["scaling_efficiency_pct"] == pytest.approx(95.0)
    assert rows["r8"]["speedup"] == pytest.approx(6.4)
    assert rows["r8"]["scaling_efficiency_pct"] == pytest.approx(80.0)
    # Alone in their group (another per-replica batch, another model): none.
    for name in ("other_batch", "other_model"):
        assert rows[name]["speedup"] is None
        assert rows[name]["scaling_efficiency_pct"] is None
    assert rows["r8"]["ips_per_replica"] == pytest.approx(80.0)


def test_scaling_base_need_not_be_one_replica(tmp_path):
    paths = [_scaling_log(tmp_path, "r2", 2, 200.0),
             _scaling_log(tmp_path, "r8", 8, 600.0)]
    rows = {r["run"]: r for r in json.loads(
        make_report(paths, fmt="json", warn=lambda line: None)[0])}
    assert rows["r8"]["speedup"] == pytest.approx(3.0)
    assert rows["r8"]["scaling_efficiency_pct"] == pytest.approx(75.0)


def test_accuracy_and_epochs_come_from_the_last_evaluation(tmp_path):
    path = write_json_log(tmp_path / "acc.json",
                          evals=[(100, 1.0, 0.5, 0.75), (200, 2.0, 0.716, 0.904)],
                          summary={"train.total_ips": 435.9})
    row = _row(path)
    assert row["acc1_pct"] == pytest.approx(71.6)
    assert row["acc5_pct"] == pytest.approx(90.4)
    assert row["epochs"] == 2.0
    assert row["total_ips"] == 435.9


def test_a_run_without_summary_takes_its_speed_from_the_last_progress(tmp_path):
    path = write_json_log(tmp_path / "killed.json",
                          progress=[(5, 10.0, 2.5), (7, 16.0, 2.4)])
    row = _row(path)
    assert row["total_ips"] == 16.0
    assert row["ips_per_replica"] == 8.0
    assert row["ms_per_step"] == pytest.approx(1e3 * 64 / 16.0)
    assert row["tflops"] == pytest.approx(16.0 * 30.94e9 * 3 / 1e12)
    assert row["compile_s"] is None
    assert "no final summary" in row["status"]


def test_markdown_and_csv_show_the_rows(tmp_path):
    path = _scaling_log(tmp_path, "r1", 1, 100.0)
    md, _ = make_report([path], fmt="md", warn=lambda line: None)
    head, rule, body = md.strip().split("\n")
    assert head.startswith("| run | mode | model | precision | replicas |")
    assert body.startswith("| r1 | train | vgg16 | bf16 | 1 | 1 | 32 | 32 | 224 |")
    assert "| 100.00 | 100.00 |" in body and "| 320.0 |" in body
    rows = list(csv.DictReader(io.StringIO(
        make_report([path], fmt="csv", warn=lambda line: None)[0])))
    assert rows[0]["total_ips"] == "100.0" and rows[0]["speedup"] == ""


def test_unreadable_files_are_named_and_the_report_still_comes_out(tmp_path):
    good = _scaling_log(tmp_path, "good", 1, 100.0)
    cut = write_json_log(tmp_path / "cut.json", progress=[(5, 10.0, 2.5)],
                         tail='DLLL {"timest')
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(struct.pack("<100d", *range(100)))
    warnings = []
    text, status = make_report([good, str(garbage), cut,
                                str(tmp_path / "missing.json")],
                               warn=warnings.append)
    assert status == 1
    assert [line.split(": ")[0] for line in warnings] == [
        str(garbage), cut, cut, str(tmp_path / "missing.json")]
    assert "not a dllogger log" in warnings[0]
    assert "cut off mid-line" in warnings[1]
    assert "no final summary" in warnings[2]
    assert "cannot be read" in warnings[3]
    names = [line.split(" | ")[0] for line in text.strip().split("\n")[2:]]
    assert names == ["| good", "| cut"]


def test_report_cli_end_to_end(tmp_path, real_runs):
    garbage = tmp_path / "notes.txt"
    garbage.write_text("just some notes\n")
    plots = tmp_path / "plots"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "report.py"),
         str(real_runs["one"][0]), str(real_runs["two"][1]), str(garbage),
         "--format=csv", f"--plot_dir={plots}", "--overlay"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 1  # a file was skipped
    assert f"report: {garbage}: not a dllogger log" in result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["run"] for r in rows] == ["one", "two"]
    assert float(rows[0]["total_ips"]) == real_runs["one"][2]["train.total_ips"]
    assert sorted(os.listdir(plots)) == ["one.png", "overlay.png", "two.png"]
    out = tmp_path / "table.json"
    to_file = subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", "report.py"),
         str(real_runs["two"][0]), "--format=json", f"--output={out}"],
        capture_output=True, text=True, timeout=120)
    assert to_file.returncode == 0 and to_file.stdout == ""
    assert json.loads(out.read_text())[0]["replicas"] == 2
    empty = subprocess.run([sys.executable,
                            os.path.join(REPO, "scripts", "report.py")],
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "give one or more logs" in empty.stderr
