"""The compiled loops of the training, inference and input benchmarks.

Each is a tf.function that runs ``num_steps`` steps per call under the
strategy (--steps_per_loop), returning every step's loss so the host
(loop/driver.py) can name the exact step where it stopped being finite.
"""

import tensorflow as tf

from benchmarks.errors import UsageError
from benchmarks.training.optimizers import l2_decay_variables, l2_loss

SUM = tf.distribute.ReduceOp.SUM


def _accuracy(logits, labels, global_batch):
    """(top-1, top-5) hits of this replica over the global batch."""
    k = min(5, logits.shape[-1])
    top1 = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels)
    top5 = tf.math.in_top_k(labels, tf.cast(logits, tf.float32), k)
    return (tf.reduce_sum(tf.cast(top1, tf.float32)) / global_batch,
            tf.reduce_sum(tf.cast(top5, tf.float32)) / global_batch)


def cross_entropy_per_example(logits, labels, label_smoothing=0.0):
    """Softmax cross-entropy in fp32; with label smoothing e the target is
    (1 - e) on the label plus e / num_classes on every class."""
    logits = tf.cast(logits, tf.float32)
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=logits)
    if label_smoothing:
        uniform = -tf.reduce_mean(tf.nn.log_softmax(logits), axis=-1)
        per_example = (1.0 - label_smoothing) * per_example + \
            label_smoothing * uniform
    return per_example


def _cross_entropy(logits, labels, global_batch, label_smoothing=0.0):
    return tf.nn.compute_average_loss(
        cross_entropy_per_example(logits, labels, label_smoothing),
        global_batch_size=global_batch)


# Words in the errors TensorFlow raises when XLA cannot compile or run a
# function on a device (no XLA backend registered, an op without an XLA
# kernel, a failed autotune or compile).
_XLA_ERROR_MARKERS = ("XLA", "xla", "jit_compile", "JIT compilation")


def explain_xla_error(error, device):
    """A UsageError for an OpError that XLA raised, else None."""
    message = str(getattr(error, "message", error))
    if not any(m in message for m in _XLA_ERROR_MARKERS):
        return None
    first = message.strip().splitlines()[0][:300] if message.strip() else type(error).__name__
    return UsageError(f"--xla: XLA cannot compile or run the step on {device} "
                      f"({first}); run without --xla")


def build_train_loop(strategy, model, optimizer, *, global_batch, weight_decay,
                     xla=False, with_accuracy=False, nhwc_to_nchw=False,
                     label_smoothing=0.0, single_l2_loss_op=False,
                     timed_input=True):
    """Returns ``loop(num_steps, inputs) -> {"loss": [num_steps], ...}``.

    ``inputs`` is a per-replica (images, labels) batch fed to every step, or a
    distributed iterator to draw a batch from at every step.  "loss" is the
    global mean cross-entropy plus the L2 term (tf_cnn_benchmarks'
    total_loss), "base_loss" the cross-entropy alone.
    """
    num_replicas = strategy.num_replicas_in_sync
    decay_variables = l2_decay_variables(model)
    variables = model.trainable_variables

    def forward_backward(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            base = _cross_entropy(logits, labels, global_batch, label_smoothing)
            # Each replica adds 1/R of the L2 term: the all-reduce sums to one.
            loss = base + l2_loss(decay_variables, weight_decay,
                                  single_l2_loss_op) / num_replicas
            scaled_loss = optimizer.scale_loss(loss)  # fp16: x loss scale
        grads = tape.gradient(scaled_loss, variables)
        # (Made here, per replica: strategy.run must return replica values.)
        accuracy = (_accuracy(logits, labels, global_batch) if with_accuracy
                    else (tf.constant(0.0), tf.constant(0.0)))
        return loss, base, grads, accuracy

    if xla:  # compile forward and backward; all-reduce and update stay outside
        forward_backward = tf.function(forward_backward, jit_compile=True)

    def replica_step(images, labels):
        if nhwc_to_nchw:  # the input pipeline makes NHWC; transpose on device
            images = tf.transpose(images, [0, 3, 1, 2])
        loss, base, grads, (top1, top5) = forward_backward(images, labels)
        # One explicit all-reduce (the optimizers skip their own, see
        # training/optimizers.py), so clipping and overflow checks see global
        # grads.  None with one replica: its sum is the gradient itself, and
        # the all-reduce's gradient wrapper (an IdentityN over every
        # gradient) would hold each one until the last is made: fc1's alone
        # is 25088 x 4096 fp32 weights, kept through the whole backward pass
        # of the convolutions (measured in a bare loop with Keras' own
        # all-reduce, which has the same wrapper, by
        # tf.config.experimental.get_memory_info; the CLI's peak RSS did not
        # move; docs/performance.md has the figures).
        if num_replicas > 1:
            grads = tf.distribute.get_replica_context().all_reduce(SUM, grads)
        optimizer.apply(grads, variables)
        return loss, base, top1, top5

    return _multi_step_loop(strategy, replica_step, timed_input)


def build_infer_loop(strategy, model, *, global_batch, xla=False,
                     nhwc_to_nchw=False, timed_input=True):
    """Forward only: ``loop(num_steps, inputs) -> {"loss": [num_steps], ...}``."""

    def replica_step(images, labels):
        if nhwc_to_nchw:
            images = tf.transpose(images, [0, 3, 1, 2])
        logits = model(images, training=False)
        loss = _cross_entropy(logits, labels, global_batch)
        return (loss, loss) + _accuracy(logits, labels, global_batch)

    if xla:
        replica_step = tf.function(replica_step, jit_compile=True)
    return _multi_step_loop(strategy, replica_step, timed_input)


def build_input_loop(strategy, timed_input=True):
    """Input only: draws batches onto the replicas' devices, computes nothing."""

    def replica_step(images, labels):
        touched = tf.reduce_sum(tf.cast(labels, tf.float32)) + \
            tf.cast(tf.reduce_sum(images[:, 0, 0, 0]), tf.float32)
        zero = 0.0 * touched
        return zero, zero, tf.constant(0.0), tf.constant(0.0)

    return _multi_step_loop(strategy, replica_step, timed_input)


# What a replica step returns, each summed over the replicas per step.
_OUTPUTS = ("loss", "base_loss", "top1", "top5")


def _multi_step_loop(strategy, replica_step, timed_input=True):
    """``timed_input``: measure the wait for input with tf.timestamp, which
    op determinism refuses; unmeasured waits are NaN."""

    @tf.function
    def loop(num_steps, inputs):
        per_step = [tf.TensorArray(tf.float32, size=num_steps) for _ in _OUTPUTS]
        waited = tf.constant(0.0 if timed_input else float("nan"), tf.float64)
        from_iterator = isinstance(inputs, tf.distribute.DistributedIterator)
        for i in tf.range(num_steps):
            if from_iterator and not timed_input:
                batch = next(inputs)
            elif from_iterator:
                # Stateful ops run in program order, so the two timestamps
                # bracket the wait for the next batch.
                before = tf.timestamp()
                batch = next(inputs)
                with tf.control_dependencies(tf.nest.flatten(
                        strategy.experimental_local_results(batch))):
                    waited += tf.timestamp() - before
            else:
                batch = inputs
            outputs = strategy.run(replica_step, args=batch)
            per_step = [array.write(i, strategy.reduce(SUM, value, axis=None))
                        for array, value in zip(per_step, outputs)]
        result = {name: array.stack() for name, array in zip(_OUTPUTS, per_step)}
        result["input_wait"] = waited
        return result

    return loop
