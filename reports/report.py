"""The report over several logs: read each, say what is wrong with any of
them on its own line, and still make the table and figures from the rest."""

import os
import re

from reports import table
from reports.logs import NotALog, log_files, read_log


def _plot_name(label):
    return re.sub(r"[^\w.\-]+", "_", label) + ".png"


def make_report(paths, fmt="md", plot_dir=None, overlay=False, warn=print):
    """Returns (report text, status): status 0 if every file named was read,
    1 if any was skipped (a file that is not a log inside a folder given is
    named and skipped, and does not count).  ``warn`` gets one line per problem; figures go to
    ``plot_dir`` (one per log, plus overlay.png with ``overlay``)."""
    if fmt not in table.FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of "
                         f"{', '.join(table.FORMATS)}")
    logs, status = [], 0
    for path, named in log_files(paths):
        try:
            log = read_log(path)
        except NotALog as e:
            warn(f"{path}: {e}; skipped")
            status = max(status, int(named))
            continue
        for problem in log.problems:
            warn(f"{path}: {problem}")
        logs.append(log)
    labels = _labels([log.path for log in logs])
    rows = table.add_scaling([table.run_row(log, label)
                              for log, label in zip(logs, labels)])
    if plot_dir and logs:
        from reports import plots  # matplotlib only when figures are asked for
        for log, label in zip(logs, labels):
            written = plots.plot_run(log, label,
                                     os.path.join(plot_dir, _plot_name(label)))
            warn(f"wrote {written}")
        if overlay and len(logs) > 1:
            written = plots.plot_overlay(logs, labels,
                                         os.path.join(plot_dir, "overlay.png"))
            warn(f"wrote {written}")
    return table.FORMATS[fmt](rows), status


def _labels(paths):
    """Runs are named by their file's name without its extension; where two
    share one (run.json beside run.log), by the whole file name, and a
    number after that if still the same."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    names = [os.path.basename(p) if stems.count(s) > 1 else s
             for p, s in zip(paths, stems)]
    seen, out = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out
