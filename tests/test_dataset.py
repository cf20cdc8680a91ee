"""The reader: sharding, eval coverage, bad records, preprocessing."""

import numpy as np
import pytest
import tensorflow as tf

from conftest import write_shards
from preprocessing import dataset, imagenet, records


def _build(data_dir, split, **kwargs):
    """build_dataset on the Split of ``split``, counted where an endless
    stream needs the count (benchmarks.inputs.read_splits counts them all)."""
    endless = kwargs["training"] or kwargs.get("repeat_eval", False)
    counted = records.read_split(data_dir, split, count=endless)
    return dataset.build_dataset(counted, **kwargs)


def _labels(ds, limit=None):
    out = []
    for batch in ds.take(limit) if limit else ds:
        labels = batch[1].numpy()
        weights = batch[2].numpy() if len(batch) == 3 else np.ones_like(labels)
        out += labels[weights > 0].tolist()
    return out


def _context(pipelines, pipeline_id, replicas):
    return tf.distribute.InputContext(num_input_pipelines=pipelines,
                                      input_pipeline_id=pipeline_id,
                                      num_replicas_in_sync=replicas)


@pytest.fixture(scope="module")
def unique_label_shards(tmp_path_factory):
    """40 records with unique file labels 1..40 (their identity), 4 shards."""
    root = str(tmp_path_factory.mktemp("unique"))
    write_shards(root, "train", list(range(1, 41)), num_shards=4, size=32)
    write_shards(root, "validation", list(range(1, 24)), num_shards=3, size=32)
    one = str(tmp_path_factory.mktemp("onefile"))
    write_shards(one, "train", list(range(1, 41)), num_shards=1, size=32)
    return root, one


@pytest.mark.parametrize("which", ["by_file", "by_record"])
def test_two_workers_two_replicas_see_every_record_once_per_epoch(
        unique_label_shards, which):
    root = unique_label_shards[0 if which == "by_file" else 1]
    seen = []
    for worker in range(2):
        ds = _build(
            root, "train", image_size=32, num_classes=1000, batch_size=1,
            training=True, input_context=_context(2, worker, 4), seed=7,
            options=dataset.PipelineOptions(shuffle_buffer=64))
        per_worker = 20  # 40 records over 2 workers
        two_epochs = _labels(ds, 2 * per_worker)
        first, second = two_epochs[:per_worker], two_epochs[per_worker:]
        assert sorted(first) == sorted(second)  # the same shard each epoch
        assert first != second  # reshuffled
        seen.append(first)
    assert sorted(seen[0] + seen[1]) == list(range(0, 40))  # labels L-1
    assert not set(seen[0]) & set(seen[1])


@pytest.mark.parametrize("batch_size", [1, 5, 23, 64])
def test_eval_uses_every_record_exactly_once(unique_label_shards, batch_size):
    ds = _build(unique_label_shards[0], "validation",
                               image_size=32, num_classes=1000,
                               batch_size=batch_size, training=False)
    batches = list(ds)
    assert all(b[0].shape[0] == batch_size for b in batches)  # padded
    weights = np.concatenate([b[2].numpy() for b in batches])
    assert weights.sum() == 23
    assert sorted(_labels(ds)) == list(range(0, 23))


def test_corrupt_image_is_skipped_and_counted(tmp_path):
    write_shards(str(tmp_path), "train", list(range(1, 11)), corrupt={3, 7})
    stats = dataset.InputStats()
    ds = _build(str(tmp_path), "train",
                               image_size=32, num_classes=1000, batch_size=1,
                               training=False, stats=stats)
    labels = _labels(ds)
    assert sorted(labels) == [0, 1, 2, 4, 5, 6, 8, 9]
    assert int(stats.skipped.numpy()) == 2


def test_strict_input_names_the_shard(tmp_path):
    write_shards(str(tmp_path), "train", [1, 2, 3], corrupt={1})
    ds = _build(str(tmp_path), "train", image_size=32,
                               num_classes=1000, batch_size=1, training=False,
                               options=dataset.PipelineOptions(strict=True))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="train-00000-of-00001"):
        _labels(ds)


def test_label_out_of_range_fails_naming_the_file(tmp_path):
    write_shards(str(tmp_path), "train", [1, 2, 12])
    ds = _build(str(tmp_path), "train", image_size=32,
                               num_classes=10, batch_size=1, training=False)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="label out of range.*train-00000-of-00001"):
        _labels(ds)


def test_truncated_shard_is_an_error_not_a_hang(tmp_path):
    path, = write_shards(str(tmp_path), "train", list(range(1, 6)))
    with open(path, "r+b") as f:
        f.truncate(f.seek(0, 2) - 50)
    ds = _build(str(tmp_path), "train", image_size=32,
                               num_classes=1000, batch_size=1, training=False)
    with pytest.raises(tf.errors.DataLossError):
        _labels(ds)
    assert records.find_damaged_shard([path])[0] == path


def test_training_preprocessing_shape_dtype_range(demo_shards):
    ds = _build(demo_shards, "train", image_size=40,
                               num_classes=10, batch_size=8, training=True,
                               options=dataset.PipelineOptions(distortions=True))
    images, labels = next(iter(ds))
    assert images.shape == (8, 40, 40, 3) and images.dtype == tf.float32
    assert labels.shape == (8,) and labels.dtype == tf.int32
    assert float(tf.reduce_min(images)) >= -1.0
    assert float(tf.reduce_max(images)) <= 1.0
    assert float(tf.math.reduce_std(images)) > 0.05  # not blank


def test_eval_preprocessing_is_deterministic(demo_shards):
    def first():
        ds = _build(demo_shards, "validation", image_size=32,
                                   num_classes=10, batch_size=4, training=False)
        return next(iter(ds))[0].numpy()
    np.testing.assert_array_equal(first(), first())


def test_eval_crop_keeps_the_centre():
    # A 100x50 image: shorter side 50 -> 37 (32 / 0.875), then 32x32 centre.
    pixels = np.zeros((100, 50, 3), np.uint8)
    pixels[40:60, 15:35] = 255  # a white block at the centre
    image = imagenet.eval_image(tf.io.encode_jpeg(pixels), image_size=32)
    assert image.shape == (32, 32, 3)
    assert float(image[16, 16, 0]) > 0.8 and float(image[0, 0, 0]) < -0.8


def test_full_area_crop_is_the_whole_image():
    # Left-right symmetric, so the random flip does not matter; area 1 and
    # aspect 1 on a square image leave only the whole image as the crop.
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[:32] = 200  # top half bright
    encoded = tf.io.encode_jpeg(pixels, quality=100)
    image = imagenet.train_image(encoded, tf.zeros([0, 4]), image_size=16,
                                 area_range=(1.0, 1.0), aspect_range=(1.0, 1.0))
    expected = imagenet.normalize(tf.image.resize(
        tf.io.decode_jpeg(encoded), [16, 16]))
    np.testing.assert_allclose(image.numpy(), expected.numpy(), atol=1e-5)


def test_small_area_crop_zooms_in():
    # A top-bright image (std 0.78 after normalising).  Crops of 15-20% of the
    # area (side ~27 px; min_object_covered 0.1 of the whole image holds)
    # miss the middle row about a fifth of the time and are then uniform.
    # 60 tries all straddling it: odds ~1e-6.
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[:32] = 200
    encoded = tf.io.encode_jpeg(pixels, quality=100)
    spreads = [float(tf.math.reduce_std(imagenet.train_image(
        encoded, tf.zeros([0, 4]), image_size=16, area_range=(0.15, 0.2),
        seed=(0, k)))) for k in range(60)]
    assert min(spreads) < 0.1


def test_missing_and_empty_data_dir(tmp_path):
    with pytest.raises(records.DataError, match="does not exist"):
        _build(str(tmp_path / "x"), "train", image_size=32,
                              num_classes=10, batch_size=1, training=True)
    with pytest.raises(records.DataError, match="no train"):
        _build(str(tmp_path), "train", image_size=32,
                              num_classes=10, batch_size=1, training=True)


def test_repeated_eval_batches_for_inference(unique_label_shards):
    ds = _build(unique_label_shards[0], "validation",
                               image_size=32, num_classes=1000, batch_size=10,
                               training=False, repeat_eval=True)
    labels = _labels(ds, 7)  # 70 > 23 records: it wraps around
    assert len(labels) == 70 and set(labels) == set(range(23))


def _stream(root, *, start_example=0, batches, seed=7, batch_size=3):
    ds = _build(
        root, "train", image_size=32, num_classes=1000, batch_size=batch_size,
        training=True, seed=seed, start_example=start_example,
        options=dataset.PipelineOptions(shuffle_buffer=64))
    images, labels = [], []
    for image, label in ds.take(batches):
        images.append(image.numpy())
        labels.append(label.numpy())
    return np.concatenate(images), np.concatenate(labels)


def test_training_stream_is_a_function_of_the_seed(unique_label_shards):
    root = unique_label_shards[0]
    images_a, labels_a = _stream(root, batches=5)
    images_b, labels_b = _stream(root, batches=5)
    np.testing.assert_array_equal(labels_a, labels_b)
    np.testing.assert_array_equal(images_a, images_b)  # crops and flips too
    _, labels_c = _stream(root, batches=5, seed=8)
    assert labels_c.tolist() != labels_a.tolist()


@pytest.mark.parametrize("start", [6, 39, 45])  # mid-epoch, at the end, epoch 2
def test_training_stream_resumes_at_a_position(unique_label_shards, start):
    root = unique_label_shards[0]
    images, labels = _stream(root, batches=20)  # 60 records: 1.5 epochs
    tail_images, tail_labels = _stream(root, start_example=start, batches=4)
    np.testing.assert_array_equal(tail_labels, labels[start:start + 12])
    np.testing.assert_array_equal(tail_images, images[start:start + 12])


def test_eval_pads_to_a_fixed_number_of_batches(unique_label_shards):
    ds = _build(unique_label_shards[0], "validation",
                               image_size=32, num_classes=1000, batch_size=10,
                               training=False, num_batches=5)
    batches = list(ds)
    assert len(batches) == 5  # 3 real (23 records) + 2 all-padding
    weights = np.concatenate([b[2].numpy() for b in batches])
    assert weights.sum() == 23 and weights[30:].sum() == 0
    assert sorted(_labels(ds)) == list(range(23))


def test_records_per_pipeline_counts_shards(unique_label_shards):
    root, one_file = unique_label_shards
    assert dataset.records_per_pipeline(records.read_split(root, "train")) == 40
    assert dataset.records_per_pipeline(records.read_split(root, "train"),
                                        _context(2, 0, 2)) == 20
    # One file, 3 pipelines: sharded by record, 14 + 13 + 13.
    assert [dataset.records_per_pipeline(records.read_split(one_file, "train"),
                                         _context(3, i, 3))
            for i in range(3)] == [14, 13, 13]
