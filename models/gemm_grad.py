"""A convolution whose filter gradient is a sum of matrix products.

Why: with oneDNN on (TF_ENABLE_ONEDNN_OPTS=1) TensorFlow's CPU forward
convolution and input gradient are fast, but its filter gradient
(_MklConv2DBackpropFilter, NHWC) is slow at VGG's wide early layers on AVX2
CPUs: several times slower at 224x224x64 .. 56x56x256 than the same
gradient written as below (scripts/bench_conv_layers.py; the figures are in
docs/performance.md).

For a stride-1 "same" convolution with a kh x kw kernel, the filter gradient
at kernel offset (dh, dw) is

    dW[dh, dw] = sum over batch and pixels of x[n, i + dh, j + dw, :]^T dy[n, i, j, :]

Flattening the batch and pixels into rows turns the shift (dh, dw) into a
shift by s = dh * W + dw rows, so each offset is ONE matmul of two row ranges
of the flattened tensors: a slice along the first axis, which TensorFlow
takes without copying.  Pairs that the flattening wraps (a pixel paired with
one in the next row or the next image, which "same" padding would have paired
with zero) are exactly the pairs whose x pixel lies in the rows or columns
that the shift pushes off the image; their sum is gathered and subtracted.

These per-offset matmuls are thin (Ci x Co outputs over N * H * W rows):
fast while the rows are many, not on the small 28x28 and 14x14 images.
There a second form (im2col_filter_gradient) puts the kh * kw shifted
windows side by side and makes one big matmul per chunk of images.
``formulation`` says which form a layer gets.
"""

import numpy as np
import tensorflow as tf

# Where the matmuls are used (oneDNN on, scripts/bench_conv_layers.py): not
# with the image's 3 input channels (TF's kernel was faster there); from
# 56x56 pixels up, where they won clearly; not below, where runs disagreed
# and VGG16's training peak RSS was lower with TF's kernel.  Figures:
# docs/performance.md.
MIN_INPUT_CHANNELS = 16
MIN_PIXELS = 56 * 56
# Below 56x56, the patches form (im2col_filter_gradient): faster than TF's
# kernel at 28x28 and 14x14 in interleaved rounds; at 56x56 the row matmuls
# stay faster.  Not measured below 14x14, so TF's kernel runs there.
MIN_IM2COL_PIXELS = 14 * 14
# Images per matmul: as many as keep one chunk's patches near this size
# (chunks of this order were fastest; the whole batch at once was slower and
# would hold 9x the layer's input).
IM2COL_CHUNK_BYTES = 32 << 20
FORMS = ("rows", "im2col")


def formulation(height, width, in_channels, forms=FORMS):
    """The filter gradient form a layer of this input shape gets: "rows"
    (filter_gradient), "im2col" (im2col_filter_gradient), or None for
    TensorFlow's kernel; ``forms``: the forms allowed."""
    if in_channels < MIN_INPUT_CHANNELS:
        return None
    pixels = height * width
    if pixels >= MIN_PIXELS:
        form = "rows"
    elif pixels >= MIN_IM2COL_PIXELS:
        form = "im2col"
    else:
        return None
    return form if form in forms else None


def _wrapped_positions(height, width, dh, dw):
    """Pixels (row * width + col) of one image whose pairing under the shift
    (dh, dw) wraps: rows/columns that "same" padding would pair with zeros."""
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    bad_rows = rows < dh if dh > 0 else rows >= height + dh
    bad_cols = cols < dw if dw > 0 else cols >= width + dw
    return np.flatnonzero((bad_rows | bad_cols).ravel()).astype(np.int64)


def _odd(kernel_size):
    kh, kw = kernel_size
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"kernel {kernel_size}: only odd kernels have a "
                         "centred 'same' padding")
    return kh, kw


def filter_gradient(x, dy, kernel_size):
    """dL/dW of a stride-1 "same" NHWC convolution with an odd kernel, given
    its input ``x`` [N, H, W, Ci] and output gradient ``dy`` [N, H, W, Co]
    (static H, W, Ci, Co; the batch may be dynamic).  Returns
    [kh, kw, Ci, Co] in x's dtype."""
    kh, kw = _odd(kernel_size)
    _, height, width, in_channels = x.shape
    out_channels = dy.shape[-1]
    pixels = height * width
    rows = tf.shape(x, out_type=tf.int64)[0] * pixels
    x_rows = tf.reshape(x, [-1, in_channels])
    dy_rows = tf.reshape(dy, [-1, out_channels])
    per_offset = []
    for dh in range(-(kh // 2), kh // 2 + 1):
        for dw in range(-(kw // 2), kw // 2 + 1):
            s = dh * width + dw
            # dy rows [lo, hi) pair with x rows [lo + s, hi + s).
            lo, hi = max(0, -s), rows - max(0, s)
            grad = tf.matmul(x_rows[lo + s:hi + s], dy_rows[lo:hi],
                             transpose_a=True)
            if dh or dw:
                grad -= _wrapped_sum(x_rows, dy_rows, s, rows, pixels,
                                     _wrapped_positions(height, width, dh, dw))
            per_offset.append(grad)
    return tf.reshape(tf.stack(per_offset), [kh, kw, in_channels, out_channels])


def im2col_filter_gradient(x, dy, kernel_size, chunk_bytes=None):
    """The same gradient as ``filter_gradient``, as one matmul per chunk of
    images: the kernel's kh * kw shifted windows of the zero-padded input
    side by side in channels (the patches, "im2col"), transposed, times dy:

        dW = patches(x)^T dy    [kh * kw * Ci, N * H * W] x [N * H * W, Co]

    A big, square-ish matmul where the row form's are thin; the chunks keep
    the patches (kh * kw times the chunk's input) small.  The batch may be
    dynamic."""
    kh, kw = _odd(kernel_size)
    _, height, width, in_channels = x.shape
    out_channels = dy.shape[-1]
    depth = kh * kw * in_channels
    per_image = height * width * depth * x.dtype.size
    step = max(1, (chunk_bytes or IM2COL_CHUNK_BYTES) // per_image)
    padding = [[0, 0], [kh // 2, kh // 2], [kw // 2, kw // 2], [0, 0]]

    def chunk_gradient(start, total):
        xs = tf.pad(x[start:start + step], padding)
        patches = tf.concat([xs[:, a:a + height, b:b + width, :]
                             for a in range(kh) for b in range(kw)], axis=-1)
        return start + step, total + tf.matmul(
            tf.reshape(patches, [-1, depth]),
            tf.reshape(dy[start:start + step], [-1, out_channels]),
            transpose_a=True)

    images = tf.shape(x)[0]
    # One chunk at a time (parallel_iterations=1): each chunk's patches are
    # made and consumed while they are in the cache.
    _, total = tf.while_loop(
        lambda start, _: start < images, chunk_gradient,
        (tf.constant(0), tf.zeros([depth, out_channels], x.dtype)),
        parallel_iterations=1)
    return tf.reshape(total, [kh, kw, in_channels, out_channels])


FORM_FUNCTIONS = {"rows": filter_gradient, "im2col": im2col_filter_gradient}


def _wrapped_sum(x_rows, dy_rows, s, rows, pixels, positions):
    """The wrapped pairs' share of the shifted product: x rows at the listed
    positions of every image against the dy rows s earlier (where such a
    row exists)."""
    images = rows // pixels
    x_at = tf.reshape(tf.range(images)[:, None] * pixels + positions[None, :],
                      [-1])
    dy_at = x_at - s
    inside = (dy_at >= 0) & (dy_at < rows)
    dy_picked = tf.gather(dy_rows, tf.clip_by_value(dy_at, 0, rows - 1))
    dy_picked *= tf.cast(inside, dy_rows.dtype)[:, None]
    return tf.matmul(tf.gather(x_rows, x_at), dy_picked, transpose_a=True)


def conv2d_same(x, kernel, bias=None, relu=False, form="rows"):
    """relu?(tf.nn.conv2d(x, kernel, 1, "SAME") + bias) in NHWC whose filter
    gradient is ``filter_gradient`` (form "rows") or ``im2col_filter_gradient``
    ("im2col"); the input gradient is TensorFlow's own kernel.  Bias and ReLU sit inside so that Grappler can still fuse them
    into the convolution (a custom gradient's boundary would stop it).
    ``kernel`` and ``bias`` may be (Keras) variables: they are read here, so
    their gradients flow through the reads."""
    relu = bool(relu)
    filter_form = FORM_FUNCTIONS[form]

    @tf.custom_gradient
    def conv(x, kernel, *bias):
        y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
        if bias:
            y = tf.nn.bias_add(y, bias[0])
        if relu:
            y = tf.nn.relu(y)

        def grad(dy):
            if relu:
                dy = tf.raw_ops.ReluGrad(gradients=dy, features=y)
            dx = tf.nn.conv2d_transpose(dy, kernel, tf.shape(x), strides=1,
                                        padding="SAME")
            grads = [dx, filter_form(x, dy, kernel.shape[:2])]
            if bias:
                grads.append(tf.raw_ops.BiasAddGrad(out_backprop=dy))
            return grads

        return y, grad

    args = [x, tf.convert_to_tensor(kernel)]
    if bias is not None:
        args.append(tf.convert_to_tensor(bias))
    return conv(*args)
