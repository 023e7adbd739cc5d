"""Ground-truth anomaly tracks for RBDC/TBDC (Ramachandra & Jones, WACV 2020) on ShanghaiTech and
Avenue.

Layout read: a checkout of lilygeorgescu/AED (Georgescu et al., TPAMI 2021), which ships the
ShanghaiTech Campus track annotations that Papers C and D used::

    vad_tracks/
      annotations/ShanghaiTech/01_0014.txt ...   one file per abnormal test video
      annotations/Avenue/01.txt ...              optional: Avenue tracks in the same format

(``<dataset>/<video>.txt`` directly under the root is accepted too.) Each line of a file is one
region: ``track_id,frame_id,x_min,y_min,x_max,y_max`` -- the format stated in AED's
``evaluation/readme.md`` ("[track_id, frame_id, x_min, y_min, x_max, y_max]; the track_id must be
in ascending order") and seen in ``annotations/ShanghaiTech/01_0014.txt`` at commit f6364489
(e.g. ``0,154,4,142,119,249``). The file stem is the video id.

Conventions, and what is confirmed:

* frames are 0-based -- the AED toy tracks use frames 0..4 with ``--num-frames=5``, and
  ShanghaiTech's test frames are numbered from ``000.jpg``; we did not check the ShanghaiTech
  files frame by frame against ``test_frame_mask``. (Confirmed format; 0-based by that evidence.)
* boxes have inclusive pixel corners (AED's IoU adds 1 to widths and heights, as
  :func:`vadlib.metrics.rbdc_tbdc.rbdc_tbdc` does).
* **Avenue: unconfirmed.** No public Avenue track file was found (AED lists ShanghaiTech and
  Subway only), so ``annotations/Avenue/<video>.txt`` in the same format, 0-based frames, is this
  companion's convention for tracks a user supplies.

:func:`tracks` returns exactly the ``gt`` that :func:`vadlib.metrics.rbdc_tbdc.rbdc_tbdc` takes
(``video, track_id, frame, x1, y1, x2, y2``); ``num_frames`` comes from the dataset's frame labels,
e.g. ``{v: len(l) for v, l in shanghaitech.frame_labels(root).items()}`` (videos without a track
file are normal videos and still count).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vadlib.data.errors import DatasetError
from vadlib.data.files import read_text
from vadlib.data.video import check_root

DATASET = "vad_tracks"
DIRECTORY = "vad_tracks"
FOLDERS = {"shanghaitech": "ShanghaiTech", "avenue": "Avenue"}
"""vadlib dataset name → annotation folder name."""
TRACK_COLUMNS = ("track_id", "frame", "x1", "y1", "x2", "y2")
SPLITS = ("test",)


def annotation_dir(root: str | Path, dataset: str) -> Path:
    """``<root>/annotations/<Folder>`` (AED checkout) or ``<root>/<Folder>``; DatasetError if neither."""
    if dataset not in FOLDERS:
        raise ValueError(f"dataset must be one of {sorted(FOLDERS)}, got {dataset!r}")
    root = check_root(root, DATASET)
    for candidate in (root / "annotations" / FOLDERS[dataset], root / FOLDERS[dataset]):
        if candidate.is_dir():
            return candidate
    raise DatasetError(DATASET, root, f"no {dataset} tracks: missing annotations/{FOLDERS[dataset]}/")


def read_track_file(path: str | Path, dataset_root: Path | None = None) -> pd.DataFrame:
    """One annotation file → DataFrame ``track_id, frame, x1, y1, x2, y2`` (int64).

    Blank lines are skipped; a line without six integers, a negative frame or a box with
    ``x2 < x1`` / ``y2 < y1`` raises :class:`DatasetError` naming the file and line. An empty file
    gives an empty frame.
    """
    path = Path(path)
    rows = []
    for number, line in enumerate(read_text(path, DATASET, dataset_root, "track file").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        fields = [f for f in line.replace(";", ",").replace(" ", ",").split(",") if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            values = []
        if len(values) != 6 or any(v != round(v) for v in values):
            raise DatasetError(DATASET, dataset_root, f"{path.name} line {number}: expected "
                               f"track_id,frame,x_min,y_min,x_max,y_max as integers, got {line!r}")
        track, frame, x1, y1, x2, y2 = (int(round(v)) for v in values)
        if frame < 0 or x2 < x1 or y2 < y1:
            raise DatasetError(DATASET, dataset_root, f"{path.name} line {number}: negative frame "
                               f"or a box with max < min: {line!r}")
        rows.append((track, frame, x1, y1, x2, y2))
    return pd.DataFrame(np.array(rows, dtype=np.int64).reshape(-1, 6), columns=list(TRACK_COLUMNS))


def tracks(root: str | Path, dataset: str = "shanghaitech") -> pd.DataFrame:
    """All tracks of ``dataset``: ``video, track_id, frame, x1, y1, x2, y2`` -- the ``gt`` of
    :func:`vadlib.metrics.rbdc_tbdc.rbdc_tbdc`.

    Raises :class:`DatasetError` for a missing folder, no annotation file, malformed lines, or a
    track with two regions in one frame.
    """
    folder = annotation_dir(root, dataset)
    files = sorted(p for p in folder.glob("*.txt") if not p.name.startswith("."))
    if not files:
        raise DatasetError(DATASET, root, f"no <video>.txt track file in {folder.relative_to(root)}")
    parts = []
    for path in files:
        frame = read_track_file(path, Path(root))
        duplicated = frame.duplicated(["track_id", "frame"])
        if duplicated.any():
            row = frame[duplicated].iloc[0]
            raise DatasetError(DATASET, root, f"{path.name}: track {row['track_id']} has two regions "
                               f"in frame {row['frame']}")
        frame.insert(0, "video", path.stem)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    if out.empty:
        raise DatasetError(DATASET, root, f"the track files in {folder.relative_to(root)} are empty")
    return out


def index(root: str | Path, split: str = "test", dataset: str | None = None) -> pd.DataFrame:
    """One row per region: ``dataset, video, track_id, frame, x1, y1, x2, y2``, for ``dataset``
    or for every dataset whose folder is present (tracks exist for test videos only)."""
    if split not in SPLITS:
        raise ValueError(f"track annotations exist for the test split only, got {split!r}")
    root = check_root(root, DATASET)
    wanted = [dataset] if dataset else [name for name in FOLDERS
                                        if (root / "annotations" / FOLDERS[name]).is_dir()
                                        or (root / FOLDERS[name]).is_dir()]
    if not wanted:
        raise DatasetError(DATASET, root, "no annotations/ShanghaiTech/ or annotations/Avenue/ folder")
    parts = [tracks(root, name).assign(dataset=name) for name in wanted]
    out = pd.concat(parts, ignore_index=True)
    return out[["dataset", "video", *TRACK_COLUMNS]]


def write_track_file(path: str | Path, regions: pd.DataFrame) -> None:
    """Write ``track_id,frame,x_min,y_min,x_max,y_max`` lines sorted by track then frame (the order
    AED's reader requires). ``regions`` has columns ``track_id, frame, x1, y1, x2, y2``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = regions.sort_values(["track_id", "frame"])[list(TRACK_COLUMNS)].astype(np.int64)
    path.write_text("".join(",".join(str(v) for v in row) + "\n"
                            for row in rows.itertuples(index=False)))
