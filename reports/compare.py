"""Did the new runs get slower or less accurate than the baseline's?

A run is one sample: its global img/s (the steps inside a run are not
independent; they only describe its jitter).  Runs are grouped by the
settings that change their work (reports/settings_key.py) and a group is
compared only with the group of the same settings on the other side.  Each
figure gets a verdict:

  FASTER / SLOWER   the medians differ by more than the threshold AND the
                    Mann-Whitney U test says the difference is real (p < alpha)
  SAME              the test finds no difference and the medians are within
                    the threshold, or it finds one smaller than the threshold
  UNKNOWN           too few runs for the test to decide, or a difference
                    beyond the threshold the test cannot yet confirm; with
                    how many more runs a side would let it decide

Accuracy (evaluation top-1/top-5) pools each side's evaluated examples and
takes Newcombe's interval of the difference: BETTER or WORSE when the
interval excludes zero, SAME when it lies within the accuracy threshold,
UNKNOWN otherwise.
"""

import statistics
from dataclasses import dataclass, field
from typing import Optional

from reports import settings_key, stats
from reports.logs import is_number

FASTER, SLOWER, SAME, UNKNOWN = "FASTER", "SLOWER", "SAME", "UNKNOWN"
BETTER, WORSE = "BETTER", "WORSE"
GOT_WORSE = (SLOWER, WORSE)

DEFAULT_THRESHOLD = 0.05
DEFAULT_ACCURACY_THRESHOLD = 0.01
DEFAULT_ALPHA = 0.05

# (label, summary metric after the mode's prefix, higher is better)
SPEED_FIGURES = (
    ("img/s", "total_ips", True),
    ("ms/step p50", "step_time_p50_ms", False),
    ("ms/step p90", "step_time_p90_ms", False),
    ("first step s", "compile_time_s", False),
)
ACCURACY_FIGURES = (("eval top-1", "eval.top1"), ("eval top-5", "eval.top5"))


@dataclass
class Figure:
    name: str
    verdict: str
    baseline: list
    new: list
    ratio: Optional[float] = None     # new median / baseline median
    p: Optional[float] = None
    note: str = ""
    interval: Optional[tuple] = None  # accuracy: the difference's interval


@dataclass
class GroupResult:
    settings: dict                    # the group's work settings
    baseline_runs: list
    new_runs: list
    figures: list = field(default_factory=list)


def _median(values):
    return statistics.median(values) if values else None


def speed_figure(name, base, new, higher_is_better, threshold, alpha):
    """The verdict for one speed figure from each side's per-run values."""
    if not base or not new:
        return Figure(name, UNKNOWN, base, new, note="not in the logs of "
                      + ("either side" if not base and not new else
                         "the baseline" if not base else "the new runs"))
    ratio = _median(new) / _median(base) if _median(base) else None
    more = stats.runs_to_decide(len(base), len(new), alpha)
    if more:
        return Figure(name, UNKNOWN, base, new, ratio, note=(
            f"{more} more run{'s' if more > 1 else ''} a side would let it "
            "decide"))
    _, p = stats.mann_whitney(base, new)
    if ratio is None:
        return Figure(name, UNKNOWN, base, new, None, p, "baseline median is 0")
    beyond = abs(ratio - 1) > threshold
    if p < alpha and beyond:
        better = (ratio > 1) == higher_is_better
        return Figure(name, FASTER if better else SLOWER, base, new, ratio, p)
    if not beyond:
        return Figure(name, SAME, base, new, ratio, p)
    extra = stats.runs_if_it_holds(len(base), len(new), p, alpha)
    note = (f"about {extra} more runs a side would let it decide if the "
            "difference holds" if extra else "the runs disagree")
    return Figure(name, UNKNOWN, base, new, ratio, p, note)


def accuracy_figure(name, base, new, threshold):
    """``base``/``new``: [(accuracy, examples)] of each run's last evaluation."""
    if not base or not new:
        return None
    hits_b = sum(a * n for a, n in base)
    n_b = sum(n for _, n in base)
    hits_n = sum(a * n for a, n in new)
    n_n = sum(n for _, n in new)
    low, high = stats.difference_interval(hits_b, n_b, hits_n, n_n)
    values_b, values_n = [a for a, _ in base], [a for a, _ in new]
    ratio = (hits_n / n_n) / (hits_b / n_b) if hits_b else None
    if high < 0:
        verdict = WORSE
    elif low > 0:
        verdict = BETTER
    elif -threshold <= low and high <= threshold:
        verdict = SAME
    else:
        verdict = UNKNOWN
    note = (f"difference {100 * low:+.2f} to {100 * high:+.2f} points "
            f"({n_b} and {n_n} examples)")
    if verdict == UNKNOWN:
        note += f"; wider than +/-{100 * threshold:g} points: evaluate more"
    return Figure(name, verdict, values_b, values_n, ratio, None, note,
                  (low, high))


def run_values(log, metric):
    """A finished run's summary figure (None when it is not a number)."""
    value = (log.summary or {}).get(f"{log.prefix}.{metric}")
    return value if is_number(value) else None


def last_evaluation(log, metric):
    """(accuracy, examples) of a run's last evaluation, or None."""
    for data in reversed([d for _, d in log.evaluations()]
                         + [log.summary or {}]):
        if is_number(data.get(metric)) and is_number(
                data.get("eval.examples")) and data["eval.examples"] > 0:
            return data[metric], int(data["eval.examples"])
    return None


def compare_group(settings, base_logs, new_logs, threshold, alpha,
                  accuracy_threshold):
    result = GroupResult(settings, base_logs, new_logs)
    for name, metric, higher in SPEED_FIGURES:
        base = [v for v in (run_values(g, metric) for g in base_logs)
                if v is not None]
        new = [v for v in (run_values(g, metric) for g in new_logs)
               if v is not None]
        if base or new:
            result.figures.append(speed_figure(name, base, new, higher,
                                               threshold, alpha))
    for name, metric in ACCURACY_FIGURES:
        base = [e for e in (last_evaluation(g, metric) for g in base_logs) if e]
        new = [e for e in (last_evaluation(g, metric) for g in new_logs) if e]
        figure = accuracy_figure(name, base, new, accuracy_threshold)
        if figure:
            result.figures.append(figure)
    return result


class SettingsDiffer(ValueError):
    """A group of runs on one side has no group of the same settings on the
    other; the message names the settings that differ."""


def group(logs, ignore=()):
    """{key: (settings, [logs])} by the settings that change the work."""
    groups = {}
    for log in logs:
        settings = settings_key.work_settings(log.parameters, ignore)
        k = settings_key.key(settings)
        groups.setdefault(k, (settings, []))[1].append(log)
    return groups


def _closest_difference(settings, others):
    diffs = [settings_key.differing(settings, o) for o in others]
    return min(diffs, key=len) if diffs else []


def _refusal(side, other, settings, others, logs):
    names = _closest_difference(settings, others)
    shown = ", ".join(f"{n} ({settings.get(n, 'absent')} vs "
                      f"{_value_in(others, settings, n)})" for n in names[:6])
    more = f" and {len(names) - 6} more" if len(names) > 6 else ""
    return (f"{side} run(s) {', '.join(g.path for g in logs[:3])} have no "
            f"{other} run with the same settings: {shown}{more} differ; "
            "compare like with like, or pass --ignore_setting=NAME to "
            "compare across a setting on purpose")


def _value_in(others, settings, name):
    diffs = [(len(settings_key.differing(settings, o)), o) for o in others]
    best = min(diffs, key=lambda d: d[0])[1]
    return best.get(name, "absent")


def compare(base_logs, new_logs, *, threshold=DEFAULT_THRESHOLD,
            alpha=DEFAULT_ALPHA, accuracy_threshold=DEFAULT_ACCURACY_THRESHOLD,
            ignore=()):
    """[GroupResult] for each settings group found on both sides; raises
    SettingsDiffer when a group has no partner."""
    base, new = group(base_logs, ignore), group(new_logs, ignore)
    for mine, theirs, side, other in ((base, new, "baseline", "new"),
                                      (new, base, "new", "baseline")):
        for k, (settings, logs) in mine.items():
            if k not in theirs:
                raise SettingsDiffer(_refusal(
                    side, other, settings, [s for s, _ in theirs.values()],
                    logs))
    return [compare_group(settings, logs, new[k][1], threshold, alpha,
                          accuracy_threshold)
            for k, (settings, logs) in base.items()]


def got_worse(results):
    return any(f.verdict in GOT_WORSE for r in results for f in r.figures)
