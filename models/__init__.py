"""The model zoo: one registry that maps a model name to its builder.

    >>> import models
    >>> models.names()
    ('vgg11', 'vgg11_bn', 'vgg13', 'vgg13_bn', 'vgg16', 'vgg16_bn', 'vgg19', 'vgg19_bn')
    >>> model = models.build("vgg16", num_classes=10, image_size=32)

Looking names up does not import Keras, so flag checks stay fast.
"""

_DEPTH_TO_CONFIGURATION = {11: "A", 13: "B", 16: "D", 19: "E"}

# name -> keyword arguments of models.vgg.build_vgg
_REGISTRY = {
    f"vgg{depth}{'_bn' if bn else ''}": dict(configuration=configuration,
                                              batch_norm=bn)
    for depth, configuration in _DEPTH_TO_CONFIGURATION.items()
    for bn in (False, True)
}


class UnknownModelError(ValueError):
    """Raised for a model name that is not in the registry."""


def names():
    """Every registered model name, in depth order."""
    return tuple(sorted(_REGISTRY, key=lambda n: (int(n[3:5]), n)))


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
