#!/usr/bin/env python3
"""VGG16 img/s: this harness vs keras.applications.VGG16 model.fit / predict.

Cases (--cases): training and forward-only, each in fp32 and bf16 (Keras'
mixed_bfloat16 policy on both sides), 224x224, synthetic data (one fixed
batch), batch 16.  Same network (dropout off, no weight decay, so both do the
same math), SGD with Nesterov momentum.  Each measurement is its own process;
within a case the two alternate (A B A B ...) so machine drift hits both
alike.  Prints every run, then per case the medians, their ratio, each
process's peak RSS and the harness's TFLOP/s (and fraction of the measured
3x3 conv peak with --measure_peak), then bf16/fp32 ratios.

model.fit runs as a user would run it, in TensorFlow's default setup; the
harness sets up oneDNN itself on x86-64 (--onednn=auto).  --keras_onednn adds
a third contender, model.fit with the harness's oneDNN environment, to show
how much of the difference is the setup and how much the code.

--tf_cnn_benchmarks=DIR (its scripts/tf_cnn_benchmarks folder, from
github.com/tensorflow/benchmarks; not a dependency) adds tf_cnn_benchmarks
itself to the fp32 cases, in TensorFlow's default setup, with the CPU flags
its users give it (--device=cpu --data_format=NHWC
--variable_update=parameter_server --local_parameter_device=cpu
--optimizer=momentum; its own dropout and weight decay).  On TensorFlow 2.16
and later it needs Keras 2: --tf_keras_dir names a folder holding the
tf_keras package (``pip install --no-deps --target DIR tf_keras==2.21.0``),
put on its PYTHONPATH only, with TF_USE_LEGACY_KERAS=1.  Skipped with a line
when DIR has no tf_cnn_benchmarks.py.

    python scripts/bench_vs_keras_fit.py [--cases=train_fp32,train_bf16,infer_fp32,infer_bf16]
        [--rounds=2] [--steps=6] [--warmup_steps=2] [--batch_size=16] [--measure_peak]
        [--keras_onednn] [--tf_cnn_benchmarks=DIR --tf_keras_dir=DIR]
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.errors import UsageError  # noqa: E402
from benchmarks.machine.cpu import configure_onednn  # noqa: E402
from benchmarks.paths import check_input  # noqa: E402
from benchmarks.tools import benchtools  # noqa: E402

CASES = ("train_fp32", "train_bf16", "infer_fp32", "infer_bf16")


def _harness(args, mode, precision, tflops_out):
    def run():
        flags = benchtools.vgg16_flags(
            args.batch_size, args.steps, args.warmup_steps,
            precision=precision, forward_only=mode == "infer",
            measure_peak=args.measure_peak)
        data, rss = benchtools.run_harness(flags + args.harness_flags.split())
        tflops_out.append((data[f"{mode}.tflops"],
                           data.get(f"{mode}.peak_fraction"),
                           data.get(f"{mode}.hw_peak_fraction")))
        return data[f"{mode}.total_ips"], rss
    return run


# What the harness sets up for itself on an x86-64 CPU (--onednn=auto);
# --keras_onednn gives model.fit the same.
ONEDNN_ENV = {}
configure_onednn("on", ONEDNN_ENV)


def _keras(args, mode, precision, env=None):
    def run():
        cmd = [sys.executable, "-m", "benchmarks.tools.peers",
               f"--batch_size={args.batch_size}", f"--steps={args.steps}",
               f"--warmup_steps={args.warmup_steps}", f"--precision={precision}"]
        if mode == "infer":
            cmd.append("--forward_only")
        result, rss = benchtools.run_json_worker(cmd, env)
        return result["ips"], rss
    return run


def _tf_cnn_benchmarks(args, mode):
    def run():
        cmd = [sys.executable,
               os.path.join(args.tf_cnn_benchmarks, "tf_cnn_benchmarks.py"),
               "--model=vgg16", f"--batch_size={args.batch_size}",
               f"--num_batches={args.steps}",
               f"--num_warmup_batches={args.warmup_steps}", "--device=cpu",
               "--data_format=NHWC", "--variable_update=parameter_server",
               "--local_parameter_device=cpu", "--optimizer=momentum"]
        if mode == "infer":
            cmd.append("--forward_only")
        out, rss = benchtools.run_worker(
            cmd, {"TF_USE_LEGACY_KERAS": "1"},
            python_path=[args.tf_keras_dir] if args.tf_keras_dir else [])
        totals = re.findall(r"^total images/sec: ([0-9.]+)$", out, re.M)
        if not totals:
            sys.exit(f"tf_cnn_benchmarks printed no total images/sec:\n{out[-2000:]}")
        return float(totals[-1]), rss
    return run


def _with_tf_cnn_benchmarks(args, precision):
    if not args.tf_cnn_benchmarks or precision != "fp32":
        return False
    if os.path.isfile(os.path.join(args.tf_cnn_benchmarks, "tf_cnn_benchmarks.py")):
        return True
    print(f"  tf_cnn_benchmarks skipped: no tf_cnn_benchmarks.py in "
          f"{args.tf_cnn_benchmarks}", flush=True)
    return False


def _run_case(args, case):
    """Interleaved rounds of one case; (medians by contender, summary lines)."""
    mode, precision = case.split("_")
    tflops = []
    print(f"== {case}", flush=True)
    contenders = [("harness", _harness(args, mode, precision, tflops)),
                  ("keras", _keras(args, mode, precision))]
    if args.keras_onednn:
        contenders.append(("keras_onednn",
                           _keras(args, mode, precision, ONEDNN_ENV)))
    if _with_tf_cnn_benchmarks(args, precision):
        contenders.append(("tf_cnn_benchmarks", _tf_cnn_benchmarks(args, mode)))
    values, rss = benchtools.interleave(
        contenders, args.rounds,
        report=lambda line: print("  " + line, flush=True))
    med = {k: benchtools.median(v) for k, v in values.items()}
    per_round = [h / k for h, k in zip(values["harness"], values["keras"])]
    peak = [f for _, f, _ in tflops if f is not None]
    hardware = [f for _, _, f in tflops if f is not None]
    lines = [
        f"{case:<11} harness {med['harness']:7.3f} img/s  keras "
        f"{med['keras']:7.3f} img/s  ratio {med['harness'] / med['keras']:.3f} "
        f"(rounds: {', '.join(f'{x:.3f}' for x in per_round)})  peak RSS "
        f"harness {max(rss['harness']):.0f} / keras {max(rss['keras']):.0f} MiB"
        f"  harness TFLOP/s {benchtools.median([t for t, _, _ in tflops]):.4f}"
        + (f" = {benchtools.median(peak):.2f} of the conv peak" if peak else "")
        + (f", {benchtools.median(hardware):.2f} of the CPU's fp32 peak"
           if hardware else "")]
    if args.keras_onednn:
        other = med["keras_onednn"]
        lines.append(
            f"{'':<11} keras with oneDNN {other:7.3f} img/s  harness / it "
            f"{med['harness'] / other:.3f}  peak RSS "
            f"{max(rss['keras_onednn']):.0f} MiB")
    if "tf_cnn_benchmarks" in med:
        tfb = values["tf_cnn_benchmarks"]
        rounds = [h / t for h, t in zip(values["harness"], tfb)]
        lines.append(
            f"{'':<11} tf_cnn_benchmarks {med['tf_cnn_benchmarks']:7.3f} img/s  "
            f"harness / it {med['harness'] / med['tf_cnn_benchmarks']:.3f} "
            f"(rounds: {', '.join(f'{x:.3f}' for x in rounds)})  peak RSS "
            f"{max(rss['tf_cnn_benchmarks']):.0f} MiB")
    return med, lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per run")
    parser.add_argument("--warmup_steps", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--measure_peak", action="store_true",
                        help="harness runs probe the 3x3 conv peak in-process")
    parser.add_argument("--keras_onednn", action="store_true",
                        help="also run model.fit with oneDNN on, as the "
                        "harness runs by default on x86-64")
    parser.add_argument("--tf_cnn_benchmarks", default="", metavar="DIR",
                        help="tensorflow/benchmarks' scripts/tf_cnn_benchmarks "
                        "folder: adds it to the fp32 cases")
    parser.add_argument("--tf_keras_dir", default="", metavar="DIR",
                        help="a folder holding the tf_keras package, for "
                        "tf_cnn_benchmarks only")
    parser.add_argument("--harness_flags", default="",
                        help="extra runner flags, space separated")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}; choose from {CASES}")
    try:
        for flag in ("tf_cnn_benchmarks", "tf_keras_dir"):
            if getattr(args, flag):
                check_input(getattr(args, flag), f"--{flag}", directory=True)
    except UsageError as e:
        parser.exit(2, f"bench_vs_keras_fit: error: {e}\n")

    print(f"VGG16 224x224, batch {args.batch_size}, synthetic data; "
          f"{args.steps} timed steps after {args.warmup_steps} warmup; "
          f"{args.rounds} interleaved rounds per case", flush=True)
    medians, lines = {}, []
    for case in cases:
        medians[case], case_lines = _run_case(args, case)
        lines += case_lines
    print("-" * 72)
    for line in lines:
        print(line)
    for mode in ("train", "infer"):
        if f"{mode}_fp32" in medians and f"{mode}_bf16" in medians:
            for who in ("harness", "keras"):
                ratio = medians[f"{mode}_bf16"][who] / medians[f"{mode}_fp32"][who]
                print(f"{mode} bf16 / fp32, {who}: {ratio:.3f}")


if __name__ == "__main__":
    main()
