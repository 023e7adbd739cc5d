"""CUHK Avenue (Lu, Shi & Jia, ICCV 2013): 16 training and 21 test videos at 360×640, 25 fps.

Two on-disk layouts are read; either one suffices (``layout="auto"`` prefers ``frames`` when
both are present, as in the synthetic twin):

``videos`` -- the official release ``Avenue_Dataset.zip`` as CUHK ships it::

    avenue/
      training_videos/01.avi ... 16.avi
      testing_videos/01.avi ... 21.avi
      ground_truth_demo/testing_label_mask/1_label.mat ... 21_label.mat

  ``<n>_label.mat`` holds ``volLabel``, a 1×T MATLAB cell array with one H×W mask per frame of
  test video ``n`` (non-zero = abnormal pixel).

``frames`` -- the layout of the future-frame-prediction code (FFP, StevenLiuWen/ano_pred_cvpr2018,
``Codes/evaluate.py``: ``avenue/testing/frames`` and ``avenue/avenue.mat``) that MNAD
(cvlab-yonsei/MNAD) and most later hosts read::

    avenue/
      training/frames/01/0000.jpg ...
      testing/frames/01/0000.jpg ...
      avenue.mat

  ``avenue.mat`` holds ``gt``, a 1×21 cell array; cell ``i`` (the ``i``-th test video in sorted
  order) is a 2×K array of abnormal intervals, row 0 the first and row 1 the last frame,
  1-based and inclusive (FFP: ``labels[start - 1:end] = 1``).

Definitions:
  * ``frame``: 0-based position of the frame in its video (frame file ``0000.jpg`` / the first
    decoded frame of ``01.avi`` is frame 0).
  * ``label``: 1 abnormal frame, 0 normal, -1 for training frames (no labels; all normal by
    construction of the dataset). Test labels come from ``avenue.mat`` when present, else from
    the pixel masks (a frame is abnormal iff its mask has a non-zero pixel).
  * pixel masks (:func:`pixel_masks`): from ``testing_label_mask``; the index's ``mask_path``
    names the ``.mat`` file of the video, whose ``volLabel[frame]`` is the frame's mask.

Video ids are the two-digit names (``"01"`` ... ``"21"``) in both layouts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vadlib.data.errors import DatasetError
from vadlib.data.files import reading
from vadlib.data.video import (ClipDataset, attach_labels, check_root, index_from_frame_folders,
                               index_from_video_files, labels_from_intervals)

DATASET = "avenue"
DIRECTORY = "avenue"
SPLITS = ("train", "test")
LAYOUTS = ("frames", "videos")
_FRAME_DIRS = {"train": "training/frames", "test": "testing/frames"}
_VIDEO_DIRS = {"train": "training_videos", "test": "testing_videos"}
GT_MAT = "avenue.mat"
MASK_DIR = "ground_truth_demo/testing_label_mask"


def _check_split(split: str):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def detect_layout(root: str | Path) -> str:
    """``"frames"`` if ``training/frames`` or ``testing/frames`` exists, else ``"videos"`` if
    ``training_videos`` or ``testing_videos`` exists; :class:`DatasetError` otherwise."""
    root = check_root(root, DATASET)
    if any((root / d).is_dir() for d in _FRAME_DIRS.values()):
        return "frames"
    if any((root / d).is_dir() for d in _VIDEO_DIRS.values()):
        return "videos"
    raise DatasetError(DATASET, root, "neither training/frames, testing/frames (frames layout) nor "
                       "training_videos, testing_videos (official videos layout) found")


def _layout(root: Path, layout: str) -> str:
    if layout == "auto":
        return detect_layout(root)
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'auto' or one of {LAYOUTS}, got {layout!r}")
    return layout


def mask_file(root: str | Path, video: str) -> Path:
    """``ground_truth_demo/testing_label_mask/<n>_label.mat`` of test video ``video`` (``"01"`` → 1)."""
    return Path(root) / MASK_DIR / f"{int(video)}_label.mat"


def _frames(root: Path, split: str, layout: str) -> pd.DataFrame:
    if layout == "frames":
        return index_from_frame_folders(root / _FRAME_DIRS[split], DATASET, root,
                                        suffixes=(".jpg", ".jpeg", ".png"), first=0)
    folder = root / _VIDEO_DIRS[split]
    if not folder.is_dir():
        raise DatasetError(DATASET, root, f"missing folder {_VIDEO_DIRS[split]}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".avi"
                   and not p.name.startswith("."))
    if not files:
        raise DatasetError(DATASET, root, f"no .avi video in {_VIDEO_DIRS[split]}")
    return index_from_video_files(files, DATASET, root)


def index(root: str | Path, split: str = "test", layout: str = "auto") -> pd.DataFrame:
    """Frame index of ``split`` (see :mod:`vadlib.data.video`), one row per frame.

    Columns ``video, frame, path, label, mask_path``; ``path`` is the JPEG (frames layout) or the
    AVI (videos layout); ``mask_path`` is the video's ``<n>_label.mat`` for test frames when it
    exists, else None. Raises :class:`DatasetError` for a missing root, split folder, a gap in the
    frame numbers, or test videos without ground truth.
    """
    _check_split(split)
    root = check_root(root, DATASET)
    layout = _layout(root, layout)
    frames = _frames(root, split, layout)
    if split == "test":
        frames = attach_labels(frames, _labels(root, frames), DATASET, root)
        masks = {video: mask_file(root, video) for video in frames["video"].unique()}
        frames["mask_path"] = [str(masks[v]) if masks[v].is_file() else None for v in frames["video"]]
    else:
        frames["mask_path"] = None
    return frames


def clips(root: str | Path, split: str = "test", length: int = 16, stride: int = 1,
          step: int | None = None, layout: str = "auto", **kwargs) -> ClipDataset:
    """:class:`~vadlib.data.video.ClipDataset` over :func:`index` (``resize``, ``transform``,
    ``grayscale`` are passed through)."""
    return ClipDataset(index(root, split, layout), length, stride, step, dataset=DATASET, **kwargs)


# --------------------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------------------


def _unwrap(cell):
    """MATLAB cells nest: loadmat gives object arrays of shape (1, 1) around the real array."""
    while isinstance(cell, np.ndarray) and cell.dtype == object and cell.size == 1:
        cell = cell.reshape(-1)[0]
    return cell


def parse_gt_intervals(gt) -> list[list[tuple[int, int]]]:
    """Abnormal intervals per test video from the ``gt`` variable of ``avenue.mat``.

    Accepts what :func:`scipy.io.loadmat` returns with or without ``squeeze_me``: an object array
    of shape (1, N), (N, 1) or (N,), each cell a 2×K array (K intervals), a K×2 array, a length-2
    vector (one interval, after squeezing) or an empty array. Returns 1-based inclusive
    ``(first, last)`` pairs.
    """
    if not isinstance(gt, np.ndarray) or gt.dtype != object or gt.ndim == 0:
        raise ValueError("gt must be a cell array (object array), one cell per test video")
    out = []
    for cell in gt.reshape(-1):
        array = np.asarray(_unwrap(cell), dtype=np.float64)
        if array.size == 0:
            out.append([])
            continue
        if array.ndim == 1:
            if array.size != 2:
                raise ValueError(f"an interval cell with {array.size} values (expected 2×K)")
            array = array.reshape(2, 1)
        elif array.shape[0] != 2 and array.shape[1] == 2:
            array = array.T
        if array.ndim != 2 or array.shape[0] != 2:
            raise ValueError(f"an interval cell of shape {array.shape} (expected 2×K)")
        if (array != np.round(array)).any():
            raise ValueError("interval bounds must be whole frame numbers")
        out.append([(int(a), int(b)) for a, b in array.T])
    return out


def read_gt_mat(path: str | Path) -> list[list[tuple[int, int]]]:
    """Intervals per test video from an ``avenue.mat`` file (see :func:`parse_gt_intervals`)."""
    from scipy.io import loadmat
    data = loadmat(str(path))
    if "gt" not in data:
        raise KeyError(f"{path} has no variable 'gt' (variables: {sorted(k for k in data if not k.startswith('__'))})")
    return parse_gt_intervals(data["gt"])


def read_label_mask(path: str | Path) -> np.ndarray:
    """Pixel masks ``T×H×W`` bool from a ``<n>_label.mat`` (``volLabel``: 1×T cell of H×W)."""
    from scipy.io import loadmat
    data = loadmat(str(path))
    if "volLabel" not in data:
        raise KeyError(f"{path} has no variable 'volLabel'")
    vol = data["volLabel"]
    if vol.dtype == object:
        frames = [np.asarray(_unwrap(cell)) for cell in vol.reshape(-1)]
        return np.stack(frames).astype(bool)
    if vol.ndim == 3:  # a numeric H×W×T array
        return np.moveaxis(vol, -1, 0).astype(bool)
    raise ValueError(f"{path}: volLabel of shape {vol.shape} is neither a cell array nor H×W×T")


def _labels(root: Path, test_frames: pd.DataFrame) -> dict[str, np.ndarray]:
    counts = test_frames.groupby("video", sort=True).size()
    videos = list(counts.index)
    gt_path = root / GT_MAT
    if gt_path.is_file():
        intervals = _read_mat(read_gt_mat, gt_path, root, "ground-truth file")
        if len(intervals) != len(videos):
            raise DatasetError(DATASET, root, f"{GT_MAT} has {len(intervals)} cells but there are "
                               f"{len(videos)} test videos")
        labels = {}
        for video, runs in zip(videos, intervals):
            try:
                labels[video] = labels_from_intervals(runs, int(counts[video]), one_based=True)
            except ValueError as error:
                raise DatasetError(DATASET, root, f"{GT_MAT}, test video {video}: {error}") from None
        return labels
    labels = {}
    for video in videos:
        path = mask_file(root, video)
        if not path.is_file():
            raise DatasetError(DATASET, root, f"no frame-level ground truth for test video {video}: "
                               f"neither {GT_MAT} nor {MASK_DIR}/{path.name}")
        masks = _read_mat(read_label_mask, path, root, "pixel-mask file")
        labels[video] = masks.any(axis=(1, 2)).astype(np.int8)
    return labels


def frame_labels(root: str | Path, layout: str = "auto") -> dict[str, np.ndarray]:
    """Test video id → int8 0/1 label per frame (``avenue.mat`` when present, else pixel masks)."""
    root = check_root(root, DATASET)
    return _labels(root, _frames(root, "test", _layout(root, layout)))


def pixel_masks(root: str | Path, video: str) -> np.ndarray:
    """``T×H×W`` bool pixel masks of test video ``video`` from its ``<n>_label.mat``."""
    root = check_root(root, DATASET)
    path = mask_file(root, video)
    if not path.is_file():
        raise DatasetError(DATASET, root, f"no pixel masks for test video {video}: missing "
                           f"{MASK_DIR}/{path.name}")
    return _read_mat(read_label_mask, path, root, "pixel-mask file")


def _read_mat(reader, path: Path, root: Path, what: str):
    """``reader(path)`` for a MATLAB file; a damaged file or a missing variable raises
    :class:`~vadlib.data.errors.DatasetFileError` naming the file (scipy raises ``IndexError`` for
    a file shorter than its header)."""
    from scipy.io.matlab import MatReadError
    with reading(DATASET, root, path, what, errors=(KeyError, IndexError, MatReadError)):
        return reader(path)
