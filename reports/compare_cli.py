"""vggbench-compare: the command line of reports/compare.py.

    vggbench-compare BASELINE NEW [--threshold=0.05] [--json] [--plot=F.png]
                     [--ignore_setting=NAME ...]

BASELINE and NEW: a dllogger JSON log, a folder of them (its *.json and
*.log files), or several of either joined by commas.  Exit status: 0 when no
figure got worse, 1 when one is SLOWER or WORSE, 2 for bad input (no logs, a
log that cannot be read or did not finish, runs whose settings differ).
"""

import argparse
import json
import os
import statistics
import sys

from benchmarks.errors import UsageError  # free of TensorFlow, as paths
from benchmarks.paths import check_output
from reports import compare
from reports.logs import NotALog, read_log

PROG = "vggbench-compare"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the fix (exit 2)."""

    def error(self, message):
        print(f"{self.prog}: error: {message}; see {self.prog} --help",
              file=sys.stderr)
        raise SystemExit(2)



def parser(prog=PROG):
    p = _Parser(prog=prog, description=__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("baseline", help="baseline log(s) or folder(s), comma-separated")
    p.add_argument("new", help="new log(s) or folder(s), comma-separated")
    add_verdict_flags(p)
    return p


def add_verdict_flags(p):
    """The flags that shape the verdicts (shared with vggbench-ab)."""
    p.add_argument("--threshold", type=float, default=compare.DEFAULT_THRESHOLD,
                   help="a speed change counts beyond this fraction of the "
                   "baseline's median (default %(default)s)")
    p.add_argument("--alpha", type=float, default=compare.DEFAULT_ALPHA,
                   help="the U test's significance level (default %(default)s)")
    p.add_argument("--accuracy_threshold", type=float,
                   default=compare.DEFAULT_ACCURACY_THRESHOLD,
                   help="accuracy: SAME when the difference's interval lies "
                   "within +/- this fraction (default %(default)s)")
    p.add_argument("--ignore_setting", action="append", default=[],
                   metavar="NAME", help="compare across this setting on "
                   "purpose (e.g. env.tensorflow); repeat or comma-separate")
    p.add_argument("--json", action="store_true",
                   help="print the comparison as JSON instead of a table")
    p.add_argument("--plot", metavar="FILE.png",
                   help="also write a figure: each run as a point per figure")


class MissingSide(ValueError):
    """A side names a path that does not exist."""


def log_paths(side):
    """The files a side names: files as given, folders' *.json and *.log."""
    paths = []
    for item in filter(None, side.split(",")):
        if not os.path.lexists(item):
            raise MissingSide(f"{item} does not exist; give JSON logs "
                              "(--log_path) or folders of them")
        if os.path.isdir(item):
            paths += sorted(os.path.join(item, f) for f in os.listdir(item)
                            if f.endswith((".json", ".log")))
        else:
            paths.append(item)
    return paths


def read_side(side, warn):
    """(finished logs, number of files left out), one warning per file
    left out: unreadable, not a log, cut off or without its summary."""
    logs, bad = [], 0
    for path in log_paths(side):
        try:
            log = read_log(path)
        except NotALog as e:
            warn(f"{path}: {e}; left out")
            bad += 1
            continue
        if log.problems or log.summary is None:
            warn(f"{path}: {'; '.join(log.problems)}; left out (truncated)")
            bad += 1
            continue
        logs.append(log)
    return logs, bad


def _cell(values):
    if not values:
        return "-"
    mid = statistics.median(values)
    if len(values) == 1:
        return f"{mid:.4g} (1 run)"
    return f"{mid:.4g} [{min(values):.4g}-{max(values):.4g}] n={len(values)}"


_SHOWN = ("model.name", "model.image_size", "model.precision",
          "data.batch_size", "replicas", "data")


def _group_title(result):
    s = result.settings
    return " ".join(f"{n.split('.')[-1]}={json.loads(s[n])}" for n in _SHOWN
                    if n in s)


def table(results, threshold):
    lines = []
    for r in results:
        lines.append(f"## {_group_title(r)}: {len(r.baseline_runs)} baseline "
                     f"run(s), {len(r.new_runs)} new (threshold "
                     f"{100 * threshold:g}%)")
        rows = [("figure", "baseline", "new", "ratio", "p", "verdict", "")]
        for f in r.figures:
            rows.append((f.name, _cell(f.baseline), _cell(f.new),
                         "-" if f.ratio is None else f"{f.ratio:.3f}",
                         "-" if f.p is None else f"{f.p:.3g}", f.verdict,
                         f.note))
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        for row in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths))
                         + ("  " + row[6] if row[6] else ""))
    return "\n".join(lines) + "\n"


def as_json(results, status):
    return json.dumps({"status": status, "groups": [{
        "settings": {k: json.loads(v) for k, v in r.settings.items()},
        "baseline_logs": [g.path for g in r.baseline_runs],
        "new_logs": [g.path for g in r.new_runs],
        "figures": [{"name": f.name, "verdict": f.verdict,
                     "baseline": f.baseline, "new": f.new, "ratio": f.ratio,
                     "p": f.p, "interval": f.interval, "note": f.note}
                    for f in r.figures]} for r in results]}, indent=1) + "\n"


def run(args, out=None, err=None, prog=PROG):
    """Compares and prints (to stdout and stderr unless given); returns the
    exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    def warn(line):
        print(f"{prog}: {line}", file=err)

    ignore = {n for item in args.ignore_setting for n in item.split(",") if n}
    sides = {}
    bad = 0
    if args.plot:
        try:
            check_output(os.path.dirname(os.path.abspath(args.plot)), "--plot")
        except UsageError as e:
            warn(f"error: {e}")
            return 2
    for name in ("baseline", "new"):
        try:
            sides[name], left_out = read_side(getattr(args, name), warn)
        except MissingSide as e:
            warn(f"error: {e}")
            return 2
        bad += left_out
    for name, logs in sides.items():
        if not logs:
            warn(f"no finished logs for the {name} side in "
                 f"{getattr(args, name)!r}; give JSON logs (--log_path) or "
                 "folders of them")
            return 2
    try:
        results = compare.compare(sides["baseline"], sides["new"],
                                  threshold=args.threshold, alpha=args.alpha,
                                  accuracy_threshold=args.accuracy_threshold,
                                  ignore=ignore)
    except compare.SettingsDiffer as e:
        warn(str(e))
        return 2
    status = 2 if bad else 1 if compare.got_worse(results) else 0
    out.write(as_json(results, status) if args.json
              else table(results, args.threshold))
    if args.plot:
        from reports import plots  # matplotlib only when a figure is asked for
        warn(f"wrote {plots.plot_comparison(results, args.plot)}")
    return status


def main(argv=None):
    return run(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
