"""Synthetic twin of DTD: procedural textures in the official folder and label-file layout.

Five real DTD categories drawn procedurally, each image with a random scale, orientation, phase
and colour pair: ``striped`` (soft-edged stripes), ``polka-dotted`` (a rotated lattice of discs),
``chequered`` (a rotated checkerboard), ``blotchy`` (thresholded smoothed noise) and ``zigzagged``
(triangle-wave bands). Written as ``images/<category>/<category>_0001.jpg`` (JPEG, quality 90, 4:4:4 chroma,
sizes varying like the real 300-640 px images but smaller: 64-96 px tiny, 128-192 px smoke,
300-400 px large), the ten official-style splits ``labels/{train,val,test}{1..10}.txt`` (a third
of each category each), ``labels/labels_joint_anno.txt`` and a minimal ``imdb/imdb.mat``.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

CATEGORIES = {
    "tiny": ("chequered", "polka-dotted", "striped"),
    "smoke": ("blotchy", "chequered", "polka-dotted", "striped", "zigzagged"),
    "large": ("blotchy", "chequered", "polka-dotted", "striped", "zigzagged"),
}
PER_CATEGORY = {"tiny": 6, "smoke": 12, "large": 120}
SIDES = {"tiny": (64, 96), "smoke": (128, 192), "large": (300, 400)}
FOLDS = range(1, 11)


def names(size: str) -> list[str]:
    """Every image of the twin as '<category>/<category>_NNNN.jpg', sorted."""
    return [f"{category}/{category}_{number:04d}.jpg"
            for category in CATEGORIES[size] for number in range(1, PER_CATEGORY[size] + 1)]


def splits(size: str, seed: int) -> dict[tuple[str, int], list[str]]:
    """(split, fold) → the names listed in ``labels/<split><fold>.txt``."""
    out: dict[tuple[str, int], list[str]] = {}
    per_category = PER_CATEGORY[size]
    third = per_category // 3
    for fold in FOLDS:
        rng = np.random.default_rng([seed, 7919, fold])
        chosen = {"train": [], "val": [], "test": []}
        for category in CATEGORIES[size]:
            order = rng.permutation(per_category) + 1
            for position, split in enumerate(("train", "val", "test")):
                chosen[split] += [f"{category}/{category}_{n:04d}.jpg"
                                  for n in order[position * third:(position + 1) * third]]
        for split, listed in chosen.items():
            out[split, fold] = sorted(listed)
    return out


def truth(size: str, seed: int) -> pd.DataFrame:
    """One row per image: name, category, width, height."""
    rows = []
    for name in names(size):
        image = render(name, size=size, seed=seed)
        rows.append({"name": name, "category": name.split("/")[0],
                     "height": image.shape[0], "width": image.shape[1]})
    return pd.DataFrame(rows)


def render(name: str, *, size: str, seed: int) -> np.ndarray:
    """The uint8 H×W×3 texture of one image name."""
    category = name.split("/")[0]
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    low, high = SIDES[size]
    height, width = (int(side) for side in rng.integers(low, high + 1, 2))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    period = min(height, width) * rng.uniform(0.08, 0.2)
    phase = rng.uniform(0, 1)
    if category == "striped":
        level = 0.5 + 0.5 * np.tanh(4 * np.sin(2 * np.pi * (u / period + phase)))
    elif category == "polka-dotted":
        du = (u / period + phase) % 1 - 0.5
        dv = (v / period + phase) % 1 - 0.5
        level = (np.hypot(du, dv) < rng.uniform(0.18, 0.32)).astype(np.float64)
    elif category == "chequered":
        level = ((np.floor(u / period + phase) + np.floor(v / period + phase)) % 2).astype(np.float64)
    elif category == "blotchy":
        noise = ndimage.gaussian_filter(rng.normal(size=(height, width)), sigma=period / 3)
        level = 0.5 + 0.5 * np.tanh(noise / (noise.std() + 1e-9) * 2)
    elif category == "zigzagged":
        triangle = np.abs((u / period + phase) % 1 - 0.5) * 2  # 0..1 triangle wave along u
        level = 0.5 + 0.5 * np.tanh(4 * np.sin(2 * np.pi * (v / period + 0.6 * triangle)))
    else:
        raise ValueError(f"no procedural texture for {category!r}")
    first, second = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    while np.abs(first - second).sum() < 150:  # keep the two colours distinguishable
        second = rng.uniform(0, 255, 3)
    image = first + level[..., None] * (second - first) + rng.normal(0, 4, (height, width, 1))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def generate(out: Path, *, size: str, seed: int) -> None:
    out = Path(out)
    listed = names(size)
    for name in listed:
        path = out / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(render(name, size=size, seed=seed)).save(path, format="JPEG", quality=90, subsampling=0)
    labels = out / "labels"
    labels.mkdir()
    fold_lists = splits(size, seed)
    for (split, fold), chosen in fold_lists.items():
        (labels / f"{split}{fold}.txt").write_text("".join(f"{name}\n" for name in chosen))
    (labels / "labels_joint_anno.txt").write_text(
        "".join(f"{name} {name.split('/')[0]} \n" for name in listed))
    _write_imdb(out / "imdb" / "imdb.mat", listed, size, fold_lists)


def _write_imdb(path: Path, listed: list[str], size: str, fold_lists) -> None:
    """A small imdb.mat (names, 1-based classes, fold-1 sets 1/2/3) with a fixed header."""
    from scipy.io import savemat
    classes = list(CATEGORIES[size])
    set_of = {name: code for code, split in enumerate(("train", "val", "test"), start=1)
              for name in fold_lists[split, 1]}
    images = {"id": np.arange(1, len(listed) + 1, dtype=np.float64),
              "name": np.array(listed, dtype=object),
              "class": np.array([classes.index(n.split("/")[0]) + 1 for n in listed], dtype=np.float64),
              "set": np.array([set_of.get(n, 0) for n in listed], dtype=np.float64)}
    meta = {"classes": np.array(classes, dtype=object),
            "sets": np.array(["train", "val", "test"], dtype=object)}
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, {"images": images, "meta": meta}, do_compression=False)
    # savemat stamps the creation time into the 116-byte text header; fix it for determinism.
    data = bytearray(path.read_bytes())
    data[:116] = b"MATLAB 5.0 MAT-file, written by vadlib (synthetic DTD twin)".ljust(116, b" ")
    path.write_bytes(bytes(data))


TWINS = {"dtd": generate}
