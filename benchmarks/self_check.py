"""``python -m benchmarks --self_check``: what a run on this machine would
use, and what would spoil its numbers, before a long run is started.

``gather()`` asks TensorFlow and the operating system once; ``report()`` is a
plain function of what it found, so each warning is tested with made-up
machines.  Exit status 1 only where a run could not use what the machine
has (its GPUs); whatever would only spoil the figures is a WARNING line.
"""

import glob
import os
import platform
import subprocess
from dataclasses import dataclass, field
from typing import Optional

from benchmarks.machine import cpu, gpu_peaks, gpus as gpu_choices
from benchmarks.machine.device_choices import (resolve_conv_algorithm,
                                               resolve_data_format)

PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Machine:
    """What the self-check found."""

    tensorflow: str
    build: dict  # tf.sysconfig.get_build_info()
    gpus: tuple  # GpuInfo of each GPU TensorFlow sees
    gpus_present: Optional[int]  # GPUs the driver shows; None: no driver
    cuda_visible_devices: Optional[str]
    cpu_model: str
    cores: int  # this process may run on
    cpu_flags: frozenset
    onednn: Optional[str]  # TF_ENABLE_ONEDNN_OPTS as a run would set it
    xla_flags: Optional[str]  # TF_XLA_FLAGS
    # The CUDA runtime and cuDNN TensorFlow loads (tensorflow[and-cuda]'s
    # nvidia-* packages, or the system's); None for a build without CUDA.
    cuda_libraries: Optional[bool] = None
    governors: frozenset = field(default_factory=frozenset)  # cpufreq's
    load_average: Optional[float] = None  # over the last minute

    @property
    def cuda_build(self):
        return bool(self.build.get("is_cuda_build"))

    @property
    def can_use_gpus(self):
        """TensorFlow here could run on a GPU, had it one."""
        return self.cuda_build and bool(self.cuda_libraries)


def gather(environ=None):
    """The machine as a run here would find it."""
    environ = dict(os.environ if environ is None else environ)
    onednn = cpu.configure_onednn("auto", environ=dict(environ))
    import tensorflow as tf
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return Machine(
        tensorflow=tf.__version__, build=dict(tf.sysconfig.get_build_info()),
        gpus=tuple(gpu_choices.visible_gpus()),
        gpus_present=gpus_the_driver_shows(),
        cuda_visible_devices=environ.get("CUDA_VISIBLE_DEVICES"),
        cpu_model=cpu.cpu_model_name(),
        cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1,
        cpu_flags=cpu.cpu_flags(), onednn=onednn,
        xla_flags=environ.get("TF_XLA_FLAGS"),
        cuda_libraries=(cuda_libraries_found()
                        if tf.sysconfig.get_build_info().get("is_cuda_build")
                        else None),
        governors=cpu_governors(),
        load_average=load)


def gpus_the_driver_shows(timeout=10):
    """NVIDIA GPUs on this machine whatever CUDA_VISIBLE_DEVICES says: the
    driver's /proc entries, else nvidia-smi; None where neither exists."""
    entries = glob.glob("/proc/driver/nvidia/gpus/*")
    if entries:
        return len(entries)
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True,
                             text=True, timeout=timeout, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sum(line.startswith("GPU ") for line in out.splitlines())


def cuda_libraries_found():
    """Whether the CUDA runtime and cuDNN can be loaded: the pip packages
    tensorflow[and-cuda] installs (where TensorFlow looks first), or the
    system's libraries."""
    import ctypes
    import importlib.util
    try:
        if all(importlib.util.find_spec(name) is not None for name in (
                "nvidia.cuda_runtime", "nvidia.cudnn")):
            return True
    except ImportError:  # no nvidia namespace package at all
        pass
    try:
        for name in ("libcudart.so.12", "libcudnn.so.9"):
            ctypes.CDLL(name)
    except OSError:
        return False
    return True


def cpu_governors():
    found = set()
    for path in glob.glob("/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"):
        try:
            with open(path) as f:
                found.add(f.read().strip())
        except OSError:
            pass
    return frozenset(found)


def _gib(size):
    return "memory unknown" if size is None else f"{size / 2 ** 30:.0f} GiB"


def _peaks(name):
    found = {p: gpu_peaks.lookup(name, p) for p in PRECISIONS}
    known = [f"{p} {f.tflops:g}" for p, f in found.items() if f.tflops]
    if not known:
        return (f"no peak: {found['fp32'].source} (--measure_peak measures "
                "one)")
    source = next(f.source for f in found.values() if f.tflops)
    return f"peak TFLOP/s (dense) {', '.join(known)}; {source}"


def _gpu_lines(m):
    lines = []
    for i, gpu in enumerate(m.gpus):
        cc = ("?" if gpu.compute_capability is None
              else ".".join(str(v) for v in gpu.compute_capability))
        lines.append(f"GPU {i}: {gpu.name}, compute capability {cc}, "
                     f"{_gib(gpu.memory_bytes)}")
        lines.append(f"  {_peaks(gpu.name)}")
    return lines


def _cpu_line(m):
    flags = m.cpu_flags
    isa = ", ".join(f"{name} {'yes' if test else 'no'}" for name, test in (
        ("AVX-512", cpu.has_avx512(flags)),
        ("avx512_bf16", "avx512_bf16" in flags),
        ("AMX", "amx_bf16" in flags)))
    return f"CPU: {m.cpu_model}, {m.cores} cores; {isa}"


def _run_lines(m):
    """What a run with default flags would use."""
    kind = gpu_choices.default_device_kind(m.gpus)
    onednn = m.onednn == "1"
    data_format = resolve_data_format(None, kind)
    conv = resolve_conv_algorithm("auto", device_kind=kind, precision="fp32",
                                  xla=False, data_format=data_format,
                                  onednn=onednn)
    devices = f"{len(m.gpus)} GPU(s)" if kind == "gpu" else "the CPU"
    lines = [f"a run would use: {devices}, fp32, "
             f"{'NCHW' if data_format == 'channels_first' else 'NHWC'}, "
             f"{conv} convolutions, all-reduce "
             f"{gpu_choices.default_all_reduce(kind) if len(m.gpus) > 1 else 'none (one replica)'}",
             f"oneDNN: {'on' if onednn else 'off'} (TF_ENABLE_ONEDNN_OPTS="
             f"{m.onednn or 'unset'}); XLA: off unless --xla"
             + (f", TF_XLA_FLAGS={m.xla_flags}" if m.xla_flags else "")]
    advice = gpu_choices.precision_advice(m.gpus)
    if advice:
        lines.append(f"precision: {advice}")
    return lines


def _errors(m):
    """What stops a run from using the machine's GPUs (exit status 1)."""
    present = m.gpus_present or 0
    if present and not m.can_use_gpus:
        what = ("a build without CUDA" if not m.cuda_build else
                "without its CUDA libraries")
        return [f"ERROR: the driver shows {present} GPU(s) but this "
                f"TensorFlow is {what}: install the GPU packages (make setup "
                "GPU=1, i.e. requirements-gpu.txt)"]
    if present and not m.gpus:
        why = (f"CUDA_VISIBLE_DEVICES={m.cuda_visible_devices!r} hides them"
               if m.cuda_visible_devices is not None else
               "check that the driver supports the CUDA version above")
        return [f"ERROR: the driver shows {present} GPU(s) but TensorFlow "
                f"sees none: {why}"]
    return []


def _warnings(m):
    """What would only spoil the figures."""
    out = []
    present, seen = m.gpus_present or 0, len(m.gpus)
    if m.can_use_gpus and not present and not seen:
        out.append("TensorFlow with CUDA sees no GPU and no NVIDIA driver "
                   "is loaded: runs use the CPU")
    if m.cuda_visible_devices is not None and seen and present > seen:
        out.append(f"CUDA_VISIBLE_DEVICES={m.cuda_visible_devices!r} hides "
                   f"{present - seen} of {present} GPUs from runs")
    if 0 < seen < gpu_choices.MULTI_GPU_SCRIPT_GPUS:
        out.append(f"{seen} GPU(s) seen: run_train_vgg16_multigpu_imagenet.sh "
                   f"is written for {gpu_choices.MULTI_GPU_SCRIPT_GPUS} and "
                   f"would use {seen}")
    mixed = gpu_choices.mixed_models(m.gpus)
    if mixed:
        out.append(f"mixed GPU models ({', '.join(mixed)}): the slowest paces "
                   "every synchronous step")
    slow = sorted(m.governors - {"performance"})
    if slow:
        out.append(f"CPU frequency governor {', '.join(slow)}: clocks vary "
                   "with load; set 'performance' for steady figures")
    if m.load_average is not None and m.load_average > 0.5 * m.cores:
        out.append(f"the machine is busy (load average {m.load_average:.1f} "
                   f"on {m.cores} cores): other work slows the run")
    return [f"WARNING: {line}" for line in out]


def _build_line(m):
    if not m.cuda_build:
        return f"TensorFlow {m.tensorflow}, a build without CUDA (CPU only)"
    libraries = ("installed" if m.cuda_libraries else
                 "not installed, so CPU only (make setup GPU=1 installs them)")
    return (f"TensorFlow {m.tensorflow}, built for CUDA "
            f"{m.build.get('cuda_version', '?')} and cuDNN "
            f"{m.build.get('cudnn_version', '?')}; CUDA libraries {libraries}")


def report(m):
    """(lines, exit status) for a Machine."""
    gpus = _gpu_lines(m) or [
        "GPUs: none seen by TensorFlow"
        + (f" (the driver shows {m.gpus_present})" if m.gpus_present else "")]
    lines = [_build_line(m), *gpus, _cpu_line(m), *_run_lines(m)]
    errors = _errors(m)
    lines += errors + _warnings(m)
    return lines, 1 if errors else 0


def main(stream=None):
    """Prints the report; returns the exit status."""
    lines, status = report(gather())
    print(f"vggbench self-check ({platform.node()})", file=stream)
    print("\n".join(lines), file=stream)
    return status
