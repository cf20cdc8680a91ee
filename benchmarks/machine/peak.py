"""The device's peak FLOP rate: a vendor figure where one is known, or
measured here (--measure_peak) with two short probes in the run's compute
dtype: a square matmul and a 3x3 convolution of VGG's shape.

The fraction of peak the run reports is its achieved TFLOP/s over the 3x3
conv probe's, the probe being VGG's own op at its best: a training run can
approach it but not pass it by much.  That says how well the run uses
TensorFlow's kernels, not the machine; on the CPU a third probe, numpy's
fp32 matmul (the BLAS numpy was built with, OpenBLAS in its wheels), gives
the hardware's own figure and the run's fraction of it.  That figure is the
better of the BLAS's and TensorFlow's fp32 matmuls: each is a lower bound of
what the CPU can do, and either can be held back (an OPENBLAS_CORETYPE older
than the CPU keeps numpy's sgemm well below both OpenBLAS's own choice of
kernels and TensorFlow's matmul; docs/performance.md has the figures).
"""

import math
import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import tensorflow as tf

from benchmarks.machine import gpu_peaks

_DTYPES = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}


@dataclass(frozen=True)
class Peak:
    tflops: float           # per device
    source: str             # "measured: 3x3 conv probe" or "datasheet: A100"
    matmul_tflops: Optional[float] = None
    conv3x3_tflops: Optional[float] = None
    blas: Optional["BlasPeak"] = None   # the CPU's own limit (CPU runs only)

    def as_metrics(self):
        out = {"peak.tflops_per_device": self.tflops, "peak.source": self.source}
        if self.matmul_tflops is not None:
            out["peak.matmul_tflops"] = self.matmul_tflops
        if self.conv3x3_tflops is not None:
            out["peak.conv3x3_tflops"] = self.conv3x3_tflops
        if self.blas is not None:
            out.update(self.blas.as_metrics())
            out["peak.hw_tflops"], out["peak.hw_source"] = self.hardware()
        return out

    def hardware(self):
        """(TFLOP/s, source) of the CPU's fp32 peak: the better of the BLAS
        probe and TensorFlow's matmul probe; None without the BLAS probe
        (GPUs, and runs not in fp32, whose matmul probe is not fp32)."""
        if self.blas is None:
            return None
        if (self.matmul_tflops is not None
                and self.matmul_tflops > self.blas.tflops):
            return self.matmul_tflops, "TensorFlow's fp32 matmul"
        return self.blas.tflops, f"numpy's fp32 matmul ({self.blas.library})"


@dataclass(frozen=True)
class BlasPeak:
    tflops: float
    library: str      # the BLAS numpy calls, e.g. "scipy-openblas 0.3.29"
    size: int         # the square fp32 matmul's side
    threads: str      # what the environment asks of the BLAS, if anything
    coretype: str     # OPENBLAS_CORETYPE: kernels forced on OpenBLAS, if any

    def as_metrics(self):
        return {"peak.blas_tflops": self.tflops, "peak.blas_library": self.library,
                "peak.blas_matmul_size": self.size,
                "peak.blas_threads": self.threads,
                "peak.blas_coretype": self.coretype}


def _blas_library():
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # numpy builds that do not describe themselves
        return "unknown BLAS"


def measure_blas_peak(size=4096, repeats=3):
    """fp32 TFLOP/s of numpy's ``size`` x ``size`` matmul, best of
    ``repeats`` calls after one warm-up call.  4096 is large enough for
    OpenBLAS's sgemm to reach its peak on every core it uses."""
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (size, size)).astype(np.float32)
    b = rng.uniform(-1, 1, (size, size)).astype(np.float32)
    np.matmul(a, b)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b)  # synchronous: the product is done on return
        best = min(best, time.perf_counter() - start)
    threads = ", ".join(f"{name}={os.environ[name]}" for name in (
        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if name in os.environ)
    coretype = os.environ.get("OPENBLAS_CORETYPE",
                              "unset (OpenBLAS picks the CPU's kernels)")
    return BlasPeak(2 * size ** 3 / best / 1e12, _blas_library(), size,
                    threads or "unset (every core)", coretype)


def known_peak(device_name, precision):
    """The datasheet peak of a GPU by the name TensorFlow reports, or None
    (machine/gpu_peaks.py)."""
    found = gpu_peaks.lookup(device_name, precision)
    return None if found.tflops is None else Peak(found.tflops, found.source)


def missing_peak_note(device_kind, device_name, precision):
    """Why a GPU run reports no fraction of peak, for the log; None where a
    datasheet figure is known, and on the CPU (which has no datasheet)."""
    if device_kind != "gpu":
        return None
    found = gpu_peaks.lookup(device_name, precision)
    if found.tflops is not None:
        return None
    return (f"{found.source}; no fraction of peak is reported "
            "(--measure_peak measures one)")


def _rate(fn, args, flops_per_call, *, repeats, target_seconds):
    """Best TFLOP/s of ``repeats`` timed calls of ``fn(iters, *args)``; iters
    is chosen so one call takes about ``target_seconds``.  Each call's output
    is fetched before the clock is read, so the device work is inside."""
    fn(tf.constant(1), *args).numpy()  # trace and warm up
    start = time.perf_counter()
    fn(tf.constant(1), *args).numpy()
    one = time.perf_counter() - start
    iters = max(1, math.ceil(target_seconds / max(one, 1e-6)))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(tf.constant(iters), *args).numpy()
        best = min(best, time.perf_counter() - start)
    return iters * flops_per_call / best / 1e12


def _chained(op):
    """A tf.function running ``op`` ``iters`` times.  Each iteration scales an
    input by a runtime value, so no optimiser can hoist the op out of the
    loop, and sums one output element, so none can drop it."""
    @tf.function
    def run(iters, x, w):
        total = tf.zeros((), tf.float32)
        for i in tf.range(iters):
            scale = tf.cast(1.0 + 1e-7 * tf.cast(i, tf.float32), w.dtype)
            y = op(x, w * scale)
            total += tf.cast(tf.reshape(y, [-1])[0], tf.float32)
        return total
    return run


def measure_peak(device, precision, *, matmul_size=2048, conv_batch=32,
                 conv_size=56, conv_channels=256, repeats=3,
                 target_seconds=0.25):
    """Measures matmul and 3x3 conv TFLOP/s on ``device`` in ``precision``
    (the run's compute dtype).  Returns a Peak whose ``tflops`` is the conv's."""
    dtype = _DTYPES[precision]
    with tf.device(device):
        a = tf.cast(tf.random.uniform((matmul_size, matmul_size), -1, 1), dtype)
        b = tf.cast(tf.random.uniform((matmul_size, matmul_size), -1, 1), dtype)
        matmul = _rate(_chained(tf.matmul), (a, b), 2 * matmul_size ** 3,
                       repeats=repeats, target_seconds=target_seconds)
        x = tf.cast(tf.random.uniform(
            (conv_batch, conv_size, conv_size, conv_channels), -1, 1), dtype)
        w = tf.cast(tf.random.uniform((3, 3, conv_channels, conv_channels),
                                      -0.1, 0.1), dtype)

        def conv(x, w):
            return tf.nn.conv2d(x, w, strides=1, padding="SAME")
        conv_flops = 2 * conv_batch * conv_size ** 2 * conv_channels ** 2 * 9
        conv_rate = _rate(_chained(conv), (x, w), conv_flops, repeats=repeats,
                          target_seconds=target_seconds)
    on_cpu = tf.DeviceSpec.from_string(device).device_type == "CPU"
    return Peak(conv_rate, "measured: 3x3 conv probe", matmul_tflops=matmul,
                conv3x3_tflops=conv_rate,
                blas=measure_blas_peak() if on_cpu and precision == "fp32"
                else None)


def fraction_of_peak(tflops, peak, devices):
    """Achieved / peak, the peak counted once per physical device (logical
    CPU devices share one CPU: ``devices`` is 1 for them)."""
    if peak is None or not peak.tflops:
        return None
    return tflops / (peak.tflops * devices)


def fraction_of_hardware_peak(tflops, peak, workers):
    """Achieved / the CPU's fp32 peak (Peak.hardware), once per worker (one
    CPU each)."""
    hardware = None if peak is None else peak.hardware()
    if hardware is None:
        return None
    return tflops / (hardware[0] * workers)


def resolve_peak(device_kind, device, device_name, precision, measure):
    """The peak to report against: measured when asked, else a GPU's
    datasheet figure when its name is known, else None."""
    if measure:
        return measure_peak(device, precision)
    if device_kind == "gpu":
        return known_peak(device_name, precision)
    return None
