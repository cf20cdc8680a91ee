#!/usr/bin/env python3
"""Where a VGG16 fp32 training step's time goes, against the machine's peak.

For each VGG16 convolution and dense layer at --batch_size (default 16): the
forward pass, the input gradient and the filter gradient (as the model
computes it) in GFLOP/s and as a fraction of the CPU's fp32 peak (the
better of numpy's and TensorFlow's fp32 matmuls, measured in the same
process), and the milliseconds of each per step; then the ReLU/bias
gradients, the max pools, the loss, the optimizer's update and the host
between steps.  The parts' sum is set against the harness's own mean
ms/step on the same settings, run in turn with the parts (A B A B ...;
synthetic data, momentum, no dropout or weight decay, as
scripts/bench_vs_keras_fit.py runs it), and the harness's fraction of its
own probe of that peak is shown.  Every part is the best of its calls; the
harness figure is a mean over timed steps.

    python scripts/bench_step_parts.py [--batch_size=16] [--rounds=1]
        [--steps=3] [--warmup_steps=1]
        [--conv_filter_gradient=auto|native|gemm|gemm_im2col]
        [--dense_input_gradient=auto|native|batch_matmul]
        [--conv_algorithm=auto|direct|winograd]

auto: what the harness's auto picks for fp32 on this CPU under oneDNN.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine.cpu import (configure_onednn, cpu_flags,  # noqa: E402
                                    has_avx512)
from benchmarks.machine.device_choices import (  # noqa: E402
    resolve_conv_algorithm, resolve_dense_gradient, resolve_filter_gradient)
from benchmarks.tools import benchtools  # noqa: E402
from benchmarks.tools.conv_layers import layer_flops  # noqa: E402
from models import winograd  # noqa: E402
from models.gemm_grad import formulation  # noqa: E402

PASSES = ("forward", "input_grad", "filter_grad")


def _parts(batch_size, filter_gradient, dense_gradient, conv_algorithm):
    env = dict(os.environ)
    configure_onednn("auto", env)  # as the harness starts (--onednn=auto)
    added = {k: v for k, v in env.items() if os.environ.get(k) != v}
    parts, _ = benchtools.run_json_worker(
        [sys.executable, "-m", "benchmarks.tools.step_parts",
         f"--batch_size={batch_size}", f"--filter_gradient={filter_gradient}",
         f"--dense_gradient={dense_gradient}",
         f"--conv_algorithm={conv_algorithm}"],
        added)
    return parts


def _harness(args):
    data, _ = benchtools.run_harness(benchtools.vgg16_flags(
        args.batch_size, args.steps, args.warmup_steps, measure_peak=True) +
        [f"--conv_filter_gradient={args.conv_filter_gradient}",
         f"--dense_input_gradient={args.dense_input_gradient}",
         f"--conv_algorithm={args.conv_algorithm}"])
    return data


def _best(runs):
    """Each part's least seconds over the worker runs (same structure)."""
    if isinstance(runs[0], dict):
        return {k: _best([r[k] for r in runs]) for k in runs[0]}
    if isinstance(runs[0], list):
        return [_best(list(items)) for items in zip(*runs)]
    if isinstance(runs[0], float):
        return min(runs)
    return runs[0]


def _layer_row(label, count, flops, times, peak_gflops):
    """One table line; returns (line, seconds per step of the layers)."""
    cells, total = [], 0.0
    for name in PASSES:
        seconds = times.get(name)
        if seconds is None:
            cells.append(f"{'-':>8}{'':>6}")
            continue
        rate = flops / seconds / 1e9
        cells.append(f"{rate:8.1f}{rate / peak_gflops:6.2f}")
        total += seconds
    total += times["relu_bias_grad"]
    return (f"{label:<22}{count:>3}" + "".join(cells) +
            f"{times['relu_bias_grad'] * 1e3:10.1f}{count * total * 1e3:10.0f}",
            count * total)


def _table(parts, batch_size):
    peak = parts["hw_tflops"] * 1e3
    print(f"VGG16 fp32 training step, batch {batch_size}, oneDNN "
          f"{'on' if parts['onednn'] else 'off'}; the CPU's fp32 peak "
          f"({parts['hw_source']}) {peak:.1f} GFLOP/s; filter gradient "
          f"{parts['filter_gradient']}, dense input gradient "
          f"{parts['dense_gradient']}, convolutions {parts['conv_algorithm']}")
    print("GFLOP/s of each pass and its fraction of that peak; ms per "
          "step of the ReLU and bias gradients and of the layers in all")
    print("(wino rows: the direct convolution's FLOPs over Winograd's time, "
          "which does 1/4 of the multiplications)")
    print(f"{'layer':<22}{'n':>3}" + "".join(
        f"{name:>8}{'/peak':>6}" for name in ("fwd", "in-grad", "filt-gr"))
        + f"{'relu+b ms':>10}{'ms/step':>10}")
    total = 0.0
    for h, ci, co, count, times in parts["convs"]:
        tag = formulation(h, h, ci, parts["forms"]) or "tf"
        if (parts["conv_algorithm"] == "winograd"
                and winograd.pays_off(h, h, ci, co)):
            tag = "wino"
        line, seconds = _layer_row(f"conv {h}x{h} {ci}->{co} {tag}", count,
                                   layer_flops(batch_size, h, ci, co), times, peak)
        print(line)
        total += seconds
    for n_in, n_out, times in parts["dense"]:
        line, seconds = _layer_row(f"dense {n_in}->{n_out}", 1,
                                   2 * batch_size * n_in * n_out, times, peak)
        print(line)
        total += seconds
    others = (("max pools, forward", parts["pools"]["forward"]),
              ("max pools, backward", parts["pools"]["backward"]),
              ("softmax cross-entropy + gradient", parts["loss"]),
              (f"optimizer update ({parts['params'] / 1e6:.1f}M weights)",
               parts["optimizer"]),
              ("host between steps (one loop call)", parts["host"]))
    for label, seconds in others:
        print(f"{label:<67}{seconds * 1e3:10.1f}")
        total += seconds
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3,
                        help="the harness's timed steps per run")
    parser.add_argument("--warmup_steps", type=int, default=1)
    parser.add_argument("--conv_filter_gradient", default="auto",
                        choices=("auto", "native", "gemm", "gemm_im2col"),
                        help="the model's filter gradient, in the parts and "
                        "the harness alike")
    parser.add_argument("--dense_input_gradient", default="auto",
                        choices=("auto", "native", "batch_matmul"),
                        help="fc1's and fc2's input gradient, in the parts "
                        "and the harness alike")
    parser.add_argument("--conv_algorithm", default="auto",
                        choices=("auto", "direct", "winograd"),
                        help="the convolutions' algorithm, in the parts and "
                        "the harness alike")
    args = parser.parse_args()
    on_cpu = dict(device_kind="cpu", precision="fp32", xla=False, onednn=True)
    args.conv_filter_gradient = resolve_filter_gradient(
        args.conv_filter_gradient, data_format="channels_last",
        avx512=has_avx512(cpu_flags()), **on_cpu)
    args.dense_input_gradient = resolve_dense_gradient(
        args.dense_input_gradient, **on_cpu)
    args.conv_algorithm = resolve_conv_algorithm(
        args.conv_algorithm, data_format="channels_last", **on_cpu)
    runs, harness = [], []
    for r in range(1, args.rounds + 1):  # parts, harness, parts, harness ...
        runs.append(_parts(args.batch_size, args.conv_filter_gradient,
                           args.dense_input_gradient, args.conv_algorithm))
        harness.append(_harness(args))
        print(f"round {r}: harness {harness[-1]['train.ms_per_step']:.0f} ms/step, "
              f"{harness[-1]['train.total_ips']:.3f} img/s", flush=True)
    total = _table(_best(runs), args.batch_size)
    measured = benchtools.median([h["train.ms_per_step"] for h in harness]) / 1e3
    print(f"{'sum of the parts':<67}{total * 1e3:10.0f}")
    print(f"{'the harness, mean ms/step (median of rounds)':<67}"
          f"{measured * 1e3:10.0f}")
    print(f"sum / measured: {total / measured:.3f} "
          f"({'within' if abs(total / measured - 1) <= 0.10 else 'NOT within'}"
          " 10%)")
    fractions = [h.get("train.hw_peak_fraction") for h in harness]
    if all(f is not None for f in fractions):
        print("harness fraction of its own fp32 peak probe: " +
              ", ".join(f"{f:.3f}" for f in fractions))


if __name__ == "__main__":
    main()
