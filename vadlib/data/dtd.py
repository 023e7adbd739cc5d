"""DTD, the Describable Textures Dataset (Cimpoi et al., CVPR 2014): DRAEM's anomaly sources.

DRAEM (Zavrtanik et al., ICCV 2021) pastes Perlin-masked crops of these textures onto normal
images to make its synthetic anomalies; it reads every ``images/<category>/*.jpg`` and ignores the
labels. Layout read: the official release ``dtd-r1.0.1.tar.gz`` (folder ``dtd/``)::

    dtd/
      images/<category>/<category>_0001.jpg ...   47 categories × 120 JPEGs (300-640 px)
      labels/train1.txt val1.txt test1.txt ... train10.txt val10.txt test10.txt
                                                 10 official splits; lines 'banded/banded_0002.jpg'
      labels/labels_joint_anno.txt               'path label [label ...]' multi-label annotations
      imdb/imdb.mat                               MATLAB index of the same (not read here)

``root`` is the ``dtd`` folder; a root that holds ``dtd/images`` (the archive unpacked one level
up) is accepted too.

Definitions: ``label`` is the position of the image's folder (its key attribute) in
:data:`CATEGORIES`, the official alphabetical list of 47; ``split``/``fold`` select the images
listed in ``labels/<split><fold>.txt`` (each fold: 40 train, 40 val, 40 test per category).
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
from vadlib.data.files import open_image, read_text

DATASET = "dtd"
CATEGORIES = (
    "banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed", "cracked",
    "crosshatched", "crystalline", "dotted", "fibrous", "flecked", "freckled", "frilly", "gauzy",
    "grid", "grooved", "honeycombed", "interlaced", "knitted", "lacelike", "lined", "marbled",
    "matted", "meshed", "paisley", "perforated", "pitted", "pleated", "polka-dotted", "porous",
    "potholed", "scaly", "smeared", "spiralled", "sprinkled", "stained", "stratified", "striped",
    "studded", "swirly", "veined", "waffled", "woven", "wrinkled", "zigzagged",
)
SPLITS = ("train", "val", "test")
FOLDS = tuple(range(1, 11))
INDEX_COLUMNS = ("category", "name", "path", "label")


def dataset_dir(root: str | Path) -> Path:
    """The folder holding ``images/``: ``root`` itself, or ``root/dtd`` when unpacked one level up."""
    root = Path(root)
    if not root.is_dir():
        raise directory_error(DATASET, root, f"no dataset directory at {root}")
    if not (root / "images").is_dir() and (root / "dtd" / "images").is_dir():
        return root / "dtd"
    if not (root / "images").is_dir():
        raise DatasetError(DATASET, root, "no images/ folder (images/<category>/<name>.jpg)")
    return root


def index(root: str | Path, split: str | None = None, fold: int = 1) -> pd.DataFrame:
    """One row per texture image: ``category``, ``name`` ('<category>/<file>.jpg', as in the label
    files), ``path`` (absolute), ``label`` (index in :data:`CATEGORIES`, -1 for a folder that is
    not one of the 47).

    ``split=None`` lists every ``images/*/*.jpg`` (what DRAEM uses); ``split='train'|'val'|'test'``
    lists the images of ``labels/<split><fold>.txt``. Raises :class:`DatasetError` when the
    images, the label file or a listed image is missing, or nothing is found.
    """
    directory = dataset_dir(root)
    if split is None:
        names = sorted(f"{path.parent.name}/{path.name}"
                       for path in (directory / "images").glob("*/*.jpg"))
        if not names:
            raise DatasetError(DATASET, root, "no image in images/<category>/*.jpg")
    else:
        if split not in SPLITS or fold not in FOLDS:
            raise ValueError(f"split must be one of {SPLITS} and fold one of 1..10, got {split!r}, {fold!r}")
        label_file = directory / "labels" / f"{split}{fold}.txt"
        if not label_file.is_file():
            raise DatasetError(DATASET, root, f"no split file labels/{label_file.name}")
        names = [line.strip() for line in read_text(label_file, DATASET, root, "split file").splitlines()
                 if line.strip()]
        if not names:
            raise DatasetError(DATASET, root, f"labels/{label_file.name} lists no image")
        missing = [name for name in names if not (directory / "images" / name).is_file()]
        if missing:
            raise DatasetError(DATASET, root, f"{len(missing)} image(s) listed in labels/"
                               f"{label_file.name} are missing, e.g. images/{missing[0]}")
    rows = []
    for name in names:
        category = name.split("/", 1)[0]
        rows.append({"category": category, "name": name,
                     "path": str((directory / "images" / name).resolve()),
                     "label": CATEGORIES.index(category) if category in CATEGORIES else -1})
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


class DTDTextures(Dataset):
    """DTD images as a torch ``Dataset``, e.g. the anomaly-source pool of DRAEM.

    Items: ``image`` (float32 3×H×W in [0, 1]), ``label`` (int64; see :func:`index`),
    ``category``, ``path``. ``resize``: an int (square; DRAEM resizes sources to the 256×256
    training size), (height, width) or None. ``transform`` acts on the image tensor.
    """

    def __init__(self, root: str | Path, resize: int | tuple[int, int] | None = 256,
                 split: str | None = None, fold: int = 1,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.root, self.resize, self.transform = Path(root), resize, transform
        self.index = index(root, split, fold)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, position: int) -> dict[str, Any]:
        row = self.index.iloc[position]
        with open_image(row.path, DATASET, self.root) as image:
            image = image.convert("RGB")
            if self.resize is not None:
                height, width = ((self.resize, self.resize) if isinstance(self.resize, int)
                                 else self.resize)
                image = image.resize((width, height), Image.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
        tensor = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)
        if self.transform is not None:
            tensor = self.transform(tensor)
        return {"image": tensor, "label": torch.tensor(row.label, dtype=torch.int64),
                "category": row.category, "path": row.path}
