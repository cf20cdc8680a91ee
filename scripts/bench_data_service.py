#!/usr/bin/env python3
"""What reading through a tf.data service costs: --input_only and VGG16
training img/s with this host's pipeline and through a service on 127.0.0.1
with 1 and with 2 workers, interleaved (the fleets stay up throughout).  On
a host of few cores this measures overhead, not a speed-up: the workers
share the trainer's cores.

    python scripts/bench_data_service.py --data_dir=demo_data [--rounds=2] [--steps=6]
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.paths import check_input, or_exit  # noqa: E402
from benchmarks.tools import benchtools, launcher, service_fleet  # noqa: E402


def main():
    parser = benchtools.input_bench_parser(__doc__.splitlines()[0], 6)
    args = parser.parse_args()
    or_exit(parser, check_input, args.data_dir, "--data_dir", directory=True)
    common = [f"--data_dir={os.path.abspath(args.data_dir)}",
              f"--batch_size={args.batch_size}",
              f"--image_size={args.image_size}",
              f"--num_classes={args.num_classes}", "--device=cpu",
              "--num_warmup_batches=2", f"--display_every={args.steps}"]
    fleets, processes = {"local": None}, []
    with tempfile.TemporaryDirectory() as logs:
        try:
            for workers in (1, 2):
                port = launcher.free_ports(1)[0]
                servers = service_fleet.start_local(
                    port, workers, os.path.join(logs, str(workers)))
                processes += [p for _, p, _ in servers]
                fleets[f"service, {workers} worker{'s' * (workers > 1)}"] = (
                    f"--data_service_address=grpc://127.0.0.1:{port}")
            values = benchtools.interleave(
                _cases(fleets, common, args.steps), args.rounds,
                report=lambda line: print(line, flush=True))[0]
        finally:
            service_fleet.stop(processes)
    print("-" * 64)
    for name, runs in values.items():
        print(f"{name:<36} median {benchtools.median(runs):9.3f} img/s")


def _cases(fleets, common, steps):
    """(name, fn) per fleet: input only, then VGG16 training."""
    def case(flag, extra, metric):
        def run():
            data, rss = benchtools.run_harness(
                [*common, *([flag] if flag else []), *extra])
            return data[metric], rss
        return run

    cases = []
    for name, flag in fleets.items():
        cases.append((f"input only, {name}", case(
            flag, ["--input_only", f"--num_batches={20 * steps}"],
            "input.total_ips")))
    for name, flag in fleets.items():
        cases.append((f"VGG16 train, {name}", case(
            flag, ["--model=vgg16", "--optimizer=momentum",
                   f"--num_batches={steps}"], "train.total_ips")))
    return cases


if __name__ == "__main__":
    main()
