"""ShanghaiTech Campus (Luo, Liu & Gao, ICCV 2017): 13 camera scenes, 330 training videos (normal
only) and 107 test videos at 480×856.

Layout read: the release as distributed with the future-frame-prediction code (FFP,
StevenLiuWen/ano_pred_cvpr2018 ``Codes/evaluate.py`` reads
``shanghaitech/testing/test_frame_mask``), which is what MNAD and later hosts read::

    shanghaitech/
      training/videos/01_001.avi ...          training videos (official)
      training/frames/01_001/000.jpg ...      or training frames extracted from them
      testing/frames/01_0014/000.jpg ...      test videos as frame folders
      testing/test_frame_mask/01_0014.npy     per-frame 0/1 labels (length = frames of the video)
      testing/test_pixel_mask/01_0014.npy     T×H×W pixel masks (non-zero = abnormal)

Video ids are ``<scene>_<clip>`` (``01_001`` training, ``01_0014`` test). Frame files are numbered
from 0 (``000.jpg``); ``frame`` is the 0-based position, ``label`` is 1 abnormal, 0 normal, -1 for
training frames. For training, ``training/frames`` is used when present (``train_source="auto"``),
else the videos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vadlib.data.errors import DatasetError
from vadlib.data.files import load_npy
from vadlib.data.video import (ClipDataset, attach_labels, check_root, index_from_frame_folders,
                               index_from_video_files)

DATASET = "shanghaitech"
DIRECTORY = "shanghaitech"
SPLITS = ("train", "test")
FRAME_MASK_DIR = "testing/test_frame_mask"
PIXEL_MASK_DIR = "testing/test_pixel_mask"
_SUFFIXES = (".jpg", ".jpeg", ".png")


def _train_frames(root: Path, train_source: str) -> pd.DataFrame:
    frames_dir, videos_dir = root / "training" / "frames", root / "training" / "videos"
    if train_source not in ("auto", "frames", "videos"):
        raise ValueError(f"train_source must be 'auto', 'frames' or 'videos', got {train_source!r}")
    if train_source == "frames" or (train_source == "auto" and frames_dir.is_dir()):
        return index_from_frame_folders(frames_dir, DATASET, root, suffixes=_SUFFIXES, first=0)
    if not videos_dir.is_dir():
        raise DatasetError(DATASET, root, "missing training/videos (and training/frames)")
    files = sorted(p for p in videos_dir.iterdir()
                   if p.suffix.lower() == ".avi" and not p.name.startswith("."))
    if not files:
        raise DatasetError(DATASET, root, "no .avi video in training/videos")
    return index_from_video_files(files, DATASET, root)


def _test_frames(root: Path) -> pd.DataFrame:
    return index_from_frame_folders(root / "testing" / "frames", DATASET, root, suffixes=_SUFFIXES,
                                    first=0)


def index(root: str | Path, split: str = "test", train_source: str = "auto") -> pd.DataFrame:
    """Frame index of ``split`` (columns ``video, frame, path, label, mask_path``).

    ``mask_path`` is the video's ``test_pixel_mask/<video>.npy`` (frame ``k`` is its ``[k]``)
    when it exists, else None. Raises :class:`DatasetError` for a missing root or folder, a gap in
    the frame numbers, a missing ``test_frame_mask`` file or one whose length differs from the
    video's frame count.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = check_root(root, DATASET)
    if split == "train":
        frames = _train_frames(root, train_source)
        frames["mask_path"] = None
        return frames
    frames = _test_frames(root)
    frames = attach_labels(frames, _labels(root, frames), DATASET, root)
    masks = {v: root / PIXEL_MASK_DIR / f"{v}.npy" for v in frames["video"].unique()}
    frames["mask_path"] = [str(masks[v]) if masks[v].is_file() else None for v in frames["video"]]
    return frames


def clips(root: str | Path, split: str = "test", length: int = 16, stride: int = 1,
          step: int | None = None, train_source: str = "auto", **kwargs) -> ClipDataset:
    """:class:`~vadlib.data.video.ClipDataset` over :func:`index`."""
    return ClipDataset(index(root, split, train_source), length, stride, step, dataset=DATASET,
                       **kwargs)


def _labels(root: Path, test_frames: pd.DataFrame) -> dict[str, np.ndarray]:
    labels = {}
    for video in sorted(test_frames["video"].unique()):
        path = root / FRAME_MASK_DIR / f"{video}.npy"
        if not path.is_file():
            raise DatasetError(DATASET, root, f"no frame-level ground truth for test video {video}: "
                               f"missing {FRAME_MASK_DIR}/{video}.npy")
        array = load_npy(path, DATASET, root, "frame-level ground-truth file").ravel()
        if array.size and not np.isin(array, (0, 1)).all():
            raise DatasetError(DATASET, root, f"{FRAME_MASK_DIR}/{video}.npy holds values other "
                               "than 0 and 1")
        labels[video] = array.astype(np.int8)
    return labels


def frame_labels(root: str | Path) -> dict[str, np.ndarray]:
    """Test video id → int8 0/1 label per frame, from ``testing/test_frame_mask/<video>.npy``
    (checked against the video's frame count)."""
    root = check_root(root, DATASET)
    frames = _test_frames(root)
    labels = _labels(root, frames)
    attach_labels(frames, labels, DATASET, root)  # length check
    return labels


def pixel_masks(root: str | Path, video: str) -> np.ndarray:
    """``T×H×W`` bool pixel masks of test video ``video`` from ``test_pixel_mask/<video>.npy``."""
    root = check_root(root, DATASET)
    path = root / PIXEL_MASK_DIR / f"{video}.npy"
    if not path.is_file():
        raise DatasetError(DATASET, root, f"no pixel masks for test video {video}: missing "
                           f"{PIXEL_MASK_DIR}/{video}.npy")
    masks = load_npy(path, DATASET, root, "pixel-mask file")
    if masks.ndim != 3:
        raise DatasetError(DATASET, root, f"{PIXEL_MASK_DIR}/{video}.npy has shape {masks.shape}, "
                           "expected T×H×W")
    return masks != 0
