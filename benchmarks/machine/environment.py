"""What the run ran on: versions and devices, for the PARAMETER log entry."""

import os
import platform

import keras
import numpy as np
import tensorflow as tf

from benchmarks.machine.cpu import (cpu_flags, cpu_model_name, native_bf16, onednn_enabled,
                            vector_isa)


def device_names(placement):
    """Human names of the replicas' devices (GPU model, or CPU model)."""
    if placement.device_kind == "gpu":
        gpus = tf.config.list_physical_devices("GPU")[:len(placement.devices)]
        return [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                for g in gpus]
    return [cpu_model_name()] * len(placement.devices)


def describe(placement):
    """A flat dict of env.* entries."""
    build = tf.sysconfig.get_build_info()
    flags = cpu_flags()
    return {
        "env.tensorflow": tf.__version__,
        "env.keras": keras.__version__,
        "env.numpy": np.__version__,
        "env.python": platform.python_version(),
        "env.cuda": build.get("cuda_version", "none"),
        "env.cudnn": build.get("cudnn_version", "none"),
        "env.host": platform.node(),
        "env.device_kind": placement.device_kind,
        "env.devices": list(placement.devices),
        "env.device_names": device_names(placement),
        "env.gpus_visible": len(tf.config.list_physical_devices("GPU")),
        "env.strategy": type(placement.strategy).__name__,
        "env.all_reduce": placement.all_reduce,
        "env.replicas": placement.num_replicas,
        "env.intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "env.inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "env.cpu_isa": vector_isa(flags),
        "env.cpu_native_bf16": native_bf16(flags),
        "env.onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS",
                                          "unset (TensorFlow's default)"),
        "env.onednn_enabled": onednn_enabled(),
    }


def recipe_entries(paths):
    """The recipe flagfiles, with their text, for the log."""
    out = {}
    for i, path in enumerate(paths):
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            text = "(unreadable)"
        out[f"recipe.{i}.path"] = path
        out[f"recipe.{i}.flags"] = " ".join(
            line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#"))
    return out
