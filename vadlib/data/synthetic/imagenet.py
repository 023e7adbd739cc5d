"""Synthetic twin of ImageNet-100: small JPEGs in ImageNet class folders, with learnable classes.

Each class is a family: a shape (disc, square, triangle, ring or bar), a foreground colour and a
background pattern (flat light, flat dark, stripes or noise), drawn with random position, size,
rotation, colour jitter and pixel noise. Classes therefore differ in their pixel statistics and a
nearest-centroid classifier on raw pixels scores far above chance, while single images still vary.

Folder names are the first wnids of the CMC ImageNet-100 list
(:data:`vadlib.data.imagenet.IMAGENET100_CLASSES`); the layout is what
:mod:`vadlib.data.imagenet` reads: ``train/<wnid>/<wnid>_<n>.JPEG``,
``val/<wnid>/ILSVRC2012_val_<8 digits>.JPEG`` (the validation numbers shuffled across classes, as
in the real set) and ``classes.txt``. Images are 32×32 JPEGs (real ImageNet: about 400×350 on
average). Sizes: tiny 4 classes × (8 train + 4 val), smoke 10 × (40 + 10), large 100 × (100 + 20).
"""

from __future__ import annotations

import colorsys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

SHAPES = ("disc", "square", "triangle", "ring", "bar")
BACKGROUNDS = ("light", "dark", "stripes", "noise")
RESOLUTION = 32


@dataclass(frozen=True)
class Plan:
    classes: int
    train: int
    val: int


PLANS = {"tiny": Plan(4, 8, 4), "smoke": Plan(10, 40, 10), "large": Plan(100, 100, 20)}


CLASS_LIST_FILE = Path(__file__).parents[1] / "imagenet100_classes.txt"


def class_wnids(size: str) -> list[str]:
    """The first wnids of the shipped ImageNet-100 list (read here so generating needs no torch)."""
    lines = (line.split("#", 1)[0].strip() for line in CLASS_LIST_FILE.read_text().splitlines())
    return [wnid for wnid in lines if wnid][:PLANS[size].classes]


def family(class_number: int) -> dict:
    """The shape, colour (RGB 0-255) and background pattern that define class ``class_number``."""
    hue = (class_number * 0.618034) % 1.0  # golden-ratio steps spread hues for any class count
    value = 0.95 if (class_number // 10) % 2 == 0 else 0.6
    colour = np.array(colorsys.hsv_to_rgb(hue, 0.85, value)) * 255
    return {"shape": SHAPES[class_number % len(SHAPES)], "colour": colour,
            "background": BACKGROUNDS[(class_number + class_number // len(SHAPES)) % len(BACKGROUNDS)]}


def files(size: str, seed: int) -> pd.DataFrame:
    """Every image of the twin: split, wnid, class_number, number (within class), file (relative)."""
    plan, wnids = PLANS[size], class_wnids(size)
    rows = []
    for class_number, wnid in enumerate(wnids):
        rows += [{"split": "train", "wnid": wnid, "class_number": class_number, "number": n,
                  "file": f"train/{wnid}/{wnid}_{n + 1}.JPEG"} for n in range(plan.train)]
    val_ids = np.random.default_rng([seed, 50000]).permutation(plan.classes * plan.val) + 1
    for class_number, wnid in enumerate(wnids):
        for n in range(plan.val):
            val_id = val_ids[class_number * plan.val + n]
            rows.append({"split": "val", "wnid": wnid, "class_number": class_number, "number": n,
                         "file": f"val/{wnid}/ILSVRC2012_val_{val_id:08d}.JPEG"})
    return pd.DataFrame(rows)


def render(class_number: int, split: str, number: int, *, seed: int) -> np.ndarray:
    """The uint8 32×32×3 image of one item (before JPEG compression)."""
    rng = np.random.default_rng([seed, class_number, zlib.crc32(split.encode()), number])
    spec = family(class_number)
    size = RESOLUTION
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    # background
    if spec["background"] == "light":
        image = np.full((size, size, 3), 215.0) * rng.uniform(0.9, 1.05)
    elif spec["background"] == "dark":
        image = np.full((size, size, 3), 40.0) * rng.uniform(0.8, 1.2)
    elif spec["background"] == "stripes":
        period, phase = rng.uniform(5, 8), rng.uniform(0, 2 * np.pi)
        image = (128 + 70 * np.sin(2 * np.pi * yy / period + phase))[..., None].repeat(3, axis=2)
    else:
        image = rng.uniform(60, 200, (size, size, 1)).repeat(3, axis=2)
    # foreground shape
    centre = size / 2 + rng.uniform(-6, 6, 2)
    radius = rng.uniform(7, 11)
    angle = rng.uniform(0, 2 * np.pi)
    dy, dx = yy - centre[0], xx - centre[1]
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    distance = np.hypot(dy, dx)
    shape = spec["shape"]
    if shape == "disc":
        inside = distance < radius
    elif shape == "square":
        inside = np.maximum(np.abs(u), np.abs(v)) < radius * 0.8
    elif shape == "triangle":
        polar = np.arctan2(v, u)
        sector = (polar % (2 * np.pi / 3)) - np.pi / 3
        inside = distance * np.cos(sector) < radius * 0.55
    elif shape == "ring":
        inside = (distance < radius) & (distance > radius * 0.55)
    else:
        inside = (np.abs(u) < radius * 1.1) & (np.abs(v) < radius * 0.3)
    colour = np.clip(spec["colour"] + rng.normal(0, 15, 3), 0, 255)
    image[inside] = colour
    image += rng.normal(0, 6, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def generate(out: Path, *, size: str, seed: int) -> None:
    out = Path(out)
    wnids = class_wnids(size)
    (out / "classes.txt").write_text(
        "# classes of this synthetic twin: the first wnids of the CMC ImageNet-100 list\n"
        + "".join(f"{wnid}\n" for wnid in wnids))
    for row in files(size, seed).itertuples():
        path = out / row.file
        path.parent.mkdir(parents=True, exist_ok=True)
        image = render(row.class_number, row.split, row.number, seed=seed)
        Image.fromarray(image).save(path, format="JPEG", quality=90, subsampling=0)


TWINS = {"imagenet100": generate}
