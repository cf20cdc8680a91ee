#!/usr/bin/env python3
"""Runs the harness on several workers (MultiWorkerMirroredStrategy).

    python scripts/launch_multiworker.py --num_workers=2 [--log_dir=DIR] -- <runner flags>
    python scripts/launch_multiworker.py --hosts=h1:2222,h2:2222 -- <runner flags>

The first form starts the workers on this host (ports of 127.0.0.1), each
writing its console to DIR/worker_<i>.log, and waits for them: worker 0 is
the chief (it alone writes --log_path and --train_dir's checkpoints).  When a
worker fails the others are given --worker_timeout_secs to fail too and are
then killed, so the launcher never hangs.  Exit status: 0 if every worker
succeeded, else the first failure's.  The second form prints the command to
run on each host of a real cluster.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.paths import check_output, or_exit  # noqa: E402
from benchmarks.tools import launcher  # noqa: E402


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        usage="%(prog)s (--num_workers=N [--log_dir=DIR] | --hosts=H:P,...) "
              "-- <runner flags>")
    parser.add_argument("--num_workers", type=int, default=None)
    parser.add_argument("--log_dir", default=None,
                        help="default: logs/multiworker_<time>")
    parser.add_argument("--hosts", default=None,
                        help="host:port of each worker of a real cluster: "
                        "print each one's command instead of starting them")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    runner_flags = argv[split + 1:]

    if args.hosts:
        for line in launcher.cluster_commands(args.hosts.split(","), runner_flags):
            print(line)
        return 0
    if not args.num_workers or args.num_workers < 1:
        parser.error("give --num_workers=N (N >= 1) or --hosts=...")
    log_dir = args.log_dir or os.path.join(
        "logs", time.strftime("multiworker_%Y%m%d_%H%M%S"))
    or_exit(parser, check_output, log_dir, "--log_dir")
    workers = launcher.start_local(args.num_workers, runner_flags, log_dir)
    for w in workers:
        print(f"worker {w.index} at {w.host}: pid {w.process.pid}, log {w.log_path}",
              flush=True)
    launcher.wait_all(workers, launcher.timeout_of(runner_flags))
    status = 0
    for w in workers:
        print(f"worker {w.index}{' (chief)' if w.index == 0 else ''}: "
              f"exit {w.returncode}", flush=True)
        if w.returncode != 0:
            for line in launcher.last_lines(w.log_path, 2, ("error", "Error")):
                print(f"    {line}")
            if status == 0:
                status = w.returncode if isinstance(w.returncode, int) else 1
    for line in launcher.last_lines(workers[0].log_path, 4, (
            "total images/sec", "per worker", "per replica", "ms/step")):
        print(f"chief: {line}")
    return status


if __name__ == "__main__":
    sys.exit(main())
