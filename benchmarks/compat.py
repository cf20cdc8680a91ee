"""tf_cnn_benchmarks' flags that are not one config field each: their
declarations and their translation into config values, written by hand and
kept together here.

Every other flag is a config field declared once in benchmarks/config/;
benchmarks/flags.py defines both kinds and calls ``translate`` between
reading the flags and building the RunConfig.
"""

from benchmarks.config.settings import Flag
from benchmarks.errors import UsageError

_VARIABLE_UPDATES = ("replicated", "parameter_server", "independent",
                     "distributed_replicated", "distributed_all_reduce",
                     "collective_all_reduce", "horovod")
_DEVICES = ("cpu", "gpu", "CPU", "GPU")

# Flags accepted for command-line compatibility whose feature is not built
# yet: set to anything but its default, each is an error naming the missing
# feature, then what to do instead; never a silent no-op.
NOT_BUILT = {
    "ps_hosts": "parameter servers; MultiWorkerMirroredStrategy needs only "
                "--worker_hosts",
    "trace_file": "tracing; omit it",
    "tfprof_file": "tfprof profiling; omit it",
    "display_perf_ewma": "EWMA display; omit it",
}

FLAGS = (
    Flag("use_fp16", "boolean", False, "Same as --precision=fp16."),
    Flag("variable_update", "enum", "replicated",
         "replicated: mirrored variables, all-reduced gradients "
         "(collective_all_reduce, distributed_replicated and "
         "distributed_all_reduce mean the same; with --worker_hosts or "
         "TF_CONFIG across workers); parameter_server: gradients reduced on "
         "one device.", _VARIABLE_UPDATES),
    Flag("hierarchical_copy", "boolean", False,
         "Same as --all_reduce_spec=hierarchical_copy."),
    Flag("local_parameter_device", "enum", "gpu",
         "With --variable_update=parameter_server: where gradients are "
         "reduced.", _DEVICES),
    Flag("job_name", "string", None, "tf_cnn_benchmarks compatibility: "
         "'worker' (or unset); there are no parameter servers."),
    Flag("display_perf_ewma", "float", None, "Not built yet."),
    Flag("ps_hosts", "string", None, "Not built yet."),
    Flag("trace_file", "string", None, "Not built yet."),
    Flag("tfprof_file", "string", None, "Not built yet."),
)
_DEFAULTS = {f.name: f.default for f in FLAGS}


def translate(given, present, values):
    """Applies the compatibility flags to the config values.

    ``given``: {flag: value} of the flags in FLAGS; ``present``: the names of
    the flags set on the command line (or in a flagfile); ``values``: the
    config fields read from their own flags, {"section.field": value}.
    Returns the values to build the RunConfig from.
    """
    for name, reason in NOT_BUILT.items():
        if given[name] != _DEFAULTS[name]:
            raise UsageError(f"--{name} is accepted but not built yet ({reason})")
    values = dict(values)
    if "num_batches" in present and "num_epochs" in present:
        raise UsageError("give --num_batches or --num_epochs, not both")
    _devices(given, values)
    _precision(given, values)
    if given["job_name"] not in (None, "", "worker"):
        raise UsageError(f"--job_name={given['job_name']}: only 'worker' jobs "
                         "exist here (MultiWorkerMirroredStrategy, no parameter "
                         "servers or controller); use --job_name=worker or omit "
                         "it")
    return values


def _devices(given, values):
    """--variable_update, --hierarchical_copy, --local_parameter_device and
    tf_cnn_benchmarks' --device=cpu --num_gpus=N (N CPU devices)."""
    update = given["variable_update"]
    if update in ("independent", "horovod"):
        raise UsageError(f"--variable_update={update} is not supported; use "
                         "replicated")
    if (values["dist.device"] == "cpu" and values["dist.num_gpus"] > 1
            and not values["dist.num_cpu_devices"]):
        values["dist.num_cpu_devices"] = values["dist.num_gpus"]
        values["dist.num_gpus"] = 1
    if given["hierarchical_copy"]:
        values["dist.all_reduce_spec"] = "hierarchical_copy"
    if update == "parameter_server" and not values["dist.all_reduce_spec"]:
        values["dist.all_reduce_spec"] = \
            "ps" + given["local_parameter_device"].lower()


def _precision(given, values):
    if not given["use_fp16"]:
        return
    if values["model.precision"] not in ("fp32", "fp16"):
        raise UsageError("--use_fp16 contradicts "
                         f"--precision={values['model.precision']}")
    values["model.precision"] = "fp16"
