"""PNG figures of a run: throughput over steps, loss and learning rate over
steps, evaluation top-1/top-5 over epochs.  One figure per log, or several
runs overlaid on one figure."""

import os
import statistics

import matplotlib

matplotlib.use("Agg")  # files only; no display on these machines
import matplotlib.pyplot as plt  # noqa: E402

from reports.logs import is_number  # noqa: E402


def _xy(pairs):
    pairs = [(x, y) for x, y in pairs if is_number(x) and is_number(y)]
    return [x for x, _ in pairs], [y for _, y in pairs]


def _eval_points(log, metric):
    """(epoch, value) of each evaluation; the step when no epoch is logged
    (an --eval run, or a log from before epochs were counted)."""
    points = []
    for step, data in log.evaluations():
        x = data.get("train.epoch", step)
        points.append((x, data[metric]))
    if not points and log.summary and metric in log.summary:
        points.append((log.summary.get("train.epoch", 0), log.summary[metric]))
    return points


def _has_epochs(log):
    return any("train.epoch" in d for _, d in log.evaluations())


def _draw(axes, log, label, color):
    """Draws one run, in one colour, on the four axes: throughput, loss,
    learning rate, accuracy."""
    prefix = log.prefix
    ips_ax, loss_ax, lr_ax, acc_ax = axes
    x, y = _xy(log.series(f"{prefix}.ips"))
    ips_ax.plot(x, y, marker=".", color=color, label=label)
    x, y = _xy(log.series(f"{prefix}.loss"))
    loss_ax.plot(x, y, marker=".", color=color, label=f"{label} loss")
    x, y = _xy(log.series(f"{prefix}.learning_rate"))
    if y:
        lr_ax.plot(x, y, linestyle="--", color=color, label=f"{label} lr")
    for metric, name, style in (("eval.top1", "top-1", "-"),
                                ("eval.top5", "top-5", ":")):
        x, y = _xy(_eval_points(log, metric))
        if y:
            acc_ax.plot(x, [100 * v for v in y], linestyle=style, marker="o",
                        color=color, label=f"{label} {name}")


def _figure(logs, labels, title):
    fig, (ips_ax, loss_ax, acc_ax) = plt.subplots(3, 1, figsize=(8, 10))
    lr_ax = loss_ax.twinx()
    lr_ax.ticklabel_format(axis="y", useOffset=False)  # a float32 constant
    for i, (log, label) in enumerate(zip(logs, labels)):
        _draw((ips_ax, loss_ax, lr_ax, acc_ax), log, label, color=f"C{i % 10}")
    ips_ax.set(title=f"{title}: throughput", xlabel="step",
               ylabel="img/s (global, mean of timed steps so far)")
    loss_ax.set(title="loss and learning rate", xlabel="step", ylabel="loss")
    lr_ax.set_ylabel("learning rate")
    epochs = any(_has_epochs(log) for log in logs)
    acc_ax.set(title="evaluation", xlabel="epoch" if epochs else "step",
               ylabel="accuracy (%)")
    for ax in (ips_ax, acc_ax):
        if ax.has_data():
            ax.legend(fontsize="small")
        else:
            ax.text(0.5, 0.5, "not in the log", ha="center", va="center",
                    transform=ax.transAxes)
    handles = loss_ax.get_legend_handles_labels()
    lr_handles = lr_ax.get_legend_handles_labels()
    if handles[0] or lr_handles[0]:
        loss_ax.legend(handles[0] + lr_handles[0], handles[1] + lr_handles[1],
                       fontsize="small")
    fig.tight_layout()
    return fig


def _save(fig, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_run(log, label, path):
    """One run's figure to ``path`` (PNG)."""
    return _save(_figure([log], [label], label), path)


def plot_overlay(logs, labels, path):
    """Several runs on one figure to ``path`` (PNG)."""
    return _save(_figure(logs, labels, f"{len(logs)} runs"), path)


def plot_comparison(results, path):
    """Baseline and new runs as points, one panel per figure and settings
    group, each side's median as a bar, to ``path`` (PNG)."""
    panels = [(r, f) for r in results for f in r.figures]
    fig, axes = plt.subplots(1, max(1, len(panels)),
                             figsize=(2.6 * max(1, len(panels)), 4),
                             squeeze=False)
    for ax, (result, figure) in zip(axes[0], panels):
        for x, values, color in ((0, figure.baseline, "C0"),
                                 (1, figure.new, "C1")):
            if values:
                ax.plot([x] * len(values), values, "o", color=color, alpha=0.7)
                ax.hlines(statistics.median(values), x - 0.25, x + 0.25, color=color)
        ax.set_xticks([0, 1], ["baseline", "new"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(f"{figure.name}\n{figure.verdict}", fontsize="small")
    fig.tight_layout()
    return _save(fig, path)
