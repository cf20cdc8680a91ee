"""Human-readable console lines, in tf_cnn_benchmarks' layout.

The same figures go to the dllogger log; this is only their presentation.
"""

import sys

RULE = "-" * 64


def _out(stream):
    return stream or sys.stdout


def print_header(info, stream=None):
    w = _out(stream)
    print(f"Model:       {info['model']}  ({info['params']:,} params, "
          f"{info['gflops']:.2f} GFLOPs/image forward)", file=w)
    print(f"Mode:        {info['mode']}  precision {info['precision']}  "
          f"data {info['data']}", file=w)
    print(f"Devices:     {info['replicas']} x {info['device_kind']} "
          f"({info['device_name']}), {info['strategy']}, all-reduce "
          f"{info['all_reduce']}", file=w)
    print(f"Batch size:  {info['global_batch']} global, {info['batch_size']} "
          "per replica", file=w)
    print(f"Steps:       {info['warmup']} warmup (first one compiles), "
          f"{info['timed']} timed, {info['steps_per_loop']} per loop call",
          file=w)
    print(RULE, file=w)
    columns = "Timed step\tImg/sec (global)\ttotal_loss"
    if info.get("with_lr"):
        columns += "\tlr"
    if info.get("with_accuracy"):
        columns += "\ttop_1 (mean since last line)"
    print(columns, file=w, flush=True)


def print_progress(timed_step, ips, uncertainty, jitter, loss, lr=None,
                   top1=None, stream=None):
    line = (f"{timed_step}\timages/sec: {ips:.1f} +/- {uncertainty:.1f} "
            f"(jitter = {jitter:.1f})\t{loss:.3f}")
    if lr is not None:
        line += f"\t{lr:.6g}"
    if top1 is not None:
        line += f"\t{top1:.3f}"
    print(line, file=_out(stream), flush=True)


def print_summary(s, stream=None, skipped=None):
    """``s``: the meter's summary dict plus "loss"; ``skipped``: records that
    did not decode (real data only)."""
    w = _out(stream)
    print(RULE, file=w)
    print(f"total images/sec: {s['total_ips']:.2f}  (global: {s['replicas']} "
          f"replica(s) x batch {s['global_batch'] // s['replicas']})", file=w)
    print(f"images/sec per replica: {s['ips_per_replica']:.2f}", file=w)
    if s.get("worker_ips"):
        print("images/sec per worker (its share of each global batch over its "
              "own timed time): " + ", ".join(
                  f"worker {i} {ips:.2f}" for i, ips in enumerate(s["worker_ips"])),
              file=w)
    print(f"ms/step: mean {s['ms_per_step']:.1f}  p50 {s['step_time_p50_ms']:.1f}"
          f"  p90 {s['step_time_p90_ms']:.1f}  p99 {s['step_time_p99_ms']:.1f}",
          file=w)
    print(f"time to first step (trace + compile + 1 step): "
          f"{s['compile_time_s']:.2f} s", file=w)
    print(f"timed: {s['timed_images']} images in {s['timed_steps']} steps, "
          f"{s['timed_seconds']:.2f} s", file=w)
    if s["input_wait_s"] or skipped is not None:
        print(f"waited for input: {s['input_wait_s']:.3f} s "
              f"({s['input_wait_pct']:.1f}% of the timed wall time)", file=w)
    if skipped is not None:
        print(f"records skipped (did not decode): {skipped}", file=w)
    fraction = s.get("peak_fraction")
    of_peak = f"  ({fraction:.2f} of the device peak)" if fraction else ""
    print(f"achieved TFLOP/s: {s['tflops']:.4f}{of_peak}", file=w)
    if s.get("weights_sha256"):
        print(f"weights sha256 (equal on every worker): {s['weights_sha256']}",
              file=w)
    print(f"final loss: {s['loss']:.4f}", file=w)
    print(RULE, file=w, flush=True)


def print_epoch(epoch, step, loss, lr, ips, top1=None, stream=None):
    line = (f"Epoch {epoch} done at step {step}: loss {loss:.4f}  lr {lr:.6g}  "
            f"{ips:.1f} img/s")
    if top1 is not None:
        line += f"  training top-1 {top1:.4f}"
    print(line, file=_out(stream), flush=True)


def print_eval(result, epoch=None, stream=None):
    at = f" at step {result.step}" if result.step else ""
    if epoch is not None:
        at += f" (epoch {epoch:.2f})"
    print(f"Eval{at}: top-1 {result.top1:.4f}  top-5 {result.top5:.4f}  "
          f"loss {result.loss:.4f}  ({result.examples} images, "
          f"{result.ips:.1f} img/s)", file=_out(stream), flush=True)


def print_note(message, stream=None):
    print(message, file=_out(stream), flush=True)
