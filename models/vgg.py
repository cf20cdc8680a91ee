"""VGG networks (Simonyan & Zisserman, 2014) built from Keras 3 layers.

The four depths are configurations A, B, D and E of the paper, written down as
data; one builder turns a configuration into a model.  With ``batch_norm`` a
BatchNormalization follows every convolution (the torchvision ``vgg*_bn``
layout: the convolution keeps its bias).

Layer names follow ``keras.applications.VGG16/VGG19`` ("block1_conv1", "fc1",
"fc2", "predictions") so weights transfer by name, and the model outputs logits
(no softmax): the loss applies the softmax itself, which is stable in fp16/bf16.
"""

import functools

import keras
from keras import layers

from models import (CONV_ALGORITHMS, DENSE_GRADIENTS, FILTER_GRADIENTS,
                    dense_grad, gemm_grad, winograd)

# One entry per stage: the number of 3x3 convolutions and their width.  Every
# stage ends with a 2x2 max-pool.
CONFIGURATIONS = {
    "A": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),  # vgg11
    "B": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),  # vgg13
    "D": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),  # vgg16
    "E": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),  # vgg19
}
MIN_IMAGE_SIZE = 32  # five 2x2 pools need at least 32 pixels to leave 1x1
# The models/gemm_grad.py forms each --conv_filter_gradient allows.
GEMM_FORMS = {"gemm": ("rows",), "gemm_im2col": ("rows", "im2col")}


@keras.saving.register_keras_serializable(package="vggbench")
class GemmGradConv2D(layers.Conv2D):
    """A Conv2D whose filter gradient is one of models.gemm_grad's matmul
    forms (faster on the CPU under oneDNN), with its bias and ReLU computed
    in the same function; the same variables and forward math as Conv2D.
    ``forms``: the forms it may use (gemm_grad.formulation picks one by the
    input's shape; none fits: Conv2D's own gradient)."""

    def __init__(self, *args, forms=("rows",), **kwargs):
        super().__init__(*args, **kwargs)
        self.forms = tuple(forms)

    def get_config(self):
        return {**super().get_config(), "forms": list(self.forms)}

    def _same_stride1_shape(self, inputs):
        """(height, width, channels) of the input where this is an NHWC,
        stride-1, "same", undilated, ungrouped convolution with static sizes
        (what the matmul forms need); None otherwise."""
        if not (self.data_format == "channels_last"
                and self.strides == (1, 1) and self.dilation_rate == (1, 1)
                and self.padding == "same" and self.groups == 1):
            return None
        shape = tuple(inputs.shape[1:4])
        return None if None in shape else shape

    def _form(self, inputs):
        shape = self._same_stride1_shape(inputs)
        if shape is None or self.activation not in (keras.activations.relu,
                                                    keras.activations.linear):
            return None
        return gemm_grad.formulation(*shape, self.forms)

    def call(self, inputs):
        form = self._form(inputs)
        if form is None:
            return super().call(inputs)
        return gemm_grad.conv2d_same(
            inputs, self.kernel, self.bias if self.use_bias else None,
            relu=self.activation is keras.activations.relu, form=form)


@keras.saving.register_keras_serializable(package="vggbench")
class WinogradConv2D(GemmGradConv2D):
    """A Conv2D computed by models.winograd's F(4x4, 3x3) (forward and both
    gradients) where winograd.pays_off says so for its shape, in float32;
    elsewhere as GemmGradConv2D with ``forms`` (none: Conv2D itself).  The
    same variables as Conv2D."""

    def _winograd(self, inputs):
        shape = self._same_stride1_shape(inputs)
        return (shape is not None and self.kernel_size == (3, 3)
                and self.compute_dtype == "float32"
                and winograd.pays_off(*shape, self.filters))

    def call(self, inputs):
        if not self._winograd(inputs):
            return super().call(inputs)
        x = winograd.conv2d_same(inputs, self.kernel)
        if self.use_bias:
            x = keras.ops.add(x, self.bias)
        return self.activation(x) if self.activation is not None else x


@keras.saving.register_keras_serializable(package="vggbench")
class BatchMatMulGradDense(layers.Dense):
    """A Dense whose input gradient is models.dense_grad's batch matmul
    (faster on the CPU under oneDNN) where its kernel is big enough; the same
    variables and forward math as Dense."""

    def call(self, inputs, training=None):
        if (self.quantization_mode or self.lora_enabled
                or len(inputs.shape) != 2
                or not dense_grad.pays_off(*self.kernel.shape)):
            return super().call(inputs, training=training)
        x = dense_grad.matmul(inputs, self.kernel)
        if self.bias is not None:
            x = keras.ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x


def _check_options(configuration, image_size, data_format, dropout,
                   filter_gradient, dense_gradient, conv_algorithm):
    if configuration not in CONFIGURATIONS:
        raise ValueError(f"unknown VGG configuration {configuration!r}; "
                         f"known: {', '.join(sorted(CONFIGURATIONS))}")
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size {image_size} is too small for VGG; "
                         f"use at least {MIN_IMAGE_SIZE}")
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"unknown data_format {data_format!r}; use "
                         "channels_last or channels_first")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout {dropout} must be in [0, 1)")
    if filter_gradient not in FILTER_GRADIENTS:
        raise ValueError(f"unknown filter_gradient {filter_gradient!r}; use "
                         f"{' or '.join(FILTER_GRADIENTS)}")
    if dense_gradient not in DENSE_GRADIENTS:
        raise ValueError(f"unknown dense_gradient {dense_gradient!r}; use "
                         f"{' or '.join(DENSE_GRADIENTS)}")
    if conv_algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"unknown conv_algorithm {conv_algorithm!r}; use "
                         f"{' or '.join(CONV_ALGORITHMS)}")


def _layer_classes(filter_gradient, dense_gradient, conv_algorithm):
    """The convolution and the fc1/fc2 layer classes the options ask for."""
    forms = GEMM_FORMS.get(filter_gradient, ())
    if conv_algorithm == "winograd":
        conv_class = functools.partial(WinogradConv2D, forms=forms)
    elif forms:
        conv_class = functools.partial(GemmGradConv2D, forms=forms)
    else:
        conv_class = layers.Conv2D
    dense_class = (BatchMatMulGradDense if dense_gradient == "batch_matmul"
                   else layers.Dense)
    return conv_class, dense_class


def build_vgg(configuration, *, batch_norm=False, num_classes=1000,
              image_size=224, data_format="channels_last", dropout=0.5,
              dtype_policy=None, filter_gradient="native",
              dense_gradient="native", conv_algorithm="direct", name=None):
    """Returns an uncompiled keras.Model that maps images to logits.

    Args:
      configuration: "A", "B", "D" or "E".
      batch_norm: add BatchNormalization after every convolution.
      num_classes: width of the last layer.
      image_size: height and width of the input, at least 32.
      data_format: "channels_last" (NHWC) or "channels_first" (NCHW).
      dropout: dropout rate after fc1 and fc2 (0 disables it).
      dtype_policy: a Keras dtype policy name such as "mixed_bfloat16"; None
        means float32.  The logits are always returned in float32.
      filter_gradient: "native" (TensorFlow's Conv2DBackpropFilter), "gemm"
        (models.gemm_grad's row form: one matmul per kernel offset, from
        56x56 up) or "gemm_im2col" (the row form, and below 56x56 down to
        14x14 the patches form: one matmul per chunk of images).
      dense_gradient: "native" (TensorFlow's MatMul) or "batch_matmul"
        (models.dense_grad: fc1's and fc2's input gradients as a batch matmul).
      conv_algorithm: "direct" (the convolutions as filter_gradient says) or
        "winograd" (models.winograd's F(4x4, 3x3) in the fp32 layers where
        winograd.pays_off, filter_gradient's way in the others).
    """
    _check_options(configuration, image_size, data_format, dropout,
                   filter_gradient, dense_gradient, conv_algorithm)
    conv_class, dense_class = _layer_classes(filter_gradient, dense_gradient,
                                             conv_algorithm)

    shape = ((image_size, image_size, 3) if data_format == "channels_last"
             else (3, image_size, image_size))
    bn_axis = -1 if data_format == "channels_last" else 1
    inputs = keras.Input(shape=shape, name="images")
    x = inputs
    for stage, (num_convs, width) in enumerate(CONFIGURATIONS[configuration], 1):
        for conv in range(1, num_convs + 1):
            prefix = f"block{stage}_conv{conv}"
            x = conv_class(width, 3, padding="same", data_format=data_format,
                           activation=None if batch_norm else "relu",
                           name=prefix, dtype=dtype_policy)(x)
            if batch_norm:
                x = layers.BatchNormalization(axis=bn_axis, momentum=0.9,
                                              epsilon=1e-5, name=prefix + "_bn",
                                              dtype=dtype_policy)(x)
                x = layers.Activation("relu", name=prefix + "_relu",
                                      dtype=dtype_policy)(x)
        x = layers.MaxPooling2D(2, strides=2, data_format=data_format,
                                name=f"block{stage}_pool", dtype=dtype_policy)(x)
    x = layers.Flatten(data_format=data_format, name="flatten",
                       dtype=dtype_policy)(x)
    for fc in ("fc1", "fc2"):
        x = dense_class(4096, activation="relu", name=fc, dtype=dtype_policy)(x)
        if dropout:
            x = layers.Dropout(dropout, name=fc + "_dropout",
                               dtype=dtype_policy)(x)
    x = layers.Dense(num_classes, name="predictions", dtype=dtype_policy)(x)
    # Mixed-precision logits are cast back so the loss and metrics run in fp32.
    logits = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=name or f"vgg_{configuration}")
