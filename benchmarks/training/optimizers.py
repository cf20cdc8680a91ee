"""Optimizers and the L2 weight decay, in tf_cnn_benchmarks' meanings.

The training step all-reduces the gradients itself, so that gradient clipping
and the fp16 overflow check see the global gradient (as tf_cnn_benchmarks'
replicated mode does).  Keras' optimizers would all-reduce them again inside
``apply``; the optimizers built here skip that second reduction.  A test
(tests/test_loop.py) checks that 2 replicas take the same step as 1.
"""

import keras
import tensorflow as tf
from keras import layers


def _explicitly_reduced(optimizer_class):
    class Optimizer(optimizer_class):
        def _all_reduce_sum_gradients(self, grads_and_vars):
            return grads_and_vars  # already summed by the training step

    Optimizer.__name__ = optimizer_class.__name__
    return Optimizer


class FusedSGD(keras.optimizers.SGD):
    """SGD with tf_cnn_benchmarks' momentum (TF1's MomentumOptimizer, also
    PyTorch's), applied by TensorFlow's fused kernels in place and in one
    pass: ResourceApplyMomentum or ResourceApplyGradientDescent.

        accum = m * accum + g;  w -= lr * accum            (momentum)
                                w -= lr * (g + m * accum)   (Nesterov)

    Keras' SGD keeps v = m * v - lr * g instead, which takes the same steps
    while the learning rate is constant and other steps when it changes (the
    old velocity keeps the old rate).  Its update_step also makes a temporary
    the size of the variable per op (fc1 alone has 103M weights).  The slot
    keeps Keras' name, ``momentums``."""

    def update_step(self, gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        learning_rate = tf.cast(learning_rate, dtype)
        gradient = tf.cast(gradient, dtype)
        if self.momentum:
            accumulator = self.momentums[self._get_variable_index(variable)]
            tf.raw_ops.ResourceApplyMomentum(
                var=variable.handle, accum=accumulator.handle,
                lr=learning_rate, grad=gradient,
                momentum=tf.cast(self.momentum, dtype),
                use_nesterov=self.nesterov)
        else:
            tf.raw_ops.ResourceApplyGradientDescent(
                var=variable.handle, alpha=learning_rate, delta=gradient)


class TF1RMSprop(keras.optimizers.RMSprop):
    """RMSprop as TF1's RMSPropOptimizer (tf_cnn_benchmarks'): the same
    update as Keras', but the mean square starts at 1, not 0, so the first
    steps are not divided by a near-zero root."""

    def build(self, variables):
        super().build(variables)
        for velocity in self._velocities:
            velocity.assign(tf.ones_like(velocity))


def build_optimizer(opt, precision="fp32", learning_rate=None, model=None):
    """A Keras optimizer for an OptimizerConfig; fp16 gets loss scaling:
    dynamic (LossScaleOptimizer), or a fixed --fp16_loss_scale.

    ``learning_rate``: a float or a schedule (default opt.init_learning_rate).
    ``model``: for adamw, whose decoupled decay skips what L2 skips.
    """
    fixed_scale = opt.fixed_loss_scale if precision == "fp16" else None
    common = dict(learning_rate=(opt.init_learning_rate if learning_rate is None
                                 else learning_rate),
                  clipvalue=opt.gradient_clip, loss_scale_factor=fixed_scale)
    if opt.optimizer == "sgd":
        inner = _explicitly_reduced(FusedSGD)(**common)
    elif opt.optimizer == "momentum":  # tf_cnn_benchmarks uses Nesterov
        inner = _explicitly_reduced(FusedSGD)(
            momentum=opt.momentum, nesterov=opt.nesterov, **common)
    elif opt.optimizer == "rmsprop":
        inner = _explicitly_reduced(TF1RMSprop)(
            rho=opt.rmsprop_decay, momentum=opt.rmsprop_momentum,
            epsilon=opt.rmsprop_epsilon, **common)
    elif opt.optimizer == "adam":
        inner = _explicitly_reduced(keras.optimizers.Adam)(
            beta_1=opt.adam_beta1, beta_2=opt.adam_beta2,
            epsilon=opt.adam_epsilon, **common)
    elif opt.optimizer == "adamw":
        inner = _explicitly_reduced(keras.optimizers.AdamW)(
            weight_decay=opt.weight_decay, beta_1=opt.adam_beta1,
            beta_2=opt.adam_beta2, epsilon=opt.adam_epsilon, **common)
        if model is not None:
            decayed = {id(v) for v in l2_decay_variables(model)}
            inner.exclude_from_weight_decay(var_list=[
                v for v in model.trainable_variables if id(v) not in decayed])
    else:
        raise ValueError(f"unknown optimizer {opt.optimizer!r}")
    if precision == "fp16" and fixed_scale is None:
        return keras.optimizers.LossScaleOptimizer(
            inner, initial_scale=opt.initial_loss_scale,
            dynamic_growth_steps=opt.fp16_inc_loss_scale_every_n)
    return inner


def l2_loss_factor(opt):
    """The L2 factor added to the loss: adamw decays the weights itself."""
    return 0.0 if opt.optimizer == "adamw" else opt.weight_decay


def l2_decay_variables(model):
    """Kernels and biases of conv and dense layers; batch norm is left out,
    as in tf_cnn_benchmarks."""
    return [w for layer in model.layers
            if isinstance(layer, (layers.Conv2D, layers.Dense))
            for w in layer.trainable_weights]


def l2_loss(variables, weight_decay, single_op=False):
    """weight_decay * sum(v^2) / 2, in fp32; ``single_op``: one l2_loss over
    the variables concatenated (--single_l2_loss_op) instead of one each."""
    if not weight_decay or not variables:
        return tf.constant(0.0)
    values = [tf.cast(v, tf.float32) for v in variables]
    if single_op:
        return weight_decay * tf.nn.l2_loss(
            tf.concat([tf.reshape(v, [-1]) for v in values], axis=0))
    return weight_decay * tf.add_n([tf.nn.l2_loss(v) for v in values])


def learning_rate_of(optimizer):
    """The optimizer's current learning rate, as a float."""
    lr = optimizer.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)
