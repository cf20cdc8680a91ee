"""A dense layer's product whose input gradient is a batch matmul.

Why: with oneDNN on, TensorFlow's CPU MatMul with a transposed second
operand is slow at VGG's big fully connected layers, and that is exactly the
input gradient of ``y = x @ W``: ``dx = dy @ W^T``.  In fp32 it was several
times slower at fc1 (25088 x 4096) and fc2 (4096 x 4096) than the same
product as BatchMatMulV2 with ``adj_y`` (oneDNN's batched matmul reads W^T
in place).  Not at the 4096 x 1000 classifier (there MatMul was faster),
nor in bf16, where MatMul's kernel is already as fast.  The timings are in
docs/performance.md.
The filter gradient ``x^T dy`` and the forward product stay TensorFlow's
MatMul: the batched forms were no clearer winners there.
"""

import tensorflow as tf

# Kernels of at least this many weights get the batch-matmul input gradient
# (VGG's fc1 and fc2; not the classifier).
MIN_KERNEL_SIZE = 4096 * 4096


def pays_off(in_features, out_features):
    """Whether a kernel of this shape gets the batch-matmul input gradient."""
    return in_features * out_features >= MIN_KERNEL_SIZE


def input_gradient(dy, kernel):
    """``dy @ kernel^T`` as BatchMatMulV2 with ``adj_y`` (the fast form)."""
    return tf.raw_ops.BatchMatMulV2(x=dy, y=kernel, adj_x=False, adj_y=True)


def matmul(x, kernel):
    """``x @ kernel`` for a 2-D ``x`` [N, in] and kernel [in, out], whose
    input gradient is ``input_gradient(dy, kernel)`` and whose
    kernel gradient is TensorFlow's ``x^T dy``.  ``kernel`` may be a (Keras)
    variable: it is read here, so its gradient flows through the read."""

    @tf.custom_gradient
    def product(x, kernel):
        def grad(dy):
            dx = input_gradient(dy, kernel)
            d_kernel = tf.matmul(x, dy, transpose_a=True)
            # The kernel's gradient is handed on only after dx, the backward
            # pass's last read of the kernel: earlier, the optimizer's update
            # can run while that read still holds the variable's buffer, and
            # TensorFlow then copies the variable to update it (fc1's 392
            # MB, at the step's peak of memory in use).  The two products
            # still run side by side.
            with tf.control_dependencies([dx]):
                return dx, tf.identity(d_kernel)

        return tf.matmul(x, kernel), grad

    return product(x, tf.convert_to_tensor(kernel))
