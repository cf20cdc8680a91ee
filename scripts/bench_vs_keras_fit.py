#!/usr/bin/env python3
"""VGG16 training img/s: this harness vs keras.applications.VGG16 model.fit.

Same network (dropout off, no weight decay, so both do the same math), same
synthetic data (one fixed batch), 224x224, batch 16, SGD with Nesterov
momentum.  Each measurement is its own process; the two alternate (A B A B
...) so machine drift hits both alike.  Prints every run, the medians, their
ratio and each process's peak RSS.

    python scripts/bench_vs_keras_fit.py [--rounds=3] [--steps=10] [--batch_size=16]
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import benchtools  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per run")
    parser.add_argument("--warmup_steps", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--harness_flags", default="",
                        help="extra runner flags, space separated")
    args = parser.parse_args()

    def harness():
        data, rss = benchtools.run_harness([
            "--model=vgg16", f"--batch_size={args.batch_size}",
            f"--num_batches={args.steps}", f"--num_warmup_batches={args.warmup_steps}",
            "--device=cpu", "--optimizer=momentum", "--dropout=0",
            "--weight_decay=0", f"--display_every={args.steps}",
            *args.harness_flags.split()])
        return data["train.total_ips"], rss

    def keras_fit():
        out, rss = benchtools.run_worker([
            sys.executable, "-m", "benchmarks.peers",
            f"--batch_size={args.batch_size}", f"--steps={args.steps}",
            f"--warmup_steps={args.warmup_steps}"])
        result = json.loads(out.strip().splitlines()[-1])
        print(f"    (model.fit jit_compile={result['jit_compile']})")
        return result["ips"], rss

    print(f"VGG16 fp32 training, 224x224, batch {args.batch_size}, synthetic "
          f"data; {args.steps} timed steps after {args.warmup_steps} warmup; "
          f"{args.rounds} interleaved rounds", flush=True)
    values, rss = benchtools.interleave(
        [("harness", harness), ("model.fit", keras_fit)], args.rounds,
        report=lambda line: print(line, flush=True))
    med = {k: benchtools.median(v) for k, v in values.items()}
    ratios = [h / k for h, k in zip(values["harness"], values["model.fit"])]
    print("-" * 64)
    for name in values:
        print(f"{name:<10} median {med[name]:.3f} img/s   max peak RSS "
              f"{max(rss[name]):.0f} MiB")
    print(f"ratio harness / model.fit: {med['harness'] / med['model.fit']:.3f} "
          f"(medians); per round: " + ", ".join(f"{x:.3f}" for x in ratios))


if __name__ == "__main__":
    main()
