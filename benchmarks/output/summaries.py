"""TensorBoard summaries, in --train_dir's tensorboard/ by
--summary_verbosity: 0 none, 1 scalars (train loss, learning rate, img/s,
top-1; eval top-1, top-5, loss; per-epoch figures), 2 also histograms of the
weights at each evaluation and epoch end; and evaluations' scalars in
--eval_dir."""

import os

import tensorflow as tf


class Summaries:
    def __init__(self, directory, verbosity):
        """Writes into ``directory`` (None, or verbosity 0: nothing)."""
        self.verbosity = verbosity
        self._writer = None
        if verbosity and directory:
            self._writer = tf.summary.create_file_writer(directory)

    @classmethod
    def of_train_dir(cls, train_dir, verbosity):
        return cls(train_dir and os.path.join(train_dir, "tensorboard"),
                   verbosity)

    def scalars(self, step, values):
        """``values``: {"train.loss": 1.2, ...}; None values are skipped."""
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            for name, value in values.items():
                if value is not None:
                    tf.summary.scalar(name.replace(".", "/"), value)

    def weights(self, step, model):
        if self._writer is None or self.verbosity < 2:
            return
        with self._writer.as_default(step=step):
            for v in model.trainable_variables:
                tf.summary.histogram(v.path, v)

    def close(self):
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
