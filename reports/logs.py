"""Reading a run's log back: dllogger JSON lines, or the stdout the run
scripts tee to a file.

Both formats give the same RunLog: the PARAMETER entry, every entry logged at
a training step (progress, evaluations, epoch ends) and the final summary
(step []).  What cannot be read is reported in ``RunLog.problems`` (a log cut
off mid-line, a log with no summary) or, for a file that is not a dllogger log
at all, by NotALog; the caller decides what to print.
"""

import ast
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Optional

# Units the stdout backend writes after a value (benchmarks/logger.py).
_UNITS = ("img/s", "TFLOP/s", "images", "records", "epochs", "steps", "ms",
          "s", "%")
_STDOUT_ENTRY = re.compile(
    r"^DLL (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) - (\S+) ?(.*)$")
_METRIC_NAME = re.compile(r"(?:^|(?<=\s))([A-Za-z_][\w.\-]*) : ")
# The console's progress table (benchmarks/output/console.py, as
# tf_cnn_benchmarks prints it; "Timed step" headed it before): timed step,
# images/sec with +/- and jitter, loss, then the columns its header names.
_PROGRESS = re.compile(
    r"^(\d+)\timages/sec: (\S+) \+/- (\S+) \(jitter = (\S+)\)\t(\S+)(.*)$")
_PROGRESS_HEADERS = ("Step\tImg/sec\t", "Timed step\t")
_EXTRA_COLUMNS = {"lr": "learning_rate", "top_1": "top1",
                  "top_1_accuracy": "top1", "top_5_accuracy": "top5"}
# The console's header (the PARAMETER entry is not on stdout): what each
# line gives, as (pattern, {group: parameter}) with converters.
_MODES = {"training": {}, "training + evaluation": {},
          "forward only": {"loop.forward_only": True},
          "input only": {"loop.input_only": True},
          "evaluation": {"eval.eval": True}}
_HEADER = (
    (re.compile(r"^Model:\s+(\S+)$"), (("model.name", str),)),
    (re.compile(r"^Batch size:\s+(\d+) global$"), (("global_batch", int),)),
    (re.compile(r"^\s+(\d+) per device$"), (("data.batch_size", int),)),
    (re.compile(r"^Precision:\s+(\S+)$"), (("model.precision", str),)),
    (re.compile(r"^Image size:\s+(\d+) \((\d+) classes\), ([\d,]+) params, "
                r"([\d.]+) GFLOPs/image forward \(x(\d+) "),
     (("model.image_size", int), ("model.num_classes", int),
      ("model.params", lambda v: int(v.replace(",", ""))),
      ("model.flops_per_image", lambda v: float(v) * 1e9),
      ("model.flops_multiplier", int))),
    (re.compile(r"^Replicas:\s+(\d+) \((\d+) worker"),
     (("replicas", int), ("workers", int))),
    (re.compile(r"^Warmup:\s+(\d+) steps"), (("warmup_steps", int),)),
    (re.compile(r"^Resuming from .*: step (\d+) of"),
     (("train.start_step", int),)),
)


class NotALog(ValueError):
    """The file holds no dllogger entries (the message says which file)."""


@dataclass
class RunLog:
    path: str
    source: str                      # "json" or "stdout"
    parameters: dict = field(default_factory=dict)
    entries: list = field(default_factory=list)   # [(step:int, data:dict)]
    summary: Optional[dict] = None
    problems: list = field(default_factory=list)  # one line each

    @property
    def prefix(self):
        """The summary's metric prefix: train, infer, input or eval."""
        p = self.parameters
        if "mode" in p:
            return p["mode"]
        # Logs written before the PARAMETER entry named the mode, and
        # console logs, say it through the flags.
        if p.get("eval.eval"):
            return "eval"
        if p.get("loop.input_only"):
            return "input"
        if p.get("loop.forward_only"):
            return "infer"
        return "train"

    def series(self, metric):
        """[(step, value)] of ``metric`` over the step entries, in order."""
        return [(step, data[metric]) for step, data in self.entries
                if metric in data]

    def evaluations(self):
        """The evaluation entries during training: [(step, data)]."""
        return [(step, data) for step, data in self.entries
                if "eval.top1" in data]


def _number(value):
    """JSON NaN/Inf arrive as strings ("nan"); everything else unchanged."""
    if isinstance(value, str) and value.lower() in ("nan", "inf", "-inf"):
        return float(value)
    return value


def _add(log, step, data):
    data = {k: _number(v) for k, v in data.items()}
    if step == "PARAMETER":
        log.parameters.update(data)
    elif step == [] or step == ():
        log.summary = {**(log.summary or {}), **data}
    elif isinstance(step, int):
        log.entries.append((step, data))
    # other steps (dllogger tuples from other tools) carry nothing we report


def _read_lines(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise NotALog(f"cannot be read ({e.strerror})") from None
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    cut = lines[-1] != ""  # the writers end every line with a newline
    if not cut:
        lines.pop()
    return lines, cut


def log_files(paths):
    """[(path, named)] to read for the paths a user gave: a folder stands for
    the files in it, sorted (sub-folders and hidden files left out); named is
    False for those, so a stray file there is skipped without failing."""
    out = []
    for path in paths:
        if not os.path.isdir(path):
            out.append((path, True))
            continue
        for name in sorted(os.listdir(path)):
            inside = os.path.join(path, name)
            if not name.startswith(".") and os.path.isfile(inside):
                out.append((inside, False))
    return out


def read_log(path):
    """Reads a dllogger JSON log or a teed stdout log into a RunLog.

    Raises NotALog when the file has no dllogger entries."""
    lines, cut = _read_lines(path)
    if any(line.startswith("DLLL ") for line in lines):
        log = _read_json(path, lines, cut)
    elif any(_STDOUT_ENTRY.match(line) or line.startswith("Model:       ")
             for line in lines):
        log = _read_stdout(path, lines, cut)
    else:
        raise NotALog("not a dllogger log: no 'DLLL {json}' or "
                      "'DLL <time> - <step> ...' lines")
    if not log.parameters:
        log.problems.append("no PARAMETER entry or console header: model and "
                            "devices unknown")
    if log.summary is None:
        log.problems.append("no final summary (the run did not finish); "
                            "figures come from its last progress entry")
    return log


def _read_json(path, lines, cut):
    log = RunLog(path, "json")
    for number, line in enumerate(lines, 1):
        if not line.startswith("DLLL "):
            continue
        try:
            entry = json.loads(line[5:])
        except json.JSONDecodeError:
            last = number == len(lines)
            log.problems.append(
                f"line {number} is cut off mid-line (the run was killed?); "
                "read what came before it" if last and cut else
                f"line {number} is not valid JSON; skipped it")
            continue
        if entry.get("type") == "LOG":
            _add(log, entry.get("step"), entry.get("data") or {})
    return log


def _value(text):
    """A stdout value back into a number, bool, list or string."""
    text = text.strip()
    for unit in _UNITS:
        if text.endswith(" " + unit):
            text = text[:-len(unit) - 1]
            break
    if text in ("nan", "inf", "-inf"):
        return float(text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _metrics(text):
    """``a : 1 img/s b : x`` -> {"a": 1, "b": "x"}."""
    names = list(_METRIC_NAME.finditer(text))
    out = {}
    for i, m in enumerate(names):
        end = names[i + 1].start() if i + 1 < len(names) else len(text)
        out[m.group(1)] = _value(text[m.end():end])
    return out


def _step(text):
    if text == "[]":
        return []
    if text.isdigit():
        return int(text)
    return text


def _read_stdout(path, lines, cut):
    log = RunLog(path, "stdout")
    columns, loss = [], "loss"
    last_dll = None  # (datetime, step): long entries come in several lines
    for number, line in enumerate(lines, 1):
        if cut and number == len(lines):
            log.problems.append(f"line {number} is cut off mid-line (the run "
                                "was killed?); read what came before it")
            break
        if line.startswith(_PROGRESS_HEADERS):
            heads = line.split("\t")
            loss = "base_loss" if heads[2] == "base_loss" else "loss"
            columns = [_EXTRA_COLUMNS.get(c.split(" ")[0]) for c in heads[3:]]
            continue
        m = _STDOUT_ENTRY.match(line)
        if m:
            step = _step(m.group(2))
            if (m.group(1), m.group(2)) == last_dll and isinstance(step, int):
                log.entries[-1][1].update(_metrics(m.group(3)))
            else:
                _add(log, step, _metrics(m.group(3)))
            last_dll = (m.group(1), m.group(2))
            continue
        m = _PROGRESS.match(line)
        if m:
            log.entries.append(_progress_entry(log, m, columns, loss))
        else:
            _header_line(log, line)
    return log


def _header_line(log, line):
    """The console header's figures, into the log's parameters."""
    if line.startswith("Mode:        ") and line[13:] in _MODES:
        log.parameters.update(_MODES[line[13:]])
        return
    for pattern, fields in _HEADER:
        m = pattern.match(line)
        if m:
            for (name, convert), text in zip(fields, m.groups()):
                log.parameters[name] = convert(text)
            return


def _progress_entry(log, m, columns, loss="loss"):
    """A console progress row as the step entry the JSON log has.  The header
    comes before the table, so the prefix and the first timed step (start +
    warmup) are known by the time a row is read."""
    prefix = log.prefix
    first = (log.parameters.get("train.start_step") or 0) + \
        (log.parameters.get("warmup_steps") or 0)
    data = {f"{prefix}.ips": float(m.group(2)),
            f"{prefix}.ips_uncertainty": float(m.group(3)),
            f"{prefix}.ips_jitter": float(m.group(4)),
            f"{prefix}.{loss}": float(m.group(5))}
    for name, text in zip(columns, m.group(6).split("\t")[1:]):
        if name:
            data[f"{prefix}.{name}"] = float(text)
    return first + int(m.group(1)), data


def last_value(log, metric):
    """``metric`` from the summary, else its last step entry; None if never
    logged.  NaN counts as logged."""
    if log.summary and metric in log.summary:
        return log.summary[metric]
    values = log.series(metric)
    return values[-1][1] if values else None


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and not (isinstance(value, float) and math.isnan(value))
