"""What every mode builds first: the runtime and the strategy with its
devices, the choices left to the device (layout, filter gradient), the model
and its size; and the PARAMETER log entry that describes them."""

import sys
from dataclasses import dataclass

import keras
import tensorflow as tf

import models
from benchmarks.distribute.strategy import (Placement, build_strategy,
                                            configure_runtime)
from benchmarks.machine import environment, runtime_options
from benchmarks.machine.cpu import (cpu_flags, has_avx512, onednn_enabled,
                                    precision_warning)
from benchmarks.machine.device_choices import (resolve_conv_algorithm,
                                               resolve_data_format,
                                               resolve_dense_gradient,
                                               resolve_filter_gradient)
from models import flops as model_flops


@dataclass
class RunSetup:
    placement: Placement
    data_format: str  # channels_last | channels_first, as the model runs
    filter_gradient: str  # native | gemm | gemm_im2col, as the model runs
    dense_gradient: str  # native | batch_matmul, as the model runs
    conv_algorithm: str  # direct | winograd, as the model runs
    batch_size: int  # per replica
    synthetic: bool  # the input is a fixed synthetic batch
    model: keras.Model
    params: int  # trainable parameters
    forward_flops: int  # FLOPs of one image's forward pass

    @property
    def strategy(self):
        return self.placement.strategy

    @property
    def replicas(self):
        return self.placement.num_replicas

    @property
    def global_batch(self):
        return self.batch_size * self.replicas

    @property
    def nhwc_to_nchw(self):
        """Real-data pipelines make NHWC images; an NCHW model transposes
        them on its device."""
        return not self.synthetic and self.data_format == "channels_first"

    @property
    def device_name(self):
        return environment.device_names(self.placement)[0]

    def log_path(self, config):
        """Only the chief writes the dllogger log."""
        return config.log.log_path if self.placement.is_chief else None


def build_setup(config, cluster, stream=None):
    """Configures the runtime (before TensorFlow's first op), builds the
    strategy on this worker of ``cluster`` and the model under it."""
    runtime_options.apply_session_options(config.runtime)
    configure_runtime(config.dist, cluster,
                      deterministic=config.loop.deterministic)
    placement = build_strategy(config.dist, cluster)
    keras.utils.set_random_seed(config.loop.tf_random_seed)
    data_format = resolve_data_format(config.model.data_format,
                                      placement.device_kind, stream)
    flags = cpu_flags()
    device = dict(device_kind=placement.device_kind,
                  precision=config.model.precision, xla=config.loop.xla,
                  onednn=onednn_enabled())
    filter_gradient = resolve_filter_gradient(
        config.model.filter_gradient, data_format=data_format,
        avx512=has_avx512(flags), **device)
    dense_gradient = resolve_dense_gradient(config.model.dense_gradient,
                                            **device)
    conv_algorithm = resolve_conv_algorithm(
        config.model.conv_algorithm, data_format=data_format, **device)
    if placement.device_kind == "cpu":
        warning = precision_warning(config.model.precision, flags)
        if warning:
            print(warning, file=stream or sys.stderr)
    m = config.model
    with placement.strategy.scope():
        model = models.build(m.name, num_classes=m.num_classes,
                             image_size=m.image_size, data_format=data_format,
                             dropout=m.dropout, dtype_policy=m.dtype_policy,
                             filter_gradient=filter_gradient,
                             dense_gradient=dense_gradient,
                             conv_algorithm=conv_algorithm)
    return RunSetup(placement, data_format, filter_gradient, dense_gradient,
                    conv_algorithm,
                    config.data.batch_size, config.data.synthetic, model,
                    model_flops.trainable_params(model),
                    model_flops.forward_flops_per_image(model))


def parameters(config, setup, mode, *, data, logger, **extra):
    """The PARAMETER entry: the config, the environment, the run's shape."""
    entry = dict(config.to_dict())
    entry.update(environment.describe(setup.placement))
    entry.update(runtime_options.describe())
    cluster = setup.placement.cluster
    entry.update({
        "mode": mode.name,  # the metrics' prefix (benchmarks/modes.py)
        "model.params": setup.params,
        "model.flops_per_image": setup.forward_flops,
        "model.flops_multiplier": mode.flops_multiplier,
        "model.data_format_used": setup.data_format,
        "model.filter_gradient_used": setup.filter_gradient,
        "model.dense_gradient_used": setup.dense_gradient,
        "model.conv_algorithm_used": setup.conv_algorithm,
        "global_batch": setup.global_batch, "replicas": setup.replicas,
        "workers": setup.placement.num_workers,
        "task_index": cluster.task_index if cluster else 0,
        "data": data, "logger": logger.backend_name})
    entry.update(environment.recipe_entries(config.log.recipes))
    entry.update(extra)
    return entry


def tf_device_names(devices):
    """Device names as tf_cnn_benchmarks prints them: /cpu:0, /gpu:1, or
    job:worker/replica:0/task:1/gpu:0 across workers."""
    names = []
    for device in devices:
        spec = tf.DeviceSpec.from_string(device)
        local = f"/{spec.device_type.lower()}:{spec.device_index or 0}"
        if spec.job and spec.job != "localhost":
            local = f"job:{spec.job}/replica:{spec.replica or 0}/task:" \
                    f"{spec.task or 0}{local}"
        names.append(local)
    return names


def header(config, setup, mode, *, data, warmup, timed, examples_per_epoch,
           batch_size=None, num_batches=None):
    """What the console header shows (output/console.print_header);
    ``batch_size`` (per device) and ``num_batches`` default to the run's
    batch and its timed steps."""
    placement, m = setup.placement, config.model
    training_and_eval = mode.name == "train" and config.eval.during_training
    batch_size = batch_size or setup.batch_size
    num_batches = timed if num_batches is None else num_batches
    global_batch = batch_size * setup.replicas
    return dict(
        tensorflow=".".join(tf.__version__.split(".")[:2]),
        model=m.name,
        dataset=config.data.data_name + (" (synthetic)" if setup.synthetic
                                         else ""),
        mode="training + evaluation" if training_and_eval else mode.label,
        single_session=config.dist.variable_update == "distributed_all_reduce",
        global_batch=global_batch, batch_size=batch_size,
        num_batches=num_batches,
        num_epochs=num_batches * global_batch / examples_per_epoch,
        devices=str(tf_device_names(placement.devices)),
        numa_bind=config.runtime.use_numa_affinity,
        data_format=("NCHW" if setup.data_format == "channels_first"
                     else "NHWC"),
        optimizer=config.optimizer.optimizer,
        variable_update=config.dist.variable_update,
        all_reduce_spec=config.dist.all_reduce_spec,
        job_name=placement.cluster is not None,
        rewriter_config=config.runtime.rewriter_config,
        precision=m.precision, image_size=m.image_size,
        num_classes=m.num_classes, params=setup.params,
        gflops=setup.forward_flops / 1e9, flops_multiplier=mode.flops_multiplier,
        replicas=setup.replicas, workers=placement.num_workers,
        strategy=type(setup.strategy).__name__, all_reduce=placement.all_reduce,
        device_kind=placement.device_kind, device_name=setup.device_name,
        data=data, warmup=warmup, timed=timed,
        steps_per_loop=config.loop.steps_per_loop)
