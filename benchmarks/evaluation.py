"""Evaluation: top-1, top-5 and loss over the validation split, every image
once (padding carries weight 0), with eval img/s.

The compiled loop sums (top-1 hits, top-5 hits, loss, examples) over its
steps and replicas; ratios are taken on the host at the end, so the figures
are exact whatever the batch size or replica count.
"""

import math
import time
from dataclasses import dataclass

import tensorflow as tf

from benchmarks.errors import UsageError

from benchmarks.loop.compiled import cross_entropy_per_example

SUM = tf.distribute.ReduceOp.SUM


@dataclass(frozen=True)
class EvalResult:
    top1: float  # fractions of the examples evaluated
    top5: float
    loss: float  # mean cross-entropy (no label smoothing, no L2)
    examples: int  # real (unpadded) images evaluated
    seconds: float  # wall time of the whole pass
    ips: float  # global img/s, the first (compiling) call excluded
    step: int = 0  # training step of the weights

    def as_metrics(self):
        return {"eval.top1": self.top1, "eval.top5": self.top5,
                "eval.loss": self.loss, "eval.ips": self.ips,
                "eval.examples": self.examples, "eval.seconds": self.seconds}


def build_eval_loop(strategy, model, *, nhwc_to_nchw=False):
    """``loop(num_steps, iterator) -> [top1 hits, top5 hits, loss sum, n]``."""
    k = min(5, model.output_shape[-1])

    def replica_step(images, labels, weights):
        if nhwc_to_nchw:
            images = tf.transpose(images, [0, 3, 1, 2])
        logits = tf.cast(model(images, training=False), tf.float32)
        hit1 = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
        top_k = tf.math.top_k(logits, k=k).indices
        hit5 = tf.reduce_any(tf.equal(top_k, labels[:, None]), axis=-1)
        loss = cross_entropy_per_example(logits, labels)
        return tf.stack([tf.reduce_sum(tf.cast(hit1, tf.float32) * weights),
                         tf.reduce_sum(tf.cast(hit5, tf.float32) * weights),
                         tf.reduce_sum(loss * weights),
                         tf.reduce_sum(weights)])

    @tf.function
    def loop(num_steps, iterator):
        totals = tf.zeros([4])
        for _ in tf.range(num_steps):
            batch = next(iterator)
            totals += strategy.reduce(SUM, strategy.run(replica_step, args=batch),
                                      axis=None)
        return totals

    return loop


class Evaluator:
    """Runs one pass (or the first ``limit`` steps) of the validation split."""

    def __init__(self, loop, eval_inputs, *, num_eval_batches=None,
                 num_eval_epochs=None, clock=time.perf_counter):
        self.loop = loop
        self.inputs = eval_inputs
        self.num_eval_batches = num_eval_batches
        self.num_eval_epochs = num_eval_epochs
        self.clock = clock

    @property
    def steps(self):
        """Steps one evaluation runs."""
        return self._steps(self.inputs.num_steps)

    def _steps(self, full):
        steps = full
        if self.num_eval_batches:
            steps = min(steps, self.num_eval_batches)
        if self.num_eval_epochs:
            steps = min(steps, max(1, math.ceil(self.num_eval_epochs * full)))
        return steps

    def evaluate(self, step=0):
        iterator = self.inputs.iterator()
        steps = self._steps(self.inputs.num_steps)
        start = self.clock()
        try:
            first = self.loop(tf.constant(1), iterator).numpy()
            rest_start = self.clock()
            rest = self.loop(tf.constant(steps - 1), iterator).numpy()
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
            explained = self.inputs.explain(e)
            if explained is None:
                raise
        else:
            explained = None
        if explained is not None:
            del iterator  # its reader threads stop before the error is shown
            raise explained
        end = self.clock()
        total = first + rest
        examples = int(round(total[3]))
        if examples == 0:
            raise UsageError(f"no image of {self.inputs.description} decodes "
                             "(every record was skipped); check its shards' "
                             "JPEGs (image/encoded)")
        if steps > 1 and rest[3] > 0:
            ips = float(rest[3]) / (end - rest_start)
        else:
            ips = examples / (end - start)
        n = max(1, examples)
        return EvalResult(top1=float(total[0]) / n, top5=float(total[1]) / n,
                          loss=float(total[2]) / n, examples=examples,
                          seconds=end - start, ips=ips, step=step)
