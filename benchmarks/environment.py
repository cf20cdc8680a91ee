"""What the run ran on: versions and devices, for the PARAMETER log entry."""

import platform

import keras
import numpy as np
import tensorflow as tf


def cpu_model_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


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
    }
