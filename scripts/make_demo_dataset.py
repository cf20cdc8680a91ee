#!/usr/bin/env python3
"""Makes the demo dataset: 10 classes of drawn shapes as real JPEGs, in the
ImageNet TFRecord format and shard layout (train-0000N-of-00008,
validation-0000N-of-00002), via the same converter as ImageNet.

    python scripts/make_demo_dataset.py --output_dir=demo_data [--train_per_class=300]

Train with --data_dir=demo_data --num_classes=10.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.errors import UsageError  # noqa: E402
from benchmarks.paths import check_output  # noqa: E402

flags.DEFINE_string("output_dir", None, "where the shards go")
flags.DEFINE_integer("train_per_class", 300, "training images per class")
flags.DEFINE_integer("val_per_class", 50, "validation images per class")
flags.DEFINE_integer("train_shards", 8, "train shards")
flags.DEFINE_integer("validation_shards", 2, "validation shards")
flags.DEFINE_integer("seed", 0, "drawing seed")
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    try:
        check_output(FLAGS.output_dir, "--output_dir")
    except UsageError as e:
        print(f"make_demo_dataset: error: {e}", file=sys.stderr)
        return 2
    from preprocessing import convert, demo  # TensorFlow: after the check
    with tempfile.TemporaryDirectory() as tree:
        synsets = demo.write_demo_tree(tree, train_per_class=FLAGS.train_per_class,
                                       val_per_class=FLAGS.val_per_class,
                                       seed=FLAGS.seed)
        texts = convert.read_metadata(os.path.join(tree, "synsets_text.txt"))
        for split, sub, shards in (("train", "train", FLAGS.train_shards),
                                   ("validation", "val", FLAGS.validation_shards)):
            items = convert.list_split(os.path.join(tree, sub), synsets, texts=texts)
            report = convert.write_split(items, FLAGS.output_dir, split, shards,
                                         num_threads=2, progress=None)
            print(f"{split}: {report.images_written} images in "
                  f"{report.shards_written} shards")
    print(f"demo dataset in {FLAGS.output_dir}: {len(synsets)} classes "
          f"({', '.join(demo.CLASSES)}); use --num_classes={len(synsets)}")


if __name__ == "__main__":
    app.run(main)
