"""GPU readiness without a GPU: datasheet peaks by the names TensorFlow
reports, and every device-dependent choice driven by made-up GPU
descriptions (1 and 8 GPUs, mixed names, none)."""

import subprocess
import sys

import pytest

from benchmarks.machine import gpu_peaks, gpus, peak
from benchmarks.machine.device_choices import resolve_data_format
from benchmarks.machine.gpus import GpuInfo
from conftest import REPO

# (name as CUDA reports it, fp32 (TF32), fp16, bf16): the datasheet figures
# of shared/reference/gpu-peaks.md, dense; None where no figure is given.
DATASHEET = [
    ("Tesla V100-SXM2-16GB", 15.7, 125.0, None),
    ("Tesla V100-SXM2-32GB", 15.7, 125.0, None),
    ("Tesla V100-PCIE-16GB", 14.0, 112.0, None),
    ("Tesla V100-PCIE-32GB", 14.0, 112.0, None),
    ("Tesla T4", 8.1, 65.0, None),
    ("NVIDIA A10", 62.5, 125.0, 125.0),
    ("NVIDIA A10G", None, 70.0, 70.0),
    ("NVIDIA A100-SXM4-40GB", 156.0, 312.0, 312.0),
    ("NVIDIA A100-SXM4-80GB", 156.0, 312.0, 312.0),
    ("NVIDIA A100-PCIE-40GB", 156.0, 312.0, 312.0),
    ("NVIDIA A100 80GB PCIe", 156.0, 312.0, 312.0),
    ("NVIDIA L4", 60.0, 121.0, 121.0),
    ("NVIDIA L40S", 183.0, 362.05, 362.05),
    ("NVIDIA H100 80GB HBM3", 494.7, 989.4, 989.4),
    ("NVIDIA H100 PCIe", 378.0, 756.0, 756.0),
    ("NVIDIA H100 NVL", 417.5, 835.5, 835.5),
    ("NVIDIA H200", 494.7, 989.4, 989.4),
    ("NVIDIA H200 NVL", None, 835.5, 835.5),
    ("NVIDIA B200", 1100.0, 2250.0, 2250.0),
    ("NVIDIA GB200", 1250.0, 2500.0, 2500.0),
]


@pytest.mark.parametrize("name,fp32,fp16,bf16", DATASHEET)
def test_known_peak_by_the_reported_name(name, fp32, fp16, bf16):
    for precision, want in (("fp32", fp32), ("fp16", fp16), ("bf16", bf16)):
        found = peak.known_peak(name, precision)
        if want is None:
            assert found is None
            assert "gives no" in peak.missing_peak_note("gpu", name, precision)
        else:
            assert found.tflops == want
            assert found.source.startswith("datasheet: ")
            assert peak.missing_peak_note("gpu", name, precision) is None


def test_every_entry_cites_a_datasheet_and_names_are_unique():
    names = [n.lower() for g in gpu_peaks.GPU_PEAKS for n in g.names]
    assert len(names) == len(set(names))
    for gpu in gpu_peaks.GPU_PEAKS:
        assert "datasheet" in gpu.source and gpu.tflops


def test_the_lookup_is_whole_name_and_case_blind():
    assert peak.known_peak("nvidia  h100 80gb hbm3", "bf16").tflops == 989.4
    assert peak.known_peak("NVIDIA A100-PCIe-40GB", "fp32").tflops == 156.0
    # A substring is not a name: GB200 is not a B200, "H100" is no card.
    assert peak.known_peak("NVIDIA GB200", "bf16").tflops == 2500.0
    assert peak.known_peak("H100", "bf16") is None
    assert peak.known_peak("NVIDIA H100", "bf16") is None


@pytest.mark.parametrize("name,reason", [
    ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "MIG slice"),
    ("NVIDIA H100 80GB HBM2e", "SXM and PCIe"),
    ("Some Future GPU", "no datasheet peak is known for 'Some Future GPU'"),
])
def test_names_without_a_figure_say_why(name, reason):
    assert peak.known_peak(name, "bf16") is None
    note = peak.missing_peak_note("gpu", name, "bf16")
    assert reason in note and "--measure_peak" in note
    assert peak.resolve_peak("gpu", "/gpu:0", name, "bf16", False) is None


def test_the_cpu_has_no_datasheet_and_no_note():
    assert peak.missing_peak_note("cpu", "AMD EPYC 9R45", "fp32") is None


H100 = GpuInfo("NVIDIA H100 80GB HBM3", (9, 0), 80 * 2 ** 30)
V100 = GpuInfo("Tesla V100-SXM2-16GB", (7, 0), 16 * 2 ** 30)
P100 = GpuInfo("Tesla P100-PCIE-16GB", (6, 0), 16 * 2 ** 30)


def test_device_kind_layout_and_all_reduce_follow_the_gpus():
    for found, kind, layout, reduce in (
            ([], "cpu", "channels_last", "pscpu"),
            ([H100], "gpu", "channels_first", "nccl"),
            ([H100] * 8, "gpu", "channels_first", "nccl")):
        assert gpus.default_device_kind(found) == kind
        assert resolve_data_format(None, kind) == layout
        assert gpus.default_all_reduce(kind) == reduce


def test_precision_advice_by_compute_capability():
    assert gpus.precision_advice([]) is None
    assert "bf16" in gpus.precision_advice([H100] * 8)
    fp16 = gpus.precision_advice([V100])
    assert "fp16" in fp16 and "no bf16" in fp16
    assert gpus.precision_advice([P100]) is None
    assert "fp16" in gpus.precision_advice([H100, V100])  # the weaker decides


def test_mixed_models_are_named():
    assert gpus.mixed_models([H100] * 8) is None
    assert gpus.mixed_models([]) is None
    assert gpus.mixed_models([H100, V100, H100]) == sorted([H100.name, V100.name])


@pytest.mark.parametrize("found,want,used,args", [
    (0, "all", 0, ("--device=cpu",)),
    (0, "1", 0, ("--device=cpu",)),
    (1, "1", 1, ("--num_gpus=1",)),
    (8, "1", 1, ("--num_gpus=1",)),
    (8, "all", 8, ("--num_gpus=8", "--all_reduce_spec=nccl")),
    (4, "all", 4, ("--num_gpus=4", "--all_reduce_spec=nccl")),
])
def test_the_run_scripts_devices(found, want, used, args):
    plan = gpus.script_devices(found, want, 32)
    assert (plan.gpus, plan.args) == (used, args)
    if used:
        assert f"global batch {32 * used}" in plan.note


def test_the_scripts_plan_is_shell_the_scripts_evaluate():
    plan = gpus.script_devices(8, "all", 64)
    script = "\n".join([
        "VGG_NOTES=(); vgg_note() { VGG_NOTES+=(\"NOTE: $*\"); }",
        *gpus._shell_lines(plan),
        'echo "$VGG_GPUS|${VGG_DEVICE_ARGS[*]}|${VGG_NOTES[0]}"'])
    out = subprocess.run(["bash", "-c", script], capture_output=True,
                         text=True, timeout=30, check=True).stdout.strip()
    assert out == ("8|--num_gpus=8 --all_reduce_spec=nccl|NOTE: TensorFlow "
                   "sees 8 GPU(s); using 8, global batch 512")


def test_the_gpus_module_runs_as_the_scripts_call_it():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.machine.gpus", "--want=all",
         "--batch_size=16"], capture_output=True, text=True, timeout=120,
        cwd=REPO)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"VGG_GPUS={len(gpus.visible_gpus())}"
    bad = subprocess.run(
        [sys.executable, "-m", "benchmarks.machine.gpus", "--want=many"],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert bad.returncode == 2 and "--want takes a number or all" in bad.stderr


def test_visible_gpus_on_this_machine_are_what_tensorflow_lists():
    import tensorflow as tf
    assert len(gpus.visible_gpus()) == len(tf.config.list_physical_devices("GPU"))

