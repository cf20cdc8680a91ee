import keras
import numpy as np
import pytest

import models
from models import flops

# Trainable parameters at 224x224 with 1000 classes (torchvision's figures).
EXPECTED_PARAMS = {
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544,
    "vgg19": 143_667_240, "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992, "vgg19_bn": 143_678_248,
}


def test_registry_lists_every_model():
    assert set(models.names()) == set(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parameter_counts_at_224(name):
    model = models.build(name)
    assert flops.trainable_params(model) == EXPECTED_PARAMS[name]
    keras.backend.clear_session()


def test_unknown_model_lists_known_names():
    with pytest.raises(models.UnknownModelError) as err:
        models.get("resnet50")
    message = str(err.value)
    assert "resnet50" in message
    for name in EXPECTED_PARAMS:
        assert name in message


def test_forward_flops_match_published_multiply_adds():
    # VGG16 is 15.47 G multiply-adds per 224x224 image; VGG19 19.63 G.
    assert flops.forward_flops_per_image(models.build("vgg16")) == \
        pytest.approx(2 * 15.47e9, rel=2e-3)
    assert flops.forward_flops_per_image(models.build("vgg19")) == \
        pytest.approx(2 * 19.63e9, rel=2e-3)


def test_flops_count_one_conv_layer_by_hand():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    assert flops.forward_flops_per_image(model) == \
        2 * (3 * 3 * 3 * 4 * 8 * 8) + 2 * (8 * 8 * 4 * 5)


@pytest.mark.parametrize("size", [32, 48, 64])
def test_small_images_and_classes(size):
    model = models.build("vgg11_bn", image_size=size, num_classes=10)
    logits = model(np.zeros((2, size, size, 3), "float32"), training=False)
    assert logits.shape == (2, 10)


def test_too_small_image_is_rejected():
    with pytest.raises(ValueError, match="at least 32"):
        models.build("vgg11", image_size=16)


def test_channels_first_has_the_same_parameters():
    a = models.build("vgg11_bn", image_size=32, num_classes=10,
                     data_format="channels_first")
    b = models.build("vgg11_bn", image_size=32, num_classes=10)
    assert a.input_shape == (None, 3, 32, 32)
    assert flops.trainable_params(a) == flops.trainable_params(b)
    assert flops.forward_flops_per_image(a) == flops.forward_flops_per_image(b)


def test_dropout_option():
    with_dropout = models.build("vgg11", image_size=32, num_classes=10)
    without = models.build("vgg11", image_size=32, num_classes=10, dropout=0.0)
    kinds = lambda m: [type(layer).__name__ for layer in m.layers]  # noqa: E731
    assert kinds(with_dropout).count("Dropout") == 2
    assert "Dropout" not in kinds(without)


def test_mixed_precision_keeps_fp32_variables_and_logits():
    model = models.build("vgg11_bn", image_size=32, num_classes=10,
                         dtype_policy="mixed_bfloat16")
    assert all(v.dtype == "float32" for v in model.weights)
    assert model.get_layer("block1_conv1").compute_dtype == "bfloat16"
    assert model(np.zeros((1, 32, 32, 3), "float32")).dtype == "float32"


@pytest.mark.parametrize("name,reference", [
    ("vgg16", keras.applications.VGG16), ("vgg19", keras.applications.VGG19)])
def test_same_logits_as_keras_applications(name, reference):
    ref = reference(weights=None, classifier_activation=None)
    ours = models.build(name)
    rng = np.random.default_rng(0)
    for layer in ref.layers:  # the reference's random init, copied by name
        if layer.weights:
            ours.get_layer(layer.name).set_weights(layer.get_weights())
    images = rng.uniform(0, 1, (2, 224, 224, 3)).astype("float32")
    expected = ref(images, training=False).numpy()
    got = ours(images, training=False).numpy()
    assert np.abs(expected).max() > 1e-3  # the comparison is not of zeros
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    keras.backend.clear_session()
