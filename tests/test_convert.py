"""The converter's round trip on a tree with ILSVRC2012's quirks."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from preprocessing import convert, records


def _save(path, image, fmt, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path, format=fmt, **kw)


@pytest.fixture
def quirky_tree(tmp_path):
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))
    root = tmp_path / "raw"
    _save(str(root / "train/n01/normal.JPEG"), rgb, "JPEG")
    _save(str(root / "train/n01/png_named.JPEG"), rgb, "PNG")
    _save(str(root / "train/n02/cmyk.JPEG"), rgb.convert("CMYK"), "JPEG")
    _save(str(root / "train/n02/gray.JPEG"), rgb.convert("L"), "JPEG")
    (root / "train/n02/corrupt.JPEG").write_bytes(b"\xff\xd8\xff" + b"\x00" * 40)
    _save(str(root / "val/v1.JPEG"), rgb, "JPEG")
    _save(str(root / "val/v2.JPEG"), rgb.convert("L"), "JPEG")
    (root / "val_labels.txt").write_text("n02\nn01\n")
    (root / "meta.txt").write_text("n01\tthing one\nn02\tthing two\n")
    (root / "boxes.csv").write_text("normal.JPEG,0.1,0.2,0.5,0.6\n")
    return root


def _read(paths):
    def decode(serialized):
        f = tf.io.parse_single_example(serialized, {
            "image/encoded": tf.io.FixedLenFeature([], tf.string),
            "image/class/label": tf.io.FixedLenFeature([], tf.int64),
            "image/class/text": tf.io.FixedLenFeature([], tf.string),
            "image/filename": tf.io.FixedLenFeature([], tf.string),
            "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32)})
        image = tf.io.decode_jpeg(f["image/encoded"])  # JPEG, or this fails
        return (image, f["image/class/label"], f["image/class/text"],
                f["image/filename"],
                tf.sparse.to_dense(f["image/object/bbox/xmin"]))
    return list(tf.data.TFRecordDataset(paths).map(decode).as_numpy_iterator())


def test_round_trip_fixes_quirks_and_reports_the_corrupt_file(quirky_tree, tmp_path):
    root, out = quirky_tree, str(tmp_path / "shards")
    synsets = convert.read_synsets(str(root / "train"))
    assert synsets == ["n01", "n02"]
    texts = convert.read_metadata(str(root / "meta.txt"))
    boxes = convert.read_bounding_boxes(str(root / "boxes.csv"))
    items = convert.list_split(str(root / "train"), synsets, texts=texts,
                               boxes=boxes)
    report = convert.write_split(items, out, "train", 2, num_threads=2,
                                 progress=None)
    assert report.images_written == 4 and report.shards_written == 2
    assert [os.path.basename(p) for p, _ in report.skipped] == ["corrupt.JPEG"]
    assert report.reencoded == 3  # PNG, CMYK, grayscale
    rows = {r[3].decode(): r for r in _read(records.list_shards(out, "train"))}
    assert set(rows) == {"normal.JPEG", "png_named.JPEG", "cmyk.JPEG", "gray.JPEG"}
    for name, (image, label, text, _, xmin) in rows.items():
        assert image.shape == (40, 50, 3)  # RGB
        expected = 1 if name in ("normal.JPEG", "png_named.JPEG") else 2
        assert label == expected
        assert text == (b"thing one" if expected == 1 else b"thing two")
    assert rows["normal.JPEG"][4].tolist() == pytest.approx([0.1])
    assert not [f for f in os.listdir(out) if ".tmp" in f]

    # The pipeline reads them too: right labels (L-1), RGB, right count.
    from preprocessing import dataset
    ds = dataset.build_dataset(records.read_split(out, "train"), image_size=32,
                               num_classes=2,
                               batch_size=4, training=False)
    images, labels, weights = next(iter(ds))
    assert images.shape == (4, 32, 32, 3) and weights.numpy().sum() == 4
    assert sorted(labels.numpy().tolist()) == [0, 0, 1, 1]


def test_flat_validation_with_labels_file(quirky_tree, tmp_path):
    items = convert.list_split(str(quirky_tree / "val"), ["n01", "n02"],
                               labels_file=str(quirky_tree / "val_labels.txt"))
    assert [(os.path.basename(i.path), i.label) for i in items] == [
        ("v1.JPEG", 2), ("v2.JPEG", 1)]
    report = convert.write_split(items, str(tmp_path / "s"), "validation", 1,
                                 progress=None)
    assert report.images_written == 2


def test_interrupted_run_resumes_by_skipping_finished_shards(quirky_tree, tmp_path):
    out = str(tmp_path / "shards")
    items = convert.list_split(str(quirky_tree / "train"), ["n01", "n02"])
    convert.write_split(items, out, "train", 3, progress=None)
    first = records.list_shards(out, "train")
    os.remove(first[1])
    with open(first[1] + ".tmp-123-4", "w") as f:
        f.write("half-written by a killed run")
    report = convert.write_split(items, out, "train", 3, progress=None)
    assert (report.shards_written, report.shards_resumed) == (1, 2)
    assert records.list_shards(out, "train") == first


def test_clean_image_keeps_rgb_jpeg_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, format="JPEG")
    data = buf.getvalue()
    assert convert.clean_image(data) == (data, 8, 8, False)
    with pytest.raises(convert.UnreadableImage):
        convert.clean_image(b"not an image")
