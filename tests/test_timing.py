"""Timing with a fake clock: warmup is excluded, the clock is read only after
the device finished, and the figures follow tf_cnn_benchmarks' formulas."""

import numpy as np
import pytest

from benchmarks.loop.driver import drive
from benchmarks.loop.chunks import Chunk, plan_chunks
from benchmarks.loop.meter import ThroughputMeter


class FakeDevice:
    """A loop whose work completes only when the host syncs: the clock moves
    by the step time inside ``sync``, as it would while waiting for a GPU."""

    def __init__(self, step_seconds):
        self.step_seconds = list(step_seconds)  # one per step, in order
        self.now = 0.0
        self.pending = 0.0
        self.calls = []

    def clock(self):
        return self.now

    def loop(self, num_steps, inputs):
        n = int(num_steps)
        self.calls.append(n)
        self.pending += sum(self.step_seconds[:n])
        del self.step_seconds[:n]
        return {"loss": _Array(np.ones(n)), "base_loss": _Array(np.ones(n)),
                "top1": _Array(np.zeros(n)), "top5": _Array(np.zeros(n)),
                "input_wait": _Array(np.float64(0.0))}

    def sync(self):
        self.now += self.pending
        self.pending = 0.0


class _Array:
    def __init__(self, value):
        self.value = value

    def numpy(self):
        return self.value


def _run(step_seconds, *, warmup, timed, steps_per_loop=1, display_every=10,
         global_batch=32, replicas=2, losses=None):
    device = FakeDevice(step_seconds)
    meter = ThroughputMeter(global_batch, replicas, warmup)
    chunks = plan_chunks(num_warmup=warmup, num_timed=timed,
                         steps_per_loop=steps_per_loop, display_every=display_every)
    shown = []
    drive(device.loop, None, chunks, meter, num_warmup=warmup,
              display_every=display_every, on_display=shown.append,
              clock=device.clock, sync=device.sync)
    return meter, device, shown


def test_warmup_is_excluded_and_ips_uses_synced_times():
    # Compile step 10 s, two slow warmup steps, then 0.5 s steps.
    steps = [10.0, 3.0, 3.0] + [0.5] * 20
    meter, _, _ = _run(steps, warmup=3, timed=20)
    s = meter.summary(forward_flops_per_image=1e9, flops_multiplier=3)
    assert s["timed_steps"] == 20 and s["timed_images"] == 640
    assert s["total_ips"] == pytest.approx(32 / 0.5)  # reads 0 s if not synced
    assert s["ips_per_replica"] == pytest.approx(32 / 0.5 / 2)
    assert s["ms_per_step"] == pytest.approx(500.0)
    assert s["compile_time_s"] == pytest.approx(10.0)
    assert s["tflops"] == pytest.approx(64 * 3e9 / 1e12)


def test_percentiles_and_tf_cnn_statistics():
    times = [1.0] + list(np.linspace(0.1, 1.0, 10))
    meter, _, _ = _run(times, warmup=1, timed=10, global_batch=8, replicas=1)
    timed = np.linspace(0.1, 1.0, 10)
    s = meter.summary(1.0, 1)
    assert s["step_time_p50_ms"] == pytest.approx(1e3 * np.percentile(timed, 50))
    assert s["step_time_p90_ms"] == pytest.approx(1e3 * np.percentile(timed, 90))
    assert s["step_time_p99_ms"] == pytest.approx(1e3 * np.percentile(timed, 99))
    mean, uncertainty, jitter = meter.running()
    speeds = 8 / timed
    assert mean == pytest.approx(8 / timed.mean())
    assert uncertainty == pytest.approx(speeds.std() / np.sqrt(10))
    assert jitter == pytest.approx(
        1.4826 * np.median(np.abs(speeds - np.median(speeds))))


def test_steps_per_loop_groups_steps_but_counts_them_all():
    steps = [5.0] + [0.25] * 12
    meter, device, shown = _run(steps, warmup=1, timed=12, steps_per_loop=4,
                                display_every=6)
    # Calls end on the display steps: timed 1 (tf_cnn_benchmarks' first
    # row), 6 and 12.
    assert device.calls == [1, 1, 4, 1, 4, 2]
    assert [p.timed_step for p in shown] == [1, 6, 12]
    s = meter.summary(1.0, 1)
    assert s["timed_steps"] == 12
    assert s["ms_per_step"] == pytest.approx(250.0)


def test_a_record_straddling_warmup_is_refused():
    meter = ThroughputMeter(8, 1, num_warmup_steps=3)
    meter.record(1, 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="straddle"):
        meter.record(2, 4, 1.0, 2.0)


def test_meter_requires_a_compile_step():
    with pytest.raises(ValueError):
        ThroughputMeter(8, 1, num_warmup_steps=0)


@pytest.mark.parametrize("warmup,timed,per_loop,display", [
    (1, 1, 1, 1), (10, 100, 1, 10), (10, 100, 7, 10), (3, 17, 50, 5),
    (5, 9, 4, 100)])
def test_plan_covers_every_step_once(warmup, timed, per_loop, display):
    chunks = plan_chunks(num_warmup=warmup, num_timed=timed,
                         steps_per_loop=per_loop, display_every=display)
    assert chunks[0] == Chunk(1, 1)
    covered = [s for c in chunks for s in range(c.first_step, c.last_step + 1)]
    assert covered == list(range(1, warmup + timed + 1))
    assert all(c.num_steps <= per_loop for c in chunks)
    ends = {c.last_step for c in chunks}
    assert warmup in ends  # warmup ends on a call boundary
    for k in range(display, timed + 1, display):
        assert warmup + k in ends  # so does every display step


def test_nan_loss_names_the_step():
    device = FakeDevice([1.0] * 6)

    def loop(num_steps, inputs):
        out = device.loop(num_steps, inputs)
        # (Calls: the compiling step, timed step 1's row, then 3 steps.)
        if device.calls == [1, 1, 3]:
            out["loss"].value[1] = np.nan  # the 2nd step of the 3rd call
        return out

    from benchmarks.errors import TrainingError
    meter = ThroughputMeter(8, 1, 1)
    chunks = plan_chunks(num_warmup=1, num_timed=5, steps_per_loop=3,
                         display_every=10)
    with pytest.raises(TrainingError, match="at step 4"):
        drive(loop, None, chunks, meter, num_warmup=1, display_every=10,
                  clock=device.clock, sync=device.sync)


def test_displayed_top1_is_the_mean_since_the_previous_display():
    device = FakeDevice([1.0] * 9)
    accuracies = iter([[0.9], [0.2], [0.0, 0.5], [1.0], [0.25, 0.75],
                       [0.5, 0.5]])

    def loop(num_steps, inputs):
        out = device.loop(num_steps, inputs)
        out["top1"] = _Array(np.array(next(accuracies)))
        return out

    shown = []
    meter = ThroughputMeter(8, 1, 1)
    chunks = plan_chunks(num_warmup=1, num_timed=8, steps_per_loop=2,
                         display_every=4)
    drive(loop, None, chunks, meter, num_warmup=1, display_every=4,
              on_display=shown.append, clock=device.clock, sync=device.sync)
    # The warmup step's 0.9 is left out; then step 1's, and the means of
    # steps 2-4 and 5-8.
    assert [p.timed_step for p in shown] == [1, 4, 8]
    assert [p.top1 for p in shown] == [pytest.approx(0.2), pytest.approx(0.5),
                                       pytest.approx(0.5)]


def test_paused_time_between_timed_calls_is_excluded():
    meter = ThroughputMeter(global_batch=10, num_replicas=1, num_warmup_steps=1)
    meter.record(1, 1, 0.0, 5.0)  # compile
    meter.pause(100.0)  # before timing starts: not in the wall time anyway
    meter.record(2, 1, 105.0, 106.0)
    meter.pause(3.0)  # an evaluation between timed calls
    meter.record(3, 1, 109.0, 110.0)
    meter.pause(50.0)  # after the last call: outside the wall time
    s = meter.summary(1.0, 1)
    assert s["paused_s"] == pytest.approx(3.0)
    assert s["timed_seconds"] == pytest.approx(2.0)  # 110 - 105 - 3
    assert s["total_ips"] == pytest.approx(20 / 2.0)


def test_summary_without_timed_steps_is_nan_not_an_error():
    meter = ThroughputMeter(global_batch=10, num_replicas=1, num_warmup_steps=1)
    meter.record(1, 1, 0.0, 5.0)
    s = meter.summary(1.0, 1)
    assert s["timed_steps"] == 0 and np.isnan(s["total_ips"])
    assert s["compile_time_s"] == pytest.approx(5.0)
