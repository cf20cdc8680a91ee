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
    """keras.optimizers.SGD updated by TensorFlow's fused kernels, in place
    and in one pass: ResourceApplyKerasMomentum (Keras' own momentum and
    Nesterov formulas, as a kernel) or ResourceApplyGradientDescent.  Keras'
    update_step computes the same with separate multiply/subtract ops, each
    a temporary the size of the variable (fc1 alone has 103M weights)."""

    def update_step(self, gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        learning_rate = tf.cast(learning_rate, dtype)
        gradient = tf.cast(gradient, dtype)
        if self.momentum:
            accumulator = self.momentums[self._get_variable_index(variable)]
            tf.raw_ops.ResourceApplyKerasMomentum(
                var=variable.handle, accum=accumulator.handle,
                lr=learning_rate, grad=gradient,
                momentum=tf.cast(self.momentum, dtype),
                use_nesterov=self.nesterov)
        else:
            tf.raw_ops.ResourceApplyGradientDescent(
                var=variable.handle, alpha=learning_rate, delta=gradient)


def build_optimizer(opt, precision="fp32", learning_rate=None, model=None):
    """A Keras optimizer for an OptimizerConfig; fp16 gets dynamic loss scaling.

    ``learning_rate``: a float or a schedule (default opt.init_learning_rate).
    ``model``: for adamw, whose decoupled decay skips what L2 skips.
    """
    common = dict(learning_rate=(opt.init_learning_rate if learning_rate is None
                                 else learning_rate),
                  clipvalue=opt.gradient_clip)
    if opt.optimizer == "sgd":
        inner = _explicitly_reduced(FusedSGD)(**common)
    elif opt.optimizer == "momentum":  # tf_cnn_benchmarks uses Nesterov
        inner = _explicitly_reduced(FusedSGD)(
            momentum=opt.momentum, nesterov=opt.nesterov, **common)
    elif opt.optimizer == "rmsprop":
        inner = _explicitly_reduced(keras.optimizers.RMSprop)(
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
    if precision == "fp16":
        return keras.optimizers.LossScaleOptimizer(inner)
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


def l2_loss(variables, weight_decay):
    """weight_decay * sum(v^2) / 2, in fp32."""
    if not weight_decay or not variables:
        return tf.constant(0.0)
    return weight_decay * tf.add_n(
        [tf.nn.l2_loss(tf.cast(v, tf.float32)) for v in variables])


def learning_rate_of(optimizer):
    """The optimizer's current learning rate, as a float."""
    lr = optimizer.learning_rate
    return float(lr.numpy() if hasattr(lr, "numpy") else lr)
