#!/usr/bin/env python3
"""Tables and figures from run logs.

    python scripts/report.py LOG... [--format=md|csv|json] [--plot_dir=DIR] [--overlay]

LOG: a dllogger JSON log (--log_path), or the stdout a run script teed to a
file, or a folder of them (its files that are not logs are named and
skipped).  One row per run: model, precision, replicas, workers, batch per replica
and global, image size, compile time, ms/step, img/s (global and per replica),
TFLOP/s, acc@1/acc@5 (%) and epochs; runs of one model, precision, image size
and per-replica batch on different replica counts get their speed-up and
scaling efficiency against the smallest.  A file that cannot be read gets a
line on stderr (exit status 1) and the report still comes out.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from benchmarks.errors import UsageError  # noqa: E402
from benchmarks.paths import check_output  # noqa: E402
from reports.report import make_report  # noqa: E402
from reports.table import FORMATS  # noqa: E402

flags.DEFINE_enum("format", "md", list(FORMATS), "table format")
flags.DEFINE_string("plot_dir", None, "write PNG figures here: one per log")
flags.DEFINE_boolean("overlay", False, "also one figure with every run "
                     "overlaid (plot_dir/overlay.png)")
flags.DEFINE_string("output", None, "write the table here instead of stdout")
FLAGS = flags.FLAGS


def main(argv):
    paths = argv[1:]
    if not paths:
        print("report: error: give one or more logs: python scripts/report.py "
              "LOG... [--format=md|csv|json] [--plot_dir=DIR]", file=sys.stderr)
        return 2

    try:
        if FLAGS.output:
            check_output(FLAGS.output, "--output", directory=False)
        if FLAGS.plot_dir:
            check_output(FLAGS.plot_dir, "--plot_dir")
    except UsageError as e:
        print(f"report: error: {e}", file=sys.stderr)
        return 2

    def warn(line):
        print(f"report: {line}", file=sys.stderr)

    text, status = make_report(paths, FLAGS.format, FLAGS.plot_dir,
                               FLAGS.overlay, warn)
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return status


if __name__ == "__main__":
    app.run(main)
