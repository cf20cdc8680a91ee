"""What the run's device decides when a flag is left to it: the data layout
and the convolutions' filter gradient."""

import sys


def resolve_data_format(requested, device_kind, stream=None):
    """NCHW on GPUs, NHWC on the CPU unless asked; TF's CPU kernels lack NCHW
    pooling, so an NCHW request on the CPU runs NHWC with a warning."""
    if requested is None:
        return "channels_first" if device_kind == "gpu" else "channels_last"
    if requested == "channels_first" and device_kind == "cpu":
        print("WARNING: --data_format=NCHW is not supported by TensorFlow's CPU "
              "kernels; running NHWC instead", file=stream or sys.stderr)
        return "channels_last"
    return requested


def resolve_filter_gradient(requested, *, device_kind, precision, xla,
                            data_format, onednn):
    """auto: "gemm" where it was measured faster, fp32 NHWC on the CPU under
    oneDNN without XLA (oneDNN's own NHWC filter gradient is slow there);
    TensorFlow's kernel everywhere else (cuDNN on GPUs; XLA's convolutions;
    Eigen, whose filter gradient was as fast as the matmuls).  Never
    "gemm_im2col": its patches form is 20-35% faster than TensorFlow's kernel
    at 28x28 and 14x14, but made VGG16 training only 1-2% faster at 190-270 MiB
    more peak RSS (README "Speed on the CPU")."""
    if requested != "auto":
        return requested
    use_gemm = (device_kind == "cpu" and precision == "fp32" and not xla
                and data_format == "channels_last" and onednn)
    return "gemm" if use_gemm else "native"
