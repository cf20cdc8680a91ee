"""The built-in writer must produce dllogger's two formats exactly."""

import io
import json
import re
from datetime import datetime

import numpy as np
import pytest

from benchmarks.output import logger as dll

STDOUT_LINE = re.compile(
    r"^DLL (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) - (\S+) (.*)$")


def _builtin(tmp_path):
    stream = io.StringIO()
    log = dll.Logger(str(tmp_path / "log.json"), use_dllogger=False, stream=stream)
    return log, stream


def test_json_lines_have_dllogger_fields(tmp_path):
    log, _ = _builtin(tmp_path)
    log.metadata("train.total_ips", {"unit": "img/s", "format": ":.2f"})
    log.log("PARAMETER", {"model.name": "vgg16", "replicas": np.int64(2)})
    log.log(7, {"train.loss": np.float32(2.5)}, verbosity=dll.VERBOSE)
    log.log([], {"train.total_ips": 123.456})
    log.close()
    lines = (tmp_path / "log.json").read_text().splitlines()
    assert all(line.startswith("DLLL {") for line in lines)
    entries = [json.loads(line[len("DLLL "):]) for line in lines]
    meta, param, step, final = entries
    assert meta["type"] == "METADATA" and meta["metric"] == "train.total_ips"
    assert meta["metadata"] == {"unit": "img/s", "format": ":.2f"}
    for e in (param, step, final):
        assert e["type"] == "LOG"
        assert set(e) == {"timestamp", "datetime", "elapsedtime", "type",
                          "step", "data"}
        float(e["timestamp"]), float(e["elapsedtime"])  # strings of numbers
        datetime.fromisoformat(e["datetime"])
    assert param["step"] == "PARAMETER" and param["data"]["replicas"] == 2
    assert step["step"] == 7 and step["data"]["train.loss"] == 2.5
    assert final["step"] == [] and final["data"]["train.total_ips"] == 123.456


def test_stdout_format_and_verbosity(tmp_path):
    log, stream = _builtin(tmp_path)
    log.metadata("train.total_ips", {"unit": "img/s", "format": ":.2f"})
    log.metadata("train.loss", {"unit": ""})
    log.log(3, {"train.loss": 1.0}, verbosity=dll.VERBOSE)  # JSON only
    log.log([], {"train.total_ips": 123.456, "train.loss": 0.5})
    log.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    match = STDOUT_LINE.match(lines[0])
    assert match, lines[0]
    assert match.group(2) == "[]"
    assert match.group(3) == "train.total_ips : 123.46 img/s train.loss : 0.5 "


def test_non_finite_values_stay_valid_json(tmp_path):
    log, _ = _builtin(tmp_path)
    log.log([], {"train.loss": float("nan")})
    log.close()
    entry = json.loads((tmp_path / "log.json").read_text()[len("DLLL "):])
    assert entry["data"]["train.loss"] == "nan"


def test_metadata_covers_summary_metrics():
    meta = dll.metric_metadata(("train",))
    for name in ("total_ips", "ips_per_replica", "ms_per_step",
                 "step_time_p50_ms", "step_time_p90_ms", "step_time_p99_ms",
                 "compile_time_s", "tflops", "loss"):
        assert f"train.{name}" in meta and "unit" in meta[f"train.{name}"]


def test_uses_dllogger_when_importable(tmp_path):
    dllogger = pytest.importorskip("dllogger")
    log = dll.Logger(str(tmp_path / "a.json"))
    assert log.backend_name == "dllogger"
    log.log([], {"train.loss": 1.0})
    log.close()
    builtin, _ = _builtin(tmp_path)
    builtin.log([], {"train.loss": 1.0})
    builtin.close()
    ours = json.loads((tmp_path / "log.json").read_text()[5:])
    theirs = json.loads((tmp_path / "a.json").read_text()[5:])
    assert list(ours) == list(theirs)
    assert dllogger is not None


def test_log_directory_is_created_and_bad_paths_are_usage_errors(tmp_path):
    from benchmarks.errors import UsageError
    path = tmp_path / "new" / "dir" / "log.json"
    log = dll.Logger(str(path), use_dllogger=False, stream=io.StringIO())
    log.log([], {"train.loss": 1.0})
    log.close()
    assert path.read_text().startswith("DLLL ")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="--log_path"):
        dll.Logger(str(tmp_path / "file" / "log.json"), use_dllogger=False)


def test_datetime_carries_the_utc_offset_as_dllogger_writes_it(tmp_path):
    log, _ = _builtin(tmp_path)
    log.metadata("train.loss", {"unit": ""})
    log.log([], {"train.loss": 1.0})
    log.close()
    for line in (tmp_path / "log.json").read_text().splitlines():
        stamp = json.loads(line[len("DLLL "):])["datetime"]
        # dllogger 1.1.0: str(datetime.astimezone()), e.g.
        # "2026-11-23 19:45:03.967759+00:00"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d",
                            stamp), stamp


def test_long_entries_are_cut_into_short_stdout_lines(tmp_path):
    log, stream = _builtin(tmp_path)
    data = {f"train.metric_{i:02d}": 1000.0 + i for i in range(40)}
    for metric in data:
        log.metadata(metric, {"unit": "img/s", "format": ":.2f"})
    log.log([], data)
    log.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) > 1
    shown = {}
    for line in lines:
        assert len(line) <= dll.STDOUT_LINE_LIMIT
        match = STDOUT_LINE.match(line)
        assert match and match.group(2) == "[]", line
        for name, value in re.findall(r"(train\.metric_\d+) : ([\d.]+) img/s",
                                      line):
            shown[name] = float(value)
    assert shown == data  # every metric once, in the entry's order
    # The JSON log keeps the entry whole.
    entries = [json.loads(l[5:]) for l in
               (tmp_path / "log.json").read_text().splitlines()]
    assert [e["data"] for e in entries if e.get("step") == []] == [data]


def test_the_parameter_entry_goes_to_stdout_only_when_asked(tmp_path):
    for asked in (False, True):
        stream = io.StringIO()
        log = dll.Logger(str(tmp_path / f"{asked}.json"), use_dllogger=False,
                         stream=stream, parameters_to_stdout=asked)
        log.log("PARAMETER", {"model.name": "vgg16"})
        log.close()
        assert (" - PARAMETER model.name : vgg16" in stream.getvalue()) == asked
        assert "PARAMETER" in (tmp_path / f"{asked}.json").read_text()
