"""ImageNet image preprocessing (the parser), as in Inception and
tf_cnn_benchmarks.

Training: sample_distorted_bounding_box on the encoded image's shape (the
record's boxes when it has any, else the whole image; min_object_covered 0.1,
area and aspect ranges from flags, 100 attempts, the whole image when no crop
fits) -> fused decode_and_crop_jpeg -> random left-right flip -> resize ->
optional colour distortions -> normalise to [-1, 1].

Evaluation: decode -> resize the shorter side to image_size / crop_pct (256
for 224) -> central crop -> normalise.  Deterministic.
"""

import tensorflow as tf

DEFAULT_AREA_RANGE = (0.08, 1.0)
DEFAULT_ASPECT_RANGE = (0.75, 1.333)
EVAL_CROP_PCT = 0.875


def normalize(image):
    """uint8-range float pixels -> [-1, 1], as tf_cnn_benchmarks."""
    return image / 127.5 - 1.0


def _seed(seed, k):
    """The k-th independent stateless seed derived from ``seed`` ([2] ints)."""
    return tf.random.experimental.stateless_fold_in(seed, k)


def distort_color(image, seed):
    """Brightness, saturation, hue and contrast jitter on [0, 255] pixels."""
    image = image / 255.0
    image = tf.image.stateless_random_brightness(
        image, max_delta=32.0 / 255.0, seed=_seed(seed, 2))
    image = tf.image.stateless_random_saturation(
        image, lower=0.5, upper=1.5, seed=_seed(seed, 3))
    image = tf.image.stateless_random_hue(image, max_delta=0.2,
                                          seed=_seed(seed, 4))
    image = tf.image.stateless_random_contrast(
        image, lower=0.5, upper=1.5, seed=_seed(seed, 5))
    return tf.clip_by_value(image, 0.0, 1.0) * 255.0


def train_image(encoded, boxes, *, image_size, area_range=DEFAULT_AREA_RANGE,
                aspect_range=DEFAULT_ASPECT_RANGE, distortions=False, seed=(0, 0)):
    """A random crop of a JPEG as float32 [image_size, image_size, 3] in [-1, 1].

    ``boxes``: float32 [N, 4] (ymin, xmin, ymax, xmax), N may be 0.
    ``seed``: the record's stateless seed, shape [2]: the same seed gives the
    same crop, flip and colours (so a resumed run reproduces its inputs).
    """
    seed = tf.cast(seed, tf.int64)
    shape = tf.image.extract_jpeg_shape(encoded)
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape, bounding_boxes=tf.reshape(boxes, [1, -1, 4]),
        min_object_covered=0.1, aspect_ratio_range=aspect_range,
        area_range=area_range, max_attempts=100,
        use_image_if_no_bounding_boxes=True, seed=_seed(seed, 0))
    offset_y, offset_x, _ = tf.unstack(begin)
    height, width, _ = tf.unstack(size)
    image = tf.image.decode_and_crop_jpeg(
        encoded, tf.stack([offset_y, offset_x, height, width]), channels=3)
    image = tf.image.stateless_random_flip_left_right(image, seed=_seed(seed, 1))
    image = tf.image.resize(image, [image_size, image_size], method="bilinear")
    if distortions:
        image = distort_color(image, seed)
    image = normalize(image)
    image.set_shape([image_size, image_size, 3])
    return image


def eval_image(encoded, *, image_size, crop_pct=EVAL_CROP_PCT):
    """Resize the shorter side to image_size / crop_pct, crop the centre."""
    image = tf.io.decode_jpeg(encoded, channels=3)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    target = tf.round(image_size / crop_pct)
    scale = target / tf.reduce_min(shape)
    new_shape = tf.cast(tf.round(shape * scale), tf.int32)
    new_shape = tf.maximum(new_shape, image_size)
    image = tf.image.resize(image, new_shape, method="bilinear")
    top = (new_shape[0] - image_size) // 2
    left = (new_shape[1] - image_size) // 2
    image = image[top:top + image_size, left:left + image_size, :]
    image = normalize(image)
    image.set_shape([image_size, image_size, 3])
    return image
