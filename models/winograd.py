"""3x3 convolutions by Winograd's minimal filtering, F(4x4, 3x3).

Why: a stride-1 3x3 convolution computes each 4x4 block of output pixels
from a 6x6 block of input pixels.  Winograd's algorithm (Lavin & Gray,
"Fast Algorithms for Convolutional Neural Networks", 2016) transforms the
6x6 input tile and the 3x3 filter into 36 numbers each, multiplies them
pointwise (a matmul over the channels per point), and transforms the 36
products back into the 16 outputs: 36 multiply-adds per channel pair where
the direct convolution needs 16 x 9 = 144, so 4x fewer FLOPs.  The
transforms are cheap matmuls with small constant matrices:

    Y = A^T [ (G g G^T) * (B^T d B) ] A        per tile d and filter g

With the tiles of every image as rows, the pointwise products are 36 batched
matmuls [tiles, Ci] x [Ci, Co], which oneDNN runs near the CPU's peak.

The gradients are Winograd's too: the input gradient is the same transform
applied to dy with the filter rotated by 180 degrees and its channels
swapped (the input gradient of a "same" convolution is a "same" convolution),
and the filter gradient is the 36 products' own gradient (V^T dM per point),
transformed back with G.

Numerics: the transforms' constants (1/4, 1/6, 1/24, 4, 5, 8) cost precision:
in fp32 the outputs and both gradients agree with TensorFlow's convolution to
within ~3e-5 of their largest magnitude on unit-normal data at VGG16's layer
shapes; tests/test_winograd.py holds them to TOLERANCE.  The layer uses it
only in float32: fp16's and bf16's 11- and 8-bit mantissas are short for the
transforms' constants.  With bf16 products (the transforms in fp32) the
forward erred by 0.10-0.13 of the output's largest magnitude at VGG16's
56x56 .. 14x14 layers, against 3.4-4.3e-3 for bf16's direct convolution.

Memory: each pass runs over chunks of whole images, one after another, so no
temporary exceeds CHUNK_BYTES (why, at CHUNK_BYTES).
"""

import numpy as np
import tensorflow as tf

# F(4x4, 3x3) at the points 0, 1, -1, 2, -2 (Lavin & Gray's matrices).
_B_T = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0],
                 [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
                 [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
_G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
              np.float64)
_A_T = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0],
                 [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], np.float64)
# The two-sided transforms as single matrices over a tile's flattened
# points (row-major): B^T d B = INPUT_T @ vec(d), and so on.
INPUT_T = np.kron(_B_T, _B_T).astype(np.float32)    # [36, 36]
FILTER_T = np.kron(_G, _G).astype(np.float32)       # [36, 9]
OUTPUT_T = np.kron(_A_T, _A_T).astype(np.float32)   # [16, 36]
TILE, OUT = 6, 4  # input and output tile sides
POINTS = TILE * TILE

# Relative error bound (of the largest magnitude) the tests hold fp32 to.
TOLERANCE = 1e-4


def _tile_grid(height, width):
    """Rows and columns of 4x4 output tiles covering an image."""
    return -(-height // OUT), -(-width // OUT)


def _tiles_per_image(height, width):
    rows, cols = _tile_grid(height, width)
    return rows * cols


def tile_positions(height, width):
    """[36, tiles] pixel indices (row * width + col) of each tile's points
    into one image; -1 marks a point in the zero padding.  Tiles step by 4
    from (-1, -1), the "same" padding's corner, and cover the image."""
    rows_of_tiles, cols_of_tiles = _tile_grid(height, width)
    r = (np.arange(TILE)[:, None, None, None]
         + OUT * np.arange(rows_of_tiles)[None, None, :, None] - 1)
    c = (np.arange(TILE)[None, :, None, None]
         + OUT * np.arange(cols_of_tiles)[None, None, None, :] - 1)
    r, c = np.broadcast_arrays(r, c)
    inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
    return np.where(inside, r * width + c, -1).reshape(POINTS, -1)


def _padded_rows(x):
    """The batch's pixels as rows [N * H * W + 1, C]; the last row is zero,
    the one that the padding's points read."""
    channels = x.shape[-1]
    return tf.concat([tf.reshape(x, [-1, channels]),
                      tf.zeros([1, channels], x.dtype)], axis=0)


def _tiles(rows, x_shape, first_image, images):
    """The 6x6 tiles of images [first_image, first_image + images) as
    [36, images * tiles, C], points first: one gather from _padded_rows."""
    _, height, width, _ = x_shape
    pixels = height * width
    positions = tf.constant(tile_positions(height, width), tf.int32)
    zero_row = tf.shape(rows)[0] - 1
    per_image = (first_image + tf.range(images))[None, :, None] * pixels
    index = tf.where(positions[:, None, :] >= 0,
                     positions[:, None, :] + per_image, zero_row)
    return tf.gather(rows, tf.reshape(index, [POINTS, -1]))


def _untile(products, height, width):
    """[16, N * tiles, Co] output tiles back to the [N, H, W, Co] image."""
    channels = products.shape[-1]
    tiles_h, tiles_w = _tile_grid(height, width)
    y = tf.reshape(products, [OUT, OUT, -1, tiles_h, tiles_w, channels])
    y = tf.reshape(tf.transpose(y, [2, 3, 0, 4, 1, 5]),
                   [-1, OUT * tiles_h, OUT * tiles_w, channels])
    if (OUT * tiles_h, OUT * tiles_w) != (height, width):
        y = y[:, :height, :width]
    return y


def _retile(dy):
    """[N, H, W, Co] to its 4x4 output tiles [16, N * tiles, Co] (the
    adjoint of _untile)."""
    _, height, width, channels = dy.shape
    tiles_h, tiles_w = _tile_grid(height, width)
    if (OUT * tiles_h, OUT * tiles_w) != (height, width):
        dy = tf.pad(dy, [[0, 0], [0, OUT * tiles_h - height],
                         [0, OUT * tiles_w - width], [0, 0]])
    dy = tf.reshape(dy, [-1, tiles_h, OUT, tiles_w, OUT, channels])
    return tf.reshape(tf.transpose(dy, [2, 4, 0, 1, 3, 5]),
                      [OUT * OUT, -1, channels])


def _transformed_filter(kernel):
    """G g G^T of a [3, 3, Ci, Co] kernel, as [36, Ci, Co]."""
    in_channels, out_channels = kernel.shape[2:]
    return tf.reshape(tf.matmul(FILTER_T, tf.reshape(kernel, [9, -1])),
                      [POINTS, in_channels, out_channels])


def _transformed_input(rows, x_shape, first_image, images):
    """B^T d B of the chunk's tiles, as [36, images * tiles, Ci]."""
    tiles = _tiles(rows, x_shape, first_image, images)
    return tf.reshape(tf.matmul(INPUT_T, tf.reshape(tiles, [POINTS, -1])),
                      [POINTS, -1, x_shape[-1]])


def _convolve(transformed_input, transformed_filter, height, width):
    products = tf.matmul(transformed_input, transformed_filter)
    out_channels = products.shape[-1]
    outputs = tf.matmul(OUTPUT_T, tf.reshape(products, [POINTS, -1]))
    return _untile(tf.reshape(outputs, [OUT * OUT, -1, out_channels]),
                   height, width)


# Why chunks: a layer's transformed tiles are 2.25x its input or output;
# made whole they are the step's largest temporaries (2.25 x 4 bytes x
# 16 x 112 x 112 x 128 = 231 MB at 112x112x128, batch 16).  oneDNN's pool
# (the allocator; benchmarks/machine/cpu.py says why) keeps every block it
# ever held, and the long-lived activations are carved out of those big
# freed blocks, leaving holes.  Groups of whole images, one after another,
# keep each temporary under CHUNK_BYTES: VGG16 fp32 training then peaked
# clearly lower in RSS, at the same speed (docs/performance.md).
CHUNK_BYTES = 32 << 20


def image_chunks(x_shape, channels):
    """[(first_image, images), ...] covering the batch, each chunk's
    transformed tiles (36 x tiles x ``channels`` floats) at most CHUNK_BYTES
    or one image; one chunk when the batch size is not static."""
    batch, height, width = x_shape[:3]
    if batch is None:
        return [(0, None)]
    tiles = _tiles_per_image(height, width)
    tile_bytes = POINTS * tiles * channels * 4  # float32: see the layer
    step = max(1, CHUNK_BYTES // tile_bytes)
    return [(first, min(step, batch - first)) for first in range(0, batch, step)]


def _in_sequence(chunks, compute):
    """compute(first_image, images, previous) per chunk, each one's ops
    starting only after the previous chunk's result exists, so that one
    chunk's temporaries are freed before the next one's are made."""
    results, previous = [], None
    for first, images in chunks:
        with tf.control_dependencies([] if previous is None else [previous]):
            previous = compute(first, images, previous)
        results.append(previous)
    return results


def _check(x, kernel):
    if tuple(kernel.shape[:2]) != (3, 3):
        raise ValueError(f"Winograd F(4x4, 3x3) needs a 3x3 kernel, got "
                         f"{tuple(kernel.shape[:2])}")
    if None in x.shape[1:]:
        raise ValueError("Winograd convolution needs static height, width "
                         f"and channels, got {x.shape}")


def forward(x, kernel):
    """The convolution itself (no gradient of its own)."""
    transformed_filter = _transformed_filter(kernel)
    rows = _padded_rows(x)

    def chunk(first, images, _):
        images = tf.shape(x)[0] if images is None else images
        return _convolve(_transformed_input(rows, x.shape, first, images),
                         transformed_filter, *x.shape[1:3])

    outputs = _in_sequence(
        image_chunks(x.shape, max(kernel.shape[2:])), chunk)
    return outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=0)


def input_gradient(dy, kernel):
    """dL/dx: the same convolution of dy with the kernel rotated by 180
    degrees, its channels swapped."""
    with tf.control_dependencies([dy] if defers_flipped_kernel(dy.shape)
                                 else []):
        flipped = tf.transpose(kernel[::-1, ::-1], [0, 1, 3, 2])
    return forward(dy, flipped)


# Why the input gradient's flipped kernel waits for dy: made early (it needs
# the weights alone), each layer's flipped and transformed kernel was held
# through the whole forward pass (36/9 of the Winograd layers' weights,
# ~235 MB over VGG16, most of which showed in its training peak RSS).
# Waiting puts the filter transform on the backward pass's critical path,
# where it costs 9 / tiles of the layer's 36 pointwise products in FLOPs
# (more in time: it is memory-bound), so only layers with many tiles wait.
# At the demo's shape (vgg11_bn, 32x32, batch 32: 32-512 tiles), all of them
# waiting made training slower than none; waiting from DEFER_MIN_TILES up
# was as fast (docs/performance.md).  VGG16 at 224x224, batch 16 has 256
# tiles and more in every Winograd layer.  The forward's transforms never wait.
DEFER_MIN_TILES = 256


def defers_flipped_kernel(dy_shape):
    """Whether input_gradient's flipped kernel waits for dy [N, H, W, C]
    (always when the batch size is not static)."""
    batch, height, width = dy_shape[:3]
    return (batch is None
            or batch * _tiles_per_image(height, width) >= DEFER_MIN_TILES)


def kernel_gradient(x, dy):
    """dL/dkernel [3, 3, Ci, Co]: per point V^T dM, then G^T . G, summed
    over the chunks."""
    rows = _padded_rows(x)

    def chunk(first, images, total):
        dy_chunk = dy if images is None else dy[first:first + images]
        d_products = tf.matmul(
            OUTPUT_T, tf.reshape(_retile(dy_chunk), [OUT * OUT, -1]),
            transpose_a=True)
        d_products = tf.reshape(d_products, [POINTS, -1, dy.shape[-1]])
        images = tf.shape(dy)[0] if images is None else images
        d_points = tf.matmul(_transformed_input(rows, x.shape, first, images),
                             d_products, transpose_a=True)
        return d_points if total is None else total + d_points

    d_points = _in_sequence(
        image_chunks(x.shape, max(x.shape[-1], dy.shape[-1])), chunk)[-1]
    d_kernel = tf.matmul(FILTER_T, tf.reshape(d_points, [POINTS, -1]),
                         transpose_a=True)
    return tf.reshape(d_kernel, [3, 3, x.shape[-1], dy.shape[-1]])


def conv2d_same(x, kernel):
    """tf.nn.conv2d(x, kernel, 1, "SAME") for NHWC ``x`` and a 3x3 HWIO
    ``kernel``, with the forward pass and both gradients by F(4x4, 3x3)
    (static H, W, C; the batch may be dynamic).  ``kernel`` may be a (Keras)
    variable: it is read here, so its gradient flows through the read."""
    _check(x, kernel)

    @tf.custom_gradient
    def conv(x, kernel):
        y = forward(x, kernel)

        def grad(dy):
            # kernel_gradient makes the transformed input again rather than
            # keep the forward's (2.25x the layer's input, held for every
            # Winograd layer at once until the backward reaches it); the
            # dependency on dy keeps Grappler from merging the two, which
            # would keep the forward's alive.
            with tf.control_dependencies([dy]):
                x_again = tf.identity(x)
            return input_gradient(dy, kernel), kernel_gradient(x_again, dy)

        return y, grad

    return conv(x, tf.convert_to_tensor(kernel))


# Which layers get it.  Per layer (fp32, oneDNN's pool allocator; forward +
# both gradients against TensorFlow's kernels) Winograd won at every VGG16
# shape from 14x14x512 to 112x112 64->128; at 224x224x64 it barely broke
# even (its transforms' memory traffic eats the FLOPs saved).  VGG16
# training with the 112x112 layers was faster than without them at about
# the same peak RSS.  The image's 3 channels make thin matmuls.  On a CPU
# with full-width AVX-512 the 112x112 64->128 layer was faster direct and
# every other Winograd layer faster by Winograd (scripts/bench_step_parts.py);
# left as it is.  The figures are in docs/performance.md.
MIN_INPUT_CHANNELS = 16
MAX_PIXELS = 112 * 112


# An image smaller than one 4x4 output tile gains nothing: most of the
# tile's 36 products per channel pair then fall on the padding (at 2x2 as
# many as the direct convolution's 2x2x9 multiply-adds), and the transforms
# come on top.  In-process, interleaved blocks of steps (vgg11_bn, batch
# 32): at 32x32, leaving the 2x2 layers to the direct convolution made
# training clearly faster; leaving the 4x4 ones too gained nothing more, and
# the 8x8 ones too lost some.  At 48x48, Winograd's 3x3 layers were slower
# than the direct convolution there (docs/performance.md).
MIN_SIDE = OUT


def pays_off(height, width, in_channels, out_channels):
    """Whether a 3x3 stride-1 layer of this shape is computed by F(4x4, 3x3)."""
    return (in_channels >= MIN_INPUT_CHANNELS and height * width <= MAX_PIXELS
            and min(height, width) >= MIN_SIDE)
