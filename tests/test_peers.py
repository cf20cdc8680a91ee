"""The model.fit / model.predict peer's clock (benchmarks/tools/peers.py):
it spans the timed steps, from the first one's start to the last one's end,
within the call (whose teardown can wait for tf.data's autotuning thread;
that wait comes and goes, so it is not asserted here)."""

import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks.tools import peers

STEP_SECONDS = 0.1


def _slow_model():
    """A tiny model whose every step sleeps STEP_SECONDS inside the graph."""
    def sleep(x):
        def body(v):
            time.sleep(STEP_SECONDS)
            return v
        return tf.reshape(tf.py_function(body, [x], tf.float32), tf.shape(x))
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(
        keras.layers.Lambda(sleep)(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("phase", ["fit", "predict"])
def test_the_clock_spans_the_steps_and_no_more_than_the_call(phase):
    model, steps = _slow_model(), 3
    x, y = np.ones((2, 4), np.float32), np.ones((2, 2), np.float32)
    clock = peers._step_clock(keras)
    start = time.perf_counter()
    if phase == "fit":
        data = tf.data.Dataset.from_tensors((x, y)).repeat()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0,
                  shuffle=False, callbacks=[clock])
    else:
        data = tf.data.Dataset.from_tensors(x).repeat()
        model.predict(data, steps=steps, verbose=0, callbacks=[clock])
    call = time.perf_counter() - start
    assert steps * STEP_SECONDS <= clock.seconds() <= call


@pytest.mark.parametrize("forward_only", [False, True])
def test_the_peers_images_per_second_are_over_the_steps(forward_only):
    result = peers.keras_throughput(batch_size=2, steps=2, warmup_steps=1,
                                    image_size=32, forward_only=forward_only)
    assert result["images"] == 4
    assert result["ips"] == pytest.approx(4 / result["seconds"])
    assert 0 < result["seconds"] <= result["call_seconds"]
