"""Parameter and FLOP counts of a built Keras model.

FLOPs here are the usual convention of CNN papers and benchmarks: 2 x the
multiply-accumulates of the convolution and dense layers of one forward pass.
Bias adds, ReLU, pooling and batch norm are left out (under 0.1% for VGG).
How many forward passes a mode counts per image is benchmarks/modes.py's.
"""

import numpy as np
from keras import layers


def trainable_params(model):
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def forward_flops_per_image(model):
    """FLOPs of one forward pass for one image (batch dimension excluded)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = layer.kernel.shape[2]
            out = layer.output.shape  # (None, H, W, C) or (None, C, H, W)
            if layer.data_format == "channels_last":
                oh, ow, cout = out[1], out[2], out[3]
            else:
                cout, oh, ow = out[1], out[2], out[3]
            total += 2 * kh * kw * cin * cout * oh * ow
        elif isinstance(layer, layers.Dense):
            fan_in, fan_out = layer.kernel.shape
            total += 2 * fan_in * fan_out
    return int(total)
