"""The training step: 2 replicas must take exactly the step 1 replica takes on
the same global batch (gradients summed once, L2 split across replicas,
clipping after the all-reduce), and a diverging run must stop."""

import numpy as np
import pytest
import tensorflow as tf

import models
from benchmarks.config import DistConfig, OptimizerConfig
from benchmarks.distribution import build_strategy
from benchmarks.loop import build_infer_loop, build_train_loop
from benchmarks.optimization import build_optimizer

GLOBAL_BATCH = 8


def _batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (GLOBAL_BATCH, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, GLOBAL_BATCH).astype("int32")
    return images, labels


def _split(strategy, images, labels):
    n = strategy.num_replicas_in_sync
    per = GLOBAL_BATCH // n

    def part(ctx):
        r = ctx.replica_id_in_sync_group
        with tf.device(strategy.extended.worker_devices[r]):
            return (tf.constant(images[r * per:(r + 1) * per]),
                    tf.constant(labels[r * per:(r + 1) * per]))

    return strategy.experimental_distribute_values_from_function(part)


def _train(replicas, weights, opt_config, steps=2):
    placement = build_strategy(DistConfig(
        device="cpu", num_cpu_devices=replicas if replicas > 1 else 0))
    strategy = placement.strategy
    with strategy.scope():
        model = models.build("vgg11", image_size=32, num_classes=10, dropout=0.0)
        model.set_weights(weights)
        optimizer = build_optimizer(opt_config)
        optimizer.build(model.trainable_variables)
    loop = build_train_loop(strategy, model, optimizer, global_batch=GLOBAL_BATCH,
                            weight_decay=1e-3, with_accuracy=True)
    out = loop(tf.constant(steps), _split(strategy, *_batch()))
    return [w.copy() for w in model.get_weights()], out


@pytest.fixture(scope="module")
def initial_weights():
    return models.build("vgg11", image_size=32, num_classes=10).get_weights()


@pytest.mark.parametrize("opt_config", [
    OptimizerConfig(optimizer="momentum", init_learning_rate=0.05),
    # A clip small enough to bind: clipping before the all-reduce would let
    # 2 replicas move twice as far as 1.
    OptimizerConfig(optimizer="sgd", init_learning_rate=0.5, gradient_clip=1e-4),
], ids=["momentum", "clipped"])
def test_two_replicas_take_the_same_step_as_one(initial_weights, opt_config):
    # One step: after it, ULP-level differences in the weights can flip a
    # ReLU near zero and make later steps legitimately diverge.
    one, out1 = _train(1, initial_weights, opt_config, steps=1)
    two, out2 = _train(2, initial_weights, opt_config, steps=1)
    for a, b, w in zip(one, two, initial_weights):
        step1, step2 = a - w, b - w
        assert np.abs(step1).max() > 0  # every variable moved
        # A doubled all-reduce or clipping before it would move 2x as far.
        np.testing.assert_allclose(step2, step1, rtol=1e-3,
                                   atol=1e-3 * np.abs(step1).max())
    np.testing.assert_allclose(out1["loss"].numpy(), out2["loss"].numpy(),
                               rtol=1e-5)
    np.testing.assert_allclose(out1["top1"].numpy(), out2["top1"].numpy())


def test_infer_loop_reports_global_loss_and_accuracy(initial_weights):
    placement = build_strategy(DistConfig(device="cpu", num_cpu_devices=2))
    with placement.strategy.scope():
        model = models.build("vgg11", image_size=32, num_classes=10)
        model.set_weights(initial_weights)
    loop = build_infer_loop(placement.strategy, model, global_batch=GLOBAL_BATCH)
    out = loop(tf.constant(1), _split(placement.strategy, *_batch()))
    images, labels = _batch()
    logits = model(images, training=False).numpy()
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected_loss = -log_probs[np.arange(GLOBAL_BATCH), labels].mean()
    expected_top1 = (logits.argmax(axis=1) == labels).mean()
    assert out["loss"].numpy()[0] == pytest.approx(expected_loss, rel=1e-5)
    assert out["top1"].numpy()[0] == pytest.approx(expected_top1)
