"""UCSD Ped2 (Mahadevan et al., CVPR 2010; Li et al., TPAMI 2014): a pedestrian walkway seen from
above, 16 training and 12 test videos of 120-180 grayscale frames at 240×360.

Layout read: the official tarball ``UCSD_Anomaly_Dataset.tar.gz`` (folder
``UCSD_Anomaly_Dataset.v1p2``) as UCSD ships it::

    UCSD_Anomaly_Dataset.v1p2/
      UCSDped2/
        Train/Train001/001.tif ... Train016/
        Test/Test001/001.tif ... Test012/
        Test/Test001_gt/001.bmp ...          pixel masks (non-zero = abnormal), one per frame
        Test/UCSDped2.m                      frame-level ground truth

``UCSDped2.m`` lists one line per test video, in order::

    TestVideoFile{end+1}.gt_frame = [61:180];
    TestVideoFile{end+1}.gt_frame = [1:52, 65:115];

MATLAB ranges, 1-based and inclusive (``[61:180]`` = frames 60..179 0-based). The frame files are
numbered from 1 (``001.tif``); ``frame`` is the 0-based position. Video ids are the folder names
(``Train001``, ``Test001``); ``label`` is 1 abnormal, 0 normal, -1 for training frames. Frames
are 8-bit grayscale; :class:`~vadlib.data.video.ClipDataset` repeats them to 3 channels unless
``grayscale=True``. Hidden files of macOS archives (``._001.tif``) are ignored.

``root`` may be the ``UCSD_Anomaly_Dataset.v1p2`` folder or its ``UCSDped2`` sub-folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from vadlib.data.errors import DatasetError
from vadlib.data.files import open_image
from vadlib.data.video import (ClipDataset, attach_labels, check_root, index_from_frame_folders,
                               labels_from_intervals, numbered_files)

DATASET = "ucsd_ped2"
DIRECTORY = "UCSD_Anomaly_Dataset.v1p2"
SPLITS = ("train", "test")
GT_FILE = "UCSDped2.m"
_FOLDERS = {"train": "Train", "test": "Test"}
_VIDEO_NAME = {"train": re.compile(r"^Train\d+$"), "test": re.compile(r"^Test\d+$")}


def _base(root: str | Path) -> Path:
    root = check_root(root, DATASET)
    if (root / "UCSDped2").is_dir():
        return root / "UCSDped2"
    if (root / "Train").is_dir() or (root / "Test").is_dir():
        return root
    raise DatasetError(DATASET, root, "missing UCSDped2/ (with Train/ and Test/)")


def _videos(base: Path, split: str) -> list[str]:
    folder = base / _FOLDERS[split]
    if not folder.is_dir():
        raise DatasetError(DATASET, base.parent, f"missing UCSDped2/{_FOLDERS[split]}/")
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and _VIDEO_NAME[split].match(p.name))


def _frames(base: Path, split: str) -> pd.DataFrame:
    videos = _videos(base, split)
    if not videos:
        raise DatasetError(DATASET, base.parent, f"no {_FOLDERS[split]}NNN video folder in "
                           f"UCSDped2/{_FOLDERS[split]}/")
    return index_from_frame_folders(base / _FOLDERS[split], DATASET, base.parent,
                                    suffixes=(".tif", ".tiff"), first=1, videos=videos)


def parse_gt_m(text: str) -> list[list[tuple[int, int]]]:
    """Abnormal ranges per test video from the text of ``UCSDped{1,2}.m``.

    Every ``TestVideoFile{end+1}.gt_frame = [...]`` assignment (comments after ``%`` ignored) adds
    one video; the bracket holds comma- or space-separated ``a:b`` ranges or single frame numbers,
    1-based and inclusive. Returns ``(first, last)`` pairs per video, in file order.
    """
    videos = []
    pattern = re.compile(r"TestVideoFile\s*\{\s*end\s*\+\s*1\s*\}\s*\.\s*gt_frame\s*=\s*\[([^\]]*)\]")
    for line in text.splitlines():
        line = line.split("%", 1)[0]
        match = pattern.search(line)
        if not match:
            continue
        ranges = []
        for token in re.split(r"[,\s]+", match.group(1).strip()):
            if not token:
                continue
            bounds = token.split(":")
            if len(bounds) == 1:
                ranges.append((int(bounds[0]), int(bounds[0])))
            elif len(bounds) == 2:
                ranges.append((int(bounds[0]), int(bounds[1])))
            else:
                raise ValueError(f"cannot read the range {token!r} (only a:b ranges are supported)")
        videos.append(ranges)
    return videos


def _mask_files(base: Path, video: str) -> list[Path]:
    folder = base / "Test" / f"{video}_gt"
    if not folder.is_dir():
        raise DatasetError(DATASET, base.parent, f"no pixel masks for test video {video}: missing "
                           f"UCSDped2/Test/{video}_gt/")
    return numbered_files(folder, (".bmp",), DATASET, base.parent, first=1)


def _labels(base: Path, test_frames: pd.DataFrame) -> dict[str, np.ndarray]:
    counts = test_frames.groupby("video", sort=True).size()
    gt = base / "Test" / GT_FILE
    if gt.is_file():
        try:
            ranges = parse_gt_m(gt.read_text(errors="replace"))
        except ValueError as error:
            raise DatasetError(DATASET, base.parent, f"cannot read Test/{GT_FILE}: {error}") from None
        if len(ranges) != len(counts):
            raise DatasetError(DATASET, base.parent, f"Test/{GT_FILE} lists {len(ranges)} test "
                               f"videos but there are {len(counts)} test video folders")
        labels = {}
        for video, runs in zip(counts.index, ranges):
            try:
                labels[video] = labels_from_intervals(runs, int(counts[video]), one_based=True)
            except ValueError as error:
                raise DatasetError(DATASET, base.parent,
                                   f"Test/{GT_FILE}, video {video}: {error}") from None
        return labels
    labels = {}
    for video in counts.index:
        if not (base / "Test" / f"{video}_gt").is_dir():
            raise DatasetError(DATASET, base.parent, f"no frame-level ground truth for test video "
                               f"{video}: neither Test/{GT_FILE} nor Test/{video}_gt/")
        labels[video] = pixel_masks(base, video).any(axis=(1, 2)).astype(np.int8)
    return labels


def index(root: str | Path, split: str = "test") -> pd.DataFrame:
    """Frame index of ``split`` (columns ``video, frame, path, label, mask_path``).

    ``mask_path`` is the frame's ``TestNNN_gt/NNN.bmp`` for test frames (None when absent).
    Test labels come from ``UCSDped2.m`` when present, else from the pixel masks.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    base = _base(root)
    frames = _frames(base, split)
    if split == "train":
        frames["mask_path"] = None
        return frames
    frames = attach_labels(frames, _labels(base, frames), DATASET, base.parent)
    mask_paths = []
    for video, frame in zip(frames["video"], frames["frame"]):
        path = base / "Test" / f"{video}_gt" / f"{frame + 1:03d}.bmp"
        mask_paths.append(str(path) if path.is_file() else None)
    frames["mask_path"] = mask_paths
    return frames


def clips(root: str | Path, split: str = "test", length: int = 16, stride: int = 1,
          step: int | None = None, **kwargs) -> ClipDataset:
    """:class:`~vadlib.data.video.ClipDataset` over :func:`index`."""
    return ClipDataset(index(root, split), length, stride, step, dataset=DATASET, **kwargs)


def frame_labels(root: str | Path) -> dict[str, np.ndarray]:
    """Test video id → int8 0/1 label per frame (``UCSDped2.m``, else the pixel masks)."""
    base = _base(root)
    return _labels(base, _frames(base, "test"))


def pixel_masks(root: str | Path, video: str) -> np.ndarray:
    """``T×H×W`` bool pixel masks of test video ``video`` from ``Test/<video>_gt/*.bmp``."""
    base = _base(root)
    files = _mask_files(base, video)
    masks = []
    for path in files:
        with open_image(path, DATASET, base.parent) as mask:
            masks.append(np.asarray(mask.convert("L")) != 0)
    return np.stack(masks)
