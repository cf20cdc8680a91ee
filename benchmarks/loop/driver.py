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
from benchmarks.loop.chunks import Chunk


@dataclass
class Progress:
    """What a display shows; handed to the ``on_display`` callback."""

    step: int  # global step, 1-based, warmup included
    timed_step: int  # steps since warmup ended
    loss: float  # of the last step, as tf_cnn_benchmarks shows it
    top1: float  # mean over the steps since the previous display


@dataclass
class ChunkResult:
    """One call's outputs, handed to the ``after_chunk`` callback."""

    chunk: Chunk
    losses: np.ndarray  # per step
    top1: np.ndarray  # per step (zeros unless accuracy is computed)
    seconds: float


def drive(loop, inputs, chunks, meter, *, num_warmup, display_every,
              on_display=None, after_chunk=None, clock=time.perf_counter,
              sync=tf.test.experimental.sync_devices):
    """Runs the planned calls, timing each one.  Returns the last Progress.

    ``after_chunk(ChunkResult) -> bool`` runs after each call (evaluation,
    checkpoints, epoch logs); True stops the run.  Its time is excluded from
    the meter's wall time (meter.pause).
    Raises TrainingError naming the first step whose loss is NaN or Inf.
    """
    last = None
    top1_sum, top1_steps = 0.0, 0  # since the previous display
    for chunk in chunks:
        start = clock()
        out = loop(tf.constant(chunk.num_steps, tf.int32), inputs)
        losses = out["loss"].numpy()  # waits for this call's outputs...
        sync()  # ...and for every kernel still queued on any device
        end = clock()
        meter.record(chunk.first_step, chunk.num_steps, start, end,
                     input_wait=float(out["input_wait"].numpy()))
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            step = chunk.first_step + int(bad[0])
            raise TrainingError(
                f"loss became {losses[bad[0]]} at step {step}; lower "
                "--init_learning_rate or set --gradient_clip")
        if chunk.last_step <= num_warmup:
            top1_sum, top1_steps = 0.0, 0  # windows start after warmup
        else:
            top1_sum += float(out["top1"].numpy().sum())
            top1_steps += chunk.num_steps
        last = Progress(chunk.last_step, chunk.last_step - num_warmup,
                        float(losses[-1]), top1_sum / max(1, top1_steps))
        timed = last.timed_step
        if timed > 0 and (timed % display_every == 0 or chunk is chunks[-1]):
            if on_display:
                on_display(last)
            top1_sum, top1_steps = 0.0, 0
        if after_chunk:
            hook_start = clock()
            stop = after_chunk(ChunkResult(chunk, losses, out["top1"].numpy(),
                                           end - start))
            meter.pause(clock() - hook_start)
            if stop:
                break
    return last
