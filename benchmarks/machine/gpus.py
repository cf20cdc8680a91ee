"""The GPUs a run can use, described as plain data, and the choices that
depend on them.  Each choice is a function of ``GpuInfo`` values, so tests
drive it with made-up descriptions (1 or 8 GPUs, mixed names, none) on
machines without a GPU; only ``visible_gpus`` asks TensorFlow.

    python -m benchmarks.machine.gpus --want=all --batch_size=32

prints, as shell assignments, what the run_train scripts pass to the runner
(scripts/train_common.sh evaluates it)."""

import argparse
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

# How many GPUs run_train_vgg16_multigpu_imagenet.sh is written for: a full
# box; it uses every GPU TensorFlow sees.
MULTI_GPU_SCRIPT_GPUS = 8

# bf16 tensor cores (and TF32, which TensorFlow then uses for fp32 by
# default) start with Ampere; fp16 tensor cores with Volta.
_BF16_FROM = (8, 0)
_FP16_FROM = (7, 0)


@dataclass(frozen=True)
class GpuInfo:
    name: str  # as CUDA reports it, e.g. "NVIDIA H100 80GB HBM3"
    compute_capability: Optional[tuple] = None  # (major, minor)
    memory_bytes: Optional[int] = None


def visible_gpus():
    """The GPUs this process's TensorFlow sees, with their names, compute
    capabilities and (where nvidia-smi answers) memory."""
    import tensorflow as tf
    memory = _nvidia_smi_memory()
    out = []
    for i, gpu in enumerate(tf.config.list_physical_devices("GPU")):
        details = tf.config.experimental.get_device_details(gpu)
        cc = details.get("compute_capability")
        out.append(GpuInfo(details.get("device_name", gpu.name),
                           tuple(cc) if cc else None,
                           memory[i] if i < len(memory) else None))
    return out


def _nvidia_smi_memory(timeout=10):
    """Each GPU's memory in bytes from nvidia-smi, in CUDA's order when
    CUDA_VISIBLE_DEVICES is unset; [] where nvidia-smi is absent or slow."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total",
             "--format=csv,noheader,nounits"], capture_output=True,
            text=True, timeout=timeout, check=True).stdout
        return [int(line.strip()) * 2 ** 20 for line in out.splitlines()
                if line.strip().isdigit()]
    except (OSError, subprocess.SubprocessError):
        return []


def runs_bf16_natively(gpu):
    return (gpu.compute_capability or (0, 0)) >= _BF16_FROM


def runs_fp16_natively(gpu):
    return (gpu.compute_capability or (0, 0)) >= _FP16_FROM


def default_device_kind(gpus):
    """A run without --device or --num_gpus: the GPU when there is one."""
    return "gpu" if gpus else "cpu"


def default_all_reduce(device_kind):
    """The all-reduce of several local replicas when --all_reduce_spec is
    not given: NCCL between GPUs, a reduction on the host's CPU between
    logical CPU devices (NCCL needs GPUs)."""
    return "nccl" if device_kind == "gpu" else "pscpu"


def precision_advice(gpus):
    """A line suggesting the faster precision the GPUs run natively, or None.
    The default stays fp32 on every device, as in tf_cnn_benchmarks, so
    published figures mean the same thing; bf16/fp16 are asked for."""
    if not gpus:
        return None
    if all(runs_bf16_natively(g) for g in gpus):
        return ("these GPUs run bf16 on tensor cores: --precision=bf16 (or "
                "fp16) trains faster; fp32 runs as TF32")
    if all(runs_fp16_natively(g) for g in gpus):
        return ("these GPUs run fp16 on tensor cores (no bf16): "
                "--precision=fp16 (--use_fp16) trains faster")
    return None


def mixed_models(gpus):
    """The distinct GPU names when a run would mix models (the slowest one
    paces every step), else None."""
    names = sorted({g.name for g in gpus})
    return names if len(names) > 1 else None


@dataclass(frozen=True)
class ScriptDevices:
    gpus: int  # GPUs the script uses; 0: the CPU
    args: tuple  # runner flags
    note: str  # printed at the top of the script's log


def script_devices(found, want, batch_size):
    """What a run_train script passes for ``found`` visible GPUs when it
    wants ``want`` of them ("all" for every one), at ``batch_size`` per
    GPU."""
    if found == 0:
        return ScriptDevices(0, ("--device=cpu",),
                             "TensorFlow sees no GPU; running on the CPU")
    used = found if want == "all" else min(int(want), found)
    args = [f"--num_gpus={used}"]
    if used > 1:
        args.append(f"--all_reduce_spec={default_all_reduce('gpu')}")
    note = (f"TensorFlow sees {found} GPU(s); using {used}, global batch "
            f"{batch_size * used}")
    return ScriptDevices(used, tuple(args), note)


def _shell_lines(plan):
    args = " ".join(shlex.quote(a) for a in plan.args)
    return [f"VGG_GPUS={plan.gpus}", f"VGG_DEVICE_ARGS=({args})",
            f"vgg_note {shlex.quote(plan.note)}"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--want", default="all",
                        help="GPUs to use: a number, or all")
    parser.add_argument("--batch_size", type=int, default=32,
                        help="batch per GPU")
    args = parser.parse_args(argv)
    if args.want != "all" and not args.want.isdigit():
        parser.error("--want takes a number or all")
    plan = script_devices(len(visible_gpus()), args.want, args.batch_size)
    print("\n".join(_shell_lines(plan)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
