#!/usr/bin/env python3
"""VGG16's convolutions one by one, with TensorFlow's oneDNN kernels on and
off: GFLOP/s of the forward pass, the input gradient and the filter
gradients (TensorFlow's kernel, models.gemm_grad's two matmul forms), and the
seconds each choice would spend per training step on VGG16's 13 convolutions
(the row form where --conv_filter_gradient=gemm, auto's choice on CPUs without
AVX-512, uses it).

    python scripts/bench_conv_layers.py [--batch_size=16] [--rounds=1]

Each measurement is its own process (oneDNN is fixed when TensorFlow
starts); rounds alternate on, off, on, off ... and the best of each is shown.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.tools import benchtools  # noqa: E402
from benchmarks.tools.conv_layers import OPS, VGG16_LAYERS, layer_flops  # noqa: E402
from models.gemm_grad import formulation  # noqa: E402
from models.vgg import GEMM_FORMS  # noqa: E402


def _measure(batch_size, onednn):
    result, _ = benchtools.run_json_worker(
        [sys.executable, "-m", "benchmarks.tools.conv_layers",
         f"--batch_size={batch_size}"],
        {"TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0"})
    assert result["onednn"] == onednn, "TF_ENABLE_ONEDNN_OPTS was not honoured"
    return {tuple(r[:3]): r[3] for r in result["rates"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    best = {True: {}, False: {}}
    for _ in range(args.rounds):
        for onednn in (True, False):
            for layer, rates in _measure(args.batch_size, onednn).items():
                kept = best[onednn].setdefault(layer, dict(rates))
                for op, rate in rates.items():
                    kept[op] = max(kept[op], rate)
    print(f"VGG16 3x3 convolutions, batch {args.batch_size}, GFLOP/s "
          f"(best of {args.rounds} process(es) per setting)")
    print(f"{'layer (HxW, in->out)':<22}{'oneDNN':<8}" +
          "".join(f"{op:>20}" for op in OPS))
    parts = ("forward", "input_grad", "filter_grad_native", "filter_grad_gemm")
    seconds = {True: dict.fromkeys(parts, 0.0), False: dict.fromkeys(parts, 0.0)}
    for h, ci, co, count in VGG16_LAYERS:
        gflop = layer_flops(args.batch_size, h, ci, co) / 1e9
        for onednn in (True, False):
            rates = best[onednn][(h, ci, co)]
            print(f"{f'{h}x{h}, {ci}->{co}':<22}{'on' if onednn else 'off':<8}" +
                  "".join(f"{rates[op]:>20.1f}" for op in OPS))
            form = formulation(h, h, ci, GEMM_FORMS["gemm"])  # as gemm runs
            model_rates = dict(rates, filter_grad_gemm=rates[
                f"filter_grad_{form}" if form else "filter_grad_native"])
            for part in parts:
                if part == "input_grad" and ci == 3:
                    continue  # the image needs no gradient
                seconds[onednn][part] += count * gflop / model_rates[part]
    print("seconds per training step on the 13 convolutions:")
    for onednn in (True, False):
        s = seconds[onednn]
        common = s["forward"] + s["input_grad"]
        print(f"  oneDNN {'on ' if onednn else 'off'}: forward {s['forward']:.2f}"
              f" + input grad {s['input_grad']:.2f} + filter grad native "
              f"{s['filter_grad_native']:.2f} = {common + s['filter_grad_native']:.2f}"
              f";  with the model's gemm filter grad {s['filter_grad_gemm']:.2f} = "
              f"{common + s['filter_grad_gemm']:.2f}")


if __name__ == "__main__":
    main()
