#!/usr/bin/env python3
"""Converts a raw ILSVRC2012 JPEG tree into ImageNet TFRecord shards.

Flag names are build_imagenet_data.py's:

  python scripts/build_imagenet_tfrecords.py \\
      --train_directory=ILSVRC2012/train --validation_directory=ILSVRC2012/val \\
      --output_directory=imagenet_tfrecord [--labels_file=synsets.txt] \\
      [--imagenet_metadata_file=synsets_text.txt] [--bounding_box_file=bboxes.csv] \\
      [--validation_labels_file=val_labels.txt] [--train_shards=1024] \\
      [--validation_shards=128] [--num_threads=8]

Shards already in the output directory are kept (an interrupted run resumes).
Unreadable images are skipped and listed at the end; exit status 1 if any.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine.quiet_start import (quiet_start,  # noqa: E402
                                            user_set_log_level)

_QUIET = not user_set_log_level()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.errors import UsageError  # noqa: E402
from benchmarks.flags import parse_command_line  # noqa: E402
from benchmarks.paths import check_input, check_output  # noqa: E402

flags.DEFINE_string("train_directory", None, "train/<wnid>/*.JPEG tree")
flags.DEFINE_string("validation_directory", None,
                    "val/<wnid>/*.JPEG, or a flat val/ with --validation_labels_file")
flags.DEFINE_string("output_directory", None, "where the shards go")
flags.DEFINE_string("labels_file", None, "synset list (one wnid per line) "
                    "fixing the label order; default: sorted train classes")
flags.DEFINE_string("imagenet_metadata_file", None, "wnid<TAB>text lines")
flags.DEFINE_string("bounding_box_file", None, "CSV: file,xmin,ymin,xmax,ymax")
flags.DEFINE_string("validation_labels_file", None,
                    "one wnid per line for the sorted files of a flat val/")
flags.DEFINE_integer("train_shards", 1024, "number of train shards")
flags.DEFINE_integer("validation_shards", 128, "number of validation shards")
flags.DEFINE_integer("num_threads", 8, "parallel shard writers")
flags.mark_flags_as_required(["output_directory"])

FLAGS = flags.FLAGS


def _fail(message, code=2):
    print(f"build_imagenet_tfrecords: error: {message}", file=sys.stderr)
    sys.exit(code)


def _parse_flags(argv):
    """absl's parse, its errors one line with this script's prefix."""
    try:
        return parse_command_line(FLAGS, argv)
    except UsageError as e:
        _fail(str(e))


def _check_paths():
    """What the run reads and where it writes, before TensorFlow starts."""
    if not (FLAGS.train_directory or FLAGS.labels_file):
        _fail("give --train_directory (or --labels_file for the label order)")
    if not FLAGS.output_directory:
        _fail("give --output_directory (where the shards go)")
    for name in ("train_directory", "validation_directory"):
        path = getattr(FLAGS, name)
        if path and not os.path.isdir(path):
            _fail(f"--{name}={path} is not a directory")
    for name in ("train_shards", "validation_shards", "num_threads"):
        if getattr(FLAGS, name) < 1:
            _fail(f"--{name} must be at least 1")
    try:
        for name in ("labels_file", "imagenet_metadata_file",
                     "bounding_box_file", "validation_labels_file"):
            if getattr(FLAGS, name):
                check_input(getattr(FLAGS, name), f"--{name}")
        check_output(FLAGS.output_directory, "--output_directory")
    except UsageError as e:
        _fail(str(e))


def _splits(convert):
    """[(split, items, shards)] of the trees given; nothing is written before
    all of them are listed, so an empty or unlabelled tree writes nothing."""
    synsets = convert.read_synsets(FLAGS.train_directory, FLAGS.labels_file)
    if not synsets:
        _fail(f"no class folders in --train_directory={FLAGS.train_directory} "
              "(it must hold <wnid>/*.JPEG, e.g. n01440764/...); nothing written")
    texts = convert.read_metadata(FLAGS.imagenet_metadata_file)
    boxes = convert.read_bounding_boxes(FLAGS.bounding_box_file)
    found = []
    for split, directory, shards, labels_file in (
            ("train", FLAGS.train_directory, FLAGS.train_shards, None),
            ("validation", FLAGS.validation_directory, FLAGS.validation_shards,
             FLAGS.validation_labels_file)):
        if not directory:
            continue
        try:
            items = convert.list_split(directory, synsets, texts=texts,
                                       boxes=boxes, labels_file=labels_file)
        except ValueError as e:
            _fail(f"{e}; nothing written")
        if not items:
            _fail(f"no images ({', '.join(convert.IMAGE_SUFFIXES)}) in the "
                  f"class folders of {directory}; nothing written")
        found.append((split, items, shards))
    return found, len(synsets)


def main(argv):
    del argv
    _check_paths()
    with quiet_start(_QUIET):  # TensorFlow's import (the record writer)
        from preprocessing import convert
    splits, num_classes = _splits(convert)
    for path in convert.remove_stale_temporaries(FLAGS.output_directory):
        print(f"removed {path}, a half-written shard of a killed run")
    reports = []
    for split, items, shards in splits:
        print(f"{split}: {len(items)} images of {num_classes} classes -> "
              f"{shards} shards", flush=True)
        try:
            reports.append(convert.write_split(
                items, FLAGS.output_directory, split, shards,
                num_threads=FLAGS.num_threads))
        except convert.WriteError as e:
            _fail(str(e), 1)
        except KeyboardInterrupt:
            _fail("interrupted (Ctrl-C); rerun the same command to resume: "
                  "the finished shards are kept", 130)
    failed = 0
    for r in reports:
        print(f"{r.split}: {r.images_written} images in {r.shards_written} new "
              f"shards ({r.shards_resumed} already done), {r.reencoded} "
              f"re-encoded to RGB JPEG, {len(r.skipped)} unreadable")
        for path, reason in r.skipped:
            print(f"  skipped {path}: {reason}")
        failed += len(r.skipped)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    app.run(main, flags_parser=_parse_flags)
