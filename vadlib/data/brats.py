"""BraTS (Menze et al., IEEE TMI 2015): multimodal brain MRI with tumour segmentations, used by
Papers C and D as an anomaly-detection set ("we consider tumors as anomalies").

Layout read: the BraTS challenge releases as the organisers ship them, one folder per subject
holding the four co-registered, skull-stripped modalities and the segmentation. The BraTS 2021
release (RSNA-ASNR-MICCAI BraTS 2021 training data; Baid et al., arXiv:2107.02314) is the default::

    brats/
      BraTS2021_00000/
        BraTS2021_00000_flair.nii.gz   T2 fluid-attenuated inversion recovery
        BraTS2021_00000_t1.nii.gz      native T1
        BraTS2021_00000_t1ce.nii.gz    contrast-enhanced T1
        BraTS2021_00000_t2.nii.gz      T2
        BraTS2021_00000_seg.nii.gz     0 background, 1 necrotic core, 2 oedema, 4 enhancing tumour
      BraTS2021_00002/ ...

The BraTS 2020 layout (``MICCAI_BraTS2020_TrainingData/BraTS20_Training_001/
BraTS20_Training_001_flair.nii``, uncompressed) is read as well; subject folders may sit directly
under the root or one folder below it (the archives unpack into one top folder). One known quirk
of the 2020 release is handled: subject 355's segmentation is named ``W39_1998.09.19_Segm.nii``.
Every volume is 240×240×155 voxels, 1 mm isotropic, in the SRI24 atlas space; the axial axis is the
third array axis.

What the thesis states (Paper D §5.1, :data:`THESIS_SPLIT`): an anomaly-detection split by the
authors, 11,280 lesion-free training slices from 125 scans and 27,745 test slices from 180 scans.
It leaves open the BraTS year, the modality, the slice axis and the slice selection, and the split
files are not public, so BRATS numbers are **not reproducible without the authors' split**. Our
choices:

* BraTS 2021 layout (the largest release; "19 institutions" matches the later challenge papers),
  the 2020 layout accepted too;
* **FLAIR, axial slices**: FLAIR shows the whole tumour including the oedema as hyperintense on a
  suppressed-fluid background, and it is the usual modality of unsupervised brain-MRI anomaly
  detection (e.g. Baur et al., "Autoencoders for unsupervised anomaly segmentation in brain MR
  images", 2021); axial is the acquisition plane of most BraTS scans. Other modalities can be asked
  for by name;
* :func:`thesis_split` (our interpretation): the scans are shuffled with a seed and split 125 / 180
  (scaled down proportionally when fewer scans are present); **training** = lesion-free slices
  with brain content from the training scans (every BraTS subject has a tumour, so lesion-free
  *slices* must come from tumour-bearing scans), **test** = every slice with brain content from the
  test scans. A slice has brain content when at least ``min_brain_fraction`` of its pixels are
  nonzero (skull-stripped volumes are 0 outside the brain).
  Arithmetic worth knowing: 27,745 = 179 × 155, i.e. the thesis's test set has exactly the size of
  179 *complete* scans (all 155 axial slices, empty ones included), while 11,280 / 125 ≈ 90 slices
  per training scan. ``thesis_split(..., min_brain_fraction=0.0)`` keeps every slice and so
  reproduces that reading.

Definitions:
  * ``has_lesion``: the slice has at least one voxel with segmentation label > 0 (any of 1, 2, 4);
    ``label`` = int(has_lesion) is the image-level truth of the detection AUROC.
  * ``mask``: seg > 0 on the slice (the pixel truth of localisation: the whole tumour).
  * ``brain_fraction``: the fraction of the slice's pixels whose intensity (in the indexed
    modality) is nonzero.
  * Intensity normalisation (per scan and modality): divide by the 99th percentile of the scan's
    brain (nonzero) voxels and clip to [0, 1]; robust to the few very bright voxels of MRI and
    comparable across scanners and institutions.
  * Slice orientation: a slice is ``volume[:, :, k]`` as stored, rows = first array axis, columns
    = second; no flips or transposes are applied (the same for image and mask).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from vadlib.data.errors import DatasetError, directory_error
from vadlib.data.files import reading

try:  # the tables work without torch; the Dataset classes need it
    from torch.utils.data import Dataset
except ImportError:  # pragma: no cover
    Dataset = object

DATASET = "brats"
MODALITIES = ("flair", "t1", "t1ce", "t2")
SEG = "seg"
NIFTI_SUFFIXES = (".nii.gz", ".nii")
SEG_LABELS = {1: "necrotic / non-enhancing tumour core", 2: "peritumoral oedema", 4: "enhancing tumour"}
THESIS_SPLIT = {
    "train_scans": 125, "train_slices": 11_280, "test_scans": 180, "test_slices": 27_745,
    "total_scans": 305, "total_slices": 39_025,
    "source": "Paper D §5.1 (thesis T 2556-2582); year, modality, axis, selection not stated",
}
DEFAULT_MIN_BRAIN_FRACTION = 0.01
SCAN_COLUMNS = ("scan", "folder", *MODALITIES, SEG, "shape")
SLICE_COLUMNS = ("scan", "slice", "has_lesion", "label", "lesion_pixels", "brain_fraction",
                 "modality", "path", "seg_path")
CHUNK_COLUMNS = ("scan", "start", "stop", "has_lesion", "label", "modality", "path", "seg_path")
_SUBJECT = re.compile(r"^BraTS(?:20\d\d|\d\d)_")


# ------------------------------------------------------------------------------------ scans

def scans(root: str | Path) -> pd.DataFrame:
    """One row per subject folder: ``scan`` (folder name, e.g. BraTS2021_00000), ``folder``
    (absolute path), one absolute file path per modality (``flair``, ``t1``, ``t1ce``, ``t2``) and
    ``seg``, and ``shape`` (the FLAIR volume's shape from its header; no voxel data is read).

    Raises :class:`DatasetError` for a missing root, a root without subject folders, or a subject
    missing a modality or its segmentation.
    """
    import nibabel as nib

    root = _check_root(root)
    rows = []
    for folder in _subject_folders(root):
        row: dict[str, Any] = {"scan": folder.name, "folder": str(folder.resolve())}
        for kind in (*MODALITIES, SEG):
            path = _volume_path(folder, kind)
            if path is None:
                raise DatasetError(DATASET, root, f"no {kind} volume {folder.name}/{folder.name}_{kind}"
                                   f".nii.gz (or .nii) in subject {folder.name}")
            row[kind] = str(path.resolve())
        with _reading_volume(row["flair"], root):
            row["shape"] = tuple(int(n) for n in nib.load(row["flair"]).shape)
        rows.append(row)
    if not rows:
        raise DatasetError(DATASET, root, "no subject folder (e.g. BraTS2021_00000/ holding "
                           "BraTS2021_00000_flair.nii.gz) under the root or one folder below it")
    return pd.DataFrame(rows, columns=list(SCAN_COLUMNS)).sort_values("scan", ignore_index=True)


def _check_root(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise directory_error(DATASET, root, f"no dataset directory at {root}")
    return root


def _reading_volume(path: str | Path, root: str | Path | None = None):
    """Context in which a truncated or corrupt NIfTI file (gzip ``EOFError``, nibabel's
    ``ImageFileError``) raises :class:`~vadlib.data.errors.DatasetFileError` naming it."""
    from nibabel.filebasedimages import ImageFileError
    return reading(DATASET, root, path, "NIfTI volume", errors=(ImageFileError,))


def _is_subject(folder: Path) -> bool:
    """A subject folder is named like BraTS2021_00000 / BraTS20_Training_001, or holds NIfTI
    files named after itself."""
    if not folder.is_dir():
        return False
    if _SUBJECT.match(folder.name):
        return True
    return any(entry.name.startswith(f"{folder.name}_") and entry.name.endswith(NIFTI_SUFFIXES)
               for entry in folder.iterdir())


def _subject_folders(root: Path) -> list[Path]:
    found = [entry for entry in sorted(root.iterdir()) if _is_subject(entry)]
    if not found:  # the archives unpack into one top folder (e.g. MICCAI_BraTS2020_TrainingData/)
        for parent in sorted(entry for entry in root.iterdir() if entry.is_dir()):
            found.extend(entry for entry in sorted(parent.iterdir()) if _is_subject(entry))
    return found


def _volume_path(folder: Path, kind: str) -> Path | None:
    for suffix in NIFTI_SUFFIXES:
        candidate = folder / f"{folder.name}_{kind}{suffix}"
        if candidate.is_file():
            return candidate
    if kind == SEG:  # BraTS 2020 subject 355 ships W39_1998.09.19_Segm.nii
        others = sorted(p for p in folder.iterdir() if p.name.lower().endswith(NIFTI_SUFFIXES)
                        and "seg" in p.name.lower() and p.name.lower().startswith("w"))
        if len(others) == 1:
            return others[0]
    return None


def split_scans(scan_ids: Iterable[str], n_train: int = THESIS_SPLIT["train_scans"],
                n_test: int = THESIS_SPLIT["test_scans"], seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic random split of scan ids into (train, test), each sorted.

    The ids are sorted, permuted with ``numpy.random.default_rng(seed)``, the first ``n_train``
    go to training and the next ``n_test`` to test. With fewer than ``n_train + n_test`` scans both
    counts are scaled down proportionally (train = round(N · n_train / (n_train + n_test)), at
    least one scan on each side); with more, the surplus scans are left out.
    """
    ids = sorted(set(scan_ids))
    if len(ids) < 2:
        raise ValueError(f"need at least 2 scans to split, got {len(ids)}")
    if len(ids) < n_train + n_test:
        n_train = int(round(len(ids) * n_train / (n_train + n_test)))
        n_train = min(max(n_train, 1), len(ids) - 1)
        n_test = len(ids) - n_train
    order = np.random.default_rng(seed).permutation(len(ids))
    shuffled = [ids[i] for i in order]
    return sorted(shuffled[:n_train]), sorted(shuffled[n_train:n_train + n_test])


# ----------------------------------------------------------------------------------- slices

def axial_axis(image) -> int:
    """The array axis of a nibabel image that runs inferior-superior (2 for every BraTS volume)."""
    import nibabel as nib
    codes = nib.aff2axcodes(image.affine)
    for axis, code in enumerate(codes):
        if code in ("S", "I"):
            return axis
    return 2


def slice_index(root: str | Path, scans_table: pd.DataFrame | Sequence[str] | None = None,
                modality: str = "flair",
                min_brain_fraction: float = DEFAULT_MIN_BRAIN_FRACTION) -> pd.DataFrame:
    """One row per axial slice with brain content of the given scans.

    ``scans_table``: a :func:`scans` table, a list of scan ids, or None for every scan. Reads one
    scan at a time (the modality volume and the segmentation), never all at once. Columns:
    ``scan``, ``slice`` (0-based index on the axial axis), ``has_lesion``, ``label``
    (int(has_lesion)), ``lesion_pixels``, ``brain_fraction``, ``modality``, ``path`` (the modality
    volume), ``seg_path``. Slices with ``brain_fraction < min_brain_fraction`` are dropped
    (``0.0`` keeps every slice).
    """
    import nibabel as nib

    _check_modality(modality)
    table = _scans_table(root, scans_table)
    rows = []
    for scan in _progress(table.itertuples(index=False), len(table), "BraTS slices"):
        image_path = getattr(scan, modality)
        with _reading_volume(image_path, root):
            image = nib.load(image_path)
        with _reading_volume(scan.seg, root):
            seg = nib.load(scan.seg)
        if image.shape != seg.shape:
            raise DatasetError(DATASET, root, f"{scan.scan}: {modality} volume is {image.shape} but "
                               f"its segmentation is {seg.shape}")
        axis = axial_axis(image)
        with _reading_volume(image_path, root):
            volume = np.moveaxis(np.asanyarray(image.dataobj), axis, 0)
        with _reading_volume(scan.seg, root):
            labels = np.moveaxis(np.asanyarray(seg.dataobj), axis, 0)
        brain = (volume != 0).reshape(volume.shape[0], -1).mean(axis=1)
        lesion = (labels > 0).reshape(labels.shape[0], -1).sum(axis=1)
        for k in range(volume.shape[0]):
            if brain[k] < min_brain_fraction:
                continue
            rows.append({"scan": scan.scan, "slice": k, "has_lesion": bool(lesion[k] > 0),
                         "label": int(lesion[k] > 0), "lesion_pixels": int(lesion[k]),
                         "brain_fraction": float(brain[k]), "modality": modality,
                         "path": getattr(scan, modality), "seg_path": scan.seg})
    if not rows:
        raise DatasetError(DATASET, root, f"no axial slice with brain_fraction ≥ {min_brain_fraction}"
                           f" in the {len(table)} scans asked for")
    return pd.DataFrame(rows, columns=list(SLICE_COLUMNS))


def thesis_split(root: str | Path, seed: int = 0, modality: str = "flair",
                 min_brain_fraction: float = DEFAULT_MIN_BRAIN_FRACTION,
                 n_train: int = THESIS_SPLIT["train_scans"],
                 n_test: int = THESIS_SPLIT["test_scans"]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Our reconstruction of Paper D's BRATS split: (train_slices, test_slices).

    Scans are split with :func:`split_scans` (125 / 180, scaled down when fewer exist); training =
    the lesion-free slices with brain content of the training scans; test = every slice with brain
    content of the test scans (lesion and lesion-free). See the module docstring for why this is
    an interpretation.
    """
    table = scans(root)
    train_ids, test_ids = split_scans(table["scan"], n_train=n_train, n_test=n_test, seed=seed)
    train = slice_index(root, table[table["scan"].isin(train_ids)], modality, min_brain_fraction)
    train = train[~train["has_lesion"]].reset_index(drop=True)
    if train.empty:
        raise DatasetError(DATASET, root, f"the training scans {', '.join(train_ids)} have no "
                           "lesion-free slice with brain content")
    test = slice_index(root, table[table["scan"].isin(test_ids)], modality, min_brain_fraction)
    return train, test


def volume_index(root: str | Path, scans_table: pd.DataFrame | Sequence[str] | None = None,
                 depth: int | None = 16, stride: int | None = None,
                 modality: str = "flair") -> pd.DataFrame:
    """Depth chunks of whole volumes for 3D models (3D DRAEM): one row per chunk.

    A chunk is ``depth`` consecutive axial slices ``[start, stop)``; chunks start every ``stride``
    slices (default: ``depth``, i.e. non-overlapping) and a last chunk ending at the final slice is
    added so every slice is covered. ``depth=None`` gives one chunk per whole volume.
    ``has_lesion`` / ``label``: the chunk holds a tumour voxel (reads the segmentation, one scan
    at a time). Training chunks for an anomaly detector are those with ``has_lesion == False`` of
    the training scans.
    """
    import nibabel as nib

    _check_modality(modality)
    table = _scans_table(root, scans_table)
    rows = []
    for scan in _progress(table.itertuples(index=False), len(table), "BraTS volumes"):
        with _reading_volume(scan.seg, root):
            seg = nib.load(scan.seg)
            labels = np.moveaxis(np.asanyarray(seg.dataobj), axial_axis(seg), 0)
        n = labels.shape[0]
        size = n if depth is None else depth
        if size > n:
            raise ValueError(f"depth {size} exceeds the {n} axial slices of {scan.scan}")
        step = stride or size
        starts = list(range(0, n - size + 1, step))
        if starts[-1] != n - size:
            starts.append(n - size)
        lesion = (labels > 0).reshape(n, -1).any(axis=1)
        for start in starts:
            has = bool(lesion[start:start + size].any())
            rows.append({"scan": scan.scan, "start": start, "stop": start + size, "has_lesion": has,
                         "label": int(has), "modality": modality, "path": getattr(scan, modality),
                         "seg_path": scan.seg})
    return pd.DataFrame(rows, columns=list(CHUNK_COLUMNS))


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")


def _scans_table(root, scans_table) -> pd.DataFrame:
    if isinstance(scans_table, pd.DataFrame):
        return scans_table
    table = scans(root)
    if scans_table is None:
        return table
    wanted = list(scans_table)
    missing = sorted(set(wanted) - set(table["scan"]))
    if missing:
        raise DatasetError(DATASET, root, f"no subject folder for scan(s) {', '.join(missing[:5])}")
    return table[table["scan"].isin(wanted)].reset_index(drop=True)


def _progress(iterable, total: int, description: str):
    if total < 20:  # a few scans read in well under the couple of seconds worth a bar
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=description)


# ------------------------------------------------------------------------- reading volumes

def scan_scale(path: str | Path, percentile: float = 99.0) -> float:
    """The normalisation constant of one volume: the ``percentile`` of its nonzero voxels (1.0 for
    an all-zero volume)."""
    import nibabel as nib
    with _reading_volume(path):
        data = np.asanyarray(nib.load(str(path)).dataobj)
    brain = data[data != 0]
    if brain.size == 0:
        return 1.0
    value = float(np.percentile(brain.astype(np.float64), percentile))
    return value if value > 0 else 1.0


def read_axial(path: str | Path, start: int, stop: int | None = None) -> np.ndarray:
    """Axial slices ``[start, stop)`` of a volume as a float32 (D, dim0, dim1) array (one slice
    when ``stop`` is None, as a 2D array); reads only those slices through nibabel's array proxy."""
    import nibabel as nib
    with _reading_volume(path):
        image = nib.load(str(path))
        axis = axial_axis(image)
        index: list[Any] = [slice(None)] * 3
        index[axis] = start if stop is None else slice(start, stop)
        data = np.asarray(image.dataobj[tuple(index)], dtype=np.float32)
    if stop is None:
        return data
    return np.moveaxis(data, axis, 0)


def _size(resize: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if resize is None:
        return None
    if isinstance(resize, int):
        return resize, resize
    return tuple(resize)


class _ScaledVolumes:
    """Per-scan normalisation constants, computed once per (scan file) and cached."""

    def __init__(self):
        self._scales: dict[str, float] = {}

    def scale(self, path: str) -> float:
        if path not in self._scales:
            self._scales[path] = scan_scale(path)
        return self._scales[path]


class BraTSSlices(Dataset):
    """Axial slices as a torch ``Dataset``, one item per row of a slice table.

    ``slices``: a table from :func:`slice_index` or :func:`thesis_split` (columns ``scan``,
    ``slice``, ``label``, ``seg_path`` and, when ``modality`` is the table's, ``path``).
    Each item: ``image`` float32 1×H×W in [0, 1] (the scan's 99th-percentile normalisation),
    ``mask`` uint8 H×W (seg > 0), ``label`` int64, ``scan``, ``slice``. ``resize``: an int (square)
    or (height, width); bilinear for the image, nearest for the mask. ``transform`` receives and
    returns the item dict.
    """

    def __init__(self, root: str | Path, slices: pd.DataFrame, modality: str = "flair",
                 resize: int | tuple[int, int] | None = None,
                 transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        _check_modality(modality)
        if len(slices) == 0:
            raise DatasetError(DATASET, root, "the slice table is empty")
        self.root, self.modality, self.resize, self.transform = Path(root), modality, resize, transform
        self.slices = slices.reset_index(drop=True)
        self._paths = _paths_for(root, self.slices, modality)
        self._volumes = _ScaledVolumes()

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, position: int) -> dict[str, Any]:
        import torch
        row = self.slices.iloc[position]
        path = self._paths[row["scan"]]
        image = read_axial(path, int(row["slice"])) / self._volumes.scale(path)
        mask = read_axial(row["seg_path"], int(row["slice"])) > 0
        image_t = torch.from_numpy(np.clip(image, 0.0, 1.0).astype(np.float32))[None]
        mask_t = torch.from_numpy(mask.astype(np.uint8))
        image_t, mask_t = _resize(image_t, mask_t, self.resize)
        item = {"image": image_t, "mask": mask_t[0] if mask_t.dim() == 3 else mask_t,
                "label": torch.tensor(int(row["label"]), dtype=torch.int64),
                "scan": row["scan"], "slice": int(row["slice"])}
        return self.transform(item) if self.transform else item


class BraTSVolumes(Dataset):
    """Depth chunks of volumes as a torch ``Dataset`` (3D DRAEM), one item per row of
    :func:`volume_index`.

    Each item: ``volume`` float32 1×D×H×W in [0, 1] (per-scan 99th-percentile normalisation),
    ``mask`` uint8 D×H×W (seg > 0), ``label`` int64 (the chunk holds tumour), ``scan``,
    ``start``. ``resize`` resizes every slice in-plane (trilinear / nearest, depth kept).
    """

    def __init__(self, root: str | Path, chunks: pd.DataFrame, modality: str = "flair",
                 resize: int | tuple[int, int] | None = None,
                 transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None):
        _check_modality(modality)
        if len(chunks) == 0:
            raise DatasetError(DATASET, root, "the chunk table is empty")
        self.root, self.modality, self.resize, self.transform = Path(root), modality, resize, transform
        self.chunks = chunks.reset_index(drop=True)
        self._paths = _paths_for(root, self.chunks, modality)
        self._volumes = _ScaledVolumes()

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, position: int) -> dict[str, Any]:
        import torch
        row = self.chunks.iloc[position]
        path = self._paths[row["scan"]]
        start, stop = int(row["start"]), int(row["stop"])
        volume = read_axial(path, start, stop) / self._volumes.scale(path)
        mask = read_axial(row["seg_path"], start, stop) > 0
        volume_t = torch.from_numpy(np.clip(volume, 0.0, 1.0).astype(np.float32))
        mask_t = torch.from_numpy(mask.astype(np.uint8))
        volume_t, mask_t = _resize(volume_t, mask_t, self.resize)
        item = {"volume": volume_t[None], "mask": mask_t,
                "label": torch.tensor(int(row["label"]), dtype=torch.int64),
                "scan": row["scan"], "start": start}
        return self.transform(item) if self.transform else item


def _paths_for(root, table: pd.DataFrame, modality: str) -> dict[str, str]:
    """scan → volume path of ``modality``: from the table when it was built for that modality,
    else from the subject folders."""
    if {"path", "modality"} <= set(table.columns) and (table["modality"] == modality).all():
        return dict(zip(table["scan"], table["path"]))
    full = scans(root)
    return dict(zip(full["scan"], full[modality]))


def _resize(image, mask, resize):
    """Resize C×H×W (or D×H×W) image and mask in-plane: bilinear image, nearest mask."""
    size = _size(resize)
    if size is None or tuple(image.shape[-2:]) == size:
        return image, mask
    import torch.nn.functional as F
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    mask = mask if mask.dim() == 3 else mask[None]
    mask = F.interpolate(mask[None].float(), size=size, mode="nearest")[0].to(mask.dtype)
    return image, mask
