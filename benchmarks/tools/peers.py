"""The peer the harness is measured against: keras.applications.VGG16 trained
with a plain ``model.fit`` (or run with ``model.predict``), on the same kind of
synthetic data, timed the way a user would time it.

Run as a worker process: ``python -m benchmarks.tools.peers --batch_size=16 ...``
prints one JSON line {"ips": ..., ...}.  scripts/bench_vs_keras_fit.py drives it.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def keras_throughput(*, batch_size, steps, warmup_steps, image_size=224,
                     precision="fp32", forward_only=False, seed=1234):
    """Images/s of keras.applications.VGG16: the wall time of a model.fit (or
    model.predict) call of ``steps`` steps, after one of ``warmup_steps`` that
    traces and compiles.  The call returns only when its work is done."""
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
    if forward_only:
        data = tf.data.Dataset.from_tensors(images).repeat()
        model.predict(data, steps=warmup_steps, verbose=0)
        start = time.perf_counter()
        model.predict(data, steps=steps, verbose=0)
    else:
        model.compile(optimizer=keras.optimizers.SGD(0.005, momentum=0.9,
                                                     nesterov=True),
                      loss=keras.losses.SparseCategoricalCrossentropy(
                          from_logits=True))
        data = tf.data.Dataset.from_tensors((images, labels)).repeat()
        model.fit(data, epochs=1, steps_per_epoch=warmup_steps, verbose=0)
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = time.perf_counter() - start
    return {"ips": steps * batch_size / seconds, "seconds": seconds,
            "images": steps * batch_size,
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
