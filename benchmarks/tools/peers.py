"""The peer the harness is measured against: keras.applications.VGG16 trained
with a plain ``model.fit`` (or run with ``model.predict``), on the same kind of
synthetic data, its steps timed as the harness times its own.

Run as a worker process: ``python -m benchmarks.tools.peers --batch_size=16 ...``
prints one JSON line {"ips": ..., ...}.  scripts/bench_vs_keras_fit.py drives it.
"""

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _step_clock(keras):
    """A callback holding the time from the first batch's start to the last
    batch's end of one model.fit or model.predict call; each batch's outputs
    are fetched before the clock is read, so its work is inside."""
    class StepClock(keras.callbacks.Callback):
        start = end = None

        def on_train_batch_begin(self, batch, logs=None):
            if self.start is None:
                self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            for value in (logs or {}).values():
                np.asarray(value)  # waits for the step's outputs
            self.end = time.perf_counter()

        on_predict_batch_begin = on_train_batch_begin
        on_predict_batch_end = on_train_batch_end

        def seconds(self):
            return self.end - self.start

    return StepClock()


def keras_throughput(*, batch_size, steps, warmup_steps, image_size=224,
                     precision="fp32", forward_only=False, seed=1234):
    """Images/s of keras.applications.VGG16 over ``steps`` steps of one
    model.fit (or model.predict) call, after a call of ``warmup_steps`` that
    traces and compiles: from the first step's start to the last step's end,
    as the harness times its own steps.

    Not the call's wall time: the call returns only when tf.data's autotuning
    thread next wakes (after 10 ms, then 20, 40, ... since the iterator was
    made), so a call of a few steps returns up to 10 ms x (2^k - 1) after
    it started, well after its last step ended (docs/performance.md).  That
    is a one-off per call, not a step cost; "call_seconds" keeps it."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if precision == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    elif precision == "fp16":
        keras.mixed_precision.set_global_policy("mixed_float16")
    model = keras.applications.VGG16(weights=None, classifier_activation=None,
                                     input_shape=(image_size, image_size, 3))
    images = tf.random.uniform((batch_size, image_size, image_size, 3), -1, 1)
    labels = tf.random.uniform((batch_size,), 0, 1000, dtype=tf.int32)
    clock = _step_clock(keras)
    if forward_only:
        data = tf.data.Dataset.from_tensors(images).repeat()
        model.predict(data, steps=warmup_steps, verbose=0)
        start = time.perf_counter()
        model.predict(data, steps=steps, verbose=0, callbacks=[clock])
    else:
        model.compile(optimizer=keras.optimizers.SGD(0.005, momentum=0.9,
                                                     nesterov=True),
                      loss=keras.losses.SparseCategoricalCrossentropy(
                          from_logits=True))
        data = tf.data.Dataset.from_tensors((images, labels)).repeat()
        # shuffle=False: Keras ignores shuffling for a tf.data input (and
        # warns if asked to).
        model.fit(data, epochs=1, steps_per_epoch=warmup_steps, verbose=0,
                  shuffle=False)
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0,
                  shuffle=False, callbacks=[clock])
    call_seconds = time.perf_counter() - start
    seconds = clock.seconds()
    return {"ips": steps * batch_size / seconds, "seconds": seconds,
            "call_seconds": call_seconds, "images": steps * batch_size,
            "jit_compile": bool(getattr(model, "jit_compile", False))}


def main():
    from benchmarks.machine.malloc import tune_glibc_malloc
    tune_glibc_malloc()  # the harness's allocator settings: compare code alone
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup_steps", type=int, default=3)
    parser.add_argument("--image_size", type=int, default=224)
    parser.add_argument("--precision", default="fp32",
                        choices=("fp32", "bf16", "fp16"))
    parser.add_argument("--forward_only", action="store_true")
    args = parser.parse_args()
    result = keras_throughput(batch_size=args.batch_size, steps=args.steps,
                              warmup_steps=args.warmup_steps,
                              image_size=args.image_size,
                              precision=args.precision,
                              forward_only=args.forward_only)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
