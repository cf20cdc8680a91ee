import os

import pytest
import tensorflow as tf

from conftest import write_shards
from preprocessing import records


def _parse_all(paths):
    ds = tf.data.TFRecordDataset(paths).map(records.parse_example)
    return list(ds.as_numpy_iterator())


def test_make_example_has_every_build_imagenet_data_key():
    example = records.make_example(encoded=b"x", label=3, synset="n01",
                                   text="cat", height=5, width=6,
                                   filename="/a/b.JPEG",
                                   bboxes=[(0.1, 0.2, 0.3, 0.4)])
    keys = set(example.features.feature)
    for key in ("image/encoded", "image/format", "image/class/label",
                "image/class/synset", "image/class/text", "image/height",
                "image/width", "image/colorspace", "image/channels",
                "image/filename", "image/object/bbox/xmin",
                "image/object/bbox/ymin", "image/object/bbox/xmax",
                "image/object/bbox/ymax", "image/object/bbox/label"):
        assert key in keys
    assert example.features.feature["image/filename"].bytes_list.value == [b"b.JPEG"]


def test_parse_reads_boxes_in_sample_distorted_order(tmp_path):
    paths = write_shards(str(tmp_path), "train", [4, 5],
                         boxes={0: [(0.1, 0.2, 0.3, 0.4)]})
    (enc0, lab0, box0), (_, lab1, box1) = _parse_all(paths)
    assert (lab0, lab1) == (4, 5)
    assert box0.tolist()[0] == pytest.approx([0.2, 0.1, 0.4, 0.3])  # y, x, y, x
    assert box0.shape == (1, 4)
    assert box1.shape == (0, 4)
    assert enc0[:2] == b"\xff\xd8"


def test_minimal_records_with_only_image_and_label(tmp_path):
    path = str(tmp_path / "train-00000-of-00001")
    feature = {"image/encoded": tf.train.Feature(
                   bytes_list=tf.train.BytesList(value=[b"jpeg"])),
               "image/class/label": tf.train.Feature(
                   int64_list=tf.train.Int64List(value=[7]))}
    with tf.io.TFRecordWriter(path) as w:
        w.write(tf.train.Example(features=tf.train.Features(
            feature=feature)).SerializeToString())
    ((encoded, label, boxes),) = _parse_all([path])
    assert (encoded, label, boxes.shape) == (b"jpeg", 7, (0, 4))


@pytest.mark.parametrize("num_classes,file_label,expected", [
    (1000, 1, 0), (1000, 1000, 999), (1001, 1, 1), (1001, 1000, 1000),
    (10, 10, 9)])
def test_label_mapping(num_classes, file_label, expected):
    got = records.map_label(tf.constant(file_label, tf.int64), num_classes,
                            tf.constant("f"))
    assert int(got) == expected


@pytest.mark.parametrize("num_classes,file_label", [(1000, 0), (1000, 1001),
                                                    (1001, 1001), (10, 11)])
def test_label_out_of_range_names_the_file(num_classes, file_label):
    with pytest.raises(tf.errors.InvalidArgumentError, match="train-00007"):
        records.map_label(tf.constant(file_label, tf.int64), num_classes,
                          tf.constant("/data/train-00007-of-01024"))


def test_list_shards_errors(tmp_path):
    with pytest.raises(records.DataError, match="does not exist"):
        records.list_shards(str(tmp_path / "nope"), "train")
    (tmp_path / "README").write_text("x")
    with pytest.raises(records.DataError, match=r"no train-\* shards.*README"):
        records.list_shards(str(tmp_path), "train")


def test_list_shards_sorted_by_split(tmp_path):
    write_shards(str(tmp_path), "train", [1, 2, 3], num_shards=3)
    write_shards(str(tmp_path), "validation", [1], num_shards=1)
    names = [os.path.basename(p) for p in records.list_shards(str(tmp_path), "train")]
    assert names == ["train-00000-of-00003", "train-00001-of-00003",
                     "train-00002-of-00003"]


def test_scan_finds_a_truncated_shard(tmp_path):
    good, = write_shards(str(tmp_path / "a"), "train", [1, 2, 3])
    assert records.scan_shard(good) == (3, None)
    bad, = write_shards(str(tmp_path / "b"), "train", [1, 2, 3])
    size = os.path.getsize(bad)
    with open(bad, "r+b") as f:
        f.truncate(size - 100)
    count, problem = records.scan_shard(bad)
    assert count == 2 and "truncated" in problem
    assert records.find_damaged_shard([good, bad])[0] == bad


def test_record_counts_follow_a_rewritten_shard(tmp_path):
    (path,) = write_shards(str(tmp_path), "train", [1, 2, 3])
    assert records.count_records([path]) == 3
    assert records.count_records([path, path]) == 6  # counted once, used twice
    write_shards(str(tmp_path), "train", [1, 2, 3, 4, 5])  # same name
    assert records.count_records([path]) == 5


def test_counting_a_truncated_shard_names_it(tmp_path):
    (path,) = write_shards(str(tmp_path), "train", [1, 2, 3])
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 7)
    with pytest.raises(records.DataError, match="corrupt input shard .*train-"):
        records.count_records([path])
