"""ThroughputMeter: turns timed loop calls into img/s figures.

The loop hands it one record per call of the compiled loop: which steps ran
and the clock before and after, read only after the device finished (host
sync).  The meter owns every statistic: warmup exclusion, tf_cnn_benchmarks'
"images/sec: X +/- Y (jitter = Z)", percentiles and the final totals.
All img/s figures are global (every replica's images) unless named per_replica.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LoopRecord:
    first_step: int  # 1-based index of the first step in this call
    num_steps: int
    start: float  # seconds, clock read before the call
    end: float  # seconds, clock read after the host sync
    input_wait: float = 0.0  # seconds the steps waited for input batches

    @property
    def last_step(self):
        return self.first_step + self.num_steps - 1

    @property
    def seconds(self):
        return self.end - self.start


class ThroughputMeter:
    def __init__(self, global_batch, num_replicas, num_warmup_steps):
        if num_warmup_steps < 1:
            raise ValueError("the first step compiles; at least 1 warmup step")
        self.global_batch = global_batch
        self.num_replicas = num_replicas
        self.num_warmup_steps = num_warmup_steps
        self.first_record = None
        self.timed = []
        self.paused = 0.0  # seconds between timed calls spent on other work
        self._pending_pause = 0.0

    def pause(self, seconds):
        """Excludes ``seconds`` of work done since the last call (evaluation,
        checkpoints) from the wall time, if it falls between timed calls."""
        self._pending_pause += seconds

    def record(self, first_step, num_steps, start, end, input_wait=0.0):
        rec = LoopRecord(first_step, num_steps, start, end, input_wait)
        if end < start:
            raise ValueError(f"clock went backwards: {start} -> {end}")
        pending, self._pending_pause = self._pending_pause, 0.0
        if self.first_record is None:
            self.first_record = rec
        if rec.last_step <= self.num_warmup_steps:
            return  # warmup: trace, compile, autotune, caches
        if rec.first_step <= self.num_warmup_steps:
            raise ValueError(f"steps {rec.first_step}..{rec.last_step} straddle "
                             f"the end of warmup (step {self.num_warmup_steps})")
        if self.timed:
            self.paused += pending
        self.timed.append(rec)

    # Per-step view.  A call of K steps contributes K steps of its mean time,
    # so with --steps_per_loop > 1 the spread is that of K-step averages.
    def step_seconds(self):
        return np.concatenate([np.full(r.num_steps, r.seconds / r.num_steps)
                               for r in self.timed]) if self.timed else np.zeros(0)

    @property
    def timed_steps(self):
        return sum(r.num_steps for r in self.timed)

    @property
    def timed_images(self):
        return self.timed_steps * self.global_batch

    def running(self, ewma=None):
        """tf_cnn_benchmarks' progress figures over the timed steps so far:
        (img/s = batch / mean step time, its standard error, jitter = 1.4826 x
        the median absolute deviation of per-step img/s).  With ``ewma``
        (--display_perf_ewma) the mean step time weighs step k of n by
        (1 - ewma)^(n - k), as tf_cnn_benchmarks does."""
        times = self.step_seconds()
        if times.size == 0:
            return float("nan"), float("nan"), float("nan")
        speeds = self.global_batch / times
        if ewma:
            weights = np.logspace(times.size - 1, 0, times.size,
                                  base=1 - ewma)
            mean = self.global_batch / np.average(times, weights=weights)
        else:
            mean = self.global_batch / times.mean()
        uncertainty = speeds.std() / np.sqrt(times.size)
        jitter = 1.4826 * np.median(np.abs(speeds - np.median(speeds)))
        return float(mean), float(uncertainty), float(jitter)

    def summary(self, forward_flops_per_image, flops_multiplier):
        """Final figures.  total_ips is timed images over the wall time from the
        start of the first timed call to the end of the last, less the paused
        time (evaluations, checkpoints), so host time between calls (logging)
        counts against the harness."""
        nan = float("nan")
        times = self.step_seconds()
        if self.timed:
            wall = self.timed[-1].end - self.timed[0].start - self.paused
            total_ips = self.timed_images / wall
        else:  # a run stopped (or resumed) with only warmup steps to run
            wall, total_ips, times = 0.0, nan, np.full(1, nan)
        input_wait = sum(r.input_wait for r in self.timed)
        flops = forward_flops_per_image * flops_multiplier
        return {
            "total_ips": total_ips,
            "ips_per_replica": total_ips / self.num_replicas,
            "ms_per_step": 1e3 * wall / self.timed_steps if self.timed else nan,
            "step_time_p50_ms": 1e3 * float(np.percentile(times, 50)),
            "step_time_p90_ms": 1e3 * float(np.percentile(times, 90)),
            "step_time_p99_ms": 1e3 * float(np.percentile(times, 99)),
            "compile_time_s": (self.first_record.seconds if self.first_record
                               else nan),
            "tflops": total_ips * flops / 1e12,
            "timed_images": self.timed_images,
            "timed_steps": self.timed_steps,
            "timed_seconds": wall,
            "paused_s": self.paused,
            "input_wait_s": input_wait,
            "input_wait_pct": 100.0 * input_wait / wall if wall else nan,
            "global_batch": self.global_batch,
            "replicas": self.num_replicas,
        }
