"""The model zoo: one registry that maps a model name to its builder.

    >>> import models
    >>> models.names()
    ('vgg11', 'vgg11_bn', 'vgg13', 'vgg13_bn', 'vgg16', 'vgg16_bn', 'vgg19', 'vgg19_bn')
    >>> model = models.build("vgg16", num_classes=10, image_size=32)

Looking names up does not import Keras, so flag checks stay fast.
"""

# Every model, by name, in depth order: the keyword arguments of
# models.vgg.build_vgg (configurations A, B, D, E of the paper).
_REGISTRY = {
    "vgg11": dict(configuration="A", batch_norm=False),
    "vgg11_bn": dict(configuration="A", batch_norm=True),
    "vgg13": dict(configuration="B", batch_norm=False),
    "vgg13_bn": dict(configuration="B", batch_norm=True),
    "vgg16": dict(configuration="D", batch_norm=False),
    "vgg16_bn": dict(configuration="D", batch_norm=True),
    "vgg19": dict(configuration="E", batch_norm=False),
    "vgg19_bn": dict(configuration="E", batch_norm=True),
}


# tf_cnn_benchmarks' defaults for its VGG models (models/vgg_model.py there):
# the batch per device when --batch_size is 0, and the learning rate.
DEFAULT_BATCH_SIZE = 64
DEFAULT_LEARNING_RATE = 0.005
# How the convolutions' filter gradients are computed (models/vgg.py):
# TensorFlow's kernel, models/gemm_grad.py's row form (from 56x56 up), or
# its row form and its patches form (below 56x56 down to 14x14).
FILTER_GRADIENTS = ("native", "gemm", "gemm_im2col")
# How the big dense layers' input gradients are computed (models/vgg.py):
# TensorFlow's MatMul, or models/dense_grad.py's batch matmul.
DENSE_GRADIENTS = ("native", "batch_matmul")
# How the 3x3 convolutions are computed (models/vgg.py): directly (as
# FILTER_GRADIENTS says), or by models/winograd.py's F(4x4, 3x3) where it pays.
CONV_ALGORITHMS = ("direct", "winograd")


class UnknownModelError(ValueError):
    """Raised for a model name that is not in the registry."""


def names():
    """Every registered model name, in depth order."""
    return tuple(_REGISTRY)


def get(name):
    """Returns the builder for ``name``: a function of keyword options
    (num_classes, image_size, data_format, dropout, dtype_policy)."""
    try:
        fixed = _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; known models: {', '.join(names())}"
        ) from None

    def builder(**options):
        from models import vgg  # imports Keras and TensorFlow
        return vgg.build_vgg(name=name, **fixed, **options)

    return builder


def build(name, **options):
    """Builds model ``name``; options as for models.vgg.build_vgg."""
    return get(name)(**options)
