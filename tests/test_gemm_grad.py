"""The convolution filter gradient written as matmuls (models/gemm_grad.py)
must equal TensorFlow's Conv2DBackpropFilter, wrapped pairs included, and a
model built with it must train exactly as the native one does."""

import numpy as np
import pytest
import tensorflow as tf

from models import gemm_grad
from models.vgg import GemmGradConv2D
from conftest import assert_trains_as_the_native_model


def _native_filter_gradient(x, dy, kernel_size):
    return tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=[*kernel_size, x.shape[-1], dy.shape[-1]],
        out_backprop=dy, strides=[1, 1, 1, 1], padding="SAME")


# (x's shape, output channels, kernel) of the equality tests.
SHAPES = [
    ((2, 8, 8, 16), 8, (3, 3)),
    ((1, 5, 7, 16), 4, (3, 3)),  # not square, one image
    ((3, 2, 2, 32), 3, (3, 3)),  # the kernel overhangs the image
    ((2, 1, 1, 16), 5, (3, 3)),  # one pixel: only the centre pairs
    ((2, 6, 9, 16), 4, (5, 5)),
    ((2, 4, 4, 8), 4, (1, 3)),
    ((2, 4, 4, 8), 4, (1, 1)),
]


def _assert_equals_tensorflows(form, shape, out_channels, kernel, seed):
    """``form(x, dy, kernel)`` on unit-normal data equals
    Conv2DBackpropFilter to fp32 rounding."""
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=shape), tf.float32)
    dy = tf.constant(rng.normal(size=shape[:3] + (out_channels,)), tf.float32)
    want = _native_filter_gradient(x, dy, kernel)
    got = form(x, dy, kernel)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape,out_channels,kernel", SHAPES)
def test_filter_gradient_equals_tensorflows(shape, out_channels, kernel):
    _assert_equals_tensorflows(gemm_grad.filter_gradient, shape, out_channels,
                               kernel, seed=0)


def test_filter_gradient_with_an_unknown_batch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6, 6, 16)).astype("float32")
    dy = rng.normal(size=(3, 6, 6, 4)).astype("float32")
    traced = tf.function(
        lambda x, dy: gemm_grad.filter_gradient(x, dy, (3, 3)),
        input_signature=[tf.TensorSpec([None, 6, 6, 16]),
                         tf.TensorSpec([None, 6, 6, 4])])
    np.testing.assert_allclose(
        traced(x, dy).numpy(),
        _native_filter_gradient(tf.constant(x), tf.constant(dy), (3, 3)).numpy(),
        rtol=1e-4, atol=1e-4)


# The patches form: the same gradient, summed in another order; it must
# equal TensorFlow's to fp32 rounding (rtol and atol 1e-4 on unit-normal
# data, as the row form), whatever the chunking of the batch.
@pytest.mark.parametrize("shape,out_channels,kernel",
                         SHAPES + [((5, 3, 3, 8), 4, (1, 1))])
@pytest.mark.parametrize("chunk_bytes", [None, 1, 2 * 8 * 8 * 9 * 16 * 4])
def test_im2col_filter_gradient_equals_tensorflows(shape, out_channels, kernel,
                                                   chunk_bytes):
    _assert_equals_tensorflows(
        lambda x, dy, kernel: gemm_grad.im2col_filter_gradient(
            x, dy, kernel, chunk_bytes), shape, out_channels, kernel, seed=4)


def test_im2col_filter_gradient_with_an_unknown_batch_in_uneven_chunks():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, 6, 6, 16)).astype("float32")
    dy = rng.normal(size=(5, 6, 6, 4)).astype("float32")
    two_images = 2 * 6 * 6 * 9 * 16 * 4  # chunks of 2, 2 and 1 images
    traced = tf.function(
        lambda x, dy: gemm_grad.im2col_filter_gradient(x, dy, (3, 3),
                                                       two_images),
        input_signature=[tf.TensorSpec([None, 6, 6, 16]),
                         tf.TensorSpec([None, 6, 6, 4])])
    np.testing.assert_allclose(
        traced(x, dy).numpy(),
        _native_filter_gradient(tf.constant(x), tf.constant(dy), (3, 3)).numpy(),
        rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="odd"):
        gemm_grad.im2col_filter_gradient(tf.zeros((1, 4, 4, 16)),
                                         tf.zeros((1, 4, 4, 2)), (2, 2))


def test_each_shape_gets_its_form():
    f = gemm_grad.formulation
    assert f(224, 224, 64) == f(56, 56, 256) == "rows"
    assert f(28, 28, 512) == f(14, 14, 512) == f(16, 16, 64) == "im2col"
    assert f(7, 7, 512) is None and f(224, 224, 3) is None
    assert f(28, 28, 512, forms=("rows",)) is None
    assert f(56, 56, 256, forms=("im2col",)) is None


def test_even_kernels_are_refused():
    x = tf.zeros((1, 4, 4, 16))
    with pytest.raises(ValueError, match="odd"):
        gemm_grad.filter_gradient(x, tf.zeros((1, 4, 4, 2)), (2, 2))


@pytest.mark.parametrize("with_bias,relu", [(False, False), (True, False),
                                             (True, True)])
def test_conv2d_same_has_tensorflows_output_and_gradients(with_bias, relu):
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(2, 7, 7, 16)), tf.float32)
    kernel = tf.Variable(rng.normal(size=(3, 3, 16, 8)).astype("float32"))
    bias = tf.Variable(rng.normal(size=(8,)).astype("float32"))
    weights = tf.constant(rng.normal(size=(2, 7, 7, 8)), tf.float32)

    def native(x, k, b, relu):
        y = tf.nn.conv2d(x, k, 1, "SAME")
        y = y + b if b is not None else y
        return tf.nn.relu(y) if relu else y

    results = []
    for conv in (native, gemm_grad.conv2d_same):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = conv(x, kernel, bias if with_bias else None, relu)
            loss = tf.reduce_sum(y * weights)
        sources = [x, kernel] + ([bias] if with_bias else [])
        results.append([y, *tape.gradient(loss, sources)])
    if relu:  # some outputs were cut to zero, so the ReLU's gradient mattered
        assert 0 < float(tf.reduce_mean(tf.cast(results[0][0] > 0, tf.float32))) < 1
    for native_value, gemm in zip(*results):
        np.testing.assert_allclose(gemm.numpy(), native_value.numpy(),
                                   rtol=1e-4, atol=1e-4)


def _ops_of_gradient(layer, channels, size=8):
    x = tf.random.normal((2, size, size, channels))
    layer.build(x.shape)

    @tf.function
    def grad():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x))
        return tape.gradient(loss, layer.kernel)

    return {op.type for op in grad.get_concrete_function().graph.get_operations()}


def test_gemm_layer_uses_matmuls_only_where_it_applies(monkeypatch):
    # At the default threshold an 8x8 image is too small for the matmuls.
    assert "Conv2DBackpropFilter" in _ops_of_gradient(
        GemmGradConv2D(4, 3, padding="same"), 16)
    monkeypatch.setattr(gemm_grad, "MIN_PIXELS", 8 * 8)
    for activation in (None, "relu"):
        ops = _ops_of_gradient(
            GemmGradConv2D(4, 3, padding="same", activation=activation), 16)
        assert "MatMul" in ops and "Conv2DBackpropFilter" not in ops
    # The image's 3 channels, other activations, and strided or "valid"
    # convolutions keep TensorFlow's kernel.
    for layer, channels in ((GemmGradConv2D(4, 3, padding="same"), 3),
                            (GemmGradConv2D(4, 3, padding="same",
                                            activation="tanh"), 16),
                            (GemmGradConv2D(4, 3, padding="valid"), 16),
                            (GemmGradConv2D(4, 3, strides=2, padding="same"), 16)):
        assert "Conv2DBackpropFilter" in _ops_of_gradient(layer, channels)


def test_gemm_layer_uses_the_patches_below_56x56_when_allowed():
    both = GemmGradConv2D(4, 3, padding="same", activation="relu",
                          forms=gemm_grad.FORMS)
    ops = _ops_of_gradient(both, 16, size=16)
    # The chunks' matmuls run in a loop over the batch.
    assert ops & {"While", "StatelessWhile"}
    assert "Conv2DBackpropFilter" not in ops
    assert GemmGradConv2D.from_config(both.get_config()).forms == gemm_grad.FORMS
    rows_only = GemmGradConv2D(4, 3, padding="same")  # the default
    assert "Conv2DBackpropFilter" in _ops_of_gradient(rows_only, 16, size=16)


def test_gemm_layer_with_unknown_image_size_keeps_tensorflows_kernel(
        monkeypatch):
    monkeypatch.setattr(gemm_grad, "MIN_PIXELS", 1)
    layer = GemmGradConv2D(4, 3, padding="same", activation="relu")
    layer.build((None, None, None, 16))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 16])])
    def grad(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x))
        return tape.gradient(loss, layer.kernel)

    ops = {op.type for op in grad.get_concrete_function().graph.get_operations()}
    assert "Conv2DBackpropFilter" in ops
    assert grad(tf.ones((1, 5, 5, 16))).shape == (3, 3, 16, 4)


@pytest.mark.parametrize("name", ["vgg11", "vgg11_bn"])
def test_gemm_model_trains_as_the_native_one(name, monkeypatch):
    monkeypatch.setattr(gemm_grad, "MIN_PIXELS", 1)  # every layer, at 32x32
    gemm = assert_trains_as_the_native_model(name, 3, filter_gradient="gemm")
    assert sum(isinstance(layer, GemmGradConv2D) for layer in gemm.layers) == 8


@pytest.mark.parametrize("filter_gradient,layers_in_form", [
    ("gemm_im2col", 7),  # every layer of 16+ channels, 16x16 down to 2x2
    ("gemm", 0),         # the patches' layers keep TensorFlow's kernel
])
def test_the_patches_model_trains_as_the_native_one(filter_gradient,
                                                    layers_in_form, monkeypatch):
    monkeypatch.setattr(gemm_grad, "MIN_IM2COL_PIXELS", 1)
    calls = []
    real = gemm_grad.FORM_FUNCTIONS["im2col"]
    monkeypatch.setitem(gemm_grad.FORM_FUNCTIONS, "im2col",
                        lambda *a: calls.append(1) or real(*a))
    assert_trains_as_the_native_model("vgg11", 6,
                                      filter_gradient=filter_gradient)
    assert len(calls) == layers_in_form
