"""A small learnable dataset drawn on the spot: 10 classes of shapes and
textures at random position, scale and colour on a random background.

``write_demo_tree`` writes it as a raw ILSVRC-style JPEG tree; the converter
then turns it into shards, so the demo exercises the same path as ImageNet.
"""

import os

import numpy as np

CLASSES = ("disc", "square", "triangle", "ring", "cross", "stripes",
           "checker", "diamond", "dots", "x")


def wnid(index):
    """Fake WordNet ids that sort in class order."""
    return f"n9{index:07d}"


def _background(rng, size):
    base = rng.uniform(0, 255, 3)
    tilt = rng.uniform(-60, 60, 3)
    ramp = np.linspace(-1, 1, size)[:, None, None] * tilt
    if rng.random() < 0.5:
        ramp = ramp.transpose(1, 0, 2)
    noise = rng.normal(0, 12, (size, size, 3))
    return base + ramp + noise


def _mask(name, dx, dy, r):
    box = (np.abs(dx) < r) & (np.abs(dy) < r)
    if name == "disc":
        return dx ** 2 + dy ** 2 < r ** 2
    if name == "square":
        return box
    if name == "triangle":
        return (dy > -r) & (dy < r) & (np.abs(dx) < (dy + r) / 2)
    if name == "ring":
        d = np.sqrt(dx ** 2 + dy ** 2)
        return (d < r) & (d > 0.6 * r)
    if name == "cross":
        return ((np.abs(dx) < r / 3) & (np.abs(dy) < r)) | \
               ((np.abs(dy) < r / 3) & (np.abs(dx) < r))
    if name == "stripes":
        return box & (np.floor((dy + r) / (r / 3)) % 2 == 0)
    if name == "checker":
        return box & ((np.floor(dx / (r / 2)) + np.floor(dy / (r / 2))) % 2 == 0)
    if name == "diamond":
        return np.abs(dx) + np.abs(dy) < r
    if name == "dots":
        cell = r / 2
        return box & (((dx % cell) - cell / 2) ** 2 + ((dy % cell) - cell / 2) ** 2
                      < (cell / 3) ** 2)
    if name == "x":
        return box & ((np.abs(dx - dy) < r / 4) | (np.abs(dx + dy) < r / 4))
    raise ValueError(name)


def draw(class_index, rng, size=None):
    """One uint8 RGB image of class ``class_index``."""
    size = size or int(rng.integers(72, 129))
    image = _background(rng, size)
    r = rng.uniform(0.18, 0.4) * size
    cx, cy = rng.uniform(r, size - r, 2)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    mask = _mask(CLASSES[class_index], xx - cx, yy - cy, r)
    colour = rng.uniform(0, 255, 3)
    while np.abs(colour - image.mean(axis=(0, 1))).sum() < 150:
        colour = rng.uniform(0, 255, 3)
    image[mask] = colour + rng.normal(0, 8, (int(mask.sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def write_demo_tree(root, *, train_per_class=300, val_per_class=50, seed=0):
    """Writes root/train/<wnid>/*.JPEG, root/val/<wnid>/*.JPEG and
    root/synsets_text.txt; returns the synset list."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    synsets = [wnid(i) for i in range(len(CLASSES))]
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for index, name in enumerate(synsets):
            directory = os.path.join(root, split, name)
            os.makedirs(directory, exist_ok=True)
            for k in range(count):
                path = os.path.join(directory, f"{name}_{k:05d}.JPEG")
                Image.fromarray(draw(index, rng)).save(path, quality=90)
    with open(os.path.join(root, "synsets_text.txt"), "w") as f:
        for name, text in zip(synsets, CLASSES):
            f.write(f"{name}\t{text}\n")
    return synsets
