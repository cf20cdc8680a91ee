"""vggbench-ab: run two commands interleaved, A B B A A B ..., one log per
run, then compare them (reports/compare_cli.py).

    vggbench-ab --a="CMD" --b="CMD" [--rounds=5] [--out=DIR] [--timeout=600]

Each command runs in /bin/sh (so it may `cd` into its own checkout or
activate its own virtualenv) as its own process.  Its log path: where the
command holds the placeholder {log}, it is replaced by the run's log file;
otherwise `--log_path=FILE` is appended.  Logs go to OUT/a/ and OUT/b/ (one
per run, written by the run itself, so a killed round loses no finished
log), each run's console to OUT/console/.  A run that fails or passes
--timeout is stopped and its log moved to OUT/failed/, so OUT/a and OUT/b
only ever hold finished runs and `vggbench-compare OUT/a OUT/b` can be run
again at any time.
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time

from benchmarks.errors import UsageError
from benchmarks.paths import check_output
from reports import compare_cli

PROG = "vggbench-ab"


def parser():
    p = compare_cli._Parser(
        prog=PROG, description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, metavar="CMD",
                   help="the baseline command (a shell command line)")
    p.add_argument("--b", required=True, metavar="CMD",
                   help="the new command")
    p.add_argument("--rounds", type=int, default=5,
                   help="runs of each command (default %(default)s)")
    p.add_argument("--out", default=None, help="folder for the logs "
                   "(default ab_<UTC time>); must be new or empty")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds a run may take before it is stopped "
                   "(default %(default)s)")
    compare_cli.add_verdict_flags(p)
    return p


def order(rounds):
    """[(side, run number)]: A B, B A, A B, ... so drift hits both sides."""
    out = []
    for r in range(1, rounds + 1):
        pair = ("a", "b") if r % 2 else ("b", "a")
        out += [(side, r) for side in pair]
    return out


def command_line(command, log):
    if "{log}" in command:
        return command.replace("{log}", shlex.quote(log))
    return f"{command} --log_path={shlex.quote(log)}"


def run_one(command, log, console, timeout):
    """Runs one command to its end or ``timeout``; returns (exit status or
    None when stopped, seconds).  The command gets its own process group so
    that a stop reaches whatever it started."""
    start = time.monotonic()
    with open(console, "wb") as out:
        proc = subprocess.Popen(["/bin/sh", "-c", command], stdout=out,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except BaseException:  # the timeout, or ^C of the whole A/B
            _stop(proc)
            if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise
            code = None
    return code, time.monotonic() - start


def _stop(proc):
    """SIGTERM to the run's group, SIGKILL after a bounded grace."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _prepare(out):
    check_output(out, "--out")
    if os.path.isdir(out) and os.listdir(out):
        raise ValueError(f"{out} is not empty; give a new folder with --out "
                         "(runs of two A/B sessions must not mix)")
    for sub in ("a", "b", "console", "failed"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)


def _set_aside(out, log):
    """Moves a failed run's log (if it wrote one) out of the compared folders;
    returns where it went, or None."""
    if not os.path.exists(log):
        return None
    moved = os.path.join(out, "failed", os.path.basename(log))
    os.replace(log, moved)
    return moved


def run_ab(args, err=None):
    """The runs; returns how many failed."""
    err = err or sys.stderr
    failed = 0
    plan = order(args.rounds)
    for i, (side, r) in enumerate(plan, 1):
        name = f"{side}{r:03d}"
        log = os.path.join(args.out, side, f"{name}.json")
        console = os.path.join(args.out, "console", f"{name}.txt")
        command = command_line(getattr(args, side), os.path.abspath(log))
        print(f"{PROG}: [{i}/{len(plan)}] {side.upper()} run {r}: {command}",
              file=err, flush=True)
        try:
            code, seconds = run_one(command, log, console, args.timeout)
        except KeyboardInterrupt:
            _set_aside(args.out, log)
            raise
        if code == 0 and os.path.exists(log):
            print(f"{PROG}:   done in {seconds:.1f} s", file=err, flush=True)
            continue
        failed += 1
        moved = _set_aside(args.out, log)
        why = (f"stopped after --timeout={args.timeout:g} s" if code is None
               else f"exited {code}" if code else "wrote no log")
        kept = f", its partial log moved to {moved}" if moved else ""
        print(f"{PROG}: {side.upper()} run {r} {why}; its console is in "
              f"{console}{kept}", file=err, flush=True)
    return failed


def main(argv=None):
    args = parser().parse_args(argv)
    if args.rounds < 1 or args.timeout <= 0:
        print(f"{PROG}: error: --rounds must be at least 1 and --timeout "
              "positive", file=sys.stderr)
        return 2
    args.out = args.out or time.strftime("ab_%Y%m%d_%H%M%S", time.gmtime())
    try:
        _prepare(args.out)
    except (ValueError, OSError, UsageError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        failed = run_ab(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; the finished runs' logs are in "
              f"{args.out}/a and {args.out}/b: compare them with "
              f"vggbench-compare {args.out}/a {args.out}/b", file=sys.stderr)
        return 130
    args.baseline = os.path.join(args.out, "a")
    args.new = os.path.join(args.out, "b")
    status = compare_cli.run(args, prog=PROG)
    if failed:
        print(f"{PROG}: {failed} run(s) failed (see above); the comparison "
              "covers the others", file=sys.stderr)
        return max(status, 2)
    return status


if __name__ == "__main__":
    sys.exit(main())
