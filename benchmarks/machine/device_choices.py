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
    gradient is several times slower there than the same product as matmuls
    at VGG16's 224x224 .. 56x56 layers); TensorFlow's kernel everywhere
    else: cuDNN on GPUs, XLA's convolutions, Eigen (as fast as the matmuls),
    and oneDNN's AVX-512 kernel, which was as fast as the matmuls layer by
    layer and made VGG16 training faster.  Never "gemm_im2col": its patches
    form beats TensorFlow's AVX2 kernel at 28x28 and 14x14, but barely sped
    up VGG16 training and raised its peak memory.  The figures, dated and
    with their machines, are in docs/performance.md."""
    if requested != "auto":
        return requested
    use_gemm = (device_kind == "cpu" and precision == "fp32" and not xla
                and data_format == "channels_last" and onednn and not avx512)
    return "gemm" if use_gemm else "native"


def resolve_dense_gradient(requested, *, device_kind, precision, xla, onednn):
    """auto: "batch_matmul" for fp32 on the CPU under oneDNN without XLA,
    where oneDNN's MatMul with a transposed operand (fc1's input gradient)
    was several times slower than the same product as a batch matmul
    (models/dense_grad.py, docs/performance.md); TensorFlow's MatMul
    everywhere else (GPUs, XLA, Eigen: not measured; bf16: MatMul was as
    fast)."""
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
