"""What happens at which training step: the run's length in steps, epoch
ends and evaluation points.

Steps are counted globally and 1-based: step s is the s-th update since the
run first started, so a resumed run keeps its numbering (and its schedule).
"""

import math


def total_train_steps(loop, steps_per_epoch):
    """Steps a training run takes in all, as tf_cnn_benchmarks counts them:
    warmup, then --num_batches, or --num_epochs worth of updates (rounded
    up; warmup excluded)."""
    if loop.num_epochs is not None:
        timed = max(1, math.ceil(loop.num_epochs * steps_per_epoch - 1e-9))
        return loop.num_warmup_batches + timed
    return loop.total_steps


def epoch_end_steps(steps_per_epoch, last_step):
    """{step: epoch} for each whole epoch that ends by ``last_step``: epoch e
    ends at the first step whose batch holds its last record."""
    ends, e = {}, 1
    while True:
        step = math.ceil(e * steps_per_epoch - 1e-9)
        if step > last_step:
            return ends
        ends[step] = e
        e += 1


def eval_steps(evaluation, steps_per_epoch, last_step):
    """The steps after which to evaluate during training (a sorted list);
    the last step is one of them whenever any is."""
    steps = set(s for s in evaluation.at_steps if s <= last_step)
    steps |= {max(1, math.ceil(e * steps_per_epoch - 1e-9))
              for e in evaluation.at_epochs}
    if evaluation.every_n_steps:
        steps |= set(range(evaluation.every_n_steps, last_step + 1,
                           evaluation.every_n_steps))
    if evaluation.every_n_epochs:
        k = 1
        while (s := math.ceil(k * evaluation.every_n_epochs * steps_per_epoch
                              - 1e-9)) <= last_step:
            steps.add(max(1, s))
            k += 1
    steps = {s for s in steps if s <= last_step}
    if evaluation.during_training:
        steps.add(last_step)
    return sorted(steps)
