"""The image pipeline's defaults, in one place and free of TensorFlow, so the
run configuration (benchmarks/config) can declare its flags with them
without importing TensorFlow."""

# Inception-style training crops: area fraction and aspect ratio (timm's
# --scale and --ratio).
AREA_RANGE = (0.08, 1.0)
ASPECT_RANGE = (0.75, 1.333)
# tf.image.resize's methods by tf_cnn_benchmarks' names; round_robin takes
# them in this order by the image's position in the batch.
RESIZE_METHODS = ("nearest", "bilinear", "bicubic", "area")
RESIZE_METHOD = "bilinear"
SHUFFLE_BUFFER = 10000  # records
FUSE_DECODE_AND_CROP = True  # decode only the crop's part of the JPEG
DISTORT_COLOR_IN_YIQ = True  # hue and saturation in YIQ space, else HSV
