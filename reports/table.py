"""One table row per run, scaling against the smallest run, and the three
output formats (Markdown, CSV, JSON).

Values are the logs' own figures: img/s, ms/step, TFLOP/s and compile time
from the final summary, accuracy from the last evaluation (as a percentage,
the way results are published), epochs from the last entry that has them.  A
run with no summary gets its speed from its last progress entry and says so
in ``status``.
"""

import csv
import io
import json
import math
import os
from dataclasses import dataclass

from reports.logs import is_number, last_value

@dataclass(frozen=True)
class Column:
    key: str        # the CSV header and JSON key
    title: str      # the Markdown header
    fmt: str = ""   # Markdown format of a number


COLUMNS = (
    Column("run", "run"),
    Column("mode", "mode"),
    Column("model", "model"),
    Column("precision", "precision"),
    Column("replicas", "replicas"),
    Column("workers", "workers"),
    Column("batch_per_replica", "batch/replica"),
    Column("global_batch", "global batch"),
    Column("image_size", "image"),
    Column("compile_s", "compile s", "{:.2f}"),
    Column("ms_per_step", "ms/step", "{:.1f}"),
    Column("total_ips", "img/s", "{:.2f}"),
    Column("ips_per_replica", "img/s/replica", "{:.2f}"),
    Column("tflops", "TFLOP/s", "{:.4f}"),
    Column("acc1_pct", "acc@1", "{:.2f}"),
    Column("acc5_pct", "acc@5", "{:.2f}"),
    Column("epochs", "epochs", "{:.2f}"),
    Column("speedup", "speed-up", "{:.2f}x"),
    Column("scaling_efficiency_pct", "scaling eff. %", "{:.1f}"),
    Column("status", "status"),
)


def _pct(value):
    return 100.0 * value if is_number(value) else None


def run_row(log, label=None):
    """The table row of one RunLog: {column key: value or None}; the run is
    named ``label``, by default its file name without the extension."""
    p, prefix = log.parameters, log.prefix
    replicas = p.get("replicas") or last_value(log, f"{prefix}.replicas")
    global_batch = p.get("global_batch") or last_value(
        log, f"{prefix}.global_batch")
    batch = p.get("data.batch_size")
    if prefix == "eval":
        batch = p.get("eval.batch_size") or batch
        global_batch = batch * replicas if batch and replicas else None
    row = {
        "run": label or os.path.splitext(os.path.basename(log.path))[0],
        "mode": prefix, "model": p.get("model.name"),
        "precision": p.get("model.precision"), "replicas": replicas,
        "workers": p.get("workers", 1) if p else None,
        "batch_per_replica": batch, "global_batch": global_batch,
        "image_size": p.get("model.image_size"),
        "acc1_pct": _pct(last_value(log, "eval.top1")),
        "acc5_pct": _pct(last_value(log, "eval.top5")),
        "epochs": last_value(log, "train.epoch"),
        "speedup": None, "scaling_efficiency_pct": None,
    }
    if prefix == "eval":
        row.update(total_ips=last_value(log, "eval.ips"), compile_s=None,
                   ms_per_step=None, tflops=None)
    elif log.summary is not None:
        row.update({
            "compile_s": log.summary.get(f"{prefix}.compile_time_s"),
            "ms_per_step": log.summary.get(f"{prefix}.ms_per_step"),
            "total_ips": log.summary.get(f"{prefix}.total_ips"),
            "tflops": log.summary.get(f"{prefix}.tflops")})
    else:
        row.update(_from_progress(log, prefix, global_batch))
    ips = row["total_ips"]
    row["ips_per_replica"] = (
        log.summary.get(f"{prefix}.ips_per_replica") if log.summary
        and f"{prefix}.ips_per_replica" in log.summary
        else ips / replicas if is_number(ips) and replicas else None)
    row["status"] = "; ".join(log.problems) if log.problems else "ok"
    return row


def _from_progress(log, prefix, global_batch):
    """Speed of an unfinished run: its last progress entry's img/s (global
    batch / mean timed step so far), and what follows from it."""
    series = log.series(f"{prefix}.ips")
    out = {"compile_s": None, "ms_per_step": None, "total_ips": None,
           "tflops": None}
    if not series or not is_number(series[-1][1]) or series[-1][1] <= 0:
        return out
    ips = series[-1][1]
    out["total_ips"] = ips
    if global_batch:
        out["ms_per_step"] = 1e3 * global_batch / ips
    # FLOPs per image of the run's mode, as the runner counted them.
    flops = log.parameters.get("model.flops_per_image")
    multiplier = log.parameters.get("model.flops_multiplier")
    if is_number(flops) and is_number(multiplier):
        out["tflops"] = ips * flops * multiplier / 1e12
    return out


def scaling_key(row):
    """Runs that differ only in replica/worker count scale against each other
    (weak scaling: the per-replica batch is held)."""
    return (row["mode"], row["model"], row["precision"], row["image_size"],
            row["batch_per_replica"])


def add_scaling(rows):
    """Speed-up and scaling efficiency against the run with the fewest
    replicas of the same key, for keys with more than one replica count.

    speed-up = img/s / img/s(base); efficiency = speed-up / (replicas /
    replicas(base)).  ``replicas`` is the global count (all workers)."""
    groups = {}
    for row in rows:
        if is_number(row["total_ips"]) and row["replicas"]:
            groups.setdefault(scaling_key(row), []).append(row)
    for group in groups.values():
        if len({r["replicas"] for r in group}) < 2:
            continue
        base = min(group, key=lambda r: r["replicas"])
        for row in group:
            speedup = row["total_ips"] / base["total_ips"]
            row["speedup"] = speedup
            row["scaling_efficiency_pct"] = (
                100.0 * speedup / (row["replicas"] / base["replicas"]))
    return rows


def _shown(column, value):
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if column.fmt and is_number(value):
        return column.fmt.format(value)
    return str(value)


def to_markdown(rows):
    head = "| " + " | ".join(c.title for c in COLUMNS) + " |"
    rule = "|" + "|".join("---" if c.fmt == "" else "---:"
                          for c in COLUMNS) + "|"
    body = ["| " + " | ".join(_shown(c, r[c.key]).replace("|", "/")
                              for c in COLUMNS) + " |" for r in rows]
    return "\n".join([head, rule] + body) + "\n"


def to_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, [c.key for c in COLUMNS], lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return out.getvalue()


def _json_value(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def to_json(rows):
    return json.dumps([{c.key: _json_value(r[c.key]) for c in COLUMNS}
                       for r in rows], indent=2) + "\n"


FORMATS = {"md": to_markdown, "csv": to_csv, "json": to_json}
