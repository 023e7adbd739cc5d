"""Generic video loading: a *frame index* → clips of consecutive frames.

Every frame-level video anomaly dataset (Avenue, ShanghaiTech, UCSD Ped2, the thermal sets) is
first turned into a **frame index**, a :class:`pandas.DataFrame` with one row per frame:

==============  ==================================================================================
column          meaning
==============  ==================================================================================
``video``       str, the video id (e.g. ``"01"``, ``"01_0014"``, ``"Test001"``)
``frame``       int, 0-based frame number inside the video
``path``        str, the file holding the frame: an image file (one file per frame) *or* a video
                file (every row of the video then names the same file; ``frame`` is the position
                of the frame in the decoded stream)
``label``       int, 1 abnormal frame, 0 normal frame, -1 unknown (training frames, unlabelled)
``mask_path``   optional str or None, where the pixel mask of the frame is stored (dataset-specific)
==============  ==================================================================================

:class:`ClipDataset` cuts such an index into clips of ``length`` frames, ``stride`` frames apart,
one window starting every ``step`` frames, never crossing a video boundary.

Decoder choice. Frames stored inside a video file are decoded with OpenCV's
:class:`cv2.VideoCapture`: the ``opencv-python`` wheel bundles its own FFmpeg build
(``cv2.getBuildInformation()`` lists ``FFMPEG: YES`` with avcodec/avformat), so it decodes AVI/MP4
on CPU without system libraries, and seeking by frame number (``CAP_PROP_POS_FRAMES``) is exact for
intra-only codecs such as the MJPEG of our twins. The alternative, torchvision's video API, is not
usable: in the installed torchvision 0.29.1 ``torchvision.io`` exposes only image functions
(``decode_jpeg``, ``read_image``, ``encode_png``, ...) -- ``read_video``, ``read_video_timestamps``
and ``VideoReader`` are gone (checked with ``dir(torchvision.io)``), having been deprecated in
favour of TorchCodec, an extra package that needs a system FFmpeg. A clip is read by seeking once to its first frame and then
reading sequentially (frames between ``stride``-spaced frames are grabbed, not decoded).

Image frames (JPEG/PNG/TIFF/BMP) are decoded with OpenCV (faster than PIL for JPEG) through
:func:`vadlib.data.files.decode_image`, which refuses a truncated JPEG that OpenCV alone would
decode into a partly grey frame.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from vadlib.data.errors import DatasetError, DatasetFileError, directory_error
from vadlib.data.files import decode_image

FRAME_INDEX_COLUMNS = ("video", "frame", "path", "label")
"""Required columns of a frame index (``mask_path`` is optional)."""
VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mov", ".mkv", ".mpg", ".mpeg", ".webm", ".m4v"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})
LABEL_ABNORMAL, LABEL_NORMAL, LABEL_UNKNOWN = 1, 0, -1


def _cv2():
    import cv2
    return cv2


def is_video_file(path: str | Path) -> bool:
    """Whether ``path`` names a video container (by suffix) rather than an image."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def read_image(path: str | Path, grayscale: bool = False, *, dataset: str = "image",
               root: str | Path | None = None) -> np.ndarray:
    """One image file as uint8 ``H×W×3`` RGB (``H×W×1`` when ``grayscale``).

    Grayscale files (UCSD's TIFFs) are repeated to three channels unless ``grayscale``.
    Raises :class:`~vadlib.data.errors.DatasetFileError` naming ``dataset`` and the file for a
    missing, undecodable or truncated file.
    """
    cv2 = _cv2()
    flag = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
    image = decode_image(path, flag, dataset, root)
    if grayscale:
        return image[:, :, None]
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _convert(frame: np.ndarray, grayscale: bool) -> np.ndarray:
    cv2 = _cv2()
    if grayscale:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[:, :, None]
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def video_frame_count(path: str | Path, exact: bool = False) -> int:
    """Number of frames of a video file.

    By default the container's frame count (``CAP_PROP_FRAME_COUNT``, from the AVI header: cheap);
    with ``exact=True``, or when the container gives no count, the frames are grabbed one by one
    and counted (what a sequential reader actually delivers). Raises ``FileNotFoundError`` when
    the file cannot be opened.
    """
    cv2 = _cv2()
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise FileNotFoundError(f"cannot open video {path}")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if exact or count <= 0:
            count = 0
            while capture.grab():
                count += 1
        return count
    finally:
        capture.release()


def read_video_frames(path: str | Path, start: int = 0, count: int | None = None, *,
                      stride: int = 1, grayscale: bool = False) -> np.ndarray:
    """Decode frames of a video file: uint8 ``T×H×W×3`` RGB (``T×H×W×1`` when ``grayscale``).

    Frames ``start, start + stride, ...`` (``count`` of them, or up to the end of the video). The
    capture seeks once to ``start`` and then reads sequentially; frames skipped by ``stride`` are
    grabbed but not decoded. Raises ``FileNotFoundError`` when the file cannot be opened and
    ``ValueError`` when fewer frames than requested exist.
    """
    cv2 = _cv2()
    if start < 0 or stride < 1 or (count is not None and count < 0):
        raise ValueError(f"need start >= 0, stride >= 1, count >= 0; got {start}, {stride}, {count}")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise FileNotFoundError(f"cannot open video {path}")
        if start:
            capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        frames = []
        position = start
        while count is None or len(frames) < count:
            if (position - start) % stride:
                ok = capture.grab()
            else:
                ok, frame = capture.read()
                if ok:
                    frames.append(_convert(frame, grayscale))
            if not ok:
                break
            position += 1
    finally:
        capture.release()
    if count is not None and len(frames) < count:
        raise ValueError(f"{path}: asked for {count} frames from frame {start} (stride {stride}), "
                         f"the video delivered {len(frames)}")
    if not frames:
        raise ValueError(f"{path}: no frame decoded from frame {start}")
    return np.stack(frames)


def numbered_files(folder: Path, suffixes: Iterable[str], dataset: str, root: Path | None,
                   first: int | None = None) -> list[Path]:
    """The image files of a frame folder, sorted by the integer in their name.

    Names are ``<digits>.<suffix>`` (``0000.jpg``, ``001.tif``) possibly with a non-numeric prefix
    (``frame001.bmp``); hidden files (``._001.tif`` from macOS archives, ``Thumbs.db``) are ignored.
    With ``first`` given (0 or 1), the numbers must run ``first, first + 1, ...`` without gaps,
    else :class:`DatasetError` names the first missing frame.
    """
    wanted = {s.lower() for s in suffixes}
    numbered = []
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.suffix.lower() not in wanted:
            continue
        match = re.search(r"(\d+)$", entry.stem)
        if match:
            numbered.append((int(match.group(1)), entry))
    numbered.sort(key=lambda item: item[0])
    if not numbered:
        raise DatasetError(dataset, root, f"no {'/'.join(sorted(wanted))} frames in {folder}")
    if first is not None:
        for position, (number, entry) in enumerate(numbered):
            if number != first + position:
                raise DatasetError(dataset, root, f"frame folder {folder} has a gap: expected frame "
                                   f"number {first + position}, found {entry.name}")
    return [entry for _, entry in numbered]


def validate_frame_index(frames: pd.DataFrame, dataset: str = "video") -> pd.DataFrame:
    """Check a frame index and return it sorted by (video, frame) with a fresh RangeIndex.

    Raises :class:`DatasetError` for an empty index and ``ValueError`` for missing columns,
    duplicated (video, frame) pairs, negative frames or labels outside {-1, 0, 1}.
    """
    if not isinstance(frames, pd.DataFrame):
        raise ValueError(f"a frame index is a pandas DataFrame with columns {FRAME_INDEX_COLUMNS}")
    missing = [c for c in FRAME_INDEX_COLUMNS if c not in frames.columns]
    if missing:
        raise ValueError(f"frame index is missing column(s) {missing}; needs {FRAME_INDEX_COLUMNS}")
    if frames.empty:
        raise DatasetError(dataset, None, "the frame index is empty (0 frames)")
    out = frames.copy()
    out["video"] = out["video"].astype(str)
    out["frame"] = out["frame"].astype(np.int64)
    out["label"] = out["label"].astype(np.int64)
    if (out["frame"] < 0).any():
        raise ValueError("frame index has negative frame numbers (frames are 0-based)")
    bad = ~out["label"].isin((LABEL_UNKNOWN, LABEL_NORMAL, LABEL_ABNORMAL))
    if bad.any():
        raise ValueError(f"labels must be -1, 0 or 1; found {sorted(out['label'][bad].unique())[:5]}")
    duplicated = out.duplicated(["video", "frame"])
    if duplicated.any():
        row = out[duplicated].iloc[0]
        raise ValueError(f"frame index lists frame {row['frame']} of video {row['video']!r} twice")
    return out.sort_values(["video", "frame"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------------------------------


def _resize_shape(resize) -> tuple[int, int] | None:
    if resize is None:
        return None
    if isinstance(resize, int):
        return (resize, resize)
    height, width = resize
    return (int(height), int(width))


try:  # the Dataset base class is only needed when torch is installed
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # pragma: no cover - index() and the readers work without torch
    _TorchDataset = object


class ClipDataset(_TorchDataset):
    """Clips of ``length`` frames from a frame index, as a torch ``Dataset``.

    A clip takes the frames at positions ``p, p + stride, ..., p + (length - 1) * stride`` of one
    video's rows (sorted by ``frame``; positions equal frame numbers when the index lists every
    frame, as the dataset loaders' indexes do). Windows start at ``p = 0, step, 2 * step, ...``
    while the whole clip fits inside the video, so a clip never crosses a video boundary and a
    video shorter than ``(length - 1) * stride + 1`` frames gives no clip.

    Args:
        frames: a frame index (see the module docstring).
        length: frames per clip (T).
        stride: spacing of the frames of a clip (1 = consecutive frames).
        step: spacing of the windows' first frames; default 1 (every possible window).
        resize: ``(height, width)`` or one int for a square; frames are resized with bilinear
            interpolation (area interpolation when shrinking). ``None`` keeps the stored size.
        transform: callable applied to the clip tensor (T×C×H×W float32) before it is returned.
        grayscale: one channel (C = 1) instead of RGB (C = 3).
        dataset: name used in error messages.

    Item: ``{"clip": float32 T×C×H×W in [0, 1], "labels": int64 T, "video": str,
    "frames": int64 T}`` (``frames`` are the frame numbers of the clip's frames).

    Attribute ``windows``: a DataFrame with one row per clip (``video``, ``start`` = first frame
    number, ``rows`` = positions of its frames in :attr:`frames`).
    """

    def __init__(self, frames: pd.DataFrame, length: int, stride: int = 1, step: int | None = None,
                 resize=None, transform: Callable | None = None, grayscale: bool = False, *,
                 dataset: str = "video"):
        if int(length) < 1 or int(stride) < 1 or (step is not None and int(step) < 1):
            raise ValueError(f"length, stride and step must be >= 1; got {length}, {stride}, {step}")
        self.dataset = dataset
        self.frames = validate_frame_index(frames, dataset)
        self.length, self.stride = int(length), int(stride)
        self.step = 1 if step is None else int(step)
        self.size = _resize_shape(resize)
        self.transform = transform
        self.grayscale = bool(grayscale)
        self._paths = self.frames["path"].astype(str).to_numpy()
        self._frame_numbers = self.frames["frame"].to_numpy(np.int64)
        self._labels = self.frames["label"].to_numpy(np.int64)
        self._videos = self.frames["video"].to_numpy()
        span = (self.length - 1) * self.stride
        offsets = np.arange(self.length) * self.stride
        videos, starts, rows = [], [], []
        for video, group in self.frames.groupby("video", sort=True):
            first, count = int(group.index[0]), len(group)
            for position in range(0, count - span, self.step):
                videos.append(video)
                starts.append(int(self._frame_numbers[first + position]))
                rows.append(first + position + offsets)
        if not rows:
            raise DatasetError(dataset, None, f"no clip of {self.length} frames with stride "
                               f"{self.stride} fits in any video (longest video: "
                               f"{self.frames.groupby('video').size().max()} frames)")
        self.windows = pd.DataFrame({"video": videos, "start": starts, "rows": rows})
        self._rows = np.stack(rows)

    def __len__(self) -> int:
        return len(self._rows)

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        paths = self._paths[rows]
        if is_video_file(paths[0]):
            if (paths != paths[0]).any():
                raise ValueError(f"clip frames come from different video files: {set(paths)}")
            numbers = self._frame_numbers[rows]
            gaps = np.diff(numbers)
            try:
                if (gaps == gaps[0]).all() if gaps.size else True:
                    step = int(gaps[0]) if gaps.size else 1
                    return read_video_frames(paths[0], int(numbers[0]), len(numbers), stride=step,
                                             grayscale=self.grayscale)
                # irregular frame numbers: read the span and pick
                span = read_video_frames(paths[0], int(numbers[0]),
                                         int(numbers[-1] - numbers[0]) + 1, grayscale=self.grayscale)
            except (FileNotFoundError, ValueError) as error:  # unopenable, or fewer frames: cut short
                problem = str(error).removeprefix(f"{paths[0]}: ")
                raise DatasetFileError(self.dataset, None, paths[0], problem) from None
            return span[numbers - numbers[0]]
        return np.stack([read_image(path, self.grayscale, dataset=self.dataset) for path in paths])

    def _resize(self, clip: np.ndarray) -> np.ndarray:
        if self.size is None or clip.shape[1:3] == self.size:
            return clip
        cv2 = _cv2()
        height, width = self.size
        shrink = height < clip.shape[1] and width < clip.shape[2]
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        out = [cv2.resize(frame, (width, height), interpolation=interpolation) for frame in clip]
        return np.stack([o if o.ndim == 3 else o[:, :, None] for o in out])

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch
        rows = self._rows[index]
        clip = self._resize(self._read_rows(rows))
        # channels-first while still uint8 (4x less memory traffic than permuting floats)
        tensor = torch.from_numpy(clip).permute(0, 3, 1, 2).contiguous().float().div_(255.0)
        if self.transform is not None:
            tensor = self.transform(tensor)
        return {"clip": tensor,
                "labels": torch.from_numpy(self._labels[rows].copy()),
                "video": str(self._videos[rows[0]]),
                "frames": torch.from_numpy(self._frame_numbers[rows].copy())}


# --------------------------------------------------------------------------------------------------
# Helpers shared by the dataset loaders
# --------------------------------------------------------------------------------------------------


def labels_from_intervals(intervals: Sequence[tuple[int, int]], num_frames: int, *,
                          one_based: bool = True) -> np.ndarray:
    """0/1 int8 frame labels from inclusive ``(first, last)`` intervals.

    ``one_based=True`` for MATLAB-style intervals (Avenue's ``avenue.mat``, UCSD's ``gt_frame``):
    interval ``(61, 180)`` marks 0-based frames 60..179. Intervals reaching past the video's end
    raise ``ValueError`` (an annotation that does not fit its video is a layout error).
    """
    labels = np.zeros(int(num_frames), dtype=np.int8)
    shift = 1 if one_based else 0
    for first, last in intervals:
        first, last = int(first) - shift, int(last) - shift
        if first < 0 or last < first or last >= num_frames:
            raise ValueError(f"interval {first + shift}..{last + shift} "
                             f"({'1' if one_based else '0'}-based) does not fit a video of "
                             f"{num_frames} frames")
        labels[first:last + 1] = 1
    return labels


def intervals_from_labels(labels: Sequence[int], *, one_based: bool = True) -> list[tuple[int, int]]:
    """Inverse of :func:`labels_from_intervals`: the inclusive runs of 1s."""
    flags = np.asarray(labels).astype(bool).astype(np.int8)
    edges = np.diff(np.concatenate(([0], flags, [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    shift = 1 if one_based else 0
    return [(int(a) + shift, int(b) + shift) for a, b in zip(starts, stops)]


def check_root(root: str | Path | None, dataset: str) -> Path:
    """``root`` as a Path; :class:`DatasetError` when it is not an existing directory."""
    if root is None:
        raise DatasetError(dataset, None, "no dataset root given")
    root = Path(root)
    if not root.is_dir():
        raise directory_error(dataset, root, f"dataset root {root} does not exist")
    return root


def index_from_frame_folders(parent: Path, dataset: str, root: Path, *, suffixes: Iterable[str],
                             first: int, videos: Sequence[str] | None = None,
                             label: int = LABEL_UNKNOWN) -> pd.DataFrame:
    """Frame index of a folder holding one sub-folder of numbered frames per video.

    ``videos`` selects sub-folders (default: every sub-folder, sorted by name). Frame numbers are
    positions (0-based) in each folder's numerically sorted files; the file numbers must start at
    ``first`` and have no gap.
    """
    if not parent.is_dir():
        raise DatasetError(dataset, root, f"missing folder {parent.relative_to(root)}")
    if videos is None:
        videos = sorted(entry.name for entry in parent.iterdir()
                        if entry.is_dir() and not entry.name.startswith("."))
    if not videos:
        raise DatasetError(dataset, root, f"no video folder in {parent.relative_to(root)}")
    parts = []
    for video in videos:
        folder = parent / video
        if not folder.is_dir():
            raise DatasetError(dataset, root, f"missing frame folder {folder.relative_to(root)}")
        files = numbered_files(folder, suffixes, dataset, root, first=first)
        parts.append(pd.DataFrame({"video": video, "frame": np.arange(len(files), dtype=np.int64),
                                   "path": [str(f) for f in files], "label": label}))
    return pd.concat(parts, ignore_index=True)


def index_from_video_files(files: Sequence[Path], dataset: str, root: Path,
                           label: int = LABEL_UNKNOWN) -> pd.DataFrame:
    """Frame index of video files (video id = file stem; one row per frame, all rows name the
    file). Frame counts come from the container header (:func:`video_frame_count`)."""
    if not files:
        raise DatasetError(dataset, root, "no video file found")
    parts = []
    for path in files:
        try:
            count = video_frame_count(path)
        except FileNotFoundError:
            raise DatasetError(dataset, root, f"cannot open video file {path}") from None
        if count <= 0:
            raise DatasetError(dataset, root, f"video file {path} has no frame")
        parts.append(pd.DataFrame({"video": path.stem, "frame": np.arange(count, dtype=np.int64),
                                   "path": str(path), "label": label}))
    return pd.concat(parts, ignore_index=True)


def attach_labels(frames: pd.DataFrame, labels: dict[str, np.ndarray], dataset: str,
                  root: Path) -> pd.DataFrame:
    """Set ``frames['label']`` from per-video 0/1 arrays; lengths must match frame by frame."""
    frames = frames.copy()
    out = []
    for video, group in frames.groupby("video", sort=False):
        if video not in labels:
            raise DatasetError(dataset, root, f"no frame-level ground truth for test video {video}")
        flags = np.asarray(labels[video]).astype(np.int64).ravel()
        if flags.size != len(group):
            raise DatasetError(dataset, root, f"test video {video} has {len(group)} frames but its "
                               f"ground truth has {flags.size} labels")
        out.append(pd.Series(flags[group["frame"].to_numpy()], index=group.index))
    frames["label"] = pd.concat(out).astype(np.int64)
    return frames
