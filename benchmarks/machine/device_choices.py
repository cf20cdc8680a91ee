"""What the run's device decides when a flag is left to it: the data layout,
the convolutions' algorithm and filter gradient, and the dense layers' input
gradient."""

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
                            data_format, onednn, avx512):
    """auto: "gemm" where it was measured faster, fp32 NHWC on the CPU under
    oneDNN without XLA on a CPU without AVX-512 (oneDNN's AVX2 NHWC filter
    gradient is slow there: 26-50 GFLOP/s at VGG16's 224x224 .. 56x56 layers on
    a Zen 3, against 84-116 for the matmuls); TensorFlow's kernel everywhere
    else: cuDNN on GPUs, XLA's convolutions, Eigen (as fast as the matmuls),
    and oneDNN's AVX-512 kernel, which on a Zen 4 was as fast as the matmuls
    layer by layer (224x224x64: 156-162 against 145-148 GFLOP/s) and made
    VGG16 training faster (1.69-1.72 against 1.50-1.64 img/s; README
    "Speed on the CPU").  Never "gemm_im2col": its patches form is 20-35%
    faster than TensorFlow's AVX2 kernel at 28x28 and 14x14, but made VGG16
    training only 1-2% faster at 190-270 MiB more peak RSS."""
    if requested != "auto":
        return requested
    use_gemm = (device_kind == "cpu" and precision == "fp32" and not xla
                and data_format == "channels_last" and onednn and not avx512)
    return "gemm" if use_gemm else "native"


def resolve_dense_gradient(requested, *, device_kind, precision, xla, onednn):
    """auto: "batch_matmul" for fp32 on the CPU under oneDNN without XLA,
    where oneDNN's MatMul with a transposed operand (fc1's input gradient)
    was 4-5x slower than the same product as a batch matmul
    (models/dense_grad.py); TensorFlow's MatMul everywhere else (GPUs, XLA,
    Eigen: not measured; bf16: MatMul was as fast)."""
    if requested != "auto":
        return requested
    use = (device_kind == "cpu" and precision == "fp32" and not xla and onednn)
    return "batch_matmul" if use else "native"


def resolve_conv_algorithm(requested, *, device_kind, precision, xla,
                           data_format, onednn):
    """auto: "winograd" (models/winograd.py) for fp32 NHWC on the CPU under
    oneDNN without XLA, where its matmuls run on oneDNN's fast kernels;
    "direct" everywhere else (GPUs: cuDNN picks its own algorithms; XLA and
    Eigen: not measured; fp16/bf16: too few mantissa bits for its
    transforms)."""
    if requested != "auto":
        return requested
    use = (device_kind == "cpu" and precision == "fp32" and not xla
           and data_format == "channels_last" and onednn)
    return "winograd" if use else "direct"
