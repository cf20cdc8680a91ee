"""Where a VGG training step's convolution time goes: GFLOP/s of the forward
convolution, the input gradient and the filter gradient (TensorFlow's kernel
and models.gemm_grad's two matmul forms) at each distinct VGG16 layer shape, in this
process's TensorFlow (oneDNN on or off, as it started).

Run as a worker: ``python -m benchmarks.tools.conv_layers --batch_size=16`` prints
one JSON line; scripts/bench_conv_layers.py runs it with oneDNN on and off.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# (height = width, input channels, output channels, how many VGG16 has)
VGG16_LAYERS = ((224, 3, 64, 1), (224, 64, 64, 1), (112, 64, 128, 1),
                (112, 128, 128, 1), (56, 128, 256, 1), (56, 256, 256, 2),
                (28, 256, 512, 1), (28, 512, 512, 2), (14, 512, 512, 3))
OPS = ("forward", "input_grad", "filter_grad_native", "filter_grad_rows",
       "filter_grad_im2col")


def layer_flops(batch_size, height, in_channels, out_channels):
    """FLOPs of each op (forward, either gradient) of a 3x3 "same" layer."""
    return 2 * batch_size * height * height * in_channels * out_channels * 9


def best_seconds(fn, args, repeats):
    fn(*args).numpy()  # trace, and let the library pick and cache its kernel
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args).numpy()  # the result is on the host: the work is done
        best = min(best, time.perf_counter() - start)
    return best


def time_layers(batch_size, layers=VGG16_LAYERS, repeats=2):
    """{(h, ci, co): {op: GFLOP/s}}; every op of a layer does layer_flops."""
    import tensorflow as tf
    from models.gemm_grad import filter_gradient, im2col_filter_gradient

    out = {}
    for h, ci, co, _ in layers:
        x = tf.random.normal((batch_size, h, h, ci))
        w = tf.random.normal((3, 3, ci, co))
        dy = tf.random.normal((batch_size, h, h, co))
        fns = {
            "forward": (tf.function(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME")),
                        (x, w)),
            "input_grad": (tf.function(lambda dy, w, s=x.shape: tf.nn.conv2d_transpose(
                dy, w, s, 1, "SAME")), (dy, w)),
            "filter_grad_native": (tf.function(
                lambda x, dy, s=w.shape: tf.raw_ops.Conv2DBackpropFilter(
                    input=x, filter_sizes=s, out_backprop=dy,
                    strides=[1, 1, 1, 1], padding="SAME")), (x, dy)),
            "filter_grad_rows": (tf.function(
                lambda x, dy: filter_gradient(x, dy, (3, 3))), (x, dy)),
            "filter_grad_im2col": (tf.function(
                lambda x, dy: im2col_filter_gradient(x, dy, (3, 3))), (x, dy)),
        }
        flops = layer_flops(batch_size, h, ci, co)
        out[(h, ci, co)] = {op: flops / best_seconds(fn, args, repeats) / 1e9
                            for op, (fn, args) in fns.items()}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from benchmarks.machine.cpu import onednn_enabled
    rates = time_layers(args.batch_size, repeats=args.repeats)
    print(json.dumps({"onednn": onednn_enabled(),
                      "rates": [[*k, v] for k, v in rates.items()]}))


if __name__ == "__main__":
    main()
