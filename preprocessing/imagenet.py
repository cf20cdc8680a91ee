"""ImageNet image preprocessing (the parser), as in Inception and
tf_cnn_benchmarks.

Training: sample_distorted_bounding_box on the encoded image's shape (the
record's boxes when it has any, else the whole image; min_object_covered 0.1,
area and aspect ranges from flags, 100 attempts, the whole image when no crop
fits) -> decode of the crop (fused decode_and_crop_jpeg, or decode then
slice) -> random left-right flip -> resize -> optional colour distortions ->
normalise to [-1, 1] (or, as MLPerf, subtract the channel means).

Evaluation: decode -> resize the shorter side to image_size / crop_pct (256
for 224) -> central crop -> normalise.  Deterministic.

``ImageOptions`` holds tf_cnn_benchmarks' knobs of these steps; the resize
method may change with the image's position in its batch (round_robin).
"""

import dataclasses
import math
from dataclasses import dataclass

import tensorflow as tf

from preprocessing import defaults

EVAL_CROP_PCT = 0.875
CHANNEL_MEANS = (123.68, 116.78, 103.94)  # RGB, MLPerf's mean subtraction
# RGB -> YIQ (NTSC) and back, for hue and saturation in YIQ space.
_RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322),
               (0.211, -0.523, 0.312))


@dataclass(frozen=True)
class ImageOptions:
    area_range: tuple = defaults.AREA_RANGE
    aspect_range: tuple = defaults.ASPECT_RANGE
    distortions: bool = False
    resize_method: str = defaults.RESIZE_METHOD  # or round_robin
    fuse_decode_and_crop: bool = defaults.FUSE_DECODE_AND_CROP
    distort_color_in_yiq: bool = defaults.DISTORT_COLOR_IN_YIQ
    ml_perf: bool = False  # no boxes, mean subtraction


def normalize(image, ml_perf=False):
    """uint8-range float pixels -> [-1, 1], as tf_cnn_benchmarks; MLPerf's
    rule subtracts the channel means instead."""
    if ml_perf:
        return image - tf.constant(CHANNEL_MEANS, image.dtype)
    return image / 127.5 - 1.0


def _seed(seed, k):
    """The k-th independent stateless seed derived from ``seed`` ([2] ints)."""
    return tf.random.experimental.stateless_fold_in(seed, k)


def resize(image, size, method, position=0, batch_size=1):
    """tf.image.resize by tf_cnn_benchmarks' method name; round_robin picks
    the method by the image's position in its batch."""
    def resized(m):  # nearest keeps uint8; every method gives float32 here
        return tf.cast(tf.image.resize(image, size, method=m), tf.float32)
    if method != "round_robin":
        return resized(method)
    methods = list(defaults.RESIZE_METHODS)
    index = tf.cast(tf.math.floormod(position, batch_size) % len(methods),
                    tf.int32)
    return tf.switch_case(index, [lambda m=m: resized(m) for m in methods])


def yiq_chroma_transform(delta_hue, scale_saturation):
    """The 3x3 RGB -> RGB matrix that rotates the chroma (I, Q) by
    ``delta_hue`` radians and scales it by ``scale_saturation`` in YIQ
    space, as tf.contrib's random_hsv_in_yiq did (value scale 1)."""
    to_yiq = tf.constant(_RGB_TO_YIQ, tf.float32)
    cos = scale_saturation * tf.cos(delta_hue)
    sin = scale_saturation * tf.sin(delta_hue)
    chroma = tf.stack([tf.stack([1.0, 0.0, 0.0]), tf.stack([0.0, cos, -sin]),
                       tf.stack([0.0, sin, cos])])
    return tf.linalg.inv(to_yiq) @ chroma @ to_yiq


def _hue_saturation_in_yiq(image, seed, max_delta_hue, saturation_range):
    """A random hue rotation and saturation scale in YIQ space, on [0, 1]
    pixels [H, W, 3]."""
    delta = tf.random.stateless_uniform([], _seed(seed, 6), -max_delta_hue,
                                        max_delta_hue)
    scale = tf.random.stateless_uniform([], _seed(seed, 7),
                                        *saturation_range)
    transform = yiq_chroma_transform(delta, scale)
    return tf.tensordot(image, tf.transpose(transform), axes=1)


def distort_color(image, seed, in_yiq=True):
    """Brightness, saturation, hue and contrast jitter on [0, 255] pixels."""
    image = image / 255.0
    image = tf.image.stateless_random_brightness(
        image, max_delta=32.0 / 255.0, seed=_seed(seed, 2))
    if in_yiq:
        image = _hue_saturation_in_yiq(image, seed, 0.2 * math.pi, (0.5, 1.5))
    else:
        image = tf.image.stateless_random_saturation(
            image, lower=0.5, upper=1.5, seed=_seed(seed, 3))
        image = tf.image.stateless_random_hue(image, max_delta=0.2,
                                              seed=_seed(seed, 4))
    image = tf.image.stateless_random_contrast(
        image, lower=0.5, upper=1.5, seed=_seed(seed, 5))
    return tf.clip_by_value(image, 0.0, 1.0) * 255.0


def _crop(encoded, begin, size, fused):
    if fused:
        offset_y, offset_x, _ = tf.unstack(begin)
        height, width, _ = tf.unstack(size)
        return tf.image.decode_and_crop_jpeg(
            encoded, tf.stack([offset_y, offset_x, height, width]), channels=3)
    return tf.slice(tf.io.decode_jpeg(encoded, channels=3), begin, size)


def train_image(encoded, boxes, *, image_size, options=None, seed=(0, 0),
                position=0, batch_size=1, **option_overrides):
    """A random crop of a JPEG as float32 [image_size, image_size, 3] in [-1, 1].

    ``boxes``: float32 [N, 4] (ymin, xmin, ymax, xmax), N may be 0.
    ``seed``: the record's stateless seed, shape [2]: the same seed gives the
    same crop, flip and colours (so a resumed run reproduces its inputs).
    ``position`` (of ``batch_size``): the record's place in its batch.
    ``options``: ImageOptions, changed by any of its fields given by name.
    """
    options = dataclasses.replace(options or ImageOptions(), **option_overrides)
    seed = tf.cast(seed, tf.int64)
    if options.ml_perf:  # MLPerf's rule: crops do not use the boxes
        boxes = tf.zeros([0, 4], tf.float32)
    shape = tf.image.extract_jpeg_shape(encoded)
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape, bounding_boxes=tf.reshape(boxes, [1, -1, 4]),
        min_object_covered=0.1, aspect_ratio_range=options.aspect_range,
        area_range=options.area_range, max_attempts=100,
        use_image_if_no_bounding_boxes=True, seed=_seed(seed, 0))
    image = _crop(encoded, begin, size, options.fuse_decode_and_crop)
    image = tf.image.stateless_random_flip_left_right(image, seed=_seed(seed, 1))
    image = resize(image, [image_size, image_size], options.resize_method,
                   position, batch_size)
    if options.distortions:
        image = distort_color(image, seed, options.distort_color_in_yiq)
    image = normalize(image, options.ml_perf)
    image.set_shape([image_size, image_size, 3])
    return image


def eval_image(encoded, *, image_size, crop_pct=EVAL_CROP_PCT, options=None,
               position=0, batch_size=1):
    """Resize the shorter side to image_size / crop_pct, crop the centre."""
    options = options or ImageOptions()
    image = tf.io.decode_jpeg(encoded, channels=3)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    target = tf.round(image_size / crop_pct)
    scale = target / tf.reduce_min(shape)
    new_shape = tf.cast(tf.round(shape * scale), tf.int32)
    new_shape = tf.maximum(new_shape, image_size)
    image = resize(image, new_shape, options.resize_method, position,
                   batch_size)
    top = (new_shape[0] - image_size) // 2
    left = (new_shape[1] - image_size) // 2
    image = image[top:top + image_size, left:left + image_size, :]
    image = normalize(image, options.ml_perf)
    image.set_shape([image_size, image_size, 3])
    return image
