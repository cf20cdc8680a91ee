"""Raw ILSVRC2012 JPEG tree -> ImageNet TFRecord shards (build_imagenet_data.py's
format and layout).  scripts/build_imagenet_tfrecords.py is the command line.

Input: ``train/<wnid>/*.JPEG``; validation as ``val/<wnid>/*.JPEG`` or a flat
``val/`` with a labels file (one wnid per line, for the sorted file names).
Labels are 1-based positions in the sorted synsets (or a given synset list).

ILSVRC2012's quirks are fixed on the way: PNG files named .JPEG, CMYK JPEGs
and grayscale images are re-encoded as RGB JPEG; other JPEGs are kept as they
are.  An unreadable image is skipped and reported, never fatal.  Each shard is
written to a temporary name and renamed, so an interrupted run resumes by
skipping the shards that exist.
"""

import concurrent.futures
import csv
import io
import os
import random
import re
import sys
import threading
from dataclasses import dataclass, field

from preprocessing import records

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


@dataclass(frozen=True)
class ImageItem:
    path: str
    label: int  # 1-based
    synset: str
    text: str = ""
    bboxes: tuple = ()


@dataclass
class SplitReport:
    split: str
    shards_written: int = 0
    shards_resumed: int = 0  # already on disk, skipped
    images_written: int = 0
    reencoded: int = 0
    skipped: list = field(default_factory=list)  # (path, reason)


def _images_in(directory):
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if f.lower().endswith(IMAGE_SUFFIXES))


def read_synsets(train_directory, labels_file=None):
    """The label order: a given synset list (one wnid per line), or the sorted
    class directories of the training tree."""
    if labels_file:
        with open(labels_file) as f:
            return [line.strip() for line in f if line.strip()]
    return sorted(d for d in os.listdir(train_directory)
                  if os.path.isdir(os.path.join(train_directory, d)))


def read_metadata(path):
    """{wnid: human text} from lines 'n01440764<TAB>tench, Tinca tinca'."""
    if not path:
        return {}
    texts = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 1)
            if len(parts) == 2:
                texts[parts[0]] = parts[1]
    return texts


def read_bounding_boxes(path):
    """{file name: [(xmin, ymin, xmax, ymax), ...]} from the CSV
    process_bounding_boxes.py writes ('name.JPEG,xmin,ymin,xmax,ymax')."""
    if not path:
        return {}
    boxes = {}
    with open(path) as f:
        for row in csv.reader(f):
            if len(row) == 5:
                name, *coords = row
                boxes.setdefault(os.path.basename(name), []).append(
                    tuple(float(c) for c in coords))
    return boxes


def list_split(directory, synsets, *, texts=None, boxes=None,
               labels_file=None):
    """ImageItems of a split: class sub-directories, or a flat directory with
    ``labels_file`` giving each sorted file's wnid."""
    texts, boxes = texts or {}, boxes or {}
    index = {wnid: i + 1 for i, wnid in enumerate(synsets)}
    pairs = []
    if labels_file:
        with open(labels_file) as f:
            wnids = [line.strip() for line in f if line.strip()]
        files = _images_in(directory)
        if len(files) != len(wnids):
            raise ValueError(f"{labels_file} has {len(wnids)} labels for "
                             f"{len(files)} images in {directory}")
        pairs = list(zip(files, wnids))
    else:
        for wnid in sorted(os.listdir(directory)):
            sub = os.path.join(directory, wnid)
            if os.path.isdir(sub):
                pairs += [(p, wnid) for p in _images_in(sub)]
    items = []
    for path, wnid in pairs:
        if wnid not in index:
            raise ValueError(f"{path}: synset {wnid} is not in the label list")
        items.append(ImageItem(path, index[wnid], wnid, texts.get(wnid, ""),
                               tuple(boxes.get(os.path.basename(path), ()))))
    return items


class UnreadableImage(Exception):
    pass


class WriteError(Exception):
    """A shard could not be written (disk full, no permission, ...); its
    temporary file is gone, the shards already written stay."""

    def __init__(self, path, reason):
        super().__init__(f"cannot write {path} ({reason}); free space or fix "
                         "the output directory, then rerun the same command: "
                         "the finished shards are kept")


def clean_image(data):
    """(RGB JPEG bytes, height, width, reencoded) for any image PIL reads."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format == "JPEG" and image.mode == "RGB":
                return data, image.height, image.width, False
            rgb = image.convert("RGB")
    except Exception as e:  # PIL raises many types for bad files
        raise UnreadableImage(f"{type(e).__name__}: {e}") from None
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=95)
    return out.getvalue(), rgb.height, rgb.width, True


def _write_shard(path, items, report, lock):
    import tensorflow as tf
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    written = reencoded = 0
    skipped = []
    try:
        with tf.io.TFRecordWriter(tmp) as writer:
            for item in items:
                try:
                    with open(item.path, "rb") as f:
                        data = f.read()
                    encoded, height, width, again = clean_image(data)
                except (OSError, UnreadableImage) as e:
                    skipped.append((item.path, str(e)))
                    continue
                example = records.make_example(
                    encoded=encoded, label=item.label, synset=item.synset,
                    text=item.text, height=height, width=width,
                    filename=item.path, bboxes=item.bboxes)
                writer.write(example.SerializeToString())
                written += 1
                reencoded += again
        os.replace(tmp, path)  # atomic: a shard on disk is always whole
    except (OSError, tf.errors.OpError) as e:
        raise WriteError(path, getattr(e, "strerror", None)
                         or str(getattr(e, "message", e)).splitlines()[0]) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    with lock:
        report.shards_written += 1
        report.images_written += written
        report.reencoded += reencoded
        report.skipped += skipped


_TEMPORARY = re.compile(
    rf"^{records.shard_regex('(train|validation)')}\.tmp-(\d+)-\d+$")


def remove_stale_temporaries(output_directory):
    """Removes the half-written shards (``<shard>.tmp-<pid>-<thread>``) of a
    converter that was killed; a running one's (its pid alive) are kept.
    Returns the paths removed."""
    if not os.path.isdir(output_directory):
        return []
    removed = []
    for name in sorted(os.listdir(output_directory)):
        match = _TEMPORARY.match(name)
        if match and not _alive(int(match.group(2))):
            os.remove(os.path.join(output_directory, name))
            removed.append(os.path.join(output_directory, name))
    return removed


def _alive(pid):
    if pid == os.getpid():
        return False  # our own from an earlier run in this process: stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def write_split(items, output_directory, split, num_shards, *, num_threads=4,
                shuffle_seed=12345, progress=sys.stderr):
    """Writes ``items`` into ``num_shards`` shards; returns a SplitReport."""
    os.makedirs(output_directory, exist_ok=True)
    items = list(items)
    if split == "train":  # spread classes over shards, as build_imagenet_data
        random.Random(shuffle_seed).shuffle(items)
    bounds = [round(i * len(items) / num_shards) for i in range(num_shards + 1)]
    report, lock = SplitReport(split), threading.Lock()
    jobs = []
    for s in range(num_shards):
        path = os.path.join(output_directory, records.shard_name(split, s, num_shards))
        if os.path.exists(path):
            report.shards_resumed += 1
            continue
        jobs.append((path, items[bounds[s]:bounds[s + 1]]))
    pool = concurrent.futures.ThreadPoolExecutor(max(1, num_threads))
    try:
        futures = [pool.submit(_write_shard, p, chunk, report, lock)
                   for p, chunk in jobs]
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            future.result()
            if progress:
                print(f"\r{split}: {done}/{len(jobs)} shards written "
                      f"({report.shards_resumed} already done)", end="",
                      file=progress, flush=True)
    finally:  # a failure or Ctrl-C: the shards not begun are not begun
        pool.shutdown(wait=True, cancel_futures=True)
    if progress and jobs:
        print(file=progress)
    return report
