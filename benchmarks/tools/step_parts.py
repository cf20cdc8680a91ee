"""Where a VGG16 training step's time goes, part by part, in this process's
TensorFlow (start it as the harness starts: oneDNN on x86-64 by default).

Each part runs alone in its own tf.function, best of ``repeats`` calls after
a warm-up call, with its result fetched before the clock is read:

* each distinct 3x3 convolution: forward (conv + bias + ReLU, which Grappler
  fuses as it does in the model), input gradient, filter gradient as the
  model computes it under --conv_filter_gradient (models.gemm_grad's form
  where ``formulation`` gives one for gemm or gemm_im2col, else
  TensorFlow's kernel), all three by models.winograd's F(4x4, 3x3) in the
  layers where --conv_algorithm=winograd uses it, and the ReLU and bias
  gradients;
* the dense layers: forward (matmul + bias [+ ReLU]), input gradient
  (dy W^T, as the model computes it under --dense_input_gradient), filter
  gradient (x^T dy) and the ReLU and bias gradients;
* the five max pools, forward, and backward (timed with its forward, less
  it); the softmax cross-entropy and its gradient; the optimizer's update of
  every VGG16 variable (FusedSGD, Nesterov momentum, as --optimizer=momentum
  runs it);
* the host between steps: one call of the harness's compiled loop with a
  step that computes nothing, its outputs fetched (the harness calls its
  loop once per chunk of steps, so this is an upper bound per step).

Run as a worker: ``python -m benchmarks.tools.step_parts --batch_size=16``
prints one JSON line; scripts/bench_step_parts.py turns it into the table
and sets it against the harness's own ms/step.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.tools.conv_layers import VGG16_LAYERS, best_seconds  # noqa: E402

# (inputs, outputs, ReLU after it) of VGG16's dense layers, 1000 classes.
VGG16_DENSE = ((7 * 7 * 512, 4096, True), (4096, 4096, True),
               (4096, 1000, False))
# (height = width of the pool's input, channels) of VGG16's five max pools.
VGG16_POOLS = ((224, 64), (112, 128), (56, 256), (28, 512), (14, 512))


def _winograd_parts(tf, x, w, b, dy):
    from models import winograd
    return {
        "forward": (tf.function(lambda x, w, b: tf.nn.relu(tf.nn.bias_add(
            winograd.forward(x, w), b))), (x, w, b)),
        "input_grad": (tf.function(winograd.input_gradient), (dy, w)),
        "filter_grad": (tf.function(winograd.kernel_gradient), (x, dy)),
    }


def _conv_parts(tf, batch_size, h, ci, co, repeats, forms, conv_algorithm):
    from models import gemm_grad, winograd
    x = tf.random.normal((batch_size, h, h, ci))
    w = tf.random.normal((3, 3, ci, co)) * 0.05
    b = tf.zeros((co,))
    dy = tf.random.normal((batch_size, h, h, co))
    y = tf.nn.relu(tf.random.normal((batch_size, h, h, co)))
    form = gemm_grad.formulation(h, h, ci, forms)
    if form is not None:  # the model's gemm form for this shape
        filter_grad = tf.function(lambda x, dy: gemm_grad.FORM_FUNCTIONS[form](
            x, dy, (3, 3)))
    else:
        filter_grad = tf.function(
            lambda x, dy: tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=(3, 3, ci, co), out_backprop=dy,
                strides=[1, 1, 1, 1], padding="SAME"))
    parts = {
        "forward": (tf.function(lambda x, w, b: tf.nn.relu(tf.nn.bias_add(
            tf.nn.conv2d(x, w, 1, "SAME"), b))), (x, w, b)),
        "filter_grad": (filter_grad, (x, dy)),
        "relu_bias_grad": (tf.function(lambda dy, y: tf.raw_ops.BiasAddGrad(
            out_backprop=tf.raw_ops.ReluGrad(gradients=dy, features=y))),
            (dy, y)),
    }
    if ci > 3:  # the image itself needs no gradient
        parts["input_grad"] = (tf.function(
            lambda dy, w: tf.nn.conv2d_transpose(dy, w, x.shape, 1, "SAME")),
            (dy, w))
    if conv_algorithm == "winograd" and winograd.pays_off(h, h, ci, co):
        parts.update(_winograd_parts(tf, x, w, b, dy))
    return {name: best_seconds(fn, args, repeats)
            for name, (fn, args) in parts.items()}


def _dense_parts(tf, batch_size, n_in, n_out, relu, repeats, dense_gradient):
    from models import dense_grad
    x = tf.random.normal((batch_size, n_in))
    w = tf.random.normal((n_in, n_out)) * 0.01
    b = tf.zeros((n_out,))
    dy = tf.random.normal((batch_size, n_out))
    y = tf.nn.relu(tf.random.normal((batch_size, n_out)))

    def forward(x, w, b):
        out = tf.nn.bias_add(tf.matmul(x, w), b)
        return tf.nn.relu(out) if relu else out

    def relu_bias_grad(dy, y):
        if relu:
            dy = tf.raw_ops.ReluGrad(gradients=dy, features=y)
        return tf.raw_ops.BiasAddGrad(out_backprop=dy)
    if dense_gradient == "batch_matmul" and dense_grad.pays_off(n_in, n_out):
        input_grad = dense_grad.input_gradient  # as the model computes it
    else:
        def input_grad(dy, w):
            return tf.matmul(dy, w, transpose_b=True)
    parts = {
        "forward": (forward, (x, w, b)),
        "input_grad": (input_grad, (dy, w)),
        "filter_grad": (lambda x, dy: tf.matmul(x, dy, transpose_a=True),
                        (x, dy)),
        "relu_bias_grad": (relu_bias_grad, (dy, y)),
    }
    return {name: best_seconds(tf.function(fn), args, repeats)
            for name, (fn, args) in parts.items()}


def _pool_seconds(tf, batch_size, repeats):
    """{"forward": s, "backward": s} of the five pools together.  The
    backward pass is timed with its forward in one graph, as the model runs
    them (oneDNN's pool gradient reads the forward's workspace; MaxPoolGrad
    alone runs another, slower kernel), less the forward alone."""
    total = {"forward": 0.0, "backward": 0.0}

    @tf.function
    def forward_and_backward(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.max_pool2d(x, 2, 2, "VALID")
        return tape.gradient(y, x, output_gradients=dy)

    for h, c in VGG16_POOLS:
        x = tf.random.normal((batch_size, h, h, c))
        dy = tf.random.normal((batch_size, h // 2, h // 2, c))
        forward = best_seconds(tf.function(
            lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID")), (x,), repeats)
        both = best_seconds(forward_and_backward, (x, dy), repeats)
        total["forward"] += forward
        total["backward"] += max(0.0, both - forward)
    return total


def _loss_seconds(tf, batch_size, repeats):
    from benchmarks.loop.compiled import cross_entropy_per_example
    logits = tf.random.normal((batch_size, VGG16_DENSE[-1][1]))
    labels = tf.zeros((batch_size,), tf.int32)

    @tf.function
    def loss_and_gradient(logits, labels):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            loss = tf.reduce_mean(cross_entropy_per_example(logits, labels))
        return tape.gradient(loss, logits)
    return best_seconds(loss_and_gradient, (logits, labels), repeats)


def _vgg16_shapes():
    for _, ci, co, count in VGG16_LAYERS:
        for _ in range(count):
            yield (3, 3, ci, co)
            yield (co,)
    for n_in, n_out, _ in VGG16_DENSE:
        yield (n_in, n_out)
        yield (n_out,)


def _optimizer_seconds(tf, repeats):
    from benchmarks.training.optimizers import FusedSGD
    variables = [tf.Variable(tf.zeros(s)) for s in _vgg16_shapes()]
    grads = [tf.fill(v.shape, 1e-3) for v in variables]
    optimizer = FusedSGD(learning_rate=0.005, momentum=0.9, nesterov=True)
    optimizer.build(variables)

    @tf.function
    def update(grads):
        optimizer.apply(grads, variables)
        return tf.reduce_sum(variables[0][0, 0, 0, :1])  # after the update
    return best_seconds(update, (grads,), repeats), sum(
        int(tf.size(v)) for v in variables)


def _host_seconds(tf, batch_size, repeats):
    from benchmarks.loop.compiled import build_input_loop
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    loop = build_input_loop(strategy)
    batch = (tf.zeros((batch_size, 224, 224, 3)), tf.zeros((batch_size,), tf.int32))
    return best_seconds(lambda: loop(tf.constant(1), batch)["loss"], (), repeats)


def measure(batch_size, repeats, filter_gradient="native",
            dense_gradient="batch_matmul", conv_algorithm="direct"):
    import tensorflow as tf
    from benchmarks.machine.cpu import onednn_enabled
    from benchmarks.machine.peak import measure_peak
    from models.vgg import GEMM_FORMS
    forms = GEMM_FORMS.get(filter_gradient, ())  # native: none
    convs = [[h, ci, co, count,
              _conv_parts(tf, batch_size, h, ci, co, repeats, forms,
                          conv_algorithm)]
             for h, ci, co, count in VGG16_LAYERS]
    dense = [[n_in, n_out, _dense_parts(tf, batch_size, n_in, n_out, relu,
                                        repeats, dense_gradient)]
             for n_in, n_out, relu in VGG16_DENSE]
    optimizer, params = _optimizer_seconds(tf, repeats)
    hw_tflops, hw_source = measure_peak("/cpu:0", "fp32").hardware()
    return {"onednn": onednn_enabled(), "batch_size": batch_size,
            "filter_gradient": filter_gradient, "forms": list(forms),
            "dense_gradient": dense_gradient, "conv_algorithm": conv_algorithm,
            "hw_tflops": hw_tflops, "hw_source": hw_source, "convs": convs,
            "dense": dense, "pools": _pool_seconds(tf, batch_size, repeats),
            "loss": _loss_seconds(tf, batch_size, repeats),
            "optimizer": optimizer, "params": params,
            "host": _host_seconds(tf, batch_size, repeats)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--filter_gradient", default="native",
                        choices=("native", "gemm", "gemm_im2col"))
    parser.add_argument("--dense_gradient", default="batch_matmul",
                        choices=("native", "batch_matmul"))
    parser.add_argument("--conv_algorithm", default="direct",
                        choices=("direct", "winograd"))
    args = parser.parse_args()
    print(json.dumps(measure(args.batch_size, args.repeats,
                             args.filter_gradient, args.dense_gradient,
                             args.conv_algorithm)))


if __name__ == "__main__":
    main()
