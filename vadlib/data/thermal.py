"""Thermal harbour footage: Thermal Rare Event (Paper D) and Seasons in Drift / LTD (Paper B).

Both come from one fixed thermal camera (384×288 px, 8-bit grayscale, white-hot) on the harbour
front of Aalborg, Denmark.

**Thermal Rare Event** (Madan et al., Paper D §5.1): 330 clips of about 2 minutes at 1 fps (120
frames) sampled from one week of Seasons in Drift; 29 clips hold rare events (people jumping into
the water, people close to the pier, unexpected vehicles, ...) annotated at frame level. The
thesis counts 3,480 training frames (29 clips) and 36,120 test frames (301 clips)
(:data:`THESIS_SPLIT`). Released on Kaggle as ``neelu1/thermal-anomaly-detection-dataset``
(CC BY 4.0), linked from the README of github.com/ristea/ssmctb.

  **Layout read — unconfirmed.** The archive's file layout is not documented in the thesis, the
  paper or the repository, and the Kaggle page could not be read from here. We read the layout of
  the frame-folder video sets that MNAD (Park et al., the host model of Paper D) reads for Avenue
  and ShanghaiTech (``training/frames``, ``testing/frames``), with per-clip label files as the
  ShanghaiTech release ships them (``testing/test_frame_mask/<video>.npy``)::

      thermal_rare_event/
        training/frames/<clip>/0000.jpg ...             normal clips only
        testing/frames/<clip>/0000.jpg ...
        testing/test_frame_mask/<clip>.npy              one 0/1 label per frame (uint8/int/bool)

  The spellings ``train/``, ``test/`` and ``test/frame_labels/`` are accepted as well.

  Frame files may be named ``0000.jpg`` or with a prefix (``image_0000.jpg``); they are ordered
  by the number in the name, and the label array is aligned with that order. Third-party notes on
  Kaggle's version 2 of the archive (not verified by us) describe a different split from the
  thesis's: 300 normal training clips and 29 test clips (3,509 test frames, 1,124 abnormal),
  i.e. 121 frames per clip and binary temporal labels only (:data:`KAGGLE_V2_REPORTED`). Adjust
  :func:`index` once the archive is at hand.

**Seasons in Drift / LTD** (Nikolov et al., "Seasons in Drift: A Long-Term Thermal Imaging Dataset
for Studying Concept Drift", NeurIPS 2021 Datasets and Benchmarks): 2-minute clips spread over
the 24 hours of each day, January-August, with weather metadata per clip. Paper B takes its
backgrounds from it. The Kaggle release ``ivannikolov/longterm-thermal-drift-dataset`` ships
``LTD Dataset/LTD Dataset/{Video Clips/<YYYYMMDD>/clip_<n>_<HHMM>.mp4, metadata.csv,
extract_images.py, load_video_metadata.py}``; frames are obtained with the release's own
``extract_images.py``, which writes ``Image Dataset/<YYYYMMDD>/clip_<n>_<HHMM>/image_0000.jpg``
(one frame per second by default). Layout read (confirmed from the release's scripts, as used by
IvanNik17/Seasonal-Changes-in-Thermal-Surveillance-Imaging and jagob/harborfront-vad)::

    seasons_in_drift/
      LTD Dataset/LTD Dataset/                  (as the archive unpacks; metadata.csv directly
        metadata.csv                             under the root, or under one "LTD Dataset", is
        Video Clips/<YYYYMMDD>/clip_<n>_<HHMM>.mp4   found as well; the mp4s are not read)
        Image Dataset/<YYYYMMDD>/clip_<n>_<HHMM>/image_0000.jpg ...

``metadata.csv`` columns (release docstring): Folder name (YYYYMMDD), Clip Name
(clip_<n>_<HHMM>), DateTime (start of the clip, day first), Temperature (°C), Humidity (%),
Precipitation (kg/m²), Dew Point (°C), Wind Direction (°), Wind Speed (m/s), Sun Radiation
Intensity (W/m²), Min of sunshine latest 10 min (minutes). ``Image Dataset`` may also be spelled
``Image_Dataset`` or ``frames``. Metadata rows whose clip was not extracted are skipped (the
release's script extracts a chosen subset).

Harbour geometry (not in the release; vadlib's convention): ``harbour_view.json`` next to
metadata.csv, read by :func:`sid_view` (see :data:`vadlib.data.harbour.VIEW_FILE`). Paper B's
runs need it and refuse a root without it; the synthetic twin writes its own.

Frame index (what :func:`index`, :func:`sid_clip_frames` and :func:`sid_index` return; the format
of :mod:`vadlib.data.video`): ``video`` (clip id), ``frame`` (0-based), ``path``, ``label``:
1 abnormal, 0 normal (every training frame of Thermal Rare Event is normal by construction),
-1 unknown (Seasons in Drift has no anomaly labels).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from vadlib.data.errors import DatasetError, directory_error
from vadlib.data.files import load_npy, open_image, reading

try:  # the tables work without torch; the Dataset class needs it
    from torch.utils.data import Dataset
except ImportError:  # pragma: no cover
    Dataset = object

RARE_EVENT = "thermal_rare_event"
SEASONS = "seasons_in_drift"
SPLITS = ("train", "test")
SPLIT_DIRS = {"train": ("training", "train"), "test": ("testing", "test")}
LABEL_DIRS = ("test_frame_mask", "frame_labels")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
THESIS_SPLIT = {"clips": 330, "frames_per_clip": 120, "fps": 1, "train_clips": 29,
                "train_frames": 3_480, "test_clips": 301, "test_frames": 36_120,
                "abnormal_test_clips": 29, "source": "Paper D §5.1 (thesis T 2556-2582)"}
KAGGLE_V2_REPORTED = {"train_clips": 300, "test_clips": 29, "test_frames": 3_509,
                      "abnormal_test_frames": 1_124,
                      "source": "third-party experiment notes on Kaggle version 2; unverified"}
INDEX_COLUMNS = ("video", "frame", "path", "label")
SEASONS_FRAME_DIRS = ("Image Dataset", "Image_Dataset", "frames")
SEASONS_NESTING = (".", "LTD Dataset", "LTD Dataset/LTD Dataset", "LTD_Dataset", "LTD_Dataset/LTD_Dataset")
METADATA_COLUMNS = {  # metadata.csv column → our column
    "Temperature": "temperature", "Humidity": "humidity", "Precipitation": "precipitation",
    "Dew Point": "dew_point", "Wind Direction": "wind_direction", "Wind Speed": "wind_speed",
    "Sun Radiation Intensity": "sun_radiation", "Min of sunshine latest 10 min": "sunshine_minutes",
}
CLIP_COLUMNS = ("clip", "folder", "clip_name", "date", "time", "datetime", "n_frames", "frames_dir",
                *METADATA_COLUMNS.values())


# ------------------------------------------------------------------------ Thermal Rare Event

def index(root: str | Path, split: str = "train") -> pd.DataFrame:
    """The frame index of one split of Thermal Rare Event (see the module docstring).

    Raises :class:`DatasetError` for a missing root or split folder, a clip folder without frames,
    a test clip without its label file, or a label file whose length differs from the clip's.
    """
    from vadlib.data.video import numbered_files

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = _check_root(RARE_EVENT, root)
    split_dir = next((root / name for name in SPLIT_DIRS[split] if (root / name / "frames").is_dir()), None)
    if split_dir is None:
        raise DatasetError(RARE_EVENT, root, f"no {SPLIT_DIRS[split][0]}/frames/ folder")
    frames_dir = split_dir / "frames"
    clip_dirs = sorted((d for d in frames_dir.iterdir() if d.is_dir() and not d.name.startswith(".")),
                       key=_natural)
    if not clip_dirs:
        raise DatasetError(RARE_EVENT, root, f"no clip folder in {split_dir.name}/frames/")
    rows = []
    for clip_dir in clip_dirs:
        files = numbered_files(clip_dir, FRAME_SUFFIXES, RARE_EVENT, root)
        labels = (np.zeros(len(files), np.int64) if split == "train"
                  else _frame_labels(root, split_dir, clip_dir.name, len(files)))
        rows.extend({"video": clip_dir.name, "frame": number, "path": str(path.resolve()),
                     "label": int(label)} for number, (path, label) in enumerate(zip(files, labels)))
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


def _frame_labels(root: Path, split_dir: Path, clip: str, n_frames: int) -> np.ndarray:
    candidates = [split_dir / name / f"{clip}.npy" for name in LABEL_DIRS]
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        raise DatasetError(RARE_EVENT, root, f"no frame-label file {split_dir.name}/{LABEL_DIRS[0]}/"
                           f"{clip}.npy for test clip {clip}")
    name = path.relative_to(root).as_posix()
    labels = np.asarray(load_npy(path, RARE_EVENT, root, "frame-label file")).reshape(-1)
    if len(labels) != n_frames:
        raise DatasetError(RARE_EVENT, root, f"{name} has {len(labels)} labels but clip {clip} has "
                           f"{n_frames} frames")
    if not np.isin(labels, (0, 1)).all():
        raise DatasetError(RARE_EVENT, root, f"{name} holds values other than 0/1")
    return labels.astype(np.int64)


def clips(root: str | Path, split: str = "train", length: int = 5, stride: int = 1,
          step: int | None = None, resize=None, transform: Callable | None = None,
          grayscale: bool = True):
    """A :class:`vadlib.data.video.ClipDataset` of ``length``-frame clips over :func:`index`
    (grayscale by default: the frames are single-channel thermal images)."""
    from vadlib.data.video import ClipDataset
    return ClipDataset(index(root, split), length, stride=stride, step=step, resize=resize,
                       transform=transform, grayscale=grayscale, dataset=RARE_EVENT)


# --------------------------------------------------------------------- Seasons in Drift (LTD)

def sid_clips(root: str | Path) -> pd.DataFrame:
    """One row per extracted Seasons in Drift clip, joined with its metadata.csv row.

    Columns: ``clip`` (``<YYYYMMDD>/clip_<n>_<HHMM>``, the clip id used in frame indexes),
    ``folder`` (YYYYMMDD), ``clip_name``, ``date`` (datetime.date), ``time`` ('HH:MM'),
    ``datetime`` (pandas Timestamp of the clip start), ``n_frames``, ``frames_dir`` and the weather
    columns renamed by :data:`METADATA_COLUMNS` (``temperature``, ``humidity``, ...).
    Raises :class:`DatasetError` for a missing root or metadata.csv, a metadata.csv without the
    release's columns, no frame folder, a clip folder without frames, or a clip folder that has no
    metadata row.
    """
    from vadlib.data.video import numbered_files

    base, frames_root = _seasons_dirs(root)
    metadata = _read_metadata(base)
    by_clip = {f"{row['Folder name']}/{row['Clip Name']}": row for row in metadata.to_dict("records")}
    rows = []
    for day_dir in sorted(d for d in frames_root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for clip_dir in sorted((d for d in day_dir.iterdir() if d.is_dir()), key=_natural):
            clip = f"{day_dir.name}/{clip_dir.name}"
            files = numbered_files(clip_dir, FRAME_SUFFIXES, SEASONS, base)
            if clip not in by_clip:
                raise DatasetError(SEASONS, base, f"clip folder {frames_root.name}/{clip} has no row "
                                   "(Folder name, Clip Name) in metadata.csv")
            meta = by_clip[clip]
            when = meta["DateTime"]
            rows.append({"clip": clip, "folder": day_dir.name, "clip_name": clip_dir.name,
                         "date": when.date(), "time": f"{when:%H:%M}", "datetime": when,
                         "n_frames": len(files), "frames_dir": str(clip_dir.resolve()),
                         **{ours: meta.get(theirs) for theirs, ours in METADATA_COLUMNS.items()}})
    if not rows:
        raise DatasetError(SEASONS, base, f"no clip folder <YYYYMMDD>/clip_<n>_<HHMM>/ in "
                           f"{frames_root.name}/")
    return pd.DataFrame(rows, columns=list(CLIP_COLUMNS))


def sid_clip_frames(root: str | Path, clip: str) -> pd.DataFrame:
    """The frame index of one clip (``clip`` = ``<YYYYMMDD>/clip_<n>_<HHMM>``); labels are -1."""
    from vadlib.data.video import numbered_files

    base, frames_root = _seasons_dirs(root)
    clip_dir = frames_root / clip
    if not clip_dir.is_dir():
        raise DatasetError(SEASONS, base, f"no clip folder {frames_root.name}/{clip}/")
    files = numbered_files(clip_dir, FRAME_SUFFIXES, SEASONS, base)
    return pd.DataFrame({"video": clip, "frame": np.arange(len(files)),
                         "path": [str(p.resolve()) for p in files], "label": -1},
                        columns=list(INDEX_COLUMNS))


def sid_index(root: str | Path, clips_table: pd.DataFrame | Sequence[str] | None = None) -> pd.DataFrame:
    """The frame index of several clips (all extracted clips by default; or a :func:`sid_clips`
    table / a list of clip ids, e.g. a selection by date or temperature)."""
    if clips_table is None:
        clips_table = sid_clips(root)
    ids = list(clips_table["clip"]) if isinstance(clips_table, pd.DataFrame) else list(clips_table)
    if not ids:
        raise DatasetError(SEASONS, root, "the clip selection is empty")
    return pd.concat([sid_clip_frames(root, clip) for clip in ids], ignore_index=True)


def sid_view(root: str | Path):
    """The harbour geometry of a Seasons-in-Drift root: :data:`vadlib.data.harbour.VIEW_FILE` next
    to metadata.csv, as a :class:`~vadlib.data.harbour.HarbourView` (water mask for the fall
    labels, median mask, crop quadrilateral). The release ships no such file and the thesis
    publishes no polygon: draw one for the real view. A missing or malformed file raises
    :class:`DatasetError` naming it; there is no fallback to the synthetic twin's polygons
    (:data:`~vadlib.data.harbour.HARBOUR_VIEW`), which the twin writes to this file itself."""
    from vadlib.data.harbour import VIEW_FILE, HarbourView

    base = _seasons_base(root)
    path = base / VIEW_FILE
    if not path.is_file():
        raise DatasetError(SEASONS, base, f"no {VIEW_FILE} next to metadata.csv: the harbour "
                           "geometry (water, quay, median areas, crop quadrilateral as normalised "
                           "polygons, HarbourView.write) is not in the release; draw it for this "
                           "camera view (vadlib does not fall back to the synthetic twin's polygons)")
    try:
        return HarbourView.read(path)
    except (ValueError, TypeError, KeyError) as error:
        raise DatasetError(SEASONS, base, f"{VIEW_FILE} is malformed ({error}); write it with "
                           "HarbourView.write") from None


def _seasons_base(root: str | Path) -> Path:
    root = _check_root(SEASONS, root)
    base = next((root / nest for nest in SEASONS_NESTING if (root / nest / "metadata.csv").is_file()), None)
    if base is None:
        raise DatasetError(SEASONS, root, "no metadata.csv (looked in the root and in "
                           "'LTD Dataset/LTD Dataset/')")
    return base.resolve()


def _seasons_dirs(root: str | Path) -> tuple[Path, Path]:
    """(folder holding metadata.csv, frame folder)."""
    base = _seasons_base(root)
    frames_root = next((base / name for name in SEASONS_FRAME_DIRS if (base / name).is_dir()), None)
    if frames_root is None:
        hint = (" — the release ships mp4 clips in 'Video Clips/'; extract frames with its "
                "extract_images.py (writes 'Image Dataset/')" if (base / "Video Clips").is_dir() else "")
        raise DatasetError(SEASONS, base, f"no frame folder ({' or '.join(SEASONS_FRAME_DIRS)}) "
                           f"next to metadata.csv{hint}")
    return base, frames_root


def _read_metadata(base: Path) -> pd.DataFrame:
    with reading(SEASONS, base, base / "metadata.csv", "metadata table"):
        metadata = pd.read_csv(base / "metadata.csv")
    missing = [c for c in ("Folder name", "Clip Name", "DateTime") if c not in metadata.columns]
    if missing:
        raise DatasetError(SEASONS, base, f"metadata.csv lacks column(s) {', '.join(missing)}")
    metadata["Folder name"] = metadata["Folder name"].astype(str).str.strip()
    metadata["Clip Name"] = metadata["Clip Name"].astype(str).str.strip()
    metadata["DateTime"] = pd.to_datetime(metadata["DateTime"], dayfirst=True, format="mixed")
    return metadata


# ----------------------------------------------------------------------------------- shared

def _check_root(dataset: str, root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise directory_error(dataset, root, f"no dataset directory at {root}")
    return root


def _natural(path: Path):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


class ThermalFrames(Dataset):
    """Single frames of a frame index as a torch ``Dataset`` (e.g. Paper B's backgrounds).

    Each item: ``image`` float32 1×H×W in [0, 1], ``label`` int64 (-1 unknown), ``video``,
    ``frame``. ``resize``: an int (square) or (height, width), bilinear. ``transform`` receives and
    returns the item dict. ``dataset`` is the name errors give (Seasons in Drift by default).
    """

    def __init__(self, frames: pd.DataFrame, resize: int | tuple[int, int] | None = None,
                 transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None, *,
                 dataset: str = SEASONS):
        if len(frames) == 0:
            raise DatasetError(dataset, None, "the frame index is empty")
        self.dataset = dataset
        self.frames = frames.reset_index(drop=True)
        self.resize, self.transform = resize, transform

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, position: int) -> dict[str, Any]:
        import torch
        from PIL import Image
        row = self.frames.iloc[position]
        with open_image(row["path"], self.dataset) as image:
            image = image.convert("L")
            if self.resize is not None:
                height, width = ((self.resize, self.resize) if isinstance(self.resize, int)
                                 else self.resize)
                image = image.resize((width, height), Image.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
        item = {"image": torch.from_numpy(array.copy()).float().div_(255.0)[None],
                "label": torch.tensor(int(row["label"]), dtype=torch.int64),
                "video": str(row["video"]), "frame": int(row["frame"])}
        return self.transform(item) if self.transform else item
