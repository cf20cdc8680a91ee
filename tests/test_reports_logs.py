"""reports.logs: reading JSON and stdout logs back, and what it says about
logs it cannot read whole."""

import json

import pytest

from reports.logs import NotALog, RunLog, last_value, read_log


def _dlll(step, data, kind="LOG"):
    return "DLLL " + json.dumps({"timestamp": "1", "datetime": "d",
                                 "elapsedtime": "0", "type": kind,
                                 "step": step, "data": data}) + "\n"


PARAMS = {"model.name": "vgg16", "model.precision": "bf16", "replicas": 2,
          "global_batch": 64, "data.batch_size": 32, "model.image_size": 224,
          "model.flops_per_image": 30.94e9, "model.flops_multiplier": 3,
          "loop.forward_only": False,
          "warmup_steps": 3, "train.start_step": 0}


def write_json_log(path, params=PARAMS, progress=(), evals=(), summary=None,
                   tail=""):
    with open(path, "w") as f:
        f.write(_dlll("PARAMETER", params))
        for step, ips, loss in progress:
            f.write(_dlll(step, {"train.ips": ips, "train.loss": loss,
                                 "train.learning_rate": 0.1}))
        for step, epoch, top1, top5 in evals:
            f.write(_dlll(step, {"eval.top1": top1, "eval.top5": top5,
                                 "train.epoch": epoch}))
        if summary is not None:
            f.write(_dlll([], summary))
        f.write(tail)
    return str(path)


def test_json_log_entries_parameters_and_summary(tmp_path):
    path = write_json_log(tmp_path / "a.json", progress=[(5, 10.0, 2.5),
                                                         (7, 11.0, "nan")],
                          evals=[(7, 1.0, 0.25, 0.5)],
                          summary={"train.total_ips": 12.5})
    log = read_log(path)
    assert log.source == "json" and log.problems == []
    assert log.parameters["model.name"] == "vgg16"
    assert log.series("train.ips") == [(5, 10.0), (7, 11.0)]
    loss = log.series("train.loss")
    assert loss[0] == (5, 2.5) and loss[1][1] != loss[1][1]  # "nan" -> NaN
    assert log.evaluations() == [(7, {"eval.top1": 0.25, "eval.top5": 0.5,
                                      "train.epoch": 1.0})]
    assert last_value(log, "train.total_ips") == 12.5
    assert last_value(log, "eval.top1") == 0.25  # not in the summary
    assert last_value(log, "eval.missing") is None


def test_a_log_cut_off_mid_line_is_read_up_to_the_cut(tmp_path):
    path = write_json_log(tmp_path / "cut.json", progress=[(5, 10.0, 2.5)],
                          tail='DLLL {"timestamp": "1", "type": "LO')
    log = read_log(path)
    assert log.series("train.ips") == [(5, 10.0)]
    assert any("line 3 is cut off mid-line" in p for p in log.problems)
    assert any("no final summary" in p for p in log.problems)


def test_a_bad_line_inside_a_log_is_skipped_and_named(tmp_path):
    path = write_json_log(tmp_path / "bad.json", progress=[(5, 10.0, 2.5)],
                          summary={"train.total_ips": 1.0})
    lines = open(path).readlines()
    lines.insert(1, "DLLL {not json}\n")
    open(path, "w").writelines(lines)
    log = read_log(path)
    assert log.problems == ["line 2 is not valid JSON; skipped it"]
    assert log.summary == {"train.total_ips": 1.0}


@pytest.mark.parametrize("content", [b"hello\nworld\n", b"\x00\xff\xfe" * 100,
                                     b"", b'{"step": 1}\n'])
def test_a_file_that_is_not_a_dllogger_log_raises_not_a_log(tmp_path, content):
    path = tmp_path / "x.log"
    path.write_bytes(content)
    with pytest.raises(NotALog, match="not a dllogger log"):
        read_log(str(path))


def test_a_missing_file_raises_not_a_log(tmp_path):
    with pytest.raises(NotALog, match="cannot be read"):
        read_log(str(tmp_path / "nope.json"))


STDOUT = """\
2026-11-22 10:00:00.0 I tensorflow noise
DLL 2026-11-22 10:34:08.220167 - PARAMETER model.name : vgg11_bn  model.image_size : 32  loop.forward_only : False  env.devices : ['/cpu:0']  data : demo_data (train, 8 shards)  replicas : 1  global_batch : 8  warmup_steps : 2  train.start_step : 10  train.lr_schedule : StepSchedule(kind='constant', init=0.005)
Timed step\tImg/sec (global)\ttotal_loss\tlr\ttop_1 (mean since last line)
2\timages/sec: 18.7 +/- 0.6 (jitter = 1.3)\t3.074\t0.005\t0.125
DLL 2026-11-22 10:34:13.139250 - 14 eval.top1 : 0.2500  eval.top5 : 0.7500  eval.ips : 212.02 img/s eval.examples : 16 images train.epoch : 0.01 epochs
Eval at step 14 (epoch 0.01): top-1 0.2500 ...
4\timages/sec: 19.0 +/- 0.4 (jitter = 1.2)\tnan\t0.005\t0.250
DLL 2026-11-22 10:34:15.188100 - [] train.total_ips : 19.38 img/s train.ms_per_step : 412.8 ms train.replicas : 1  train.loss : 2.9708  train.stopped_at_target : False  train.input_wait_pct : 2.0 %
"""


def test_stdout_log_reads_the_dll_lines_and_the_progress_table(tmp_path):
    path = tmp_path / "run.log"
    path.write_text(STDOUT)
    log = read_log(str(path))
    assert log.source == "stdout" and log.problems == []
    p = log.parameters
    assert p["model.name"] == "vgg11_bn" and p["model.image_size"] == 32
    assert p["loop.forward_only"] is False and p["env.devices"] == ["/cpu:0"]
    assert p["data"] == "demo_data (train, 8 shards)"
    assert p["train.lr_schedule"] == "StepSchedule(kind='constant', init=0.005)"
    # Timed step k is logged at start (10) + warmup (2) + k, as in JSON.
    assert log.series("train.ips") == [(14, 18.7), (16, 19.0)]
    assert log.series("train.top1") == [(14, 0.125), (16, 0.25)]
    assert log.series("train.learning_rate") == [(14, 0.005), (16, 0.005)]
    assert log.series("train.loss")[1][1] != log.series("train.loss")[1][1]
    # the file's order: progress at 14, then the evaluation at 14, then 16
    assert [sorted(d)[0] for _, d in log.entries] == [
        "train.ips", "eval.examples", "train.ips"]
    assert log.evaluations()[0][1] == {"eval.top1": 0.25, "eval.top5": 0.75,
                                       "eval.ips": 212.02, "eval.examples": 16,
                                       "train.epoch": 0.01}
    assert log.summary == {"train.total_ips": 19.38, "train.ms_per_step": 412.8,
                           "train.replicas": 1, "train.loss": 2.9708,
                           "train.stopped_at_target": False,
                           "train.input_wait_pct": 2.0}


def test_stdout_log_cut_off_mid_line(tmp_path):
    path = tmp_path / "run.log"
    path.write_text(STDOUT.rsplit("DLL", 1)[0] + "DLL 2026-11-22 10:34:15.1 - [] train.tot")
    log = read_log(str(path))
    assert log.summary is None
    assert log.problems[0].startswith("line 8 is cut off mid-line")
    assert "no final summary" in log.problems[1]
    assert log.series("train.ips")[-1] == (16, 19.0)


def test_the_mode_comes_from_the_parameter_entry_then_the_flags():
    assert RunLog("a", "json", parameters={"mode": "infer"}).prefix == "infer"
    assert RunLog("a", "json", parameters={"mode": "eval",
                                   "loop.forward_only": True}).prefix == "eval"
    # Older logs: the flags say it.
    assert RunLog("a", "json", parameters={"loop.forward_only": True}).prefix == "infer"
    assert RunLog("a", "json", parameters={}).prefix == "train"
