#!/usr/bin/env python3
"""Is training input-bound?  On the demo dataset at 224x224, in one invocation
and interleaved (A B C A B C ...):

  * input-only img/s (the pipeline alone, --input_only);
  * VGG16 fp32 training img/s on the real (demo) data;
  * VGG16 fp32 training img/s on synthetic data;

then the ratios real / synthetic (target >= 0.95) and input-only / training
(target >= 5).

    python scripts/bench_input.py --data_dir=demo_data [--rounds=2] [--steps=8]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.paths import check_input, or_exit  # noqa: E402
from benchmarks.tools import benchtools  # noqa: E402


def main():
    parser = benchtools.input_bench_parser(__doc__.splitlines()[0], 8)
    parser.add_argument("--warmup_steps", type=int, default=3)
    args = parser.parse_args()
    or_exit(parser, check_input, args.data_dir, "--data_dir", directory=True)
    common = [f"--batch_size={args.batch_size}", f"--image_size={args.image_size}",
              f"--num_classes={args.num_classes}", "--device=cpu",
              f"--num_warmup_batches={args.warmup_steps}",
              f"--display_every={args.steps}"]
    train = ["--model=vgg16", "--optimizer=momentum", f"--num_batches={args.steps}"]

    def input_only():
        # 20x the training steps: the pipeline is fast, and a longer run
        # averages over many files.
        data, rss = benchtools.run_harness(
            [*common, f"--data_dir={args.data_dir}", "--input_only",
             f"--num_batches={20 * args.steps}"])
        return data["input.total_ips"], rss

    def real():
        data, rss = benchtools.run_harness(
            [*common, *train, f"--data_dir={args.data_dir}"])
        print(f"    (real data: waited {data['train.input_wait_s']:.3f} s for "
              f"input, {data['train.input_wait_pct']:.2f}% of the timed time; "
              f"{data.get('input.skipped_records', 0)} records skipped)")
        return data["train.total_ips"], rss

    def synthetic():
        data, rss = benchtools.run_harness([*common, *train])
        return data["train.total_ips"], rss

    print(f"{args.data_dir}, {args.image_size}x{args.image_size}, batch "
          f"{args.batch_size}, {args.rounds} interleaved rounds", flush=True)
    values, _ = benchtools.interleave(
        [("input only", input_only), ("VGG16 train, real data", real),
         ("VGG16 train, synthetic", synthetic)], args.rounds,
        report=lambda line: print(line, flush=True))
    med = {k: benchtools.median(v) for k, v in values.items()}
    print("-" * 64)
    for name, value in med.items():
        print(f"{name:<24} median {value:9.3f} img/s")
    train_real = med["VGG16 train, real data"]
    print(f"real / synthetic training: "
          f"{train_real / med['VGG16 train, synthetic']:.3f}  (target >= 0.95)")
    print(f"input only / real training: {med['input only'] / train_real:.1f}x"
          "  (target >= 5)")


if __name__ == "__main__":
    main()
