"""MVTec AD (Bergmann et al., CVPR 2019): industrial anomaly detection with pixel-precise masks.

Layout read: the official release ``mvtec_anomaly_detection.tar.xz`` as MVTec ships it (one folder
per category) and as the DRAEM and anomalib loaders read it::

    mvtec_anomaly_detection/
      license.txt  readme.txt
      <category>/
        train/good/000.png ...                  defect-free training images
        test/good/000.png ...                   defect-free test images
        test/<defect>/000.png ...               anomalous test images, one folder per defect type
        ground_truth/<defect>/000_mask.png ...  0/255 mask of test/<defect>/000.png (none for good)

There are 15 categories: 5 textures and 10 objects (:data:`TEXTURE_CATEGORIES`,
:data:`OBJECT_CATEGORIES`); 3629 training and 1725 test images. Images are 700-1024 px squares;
grid, screw and zipper are stored as 1-channel (grayscale) PNGs, which :class:`MVTecAD` repeats to
3 channels so every category gives a 3×H×W tensor.

Definitions:
  * ``label``: 0 for a defect-free (``good``) image, 1 for an anomalous one (image-level truth of
    the detection AUROC).
  * ``mask``: the pixel truth of localisation; 1 on defect pixels, 0 elsewhere; all zeros for good
    images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from vadlib.data.errors import DatasetError, directory_error
from vadlib.data.files import open_image

DATASET = "mvtec_ad"
DIRECTORY = "mvtec_anomaly_detection"
TEXTURE_CATEGORIES = ("carpet", "grid", "leather", "tile", "wood")
OBJECT_CATEGORIES = ("bottle", "cable", "capsule", "hazelnut", "metal_nut", "pill", "screw",
                     "toothbrush", "transistor", "zipper")
CATEGORIES = tuple(sorted(TEXTURE_CATEGORIES + OBJECT_CATEGORIES))
GRAYSCALE_CATEGORIES = ("grid", "screw", "zipper")
"""Categories whose official PNGs have one channel."""
SPLITS = ("train", "test")
GOOD = "good"
IMAGE_SUFFIX = ".png"
MASK_SUFFIX = "_mask.png"
INDEX_COLUMNS = ("category", "split", "defect", "path", "mask_path", "label")


def mask_path_for(image_path: str | Path) -> Path:
    """``<category>/test/<defect>/000.png`` → ``<category>/ground_truth/<defect>/000_mask.png``."""
    image_path = Path(image_path)
    category_dir = image_path.parents[2]
    return category_dir / "ground_truth" / image_path.parent.name / f"{image_path.stem}{MASK_SUFFIX}"


def categories_present(root: str | Path) -> list[str]:
    """The category folders of ``root`` (any folder holding ``train/`` or ``test/``), sorted."""
    root = _check_root(root)
    return sorted(entry.name for entry in root.iterdir()
                  if entry.is_dir() and ((entry / "train").is_dir() or (entry / "test").is_dir()))


def index(root: str | Path, category: str | None = None, split: str = "train") -> pd.DataFrame:
    """One row per image of ``split`` for one ``category`` (or every category present).

    Columns: ``category``, ``split``, ``defect`` ('good' or the defect folder name), ``path``
    (absolute image path), ``mask_path`` (absolute mask path, missing for good images), ``label``
    (0 good, 1 anomalous). Rows are sorted by category, defect ('good' first) and file name.
    Raises :class:`DatasetError` for a missing root or category, a missing or empty split, or a
    defect image without its mask.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = _check_root(root)
    if category is None:
        wanted = categories_present(root)
        if not wanted:
            raise DatasetError(DATASET, root, "no category folder (e.g. bottle/train/good/) found; "
                               f"MVTec AD categories are {', '.join(CATEGORIES)}")
    else:
        wanted = [category]
    rows = [row for name in wanted for row in _category_rows(root, name, split)]
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


def _check_root(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise directory_error(DATASET, root, f"no dataset directory at {root}")
    return root


def _category_rows(root: Path, category: str, split: str) -> list[dict[str, Any]]:
    category_dir = root / category
    if not category_dir.is_dir():
        present = categories_present(root)
        known = "" if category in CATEGORIES else f" ({category!r} is not an MVTec AD category)"
        raise DatasetError(DATASET, root, f"no category folder {category}/{known}; categories present: "
                           f"{', '.join(present) or 'none'}")
    split_dir = category_dir / split
    if split == "train":
        defect_dirs = [split_dir / GOOD]
        if not defect_dirs[0].is_dir():
            raise DatasetError(DATASET, root, f"no {category}/train/good/ folder")
    else:
        if not split_dir.is_dir():
            raise DatasetError(DATASET, root, f"no {category}/test/ folder")
        # 'good' first, then the defect types alphabetically, as the folders sort in the release.
        defect_dirs = sorted((d for d in split_dir.iterdir() if d.is_dir()),
                             key=lambda d: (d.name != GOOD, d.name))
    rows = []
    for defect_dir in defect_dirs:
        defect = defect_dir.name
        for image_path in sorted(defect_dir.glob(f"*{IMAGE_SUFFIX}")):
            mask_path = None
            if defect != GOOD:
                mask_path = mask_path_for(image_path)
                if not mask_path.is_file():
                    raise DatasetError(DATASET, root, f"no mask {mask_path.relative_to(root)} for the "
                                       f"defect image {image_path.relative_to(root)}")
                mask_path = str(mask_path.resolve())
            rows.append({"category": category, "split": split, "defect": defect,
                         "path": str(image_path.resolve()), "mask_path": mask_path,
                         "label": int(defect != GOOD)})
    if not rows:
        where = f"{category}/train/good/" if split == "train" else f"{category}/test/*/"
        raise DatasetError(DATASET, root, f"no {IMAGE_SUFFIX} image in {where}")
    return rows


def _size(resize: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``resize`` as PIL's (width, height); an int means a square."""
    if resize is None:
        return None
    if isinstance(resize, int):
        return resize, resize
    height, width = resize
    return width, height


def read_image(path: str | Path, resize: int | tuple[int, int] | None = None) -> np.ndarray:
    """An H×W×3 uint8 array; grayscale PNGs are repeated to 3 channels; bilinear resize.

    A missing, truncated or corrupt file raises :class:`~vadlib.data.errors.DatasetFileError`."""
    with open_image(path, DATASET) as image:
        image = image.convert("RGB")
        size = _size(resize)
        if size is not None and image.size != size:
            image = image.resize(size, Image.BILINEAR)
        return np.array(image, dtype=np.uint8)


def read_mask(path: str | Path | None, shape: tuple[int, int],
              resize: int | tuple[int, int] | None = None) -> np.ndarray:
    """An H×W uint8 array of 0/1 (any nonzero pixel of the PNG counts as defect); nearest resize.

    A missing path (None or NaN: a good image) gives zeros of ``shape``.
    """
    if path is None or pd.isna(path):
        return np.zeros(shape, dtype=np.uint8)
    with open_image(path, DATASET) as mask:
        mask = mask.convert("L")
        size = _size(resize)
        if size is not None and mask.size != size:
            mask = mask.resize(size, Image.NEAREST)
        return (np.array(mask) > 0).astype(np.uint8)


class MVTecAD(Dataset):
    """The images of one category and split as a torch ``Dataset``.

    Each item is a dict: ``image`` (float32 3×H×W in [0, 1]), ``mask`` (uint8 H×W, 1 on defect
    pixels), ``label`` (int64 scalar, 1 anomalous), ``defect``, ``category``, ``path``.
    ``resize``: an int (square, DRAEM's 256×256 by default), (height, width), or None to keep the
    stored size. ``transform``, when given, receives and returns the whole item dict, so that a
    geometric augmentation can move image and mask together.
    """

    def __init__(self, root: str | Path, category: str, split: str = "train",
                 resize: int | tuple[int, int] | None = 256,
                 transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        self.root, self.category, self.split = Path(root), category, split
        self.resize, self.transform = resize, transform
        self.index = index(root, category, split)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, position: int) -> dict[str, Any]:
        row = self.index.iloc[position]
        image = read_image(row.path, self.resize)
        mask = read_mask(row.mask_path, image.shape[:2], self.resize)
        if mask.shape != image.shape[:2]:
            raise DatasetError(DATASET, self.root, f"mask {row.mask_path} is {mask.shape[1]}×"
                               f"{mask.shape[0]} px but its image is {image.shape[1]}×{image.shape[0]}")
        item = {"image": torch.from_numpy(image).permute(2, 0, 1).float().div_(255.0),
                "mask": torch.from_numpy(mask),
                "label": torch.tensor(row.label, dtype=torch.int64),
                "defect": row.defect, "category": row.category, "path": row.path}
        return self.transform(item) if self.transform is not None else item
