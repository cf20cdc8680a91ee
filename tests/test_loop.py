"""The training step: 2 replicas must take exactly the step 1 replica takes on
the same global batch (gradients summed once, L2 split across replicas,
clipping after the all-reduce), and a diverging run must stop."""

import numpy as np
import pytest
import tensorflow as tf

import models
from benchmarks.config import DistConfig, OptimizerConfig
from benchmarks.distribute.strategy import build_strategy
from benchmarks.loop.compiled import build_infer_loop, build_train_loop
from benchmarks.training.optimizers import build_optimizer

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


def test_nesterov_flag_reaches_the_optimizer():
    on = build_optimizer(OptimizerConfig(optimizer="momentum"))
    off = build_optimizer(OptimizerConfig(optimizer="momentum", nesterov=False))
    assert on.nesterov is True and off.nesterov is False


def test_adamw_decays_what_l2_decays_and_spares_batch_norm():
    model = models.build("vgg11_bn", num_classes=10, image_size=32,
                         data_format="channels_last", dropout=0.0)
    opt = build_optimizer(OptimizerConfig(optimizer="adamw",
                                          init_learning_rate=0.1,
                                          weight_decay=0.5), model=model)
    before = [v.numpy().copy() for v in model.trainable_variables]
    # Zero gradients: Adam's own step is 0, only the decoupled decay moves.
    opt.apply([tf.zeros_like(v) for v in model.trainable_variables],
              model.trainable_variables)
    checked = {"bn": 0, "kernel": 0}
    for v, old in zip(model.trainable_variables, before):
        changed = not np.allclose(v.numpy(), old)
        is_bn = "_bn/" in v.path
        if is_bn:
            assert not changed, v.path
            checked["bn"] += 1
        elif "kernel" in v.path:
            np.testing.assert_allclose(v.numpy(), old * (1 - 0.1 * 0.5),
                                       rtol=1e-5, err_msg=v.path)
            checked["kernel"] += 1
    assert checked["bn"] == 16 and checked["kernel"] == 11  # 8 BN, 11 layers


def test_malloc_tuning_applies_here_and_can_be_turned_off(monkeypatch):
    from benchmarks.machine.malloc import tune_glibc_malloc
    assert tune_glibc_malloc() is True  # this project's machines run glibc
    monkeypatch.setenv("VGGBENCH_MALLOC_TUNING", "0")
    assert tune_glibc_malloc() is False


@pytest.mark.parametrize("momentum,nesterov", [(0.9, True), (0.9, False),
                                               (0.0, False)])
def test_fused_sgd_takes_keras_sgd_steps(momentum, nesterov):
    import keras
    from benchmarks.training.optimizers import FusedSGD
    rng = np.random.default_rng(0)
    start = [rng.normal(size=s).astype("float32") for s in ((3, 4), (5,))]
    grads = [[tf.constant(rng.normal(size=w.shape), tf.float32) for w in start]
             for _ in range(3)]
    results = []
    for cls in (keras.optimizers.SGD, FusedSGD):
        variables = [keras.Variable(w) for w in start]
        opt = cls(0.1, momentum=momentum, nesterov=nesterov)
        step = tf.function(lambda g: opt.apply(g, variables))
        for g in grads:
            step(g)
        results.append([v.numpy() for v in variables])
    for keras_value, fused_value in zip(*results):
        assert not np.allclose(keras_value, start[0] if keras_value.ndim == 2
                               else start[1])
        np.testing.assert_allclose(fused_value, keras_value, rtol=1e-6,
                                   atol=1e-6)


def test_momentum_and_sgd_use_the_fused_update():
    from benchmarks.training.optimizers import FusedSGD
    for name in ("momentum", "sgd"):
        assert isinstance(build_optimizer(OptimizerConfig(optimizer=name)),
                          FusedSGD)


def test_one_replica_applies_each_gradient_as_it_is_made(initial_weights):
    """With one replica there is no all-reduce, whose gradient wrapper (an
    IdentityN over every gradient) would hold each gradient until the last
    one is made (fc1's is 392 MiB in VGG16)."""
    placement = build_strategy(DistConfig(device="cpu"))
    strategy = placement.strategy
    with strategy.scope():
        model = models.build("vgg11", image_size=32, num_classes=10, dropout=0.0)
        optimizer = build_optimizer(OptimizerConfig(optimizer="momentum"))
        optimizer.build(model.trainable_variables)
    loop = build_train_loop(strategy, model, optimizer, global_batch=GLOBAL_BATCH,
                            weight_decay=0.0)
    graph = loop.get_concrete_function(
        tf.constant(1), _split(strategy, *_batch())).graph
    nodes = [node for function in graph.as_graph_def().library.function
             for node in function.node_def]
    updates = [node for node in nodes if node.op.startswith("ResourceApply")]
    assert len(updates) == len(model.trainable_variables)
    produced_by = {node.name: node.op for node in nodes}
    for update in updates:  # inputs: var, accum, lr, grad, momentum
        gradient = update.input[3].split(":")[0]
        assert produced_by[gradient] != "IdentityN", update.name
