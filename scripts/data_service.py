#!/usr/bin/env python3
"""Runs a tf.data service fleet that reads and preprocesses a trainer's input.

    python scripts/data_service.py --dispatcher_port=P --num_workers=N [--log_dir=DIR]
    python scripts/data_service.py --dispatcher_address=HOST:P --num_workers=N
    python scripts/data_service.py --print_commands --hosts=h0,h1,... \\
        --dispatcher_port=P --num_workers=N

The first form runs a dispatcher on port P and N workers on this host until
SIGINT or SIGTERM, and prints the address the trainer takes
(--data_service_address).  The second runs N workers only, for a dispatcher
elsewhere.  The third prints the command for each host of a real fleet (the
dispatcher on h0).  Workers need TensorFlow, this package and the shards at
the path the trainer's --data_dir names.  See docs/data_service.md.
"""

import argparse
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.paths import check_output, or_exit  # noqa: E402
from benchmarks.tools import service_fleet  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dispatcher_port", type=int, default=None)
    parser.add_argument("--dispatcher_address", default=None,
                        help="host:port of a dispatcher elsewhere: run "
                        "workers only")
    parser.add_argument("--num_workers", type=int, default=1)
    parser.add_argument("--log_dir", default=None,
                        help="default: logs/data_service_<time>")
    parser.add_argument("--print_commands", action="store_true")
    parser.add_argument("--hosts", default=None,
                        help="with --print_commands: the fleet's hosts")
    args = parser.parse_args()
    if args.num_workers < 0:
        parser.error("--num_workers must be >= 0")
    if args.print_commands:
        if not args.hosts or not args.dispatcher_port:
            parser.error("--print_commands needs --hosts=h0,h1,... and "
                         "--dispatcher_port=P")
        for line in service_fleet.fleet_commands(
                args.hosts.split(","), args.dispatcher_port, args.num_workers):
            print(line)
        return 0
    if args.dispatcher_address:
        host, _, port = args.dispatcher_address.removeprefix(
            "grpc://").rpartition(":")
        if not host or not port.isdigit():
            parser.error(f"--dispatcher_address={args.dispatcher_address!r} "
                         "is not host:port")
        dispatcher_port, here = int(port), False
    elif args.dispatcher_port and 0 < args.dispatcher_port < 65536:
        host, dispatcher_port, here = "127.0.0.1", args.dispatcher_port, True
    else:
        parser.error("give --dispatcher_port=P (1..65535) or "
                     "--dispatcher_address=HOST:P")
    log_dir = args.log_dir or os.path.join(
        "logs", time.strftime("data_service_%Y%m%d_%H%M%S"))
    or_exit(parser, check_output, log_dir, "--log_dir")
    stopped = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda s, _: stopped.append(s))
    try:
        servers = service_fleet.start_local(
            dispatcher_port, args.num_workers, os.path.abspath(log_dir),
            start_dispatcher=here, dispatcher_host=host)
    except RuntimeError as e:
        print(f"data_service.py: error: {e}", file=sys.stderr)
        return 1
    for name, process, log_path in servers:
        print(f"{name}: pid {process.pid}, log {log_path}", flush=True)
    if here:
        print(f"address: grpc://{socket.getfqdn()}:{dispatcher_port} "
              f"(on this host: grpc://127.0.0.1:{dispatcher_port})", flush=True)
    status = 0
    while not stopped:
        gone = [(n, p) for n, p, _ in servers if p.poll() is not None]
        if gone:
            for name, process in gone:
                print(f"{name} exited ({process.returncode}); stopping the "
                      "fleet", flush=True)
            status = 1
            break
        time.sleep(0.5)
    service_fleet.stop([p for _, p, _ in servers])
    print("fleet stopped", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
