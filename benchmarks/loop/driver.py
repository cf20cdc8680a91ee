"""The host side of the measured loop: ``drive`` makes the planned calls of a
compiled loop (loop/chunks.py), reads the clock only after the device has
finished each one, stops at the first step whose loss is not finite, and
hands each call's outputs to the display and to what happens between calls.
"""

import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from benchmarks.errors import TrainingError
from benchmarks.loop.chunks import Chunk, is_display_step


@dataclass
class Progress:
    """What a display shows; handed to the ``on_display`` callback."""

    step: int  # global step, 1-based, warmup included
    timed_step: int  # steps since warmup ended
    loss: float  # of the last step, as tf_cnn_benchmarks shows it
    base_loss: float  # the same without the L2 term
    top1: float  # mean over the steps since the previous display
    top5: float


@dataclass
class ChunkResult:
    """One call's outputs, handed to the ``after_chunk`` callback."""

    chunk: Chunk
    losses: np.ndarray  # per step
    top1: np.ndarray  # per step (zeros unless accuracy is computed)
    seconds: float


class _Window:
    """Training accuracy summed since the previous display."""

    def __init__(self):
        self.top1 = self.top5 = 0.0
        self.steps = 0

    def add(self, out, num_steps):
        self.top1 += float(out["top1"].numpy().sum())
        self.top5 += float(out["top5"].numpy().sum())
        self.steps += num_steps

    def means(self):
        n = max(1, self.steps)
        return self.top1 / n, self.top5 / n


def drive(loop, inputs, chunks, meter, *, num_warmup, display_every,
          on_display=None, after_chunk=None, profiler=None,
          clock=time.perf_counter, sync=tf.test.experimental.sync_devices):
    """Runs the planned calls, timing each one.  Returns the last Progress.

    ``on_display(Progress)`` runs at each display step (loop/chunks.py).
    ``after_chunk(ChunkResult) -> bool`` runs after each call (evaluation,
    checkpoints, epoch logs); True stops the run.  Its time is excluded from
    the meter's wall time (meter.pause).  ``profiler`` (output/profile.py)
    is told before and after each call.
    Raises TrainingError naming the first step whose loss is NaN or Inf.
    """
    last, window = None, _Window()
    for chunk in chunks:
        if profiler:
            profiler.before(chunk)
        start = clock()
        out = loop(tf.constant(chunk.num_steps, tf.int32), inputs)
        losses = out["loss"].numpy()  # waits for this call's outputs...
        sync()  # ...and for every kernel still queued on any device
        end = clock()
        meter.record(chunk.first_step, chunk.num_steps, start, end,
                     input_wait=float(out["input_wait"].numpy()))
        if profiler:
            profiler.after(chunk)
        _check_finite(losses, chunk)
        if chunk.last_step <= num_warmup:
            window = _Window()  # windows start after warmup
        else:
            window.add(out, chunk.num_steps)
        last = Progress(chunk.last_step, chunk.last_step - num_warmup,
                        float(losses[-1]), float(out["base_loss"].numpy()[-1]),
                        *window.means())
        if is_display_step(last.timed_step, display_every):
            if on_display:
                on_display(last)
            window = _Window()
        if after_chunk:
            hook_start = clock()
            stop = after_chunk(ChunkResult(chunk, losses, out["top1"].numpy(),
                                           end - start))
            meter.pause(clock() - hook_start)
            if stop:
                break
    return last


def _check_finite(losses, chunk):
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        step = chunk.first_step + int(bad[0])
        raise TrainingError(
            f"loss became {losses[bad[0]]} at step {step}; lower "
            "--init_learning_rate or set --gradient_clip")
