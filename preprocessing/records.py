"""The ImageNet TFRecord format (the decoder): build_imagenet_data.py's keys.

Writing: ``make_example`` builds a tf.train.Example with every key of
build_imagenet_data.py.  Reading: ``parse_example`` needs only image/encoded
and image/class/label, so records without bounding boxes or text (the TPU
imagenet_to_gcs layout) read too.

Labels in the files are 1..N (0 is tf_cnn_benchmarks' background class).
With --num_classes=1001 label L stays L (the background class is kept); with
any other count (1000, the default, or 10 for the demo data) L becomes L-1.

Shards are named ``<split>-NNNNN-of-MMMMM`` (``train-00000-of-01024`` ...,
``validation-00000-of-00128`` ...).
"""

import glob
import os
import re
import stat
import struct
import tempfile
from dataclasses import dataclass
from typing import Optional

import tensorflow as tf

SPLITS = ("train", "validation")

def shard_regex(split):
    """The regular expression of a shard's name (``split`` may itself be a
    regular expression such as ``(train|validation)``)."""
    return rf"{split}-\d+-of-\d+"


def _shard_pattern(split):
    return re.compile(rf"^{shard_regex(split)}$")


def shard_name(split, index, total):
    return f"{split}-{index:05d}-of-{total:05d}"


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def make_example(*, encoded, label, synset="", text="", height=0, width=0,
                 filename="", bboxes=(), colorspace="RGB", channels=3,
                 image_format="JPEG"):
    """A tf.train.Example as build_imagenet_data.py writes it.

    ``label`` is 1-based (1..1000); ``bboxes`` are (xmin, ymin, xmax, ymax)
    normalised to [0, 1].
    """
    xmin, ymin, xmax, ymax = ([b[i] for b in bboxes] for i in range(4))
    feature = {
        "image/height": _ints([height]),
        "image/width": _ints([width]),
        "image/colorspace": _bytes([colorspace.encode()]),
        "image/channels": _ints([channels]),
        "image/class/label": _ints([label]),
        "image/class/synset": _bytes([synset.encode()]),
        "image/class/text": _bytes([text.encode()]),
        "image/object/bbox/xmin": _floats(xmin),
        "image/object/bbox/xmax": _floats(xmax),
        "image/object/bbox/ymin": _floats(ymin),
        "image/object/bbox/ymax": _floats(ymax),
        "image/object/bbox/label": _ints([label] * len(bboxes)),
        "image/format": _bytes([image_format.encode()]),
        "image/filename": _bytes([os.path.basename(filename).encode()]),
        "image/encoded": _bytes([encoded]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


# The two required keys default to values no real record has, so that a
# record without them fails in parse_example with the shard named.
_PARSE_SPEC = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/ymin": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/xmax": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/ymax": tf.io.VarLenFeature(tf.float32),
}


def parse_example(serialized, source=""):
    """Returns (encoded JPEG, file label int64, boxes float32 [N, 4] as
    (ymin, xmin, ymax, xmax), the order sample_distorted_bounding_box takes).
    A record without image/encoded or image/class/label fails naming
    ``source`` (the shard's path, a string tensor)."""
    f = tf.io.parse_single_example(serialized, _PARSE_SPEC)
    checks = [tf.debugging.Assert(
        tf.not_equal(f[key], missing),
        [f"a record without {key} in", source, ": not an ImageNet TFRecord "
         "(the keys of build_imagenet_data.py); re-create the shard with "
         "scripts/build_imagenet_tfrecords.py"])
        for key, missing in (("image/encoded", ""), ("image/class/label", -1))]
    with tf.control_dependencies(checks):
        boxes = tf.stack([tf.sparse.to_dense(f[f"image/object/bbox/{k}"])
                          for k in ("ymin", "xmin", "ymax", "xmax")], axis=1)
        return (tf.identity(f["image/encoded"]),
                tf.identity(f["image/class/label"]), boxes)


def map_label(file_label, num_classes, source):
    """File label (1..N) -> training label, checked; ``source`` (the shard's
    path, a string tensor) is named in the error for a label out of range."""
    offset = 0 if num_classes == 1001 else 1  # 1001 keeps the background class
    label = tf.cast(file_label, tf.int32) - offset
    ok = tf.logical_and(label >= 0, label < num_classes)
    check = tf.debugging.Assert(ok, [
        "label out of range for --num_classes", num_classes, ": file label",
        file_label, "in", source])
    with tf.control_dependencies([check]):
        return tf.identity(label)


class DataError(ValueError):
    """A problem with the data on disk; the message names it and the fix."""


def shard_file_problem(path):
    """Why ``path``, named as a shard, cannot be read as one (a folder, a
    broken link, a special file, no read permission), or None.  Read from
    its status only: opening a FIFO would block."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"is a broken link (to {os.readlink(path)})" if os.path.islink(
            path) else "has gone"
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "is a special file (a pipe, socket or device), not a file"
    if not os.access(path, os.R_OK):
        return "cannot be read (Permission denied)"
    return None


def list_shards(data_dir, split):
    """Sorted shard paths of ``split`` in ``data_dir``; DataError when the
    directory is missing or holds none, listing what it does hold, or when
    a name matched as a shard is not a readable regular file."""
    if not data_dir or not os.path.isdir(data_dir):
        what = "is a file, not a directory" if data_dir and os.path.exists(
            data_dir) else "does not exist"
        raise DataError(f"--data_dir={data_dir} {what}; point it at a "
                        "directory of ImageNet TFRecords (train-00000-of-01024 "
                        "...), or omit it for synthetic data")
    pattern = _shard_pattern(split)  # not half-written "....tmp-*" files
    files = sorted(f for f in glob.glob(os.path.join(data_dir, f"{split}-*"))
                   if pattern.match(os.path.basename(f)))
    for path in files:
        problem = shard_file_problem(path)
        if problem:
            raise DataError(f"input shard {path} {problem}; remove it from "
                            f"{data_dir} or replace it with a shard")
    if not files:
        found = sorted(os.listdir(data_dir))
        shown = ", ".join(found[:8]) + (" ..." if len(found) > 8 else "")
        raise DataError(f"no {split}-* shards in {data_dir} (found: "
                        f"{shown or 'nothing'}); make them with "
                        "scripts/build_imagenet_tfrecords.py or "
                        "scripts/make_demo_dataset.py")
    return files


def scan_shard(path):
    """Checks a TFRecord file's framing without TensorFlow: returns (records,
    problem), problem None when every record's length fits the file.

    Used after a read error to name the damaged file (TensorFlow's own message
    does not), so it reads only the 12-byte headers and seeks over payloads.
    """
    size = os.path.getsize(path)
    count, offset = 0, 0
    with open(path, "rb") as f:
        if hasattr(os, "posix_fadvise"):  # headers only: no read-ahead
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        while offset < size:
            header = f.read(12)
            if len(header) < 12:
                return count, f"truncated header at byte {offset}"
            (length,) = struct.unpack("<Q", header[:8])
            end = offset + 12 + length + 4
            if end > size:
                return count, (f"truncated record at byte {offset} (needs "
                               f"{end - size} more bytes)")
            f.seek(end)
            offset = end
            count += 1
    return count, None


def count_each(paths):
    """Records in each of the given shards (headers only, see scan_shard);
    DataError naming the first shard whose framing is broken."""
    counts = []
    for path in paths:
        try:
            count, problem = scan_shard(path)
        except OSError as e:
            raise DataError(f"cannot read input shard {path} ({e.strerror}); "
                            "make it readable") from None
        if problem:
            raise DataError(f"corrupt input shard {path}: {problem}; "
                            "re-create it (e.g. with "
                            "scripts/build_imagenet_tfrecords.py)")
        counts.append(count)
    return tuple(counts)


def count_records(paths):
    """Records in the given shards, in all."""
    return sum(count_each(paths))


@dataclass(frozen=True)
class Split:
    """One split's shards in a data directory, listed (and, where a run needs
    the figure, counted) once per run and handed to whoever reads them."""

    data_dir: str
    name: str  # "train" or "validation"
    files: tuple  # sorted shard paths
    counts: Optional[tuple] = None  # records per file, when counted

    @property
    def records(self):
        return sum(self.counts)

    @property
    def description(self):
        return f"{self.data_dir} ({self.name}, {len(self.files)} shards)"


def read_split(data_dir, name, count=True):
    """The Split of ``name`` in ``data_dir``: its shards, and with ``count``
    their record counts; DataError when there are none or one is broken."""
    files = tuple(list_shards(data_dir, name))
    return Split(data_dir, name, files, count_each(files) if count else None)


def record_spans(path):
    """(start, end) bytes of each whole record of a TFRecord file, header and
    CRCs included, as far as its framing holds."""
    size, spans, offset = os.path.getsize(path), [], 0
    with open(path, "rb") as f:
        while offset + 12 <= size:
            f.seek(offset)
            (length,) = struct.unpack("<Q", f.read(8))
            end = offset + 12 + length + 4
            if end > size:
                break
            spans.append((offset, end))
            offset = end
    return spans


def _record_is_intact(path, start, end):
    """TensorFlow's own reader checks the record's two CRCs (CRC-32C)."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    with tempfile.NamedTemporaryFile(suffix=".tfrecord") as one:
        one.write(data)
        one.flush()
        try:
            for _ in tf.data.TFRecordDataset(one.name):
                pass
        except tf.errors.DataLossError:
            return False
    return True


def find_damaged_shard(paths, data_offset=None):
    """The first (path, problem) among ``paths`` whose framing is broken;
    else, given TensorFlow's "corrupted record at <data_offset>", the first
    whose record there fails its CRC check; else None."""
    for path in paths:
        _, problem = scan_shard(path)
        if problem:
            return path, problem
    if data_offset is None:
        return None
    for path in paths:
        for start, end in record_spans(path):
            if start + 12 == data_offset:  # TensorFlow counts from the data
                if not _record_is_intact(path, start, end):
                    return path, (f"the record at byte {start} fails its "
                                  "CRC check")
                break
    return None
