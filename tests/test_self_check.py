"""--self_check: its report on made-up machines (each error and warning),
and the command on this one."""

import dataclasses
import os
import subprocess
import sys

import pytest

from benchmarks import self_check
from benchmarks.machine.gpus import GpuInfo
from conftest import REPO

H100 = GpuInfo("NVIDIA H100 80GB HBM3", (9, 0), 80 * 2 ** 30)
A100 = GpuInfo("NVIDIA A100-SXM4-80GB", (8, 0), 80 * 2 ** 30)
CUDA = {"is_cuda_build": True, "cuda_version": "12.5.1", "cudnn_version": "9"}

CPU_BOX = self_check.Machine(
    tensorflow="2.21.0", build=dict(CUDA), gpus=(), gpus_present=None,
    cuda_visible_devices=None, cpu_model="AMD EPYC 9R45", cores=2,
    cpu_flags=frozenset({"avx2", "avx512f", "avx512_bf16"}), onednn="1",
    xla_flags=None, cuda_libraries=False, governors=frozenset(),
    load_average=0.1)
GPU_BOX = dataclasses.replace(CPU_BOX, gpus=(H100,) * 8, gpus_present=8,
                              cuda_libraries=True,
                              governors=frozenset({"performance"}))


def _report(**changes):
    return self_check.report(dataclasses.replace(GPU_BOX, **changes))


def _warnings(lines):
    return [line for line in lines if line.startswith("WARNING")]


def test_a_ready_8_gpu_box_has_no_warning():
    lines, status = self_check.report(GPU_BOX)
    assert status == 0 and not _warnings(lines)
    text = "\n".join(lines)
    assert "built for CUDA 12.5.1 and cuDNN 9; CUDA libraries installed" in text
    assert "GPU 7: NVIDIA H100 80GB HBM3, compute capability 9.0, 80 GiB" in text
    assert "peak TFLOP/s (dense) fp32 494.7, fp16 989.4, bf16 989.4" in text
    assert "a run would use: 8 GPU(s), fp32, NCHW, direct convolutions, " \
           "all-reduce nccl" in text
    assert "--precision=bf16" in text
    assert len(lines) <= 30


def test_a_cpu_machine_reports_and_exits_0():
    lines, status = self_check.report(CPU_BOX)
    text = "\n".join(lines)
    assert status == 0 and not _warnings(lines)
    assert "CUDA libraries not installed, so CPU only" in text
    assert "GPUs: none seen by TensorFlow" in text
    assert "CPU: AMD EPYC 9R45, 2 cores; AVX-512 yes, avx512_bf16 yes, " \
           "AMX no" in text
    assert "the CPU, fp32, NHWC, winograd convolutions" in text
    assert "oneDNN: on" in text and "XLA: off unless --xla" in text


@pytest.mark.parametrize("changes,message", [
    (dict(build={"is_cuda_build": False}, cuda_libraries=None, gpus=()),
     "the driver shows 8 GPU(s) but this TensorFlow is a build without CUDA"),
    (dict(cuda_libraries=False, gpus=()),
     "this TensorFlow is without its CUDA libraries: install the GPU packages"),
    (dict(gpus=(), cuda_visible_devices=""),
     "the driver shows 8 GPU(s) but TensorFlow sees none: "
     "CUDA_VISIBLE_DEVICES='' hides them"),
    (dict(gpus=()), "sees none: check that the driver supports"),
])
def test_gpus_a_run_could_not_use_exit_1(changes, message):
    lines, status = _report(**changes)
    errors = [line for line in lines if line.startswith("ERROR")]
    assert status == 1 and len(errors) == 1 and message in errors[0]


@pytest.mark.parametrize("changes,message", [
    (dict(gpus=(H100,) * 4, cuda_visible_devices="0,1,2,3"),
     "CUDA_VISIBLE_DEVICES='0,1,2,3' hides 4 of 8 GPUs"),
    (dict(gpus=(H100,) * 2, gpus_present=2),
     "2 GPU(s) seen: run_train_vgg16_multigpu_imagenet.sh is written for 8"),
    (dict(gpus=(H100,) * 4 + (A100,) * 4),
     "mixed GPU models (NVIDIA A100-SXM4-80GB, NVIDIA H100 80GB HBM3)"),
    (dict(governors=frozenset({"performance", "powersave"})),
     "CPU frequency governor powersave"),
    (dict(load_average=3.0), "the machine is busy (load average 3.0 on 2 cores)"),
    (dict(gpus=(), gpus_present=None),
     "TensorFlow with CUDA sees no GPU and no NVIDIA driver is loaded"),
])
def test_what_would_spoil_the_figures_is_a_warning(changes, message):
    lines, status = _report(**changes)
    warnings = _warnings(lines)
    assert status == 0 and [w for w in warnings if message in w], lines
    # The one warning, or with hidden GPUs also the 8-GPU script's.
    assert len(warnings) == 1 + ("hides" in message)


def test_an_unknown_gpu_says_it_has_no_peak():
    lines, _ = _report(gpus=(GpuInfo("NVIDIA RTX PRO 6000", (12, 0), None),) * 8)
    text = "\n".join(lines)
    assert "memory unknown" in text
    assert "no peak: no datasheet peak is known for 'NVIDIA RTX PRO 6000' " \
           "(--measure_peak measures one)" in text


def test_the_command_on_this_machine():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "benchmarks",
                             "--self_check"], capture_output=True, text=True,
                            timeout=120, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("vggbench self-check")
    assert lines[1].startswith("TensorFlow ")
    assert any(line.startswith("CPU: ") for line in lines)
    assert any(line.startswith("a run would use: ") for line in lines)
    assert len(lines) <= 30
    assert result.stderr == ""  # TensorFlow's start-up noise is filtered
