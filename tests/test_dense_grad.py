"""The dense product whose input gradient is a batch matmul
(models/dense_grad.py) must give TensorFlow's MatMul values and gradients, and
a model built with it must train as the native one does."""

import numpy as np
import pytest
import tensorflow as tf

import models
from models import dense_grad
from models.vgg import BatchMatMulGradDense
from conftest import assert_trains_as_the_native_model, depends_on

# (batch, in, out): odd sizes, one row, a single output.
SHAPES = [(4, 37, 19), (1, 64, 8), (5, 3, 1), (16, 128, 96)]


@pytest.mark.parametrize("batch,n_in,n_out", SHAPES)
def test_values_and_gradients_equal_tensorflows(batch, n_in, n_out):
    rng = np.random.default_rng(batch * n_in)
    x = tf.constant(rng.normal(size=(batch, n_in)), tf.float32)
    kernel = tf.constant(rng.normal(size=(n_in, n_out)), tf.float32)
    dy = tf.constant(rng.normal(size=(batch, n_out)), tf.float32)
    results = []
    for product in (tf.matmul, dense_grad.matmul):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = product(x, kernel)
        results.append((y, *tape.gradient(y, [x, kernel], output_gradients=dy)))
    for want, got in zip(*results):
        assert got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5,
                                   atol=1e-5)


def test_the_input_gradient_is_a_batch_matmul():
    x, kernel = tf.ones((2, 6)), tf.ones((6, 3))

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = dense_grad.matmul(x, kernel)
        return tape.gradient(y, x)

    ops = [op.type for op in grad.get_concrete_function(x).graph.get_operations()]
    assert ops.count("BatchMatMulV2") == 1
    np.testing.assert_array_equal(grad(x).numpy(), np.full((2, 6), 3.0))


def test_only_big_kernels_pay_off():
    assert dense_grad.pays_off(25088, 4096) and dense_grad.pays_off(4096, 4096)
    assert not dense_grad.pays_off(4096, 1000)


def test_batch_matmul_model_trains_as_the_native_one(monkeypatch):
    monkeypatch.setattr(dense_grad, "MIN_KERNEL_SIZE", 1)  # every layer here
    calls = []
    real = dense_grad.matmul
    monkeypatch.setattr(dense_grad, "matmul",
                        lambda *a: calls.append(1) or real(*a))
    other = assert_trains_as_the_native_model("vgg11", 8,
                                              dense_gradient="batch_matmul")
    # fc1 and fc2; the classifier stays Keras' Dense.
    assert sum(isinstance(layer, BatchMatMulGradDense)
               for layer in other.layers) == 2
    assert len(calls) == 2


def test_an_unknown_dense_gradient_is_refused():
    with pytest.raises(ValueError, match="dense_gradient"):
        models.build("vgg11", image_size=32, num_classes=10,
                     dense_gradient="winograd")


def test_the_kernel_gradient_waits_for_the_input_gradient():
    """So the optimizer's update, which needs the kernel gradient, runs after
    the backward pass's last read of the kernel and can update the variable
    in place (not copy it, as TensorFlow does to a variable still read)."""
    kernel = tf.Variable(tf.ones((6, 3)))

    @tf.function
    def grads(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = dense_grad.matmul(x, kernel)
        return tape.gradient(y, [x, kernel])

    concrete = grads.get_concrete_function(tf.TensorSpec([2, 6]))
    (dx,) = [op for op in concrete.graph.get_operations()
             if op.type == "BatchMatMulV2"]
    d_kernel = concrete.graph.outputs[1].op
    assert depends_on(d_kernel, dx)
