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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from preprocessing import convert  # noqa: E402

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


def main(argv):
    del argv
    if not (FLAGS.train_directory or FLAGS.labels_file):
        sys.exit("error: give --train_directory (or --labels_file for the "
                 "label order)")
    for name in ("train_directory", "validation_directory"):
        path = getattr(FLAGS, name)
        if path and not os.path.isdir(path):
            sys.exit(f"error: --{name}={path} is not a directory")
    synsets = convert.read_synsets(FLAGS.train_directory, FLAGS.labels_file)
    texts = convert.read_metadata(FLAGS.imagenet_metadata_file)
    boxes = convert.read_bounding_boxes(FLAGS.bounding_box_file)
    reports = []
    splits = [("train", FLAGS.train_directory, FLAGS.train_shards, None),
              ("validation", FLAGS.validation_directory, FLAGS.validation_shards,
               FLAGS.validation_labels_file)]
    for split, directory, shards, labels_file in splits:
        if not directory:
            continue
        items = convert.list_split(directory, synsets, texts=texts, boxes=boxes,
                                   labels_file=labels_file)
        print(f"{split}: {len(items)} images of {len(synsets)} classes -> "
              f"{shards} shards", flush=True)
        reports.append(convert.write_split(items, FLAGS.output_directory, split,
                                           shards, num_threads=FLAGS.num_threads))
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
    app.run(main)
