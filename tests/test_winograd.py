"""models.winograd: F(4x4, 3x3) equals TensorFlow's convolution, forward
and both gradients, within winograd.TOLERANCE of each result's largest
magnitude (fp32, unit-normal data), on even and odd sizes."""

import numpy as np
import pytest
import tensorflow as tf

import models
from models import winograd
from models.vgg import WinogradConv2D
from tests.conftest import assert_trains_as_the_native_model, depends_on


def _results(conv, x, kernel, dy):
    with tf.GradientTape() as tape:
        tape.watch([x, kernel])
        y = conv(x, kernel)
    return [y, *tape.gradient(y, [x, kernel], output_gradients=dy)]


def _assert_close(got, want):
    for g, w in zip(got, want):
        scale = float(tf.reduce_max(tf.abs(w))) or 1.0
        np.testing.assert_allclose(g.numpy() / scale, w.numpy() / scale,
                                   atol=winograd.TOLERANCE)


@pytest.mark.parametrize("shape,out_channels", [
    ((2, 8, 8, 16), 16),    # whole tiles
    ((1, 5, 7, 3), 4),      # odd sizes: partial tiles on both sides
    ((3, 13, 13, 17), 5),
    ((2, 1, 1, 2), 3),      # one pixel: a single tile, mostly padding
    ((1, 2, 9, 8), 32),
    ((4, 14, 14, 32), 64),  # VGG16's last stage, scaled down
])
def test_equals_tensorflows_convolution(shape, out_channels):
    rng = np.random.default_rng(sum(shape) + out_channels)
    x = tf.constant(rng.standard_normal(shape), tf.float32)
    kernel = tf.constant(rng.standard_normal((3, 3, shape[-1], out_channels)),
                         tf.float32)
    dy = tf.constant(rng.standard_normal((*shape[:3], out_channels)), tf.float32)
    want = _results(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"), x, kernel, dy)
    got = _results(winograd.conv2d_same, x, kernel, dy)
    _assert_close(got, want)
    assert got[0].shape == want[0].shape and got[1].shape == x.shape


def test_with_an_unknown_batch():
    rng = np.random.default_rng(1)
    kernel = tf.constant(rng.standard_normal((3, 3, 8, 6)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, 10, 6, 8])])
    def conv(x):
        return winograd.conv2d_same(x, kernel)

    x = tf.constant(rng.standard_normal((3, 10, 6, 8)), tf.float32)
    _assert_close([conv(x)], [tf.nn.conv2d(x, kernel, 1, "SAME")])


def test_the_graph_has_no_convolution():
    """Forward and both gradients are the transforms' matmuls."""
    kernel = tf.ones((3, 3, 8, 8))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = winograd.conv2d_same(x, kernel)
        return tape.gradient(y, [x, kernel])

    graph = step.get_concrete_function(tf.TensorSpec([2, 8, 8, 8])).graph
    ops = {op.type for op in graph.get_operations()}
    assert not ops & {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"}
    assert "BatchMatMulV2" in ops


def test_refuses_other_kernels():
    with pytest.raises(ValueError, match="3x3"):
        winograd.conv2d_same(tf.zeros((1, 8, 8, 4)), tf.zeros((5, 5, 4, 4)))


@pytest.mark.parametrize("height,in_channels,want", [
    (112, 64, True), (56, 256, True), (14, 512, True), (4, 512, True),
    (224, 64, False),  # the transforms' memory traffic outweighs the FLOPs
    (112, 3, False),   # the image's 3 channels: thin matmuls
    (3, 512, False), (2, 512, False),  # smaller than one output tile
])
def test_which_layers_pay(height, in_channels, want):
    assert winograd.pays_off(height, height, in_channels, 64) is want


def test_the_winograd_model_trains_as_the_native_one():
    model = assert_trains_as_the_native_model("vgg11", 4,
                                              conv_algorithm="winograd")
    # At 32x32 every convolution is a WinogradConv2D; those of 4x4 to 16x16
    # compute by Winograd's algorithm (the first has 3 channels, the last
    # two are 2x2).
    assert sum(isinstance(layer, WinogradConv2D) for layer in model.layers) == 8


def test_the_batch_norm_model_computes_as_the_native_one():
    """vgg11_bn's logits (inference: batch norm's moving statistics).  Its
    training gradients are not compared: at 32x32 its last stages normalise
    over 4-16 values, which magnifies rounding differences of ~1e-6 into
    ~1e-2."""
    images = tf.random.stateless_uniform((4, 32, 32, 3), (3, 4), -1, 1)
    built = [models.build("vgg11_bn", image_size=32, num_classes=10,
                          dropout=0.0, conv_algorithm=alg)
             for alg in ("direct", "winograd")]
    built[1].set_weights(built[0].get_weights())
    _assert_close([built[1](images, training=False)],
                  [built[0](images, training=False)])


def test_bf16_layers_keep_the_direct_convolution():
    """Winograd's transforms need fp32's mantissa: a mixed_bfloat16 model
    built with it computes exactly what the direct one does."""
    images = tf.random.stateless_uniform((2, 32, 32, 3), (1, 2))
    built = [models.build("vgg11", image_size=32, num_classes=10, dropout=0.0,
                          dtype_policy="mixed_bfloat16", conv_algorithm=alg)
             for alg in ("direct", "winograd")]
    built[1].set_weights(built[0].get_weights())
    direct, wino = (m(images, training=False).numpy() for m in built)
    np.testing.assert_array_equal(wino, direct)


def test_an_unknown_conv_algorithm_is_refused():
    with pytest.raises(ValueError, match="conv_algorithm"):
        models.build("vgg11", image_size=32, num_classes=10,
                     conv_algorithm="fft")


@pytest.mark.parametrize("shape,out_channels", [
    ((5, 8, 8, 16), 16), ((3, 13, 13, 17), 5), ((4, 1, 1, 2), 3)])
def test_in_chunks_of_images_equals_tensorflows(monkeypatch, shape,
                                                out_channels):
    """Chunks of one or two images (CHUNK_BYTES made small), odd sizes too."""
    monkeypatch.setattr(winograd, "CHUNK_BYTES",
                        2 * winograd.POINTS * 4 * max(shape[-1], out_channels)
                        * (-(-shape[1] // 4)) * (-(-shape[2] // 4)))
    assert len(winograd.image_chunks(shape, max(shape[-1], out_channels))) > 1
    test_equals_tensorflows_convolution(shape, out_channels)


def test_image_chunks_cover_the_batch_within_the_bound():
    shape, channels = (16, 112, 112, 128), 128
    chunks = winograd.image_chunks(shape, channels)
    assert [first for first, _ in chunks] == list(
        np.cumsum([0] + [n for _, n in chunks])[:-1])
    assert sum(n for _, n in chunks) == 16 and len(chunks) > 1
    per_image = winograd.POINTS * 4 * channels * 28 * 28
    assert all(n * per_image <= winograd.CHUNK_BYTES for _, n in chunks)
    # A single image over the bound is still one chunk; an unknown batch one.
    assert winograd.image_chunks((3, 1024, 1024, 512), 512) == [
        (0, 1), (1, 1), (2, 1)]
    assert winograd.image_chunks((None, 8, 8, 4), 4) == [(0, None)]


def _ops(step, spec, op_type):
    graph = step.get_concrete_function(spec).graph
    return [op for op in graph.get_operations() if op.type == op_type]


@pytest.mark.parametrize("pass_", ["forward", "kernel_gradient"])
def test_chunks_run_one_after_another(monkeypatch, pass_):
    """Each chunk's tiles are gathered only after the previous chunk's
    result exists, so its temporaries are freed first (input_gradient is
    forward on dy)."""
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)  # one image per chunk
    kernel = tf.ones((3, 3, 4, 4))
    run = {"forward": lambda x: winograd.forward(x, kernel),
           "kernel_gradient": lambda x: winograd.kernel_gradient(x, x)}[pass_]
    gathers = _ops(tf.function(run), tf.TensorSpec([3, 8, 8, 4]), "GatherV2")
    assert len(gathers) == 3
    assert depends_on(gathers[1], gathers[0])
    assert depends_on(gathers[2], gathers[1])
    assert not depends_on(gathers[0], gathers[1])


@pytest.mark.parametrize("batch,waits", [
    (64, True), (None, True),  # 8x8: 4 tiles an image, 256 in all
    (63, False),  # 252 tiles: the transform would cost too much time there
])
def test_the_input_gradients_kernel_waits_for_dy(batch, waits):
    """With many tiles the flipped kernel (and so its transform) is made in
    the backward pass, not at the step's start (where its only input, the
    kernel, is ready) to be held through the whole forward pass."""
    kernel = tf.ones((3, 3, 4, 4))
    graph = tf.function(lambda dy: winograd.input_gradient(dy, kernel)) \
        .get_concrete_function(tf.TensorSpec([batch, 8, 8, 4])).graph
    (flip,) = [op for op in graph.get_operations() if op.type == "Transpose"
               and op.inputs[0].shape.rank == 4]
    assert depends_on(flip, graph.inputs[0].op) is waits  # dy
