"""Calibrating the gate: A/A comparisons from a pool of runs of one command.

The pool's runs, in the order they finished (their log files' modification
times; the pool's runs ran one after another), are cut into consecutive blocks of 2n; within a block, runs go to
the two sides in ab's order (A B B A ...), so each block is one A/A
comparison at n runs a side made exactly as vggbench-ab makes one.  Every
verdict other than SAME or UNKNOWN is a false alarm.
"""

import collections
import dataclasses
import os
import sys

from reports import ab, compare, compare_cli


def aa_blocks(logs, n):
    """[(side a logs, side b logs)] from consecutive blocks of 2n runs."""
    plan = [side for side, _ in ab.order(n)]
    out = []
    for start in range(0, len(logs) - 2 * n + 1, 2 * n):
        block = logs[start:start + 2 * n]
        out.append(([g for g, s in zip(block, plan) if s == "a"],
                     [g for g, s in zip(block, plan) if s == "b"]))
    return out


def slow_down(log, fraction):
    """``log`` as if its steps had run ``fraction`` slower (a copy)."""
    summary = dict(log.summary)
    p = log.prefix
    summary[f"{p}.total_ips"] *= 1 - fraction
    for name in ("step_time_p50_ms", "step_time_p90_ms"):
        if f"{p}.{name}" in summary:
            summary[f"{p}.{name}"] /= 1 - fraction
    return dataclasses.replace(log, summary=summary)


def main(argv=None):
    p = compare_cli._Parser(prog="calibrate_compare", description=__doc__)
    p.add_argument("pool", help="folder (or comma-separated logs) of runs "
                   "of one command, named in the order they ran")
    p.add_argument("--runs", type=int, default=5, help="runs a side")
    p.add_argument("--threshold", type=float, default=compare.DEFAULT_THRESHOLD)
    p.add_argument("--alpha", type=float, default=compare.DEFAULT_ALPHA)
    p.add_argument("--slowdown", type=float, default=0.0,
                   help="make side B this fraction slower")
    args = p.parse_args(argv)
    try:
        logs, _ = compare_cli.read_side(args.pool, lambda line: print(
            line, file=sys.stderr))
    except compare_cli.MissingSide as e:
        print(f"calibrate_compare: error: {e}", file=sys.stderr)
        return 2
    logs.sort(key=lambda g: os.path.getmtime(g.path))
    blocks = aa_blocks(logs, args.runs)
    if not blocks:
        print(f"calibrate_compare: error: {len(logs)} finished logs, fewer "
              f"than 2 x --runs={args.runs}", file=sys.stderr)
        return 2
    counts = collections.defaultdict(collections.Counter)
    alarms = 0
    for a, b in blocks:
        if args.slowdown:
            b = [slow_down(g, args.slowdown) for g in b]
        results = compare.compare(a, b, threshold=args.threshold,
                                  alpha=args.alpha)
        alarms += compare.got_worse(results) or any(
            f.verdict == compare.FASTER for r in results for f in r.figures)
        for f in results[0].figures:
            counts[f.name][f.verdict] += 1
    print(f"{len(blocks)} A/A comparisons at {args.runs} runs a side, B "
          f"made {args.slowdown:g} slower, threshold {args.threshold:g}, alpha "
          f"{args.alpha:g}: {alarms} with any figure FASTER or SLOWER")
    for name, c in counts.items():
        print(f"  {name:14s} " + "  ".join(f"{v} {c[v]}" for v in (
            compare.SAME, compare.UNKNOWN, compare.FASTER, compare.SLOWER)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
