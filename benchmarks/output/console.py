"""The console, in tf_cnn_benchmarks' formats and order, so that its users'
parsers read it unchanged:

    TensorFlow:  2.21                  the header block, then ==========
    Model:       vgg16
    ...
    Running warm up / Done warm up
    Step	Img/sec	total_loss[	top_1_accuracy	top_5_accuracy]
    1	images/sec: X +/- Y (jitter = Z)	loss[	top1	top5]
    ----------------------------------------------------------------
    total images/sec: X
    ----------------------------------------------------------------

and for evaluations ``Accuracy @ 1 = A Accuracy @ 5 = B [N examples]``.  The
harness's own figures (global and per replica, percentiles, compile time,
TFLOP/s, input wait, ...) are printed on lines of their own that none of
those formats matches (no "images/sec"), after the header block or the
closing dashes.  The same figures go to the dllogger log; this is only
their presentation.
"""

import sys

RULE = "-" * 64
_DIGITS = 3  # tf_cnn_benchmarks' LOSS_AND_ACCURACY_DIGITS_TO_SHOW


def _out(stream):
    return stream or sys.stdout


def _lines(lines, stream, flush=True):
    w = _out(stream)
    for line in lines:
        print(line, file=w)
    if flush:
        w.flush()


def print_header(h, stream=None):
    """``h``: run_setup.header's dict."""
    lines = [f"TensorFlow:  {h['tensorflow']}",
             f"Model:       {h['model']}",
             f"Dataset:     {h['dataset']}",
             f"Mode:        {h['mode']}",
             f"SingleSess:  {h['single_session']}",
             f"Batch size:  {h['global_batch']} global",
             f"             {h['batch_size']} per device",
             f"Num batches: {h['num_batches']}",
             f"Num epochs:  {h['num_epochs']:.2f}",
             f"Devices:     {h['devices']}",
             f"NUMA bind:   {h['numa_bind']}",
             f"Data format: {h['data_format']}"]
    if h.get("rewriter_config"):
        lines.append(f"RewriterConfig: {h['rewriter_config']}")
    lines += [f"Optimizer:   {h['optimizer']}",
              f"Variables:   {h['variable_update']}"]
    if h["variable_update"] in ("replicated", "distributed_all_reduce",
                                "collective_all_reduce"):
        lines.append(f"AllReduce:   {h['all_reduce_spec']}")
    if h.get("job_name"):
        lines.append("Sync:        True")
    lines.append("==========")
    # The harness's own header lines (the report's stdout reader uses them).
    lines += [
        f"Precision:   {h['precision']}",
        f"Image size:  {h['image_size']} ({h['num_classes']} classes), "
        f"{h['params']:,} params, {h['gflops']:.2f} GFLOPs/image forward "
        f"(x{h['flops_multiplier']} per image in this mode)",
        f"Replicas:    {h['replicas']} ({h['workers']} worker"
        f"{'s' if h['workers'] > 1 else ''}), {h['strategy']}, all-reduce "
        f"{h['all_reduce']}",
        f"Device:      {h['device_kind']}: {h['device_name']}",
        f"Data:        {h['data']}",
        f"Warmup:      {h['warmup']} steps (the first traces and compiles), "
        f"then {h['timed']} timed, {h['steps_per_loop']} per loop call"]
    _lines(lines, stream)


def print_warmup_start(stream=None):
    _lines(["Running warm up"], stream)


def print_table_start(with_accuracy, loss_type="total_loss", stream=None):
    """"Done warm up" and the progress table's header."""
    columns = "Step\tImg/sec\t" + loss_type.replace("/", " ")
    if with_accuracy:
        columns += "\ttop_1_accuracy\ttop_5_accuracy"
    _lines(["Done warm up", columns], stream)


def print_progress(timed_step, ips, uncertainty, jitter, loss, top1=None,
                   top5=None, stream=None):
    line = (f"{timed_step}\timages/sec: {ips:.1f} +/- {uncertainty:.1f} "
            f"(jitter = {jitter:.1f})\t{loss:.{_DIGITS}f}")
    if top1 is not None:
        line += f"\t{top1:.{_DIGITS}f}\t{top5:.{_DIGITS}f}"
    _lines([line], stream)


def print_summary(s, stream=None, skipped=None):
    """``s``: the benchmark's summary (results.benchmark_summary);
    ``skipped``: records that did not decode (real data only)."""
    lines = [RULE, f"total images/sec: {s['total_ips']:.2f}", RULE,
             f"img/s: {s['total_ips']:.2f} global ({s['replicas']} replica(s) "
             f"x batch {s['global_batch'] // s['replicas']}), "
             f"{s['ips_per_replica']:.2f} per replica"]
    if s.get("worker_ips"):
        lines.append("img/s per worker (its share of each global batch over "
                     "its own timed time): " + ", ".join(
                         f"worker {i} {ips:.2f}"
                         for i, ips in enumerate(s["worker_ips"])))
    lines += [
        f"ms/step: mean {s['ms_per_step']:.1f}  p50 {s['step_time_p50_ms']:.1f}"
        f"  p90 {s['step_time_p90_ms']:.1f}  p99 {s['step_time_p99_ms']:.1f}",
        f"time to first step (trace + compile + 1 step): "
        f"{s['compile_time_s']:.2f} s",
        f"timed: {s['timed_images']} images in {s['timed_steps']} steps, "
        f"{s['timed_seconds']:.2f} s"]
    if s["input_wait_s"] or skipped is not None:
        lines.append(f"waited for input: {s['input_wait_s']:.3f} s "
                     f"({s['input_wait_pct']:.1f}% of the timed wall time)")
    if skipped is not None:
        lines.append(f"records skipped (did not decode): {skipped}")
    fraction = s.get("peak_fraction")
    of_peak = f"  ({fraction:.2f} of the device peak)" if fraction else ""
    lines.append(f"achieved TFLOP/s: {s['tflops']:.4f}{of_peak}")
    if s.get("hw_peak_fraction") is not None:
        lines.append(f"fraction of the CPU's fp32 peak (its best fp32 "
                     f"matmul): {s['hw_peak_fraction']:.2f}")
    if s.get("weights_sha256"):
        lines.append("weights sha256 (equal on every worker): "
                     f"{s['weights_sha256']}")
    lr = s.get("learning_rate")
    lines.append(f"final loss: {s['loss']:.4f}"
                 + (f"  learning rate {lr:.6g}" if lr is not None else ""))
    _lines(lines, stream)


def print_epoch(epoch, step, loss, lr, ips, top1=None, stream=None):
    line = (f"Epoch {epoch} done at step {step}: loss {loss:.4f}  lr {lr:.6g}  "
            f"{ips:.1f} img/s")
    if top1 is not None:
        line += f"  training top-1 {top1:.4f}"
    _lines([line], stream)


def print_eval_start(step, final=False, stream=None):
    what = "final evaluation" if final else "evaluation"
    _lines([f"Running {what} at global_step {step}"], stream)


def print_eval(result, epoch=None, standalone=False, stream=None):
    """tf_cnn_benchmarks' accuracy line, then the harness's own; a
    standalone --eval adds its total images/sec between dashes."""
    lines = [f"Accuracy @ 1 = {result.top1:.4f} Accuracy @ 5 = "
             f"{result.top5:.4f} [{result.examples} examples]"]
    if standalone:
        lines += [RULE, f"total images/sec: {result.ips:.2f}", RULE]
    at = f" (epoch {epoch:.2f})" if epoch is not None else ""
    lines.append(f"eval at step {result.step}{at}: loss {result.loss:.4f}, "
                 f"{result.ips:.1f} img/s ({result.examples} images in "
                 f"{result.seconds:.2f} s)")
    _lines(lines, stream)


def print_note(message, stream=None):
    _lines([message], stream)
