"""ImageNet-100: the 100-class ImageNet-1K subset on which Paper F pre-trains (CL-MAE).

Paper F pre-trains on "10 % of ImageNet-1K (100 classes)" without naming the classes; we use the
widely used ImageNet-100 list of CMC (Tian et al., 2019; ``imagenet100.txt`` of
github.com/HobbitLong/CMC), shipped as ``vadlib/data/imagenet100_classes.txt``
(:data:`IMAGENET100_CLASSES`).

Layout read: ImageNet class folders as torchvision's ``ImageFolder`` reads them (the layout of the
PyTorch ImageNet example, with the validation images moved into class folders)::

    imagenet100/
      classes.txt                               optional: the wnids of the subset, one per line
      train/<wnid>/<wnid>_<n>.JPEG ...          e.g. train/n01558993/n01558993_10020.JPEG
      val/<wnid>/ILSVRC2012_val_<8 digits>.JPEG

The root may hold all 1000 classes (a full ILSVRC-2012 tree): the class list then selects the
subset. Class selection (``classes=``): None → ``<root>/classes.txt`` if present, else every class
folder of the split; ``"imagenet100"`` → the CMC list; a path to a text file; or a list of wnids.

Definitions: ``label`` is the position of the image's wnid in the sorted list of selected classes
(``ImageFolder``'s ``class_to_idx``), so train and val agree whenever they select the same classes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.transforms import InterpolationMode, RandomHorizontalFlip, RandomResizedCrop

from vadlib.data.errors import DatasetError, directory_error
from vadlib.data.files import open_image, read_text

DATASET = "imagenet100"
SPLITS = ("train", "val")
CLASS_LIST_FILE = Path(__file__).with_name("imagenet100_classes.txt")
# torchvision.datasets.folder.IMG_EXTENSIONS, repeated so that index() needs no torch
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
INDEX_COLUMNS = ("split", "wnid", "label", "path")
#: pre-training augmentations: "mae" = MAE's (He et al. 2022, main_pretrain.py) RandomResizedCrop
#: (scale 0.2–1, bicubic) + horizontal flip; None = the deterministic evaluation crop
AUGMENTATIONS = (None, "mae")
MAE_CROP_SCALE = (0.2, 1.0)


def read_class_list(path: str | Path) -> list[str]:
    """The wnids of a class-list file: one per line; blank lines and '#' comments skipped."""
    lines = read_text(path, DATASET, what="class list").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


IMAGENET100_CLASSES: tuple[str, ...] = tuple(read_class_list(CLASS_LIST_FILE))


def select_classes(root: str | Path, split: str = "train",
                   classes: str | Path | Sequence[str] | None = None) -> list[str]:
    """The sorted wnids a split is restricted to (see the module docstring for ``classes``).

    Raises :class:`DatasetError` when the split folder is missing or a selected class has no
    folder in it.
    """
    root = Path(root)
    if not root.is_dir():
        raise directory_error(DATASET, root, f"no dataset directory at {root}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    split_dir = root / split
    if not split_dir.is_dir():
        raise DatasetError(DATASET, root, f"no {split}/ folder (expected {split}/<wnid>/*.JPEG)")
    present = sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir())
    if classes is None:
        listed = root / "classes.txt"
        wanted = read_class_list(listed) if listed.is_file() else present
        source = "classes.txt" if listed.is_file() else None
    elif isinstance(classes, str) and classes == "imagenet100":
        wanted, source = list(IMAGENET100_CLASSES), "the ImageNet-100 list"
    elif isinstance(classes, (str, Path)):
        wanted, source = read_class_list(classes), str(classes)
    else:
        wanted, source = list(classes), "the requested classes"
    if not wanted:
        raise DatasetError(DATASET, root, f"no class folder in {split}/" if source is None
                           else f"{source} lists no class")
    missing = sorted(set(wanted) - set(present))
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise DatasetError(DATASET, root, f"{len(missing)} of the {len(set(wanted))} classes of "
                           f"{source} have no folder in {split}/: {shown}")
    return sorted(set(wanted))


def index(root: str | Path, split: str = "train",
          classes: str | Path | Sequence[str] | None = None) -> pd.DataFrame:
    """One row per image: ``split``, ``wnid``, ``label``, ``path``; in ``ImageFolder``'s order.

    Raises :class:`DatasetError` for a missing split, missing classes, or a class folder without
    any image.
    """
    root = Path(root)
    wnids = select_classes(root, split, classes)
    rows = []
    for label, wnid in enumerate(wnids):
        found = 0
        # ImageFolder's walk: sorted os.walk (following links), sorted file names per folder.
        for folder, _, files in sorted(os.walk(root / split / wnid, followlinks=True)):
            for file in sorted(files):
                if file.lower().endswith(IMAGE_EXTENSIONS):
                    rows.append({"split": split, "wnid": wnid, "label": label,
                                 "path": os.path.join(folder, file)})
                    found += 1
        if not found:
            raise DatasetError(DATASET, root, f"no image in {split}/{wnid}/")
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


class ImageNetFolder(ImageFolder):
    """An ImageNet split restricted to a class subset, as torchvision's ``ImageFolder``.

    Items are dicts: ``image`` (float32 3×H×W in [0, 1]), ``label`` (int64), ``wnid``, ``path``.
    ``resize``: an int ``s`` scales the shorter side to ``s`` and centre-crops s×s (the usual
    ImageNet evaluation crop, no distortion); (height, width) resizes exactly; None keeps the
    stored size. ``transform`` acts on the image tensor (e.g. torchvision v2 augmentations).
    ``classes`` selects the classes (see :func:`select_classes`); ``class_to_idx`` and ``samples``
    are ``ImageFolder``'s. ``augment="mae"`` replaces the fixed crop by MAE's pre-training
    augmentation: a random-resized crop of the stored image (area 20–100 %, aspect 3/4–4/3) scaled
    bicubically to ``resize`` (an int or (height, width)), then a horizontal flip with p = ½. Its
    draws come from torch's global generator, so a run seeded with ``torch.manual_seed`` (and a
    loader without worker processes) sees the same crops on every rerun and different ones each
    epoch. Evaluation splits keep ``augment=None``: deterministic.
    """

    def __init__(self, root: str | Path, split: str = "train",
                 classes: str | Path | Sequence[str] | None = None,
                 resize: int | tuple[int, int] | None = 224,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 augment: str | None = None):
        if augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}")
        if augment is not None and resize is None:
            raise ValueError("augment needs an output size (resize)")
        self.dataset_root, self.split, self.resize, self.augment = Path(root), split, resize, augment
        self._augmentation = None if augment is None else _mae_augmentation(resize)
        self.index = index(root, split, classes)  # validates: DatasetError, never an empty set
        self._selected = list(dict.fromkeys(self.index.wnid))
        super().__init__(str(Path(root) / split), transform=None)
        self.image_transform = transform

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        return self._selected, {wnid: label for label, wnid in enumerate(self._selected)}

    def __getitem__(self, position: int) -> dict[str, Any]:
        path, label = self.samples[position]
        with open_image(path, DATASET, self.dataset_root) as image:
            image = image.convert("RGB")
            image = _resize(image, self.resize) if self._augmentation is None else self._augmentation(image)
            array = np.asarray(image, dtype=np.uint8)
        tensor = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)
        if self.image_transform is not None:
            tensor = self.image_transform(tensor)
        return {"image": tensor, "label": torch.tensor(label, dtype=torch.int64),
                "wnid": self.classes[label], "path": path}


def _mae_augmentation(size: int | tuple[int, int]) -> Callable[[Image.Image], Image.Image]:
    crop = RandomResizedCrop(size if isinstance(size, int) else tuple(size), scale=MAE_CROP_SCALE,
                             interpolation=InterpolationMode.BICUBIC)
    flip = RandomHorizontalFlip()
    return lambda image: flip(crop(image))


def _resize(image: Image.Image, resize: int | tuple[int, int] | None) -> Image.Image:
    if resize is None:
        return image
    if not isinstance(resize, int):
        height, width = resize
        return image.resize((width, height), Image.BILINEAR)
    width, height = image.size
    scale = resize / min(width, height)
    new_size = (max(resize, round(width * scale)), max(resize, round(height * scale)))
    if new_size != image.size:
        image = image.resize(new_size, Image.BILINEAR)
    left, top = (new_size[0] - resize) // 2, (new_size[1] - resize) // 2
    return image.crop((left, top, left + resize, top + resize))
