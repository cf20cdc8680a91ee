"""The final figures of a benchmark: the meter's summary with the mode's FLOPs,
the fraction of the device's peak, the per-worker figures, and what training
adds (steps, epochs, the last evaluation, the checkpoint)."""

from benchmarks.distribute.cluster import (per_worker_figures,
                                           weights_fingerprint)
from benchmarks.machine import peak
from benchmarks.training.optimizers import learning_rate_of


def benchmark_summary(mode, setup, meter, last, *, device_peak=None,
                      optimizer=None, with_accuracy=False):
    """The run's figures without prefix (total_ips, tflops, loss, ...)."""
    summary = meter.summary(setup.forward_flops, mode.flops_multiplier)
    summary["loss"] = last.loss
    placement = setup.placement
    # Logical CPU devices share one CPU: its peak counts once per worker.
    devices = (placement.num_workers if placement.device_kind == "cpu"
               else setup.replicas)
    fraction = peak.fraction_of_peak(summary["tflops"], device_peak, devices)
    if fraction is not None:
        summary["peak_fraction"] = fraction
    hardware = peak.fraction_of_hardware_peak(summary["tflops"], device_peak,
                                              placement.num_workers)
    if hardware is not None:
        summary["hw_peak_fraction"] = hardware
    if placement.num_workers > 1:
        summary.update(per_worker_figures(placement, summary))
        summary["weights_sha256"] = weights_fingerprint(setup.model)
    if with_accuracy:
        summary["top1"] = last.top1
    if optimizer is not None:
        summary["learning_rate"] = learning_rate_of(optimizer)
    return summary


def final_metrics(mode, summary, *, input_stats=None, session=None,
                  plan=None):
    """The final log entry: the summary under the mode's prefix, the skipped
    records of real data, and a training run's step, epoch, last
    evaluation and checkpoint."""
    final = {f"{mode.name}.{k}": v for k, v in summary.items()}
    if input_stats is not None:
        final["input.skipped_records"] = int(input_stats.skipped.numpy())
    if session is not None:
        final["train.step"] = session.step
        final["train.epoch"] = float(plan.run_state.epoch.numpy())
        final["train.stopped_at_target"] = session.stopped_at_target
        if session.last_eval is not None:
            final.update(session.last_eval.as_metrics())
        if plan.store is not None:
            final["train.checkpoint"] = plan.store.latest
    return final
