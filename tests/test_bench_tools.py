"""The benchmark tools' own tables: the step breakdown times the layers the
model has (scripts/bench_step_parts.py's sum is only meaningful if so)."""

import collections

import models
from benchmarks.tools import step_parts
from benchmarks.tools.conv_layers import VGG16_LAYERS


def test_step_parts_time_every_vgg16_variable_and_pool():
    model = models.build("vgg16", num_classes=1000, image_size=224, dropout=0)
    shapes = collections.Counter(tuple(v.shape) for v in model.trainable_variables)
    assert collections.Counter(step_parts._vgg16_shapes()) == shapes
    assert sum(count for *_, count in VGG16_LAYERS) == 13
    pools = [layer for layer in model.layers if "pool" in layer.name]
    assert [(p.input.shape[1], p.input.shape[3]) for p in pools] == \
        list(step_parts.VGG16_POOLS)
