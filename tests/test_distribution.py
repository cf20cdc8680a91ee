import pytest
import tensorflow as tf

from benchmarks.config import DistConfig
from benchmarks.distribute.strategy import build_strategy
from benchmarks.errors import UsageError
from preprocessing.synthetic import build_synthetic_batch


def test_cpu_is_one_device():
    p = build_strategy(DistConfig(device="cpu"))
    assert isinstance(p.strategy, tf.distribute.OneDeviceStrategy)
    assert p.num_replicas == 1 and p.device_kind == "cpu"


def test_no_gpu_and_default_flags_run_on_the_cpu():
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    assert build_strategy(DistConfig()).device_kind == "cpu"


def test_logical_cpu_devices_are_mirrored():
    p = build_strategy(DistConfig(device="cpu", num_cpu_devices=2))
    assert isinstance(p.strategy, tf.distribute.MirroredStrategy)
    assert p.num_replicas == 2
    assert len(set(p.devices)) == 2
    assert p.all_reduce.startswith("pscpu")


def test_more_gpus_than_exist_says_how_many_were_found():
    found = len(tf.config.list_physical_devices("GPU"))
    with pytest.raises(UsageError) as err:
        build_strategy(DistConfig(device="gpu", num_gpus=found + 1))
    assert f"found {found}" in str(err.value)


def test_more_cpu_devices_than_configured():
    with pytest.raises(UsageError, match="logical CPU devices"):
        build_strategy(DistConfig(device="cpu", num_cpu_devices=64))


@pytest.mark.parametrize("spec", ["nccl", "hierarchical_copy"])
def test_gpu_all_reduce_on_cpu_is_refused(spec):
    with pytest.raises(UsageError, match=spec):
        build_strategy(DistConfig(device="cpu", num_cpu_devices=2,
                                  all_reduce_spec=spec))


def test_synthetic_batch_lives_on_each_replica():
    p = build_strategy(DistConfig(device="cpu", num_cpu_devices=2))
    images, labels = build_synthetic_batch(
        p.strategy, per_replica_batch=3, image_size=32, num_classes=10)
    local_images = p.strategy.experimental_local_results(images)
    local_labels = p.strategy.experimental_local_results(labels)
    assert [t.shape for t in local_images] == [(3, 32, 32, 3)] * 2
    assert [tf.DeviceSpec.from_string(t.device).device_index
            for t in local_images] == [0, 1]
    for lab in local_labels:
        assert lab.dtype == tf.int32
        assert 0 <= int(tf.reduce_min(lab)) and int(tf.reduce_max(lab)) < 10
    # Replicas get different images; values in the normalised range.
    assert not bool(tf.reduce_all(local_images[0] == local_images[1]))
    assert float(tf.reduce_max(tf.abs(local_images[0]))) <= 1.0
