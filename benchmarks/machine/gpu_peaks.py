"""NVIDIA GPUs' datasheet peaks, keyed by the names TensorFlow reports.

The key is the device name CUDA gives (``tf.config.experimental.
get_device_details(gpu)["device_name"]``, the same string as ``nvidia-smi
--query-gpu=name``), matched whole and case-insensitively: a substring match
would take "NVIDIA GB200" for a B200 and cannot tell an H100 SXM from a PCIe
card or an NVL one, whose peaks differ.

Figures are dense tensor throughput (no structured sparsity) in TFLOP/s per
GPU.  "fp32" is TF32 on Ampere and later, which TensorFlow uses for fp32
matmuls and convolutions by default, and plain FP32 on Volta and Turing.
Where a datasheet prints only the sparse figure, the dense one is half of it
(the datasheets say so in their footnotes).  A precision with no figure is
left out: no fraction of peak is better than a wrong one.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuPeaks:
    names: tuple  # as CUDA reports them
    tflops: dict  # precision -> dense TFLOP/s
    source: str   # the datasheet the figures come from


def _gpu(names, source, **tflops):
    return GpuPeaks(tuple(names), tflops, source)


GPU_PEAKS = (
    _gpu(["Tesla V100-SXM2-16GB", "Tesla V100-SXM2-32GB"],
         "NVIDIA V100 Tensor Core GPU datasheet (SXM2; no sparsity on Volta)",
         fp32=15.7, fp16=125.0),
    _gpu(["Tesla V100-PCIE-16GB", "Tesla V100-PCIE-32GB"],
         "NVIDIA V100 Tensor Core GPU datasheet (PCIe)", fp32=14.0, fp16=112.0),
    _gpu(["Tesla T4"], "NVIDIA T4 datasheet (mixed precision, dense)",
         fp32=8.1, fp16=65.0),
    _gpu(["NVIDIA A10"], "NVIDIA A10 datasheet (dense column)",
         fp32=62.5, fp16=125.0, bf16=125.0),
    # AWS's A10G sheet gives no TF32 figure that could be confirmed; its
    # tensor figures are not the A10's.
    _gpu(["NVIDIA A10G"], "AWS EC2 G5 / NVIDIA A10G datasheet (dense)",
         fp16=70.0, bf16=70.0),
    _gpu(["NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-80GB",
          "NVIDIA A100-PCIE-40GB", "NVIDIA A100 80GB PCIe"],
         "NVIDIA A100 Tensor Core GPU datasheet (dense column)",
         fp32=156.0, fp16=312.0, bf16=312.0),
    _gpu(["NVIDIA L4"], "NVIDIA L4 datasheet (sparse figures halved)",
         fp32=60.0, fp16=121.0, bf16=121.0),
    _gpu(["NVIDIA L40S"], "NVIDIA L40S datasheet (dense column)",
         fp32=183.0, fp16=362.05, bf16=362.05),
    _gpu(["NVIDIA H100 80GB HBM3"],
         "NVIDIA H100 Tensor Core GPU datasheet, SXM (sparse figures halved)",
         fp32=494.7, fp16=989.4, bf16=989.4),
    _gpu(["NVIDIA H100 PCIe"],
         "NVIDIA H100 Tensor Core GPU datasheet, PCIe (sparse figures halved)",
         fp32=378.0, fp16=756.0, bf16=756.0),
    _gpu(["NVIDIA H100 NVL"],
         "NVIDIA H100 Tensor Core GPU datasheet, NVL per GPU (sparse figures "
         "halved)", fp32=417.5, fp16=835.5, bf16=835.5),
    _gpu(["NVIDIA H200"],
         "NVIDIA H200 Tensor Core GPU datasheet, SXM (sparse figures halved)",
         fp32=494.7, fp16=989.4, bf16=989.4),
    # The H200 NVL's TF32 figure could not be confirmed.
    _gpu(["NVIDIA H200 NVL"],
         "NVIDIA H200 Tensor Core GPU datasheet, NVL (sparse figures halved)",
         fp16=835.5, bf16=835.5),
    _gpu(["NVIDIA GH200 480GB", "NVIDIA GH200 144G HBM3e"],
         "NVIDIA GH200 Grace Hopper Superchip datasheet (dense column)",
         fp32=494.0, fp16=990.0, bf16=990.0),
    _gpu(["NVIDIA B200"],
         "NVIDIA DGX/HGX B200 datasheet, per GPU (sparse figures halved)",
         fp32=1100.0, fp16=2250.0, bf16=2250.0),
    _gpu(["NVIDIA GB200"],
         "NVIDIA GB200 NVL72 datasheet, per GPU (sparse figures halved)",
         fp32=1250.0, fp16=2500.0, bf16=2500.0),
)

# Names that exist but fit no single datasheet.
AMBIGUOUS = {
    "nvidia h100 80gb hbm2e": "sold both as SXM and PCIe cards, whose peaks "
                              "differ",
}


def _key(name):
    return " ".join(name.split()).lower()


_BY_NAME = {_key(n): gpu for gpu in GPU_PEAKS for n in gpu.names}


@dataclass(frozen=True)
class Lookup:
    tflops: float  # None when no figure applies
    source: str    # the datasheet, or why there is no figure


def lookup(device_name, precision):
    """The datasheet peak of the GPU TensorFlow names ``device_name`` in
    ``precision`` (fp32, fp16, bf16), or why there is none."""
    key = _key(device_name or "")
    if " mig " in f"{key} ":
        return Lookup(None, f"{device_name!r} is a MIG slice: it has a "
                            "fraction of the GPU's compute, so no datasheet "
                            "figure applies")
    if key in AMBIGUOUS:
        return Lookup(None, f"{device_name!r} is {AMBIGUOUS[key]}")
    gpu = _BY_NAME.get(key)
    if gpu is None:
        return Lookup(None, f"no datasheet peak is known for {device_name!r}")
    if precision not in gpu.tflops:
        return Lookup(None, f"the datasheet of {device_name!r} gives no "
                            f"{precision} figure")
    return Lookup(gpu.tflops[precision], f"datasheet: {gpu.source}")
