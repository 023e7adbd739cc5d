"""MOTChallenge (MOT15/16/17) sequences and the JDE/FairMOT training mixture (thesis Paper A).

MOTChallenge layout
-------------------
As the official archives unpack (motchallenge.net; Milan et al., "MOT16: A benchmark for
multi-object tracking", arXiv:1603.00831, 2016; Leal-Taixé et al., "MOTChallenge 2015",
arXiv:1504.01942)::

    MOT17/                                  (MOT15, MOT16 alike)
      train/MOT17-02-FRCNN/
        seqinfo.ini                         [Sequence] name, imDir, frameRate, seqLength,
                                            imWidth, imHeight, imExt
        img1/000001.jpg ...                 one image per frame, 1-based, 6 digits
        gt/gt.txt                           frame,id,bb_left,bb_top,bb_width,bb_height,conf,class,visibility
        det/det.txt                         frame,-1,bb_left,bb_top,bb_width,bb_height,score,-1,-1,-1
      test/MOT17-01-FRCNN/ ...              no gt/ (hidden by the benchmark)

Boxes are in pixels, top-left corner plus size, and may extend past the image border. In the
ground truth, ``conf`` is the "consider" flag (0 = ignored by the evaluation), ``class`` is
1 pedestrian, 2 person on vehicle, 3 car, 4 bicycle, 5 motorbike, 6 non-motorised vehicle,
7 static person, 8 distractor, 9 occluder, 10 occluder on the ground, 11 occluder full,
12 reflection, and ``visibility`` is the visible fraction of the box (occlusion and image
border). MOT15 ground truth has world coordinates ``-1,-1,-1`` in place of class and visibility:
this module reports its boxes as class 1 with visibility 1.0 (MOT15 annotates pedestrians only
and gives no visibility). MOT17 ships each video three times, suffixed ``-DPM``, ``-FRCNN`` and
``-SDP``: identical frames and ground truth, one public detector's ``det.txt`` each.
FairMOT's data preparation moves ``train/`` and ``test/`` under ``images/``
(``MOT17/images/train/...``); both layouts are read.

The text files are read by :func:`read_mot` and written by :func:`write_mot` (below), the same
reader and writer :func:`vadlib.metrics.tracking.evaluate_mot` uses.

JDE / FairMOT mixture
---------------------
The joint training set of JDE (Wang et al., "Towards real-time multi-object tracking", ECCV
2020; Zhongdao/Towards-Realtime-MOT ``DATASET_ZOO.md``) and FairMOT (ifzhang/FairMOT, MIT):
ETHZ, CityPersons (``Cityscapes/``), Caltech, CUHK-SYSU, PRW and MOT17, side by side under one
mixture root. A list file per source (``eth.train``, ``citypersons.train``, ``caltech.train``
or ``caltech.all``, ``cuhksysu.train``, ``prw.train``, ``mot17.train``/``mot17.half``; shipped
in the ``data/`` folder of the JDE and FairMOT repositories) names one image per line, relative
to the mixture root, e.g. ``ETHZ/eth01/images/image_00000001_0.png``. The label file of an image
is its path with the ``images`` folder replaced by ``labels_with_ids`` and the extension by
``.txt``; one line per box::

    class identity x_center y_center width height      (coordinates / image width or height)

with ``identity`` in 0..n-1 within its source or -1 (no identity: ETH and CityPersons are
detection-only). :class:`JDEMixture` offsets identities per source so they are unique over the
mixture, as JDE's ``JointDataset`` does.
"""

from __future__ import annotations

import configparser
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from PIL import Image

from vadlib.data.errors import DatasetError, directory_error
from vadlib.data.files import open_image, read_text, reading

__all__ = ["MOT_COLUMNS", "read_mot", "write_mot", "canonical_mot",
           "read_seqinfo", "sequences", "frames", "index", "half_split", "MOTFrames",
           "collate_frames", "jde_images", "jde_index", "jde_label_path", "JDEMixture",
           "JDE_LIST_FILES", "jde_list_file", "mot_to_jde", "MOT_CLASSES"]

#: MOT16/17 ground-truth classes (Milan et al. 2016, Table 3).
MOT_CLASSES = {1: "pedestrian", 2: "person on vehicle", 3: "car", 4: "bicycle", 5: "motorbike",
               6: "non motorized vehicle", 7: "static person", 8: "distractor", 9: "occluder",
               10: "occluder on the ground", 11: "occluder full", 12: "reflection"}

#: manifest name -> (dataset directory, list file name as in JDE's ``data/`` folder)
JDE_LIST_FILES = {
    "jde_eth": ("ETHZ", "eth.train"),
    "jde_citypersons": ("Cityscapes", "citypersons.train"),
    "jde_caltech": ("Caltech", "caltech.train"),
    "jde_cuhksysu": ("CUHK-SYSU", "cuhksysu.train"),
    "jde_prw": ("PRW", "prw.train"),
}
_JDE_DIRECTORIES = {directory: name for name, (directory, _) in JDE_LIST_FILES.items()}
#: folder names in JDE's list files -> the dataset directories of the manifests
#: (JDE's cuhksysu.train says CUHKSYSU/images/s1.jpg)
JDE_DIRECTORY_ALIASES = {"CUHKSYSU": "CUHK-SYSU", "Citypersons": "Cityscapes",
                         "CityPersons": "Cityscapes"}
_SEQINFO_INTS = ("frameRate", "seqLength", "imWidth", "imHeight")
_SEQINFO_KEYS = ("name", "imDir", "frameRate", "seqLength", "imWidth", "imHeight", "imExt")
_BOX = ["bb_left", "bb_top", "bb_width", "bb_height"]
_REQUIRED = ["frame", "id"] + _BOX

#: Column names used for MOTChallenge rows (MOT16/17/20 layout; MOT15 files have ``x, y, z`` world
#: coordinates (-1) in place of ``class, visibility`` plus one more column).
MOT_COLUMNS = ["frame", "id", "bb_left", "bb_top", "bb_width", "bb_height", "conf", "class",
               "visibility"]
_MOT15_TAIL = ["x", "y", "z"]


# --------------------------------------------------------------------------------------------
# MOTChallenge text files


def read_mot(path) -> pd.DataFrame:
    """Read a MOTChallenge text file (``gt.txt`` or a tracker's ``<seq>.txt``).

    Format (MOTChallenge devkit; Milan et al., "MOT16: A benchmark for multi-object tracking",
    2016): one comma-separated row per box, ``frame, id, bb_left, bb_top, bb_width, bb_height,
    conf, ...`` with 1-based frames. GT files of MOT16/17/20 continue with ``class, visibility``;
    MOT15 files and tracker outputs with ``x, y, z`` (world coordinates, -1). Columns are named
    accordingly (:data:`MOT_COLUMNS`, or ``conf, x, y, z`` for 10-column files); frame and id are
    integers, the rest floats.

    Raises:
        ValueError: fewer than 6 columns or non-numeric values.
    """
    path = Path(path)
    text = path.read_text()
    if not text.strip():
        return pd.DataFrame({c: pd.Series(dtype=float) for c in MOT_COLUMNS[:7]}).astype(
            {"frame": np.int64, "id": np.int64})
    try:
        df = pd.read_csv(io.StringIO(text), header=None, sep=r"\s*,\s*|\s+", engine="python")
    except Exception as err:  # pragma: no cover - pandas message is informative enough
        raise ValueError(f"cannot parse MOTChallenge file {path}: {err}") from None
    df = df.dropna(axis=1, how="all")
    n = df.shape[1]
    if n < 6:
        raise ValueError(f"{path}: MOTChallenge rows need >= 6 columns, found {n}")
    if n == 10:
        names = MOT_COLUMNS[:7] + _MOT15_TAIL
    elif n <= len(MOT_COLUMNS):
        names = MOT_COLUMNS[:n]
    else:
        names = MOT_COLUMNS + [f"extra{i}" for i in range(n - len(MOT_COLUMNS))]
    df.columns = names
    try:
        df = df.apply(pd.to_numeric)
    except ValueError:
        raise ValueError(f"{path}: non-numeric values in a MOTChallenge file") from None
    return df.astype({"frame": np.int64, "id": np.int64})


def write_mot(df: pd.DataFrame, path, *, kind: str = "pred") -> Path:
    """Write boxes as a MOTChallenge text file.

    Rows are sorted by (frame, id) and written as ``frame, id, bb_left, bb_top, bb_width,
    bb_height, conf, ...``. ``kind="pred"`` writes the 10-column tracker layout (``conf`` default
    -1, then ``x, y, z`` = -1, or the DataFrame's ``x, y, z``); ``kind="gt"`` writes the MOT16/17
    GT layout ``conf, class, visibility`` (defaults 1, 1, 1: considered, pedestrian, visible).
    Format source: MOTChallenge devkit (Milan et al. 2016); TrackEval reads column 7 as the GT
    "consider" flag / tracker confidence and column 8 as the class.

    Raises:
        ValueError: missing required columns, NaN values, negative widths/heights.
    """
    if kind not in ("pred", "gt"):
        raise ValueError(f"kind must be 'pred' or 'gt', got {kind!r}")
    out = canonical_mot(df, kind, name="df")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        for row in out.itertuples(index=False):
            vals = list(row)
            fh.write(",".join([str(int(vals[0])), str(int(vals[1]))]
                              + [_fmt(v) for v in vals[2:]]) + "\n")
    return path


def _fmt(v: float) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def canonical_mot(df: pd.DataFrame, kind: str = "pred", name: str = "df") -> pd.DataFrame:
    """The rows :func:`write_mot` writes: checked, in the MOTChallenge column layout, sorted.

    Columns ``frame, id, bb_left, bb_top, bb_width, bb_height`` then, for ``kind="gt"``,
    ``conf, class, visibility`` (defaults 1, 1, 1), for ``kind="pred"`` ``conf, x, y, z``
    (defaults -1; a ``class`` column goes to ``x``, the 8th column, which TrackEval reads as the
    tracker class). Sorted by (frame, id). ``name`` labels the input in error messages.

    Raises:
        ValueError: not a DataFrame, missing required columns, non-numeric or NaN values,
            negative widths/heights, frames < 1, non-integer frames or ids.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a DataFrame or a MOTChallenge file path")
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; expected {_REQUIRED} (+ optional"
                         " conf, class, visibility / x, y, z)")
    out = pd.DataFrame({c: df[c] for c in _REQUIRED})
    if kind == "gt":
        out["conf"] = df["conf"] if "conf" in df else 1
        out["class"] = df["class"] if "class" in df else 1
        out["visibility"] = df["visibility"] if "visibility" in df else 1
    else:
        out["conf"] = df["conf"] if "conf" in df else -1
        for c in _MOT15_TAIL:
            out[c] = df[c] if c in df else -1
        if "class" in df:  # TrackEval reads column 8 as the tracker class
            out["x"] = df["class"]
    try:
        out = out.apply(pd.to_numeric)
    except ValueError:
        raise ValueError(f"{name} has non-numeric values") from None
    vals = out.to_numpy(dtype=np.float64)
    if np.isnan(vals).any():
        r, c = np.argwhere(np.isnan(vals))[0]
        raise ValueError(f"{name} has NaN values (first in column {out.columns[c]!r}, row {r})")
    if (out["bb_width"] < 0).any() or (out["bb_height"] < 0).any():
        raise ValueError(f"{name} has boxes with negative width/height (x2 < x1 or y2 < y1)")
    if (out["frame"] < 1).any():
        raise ValueError(f"{name}: MOTChallenge frames are 1-based; found frame < 1")
    if (out["frame"] != np.round(out["frame"])).any() or (out["id"] != np.round(out["id"])).any():
        raise ValueError(f"{name}: frame and id must be integers")
    return out.sort_values(["frame", "id"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# MOTChallenge


def _dataset_name(root: Path) -> str:
    """The manifest name (mot15/mot16/mot17) a root belongs to, for error messages."""
    text = root.name.upper()
    for key, name in (("MOT15", "mot15"), ("2015", "mot15"), ("MOT16", "mot16"),
                      ("MOT17", "mot17")):
        if key in text:
            return name
    for split in ("train", "test", "images/train", "images/test"):
        for seq in sorted((root / split).glob("*"))[:1] if (root / split).is_dir() else []:
            if seq.name.startswith("MOT16"):
                return "mot16"
            if seq.name.startswith("MOT17"):
                return "mot17"
            return "mot15"
    return "mot17"


def read_seqinfo(seq_dir: str | Path, *, dataset: str | None = None) -> dict[str, Any]:
    """The ``[Sequence]`` section of ``<seq_dir>/seqinfo.ini`` as a dict.

    Keys keep the file's spelling: ``name, imDir, frameRate, seqLength, imWidth, imHeight,
    imExt`` (``frameRate, seqLength, imWidth, imHeight`` as int); any other keys are kept as
    strings.

    Raises:
        DatasetError: no ``seqinfo.ini``, no ``[Sequence]`` section or a key missing.
    """
    seq_dir = Path(seq_dir)
    dataset = dataset or _dataset_name(seq_dir.parent.parent)
    path = seq_dir / "seqinfo.ini"
    if not path.is_file():
        raise DatasetError(dataset, seq_dir.parent.parent,
                           f"no seqinfo.ini in sequence {seq_dir.name} ({path})")
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep imWidth, not imwidth
    try:
        parser.read_string(read_text(path, dataset, seq_dir.parent.parent, "seqinfo.ini"))
        section = dict(parser["Sequence"])
    except (configparser.Error, KeyError) as error:
        raise DatasetError(dataset, seq_dir.parent.parent,
                           f"seqinfo.ini of sequence {seq_dir.name} has no readable [Sequence] "
                           f"section ({error})") from None
    missing = [key for key in _SEQINFO_KEYS if key not in section]
    if missing:
        raise DatasetError(dataset, seq_dir.parent.parent,
                           f"seqinfo.ini of sequence {seq_dir.name} lacks {', '.join(missing)}")
    for key in _SEQINFO_INTS:
        try:
            section[key] = int(section[key])
        except ValueError:
            raise DatasetError(dataset, seq_dir.parent.parent,
                               f"seqinfo.ini of sequence {seq_dir.name}: {key}={section[key]!r} "
                               "is not an integer") from None
    return section


def _split_dir(root: Path, split: str, dataset: str) -> Path:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not root.is_dir():
        raise directory_error(dataset, root, "the dataset directory does not exist")
    for candidate in (root / split, root / "images" / split):
        if candidate.is_dir() and any(p.is_dir() for p in candidate.iterdir()):
            return candidate
    raise DatasetError(dataset, root, f"no sequences in {split}/ (nor images/{split}/)")


def sequences(root: str | Path, split: str = "train", *,
              dataset: str | None = None) -> pd.DataFrame:
    """One row per sequence of ``split``, from its ``seqinfo.ini``.

    Columns: ``sequence`` (folder name, e.g. ``MOT17-02-FRCNN``), ``video`` (without the MOT17
    detector suffix), ``detector`` (``DPM``/``FRCNN``/``SDP`` or ``""``), ``path``, the
    seqinfo keys ``name, imDir, frameRate, seqLength, imWidth, imHeight, imExt``, and
    ``has_gt``/``has_det`` (whether ``gt/gt.txt`` / ``det/det.txt`` exist).

    Raises:
        DatasetError: no root, no sequences, or a sequence without a valid ``seqinfo.ini``.
    """
    root = Path(root)
    dataset = dataset or _dataset_name(root)
    split_dir = _split_dir(root, split, dataset)
    rows = []
    for seq_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        info = read_seqinfo(seq_dir, dataset=dataset)
        video, _, detector = seq_dir.name.rpartition("-")
        if detector not in ("DPM", "FRCNN", "SDP"):
            video, detector = seq_dir.name, ""
        rows.append({"sequence": seq_dir.name, "video": video, "detector": detector,
                     "path": str(seq_dir), **{key: info[key] for key in _SEQINFO_KEYS},
                     "has_gt": (seq_dir / "gt" / "gt.txt").is_file(),
                     "has_det": (seq_dir / "det" / "det.txt").is_file()})
    return pd.DataFrame(rows)


_sequence_table = sequences  # MOTFrames' argument `sequences` shadows the function


def _select(table: pd.DataFrame, wanted: Sequence[str] | None, dataset: str,
            root: Path) -> pd.DataFrame:
    if wanted is None:
        return table
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    unknown = [name for name in wanted if name not in set(table["sequence"])]
    if unknown:
        raise DatasetError(dataset, root, f"no sequence(s) {', '.join(unknown)}; found "
                           f"{', '.join(table['sequence'])}")
    return table.set_index("sequence").loc[wanted].reset_index()


def _frame_path(seq: Mapping[str, Any], frame: int) -> Path:
    return Path(seq["path"]) / seq["imDir"] / f"{frame:06d}{seq['imExt']}"


def frames(root: str | Path, split: str = "train", seqs: Sequence[str] | None = None, *,
           check: bool = True, dataset: str | None = None) -> pd.DataFrame:
    """One row per frame 1..seqLength of each sequence: ``sequence, frame, path, width, height``.

    ``seqs``: sequence folder names (default all). With ``check`` every image must exist.

    Raises:
        DatasetError: as :func:`sequences`, or a missing image (naming sequence and frame).
    """
    root = Path(root)
    dataset = dataset or _dataset_name(root)
    table = _select(sequences(root, split, dataset=dataset), seqs, dataset, root)
    rows = []
    for seq in table.to_dict("records"):
        for frame in range(1, seq["seqLength"] + 1):
            path = _frame_path(seq, frame)
            if check and not path.is_file():
                raise DatasetError(dataset, root, f"missing frame {frame} of sequence "
                                   f"{seq['sequence']} ({path}; seqLength={seq['seqLength']})")
            rows.append((seq["sequence"], frame, str(path), seq["imWidth"], seq["imHeight"]))
    return pd.DataFrame(rows, columns=["sequence", "frame", "path", "width", "height"])


def _read_boxes(seq: Mapping[str, Any], kind: str, dataset: str, root: Path) -> pd.DataFrame:
    """The gt or det rows of one sequence in the columns of :func:`index`."""
    path = Path(seq["path"]) / kind / f"{kind}.txt"
    if not path.is_file():
        hint = (" (MOTChallenge keeps test ground truth hidden; use kind='det' or no boxes)"
                if kind == "gt" and Path(seq["path"]).parent.name == "test" else "")
        raise DatasetError(dataset, root, f"no {kind}/{kind}.txt in sequence "
                           f"{seq['sequence']}{hint}")
    with reading(dataset, root, path, f"MOTChallenge {kind} file"):
        table = read_mot(path)
    out = table[["frame", "id"] + _BOX].copy()
    out["conf"] = table["conf"].astype(float) if "conf" in table else 1.0
    if kind == "det":
        out["class"], out["visibility"] = -1, np.nan
    elif "class" in table and "visibility" in table:  # MOT16/17/20
        out["class"], out["visibility"] = table["class"].astype(np.int64), table["visibility"]
    else:  # MOT15: x, y, z world coordinates instead; pedestrians only, no visibility
        out["class"], out["visibility"] = 1, 1.0
    bad = out[(out["frame"] < 1) | (out["frame"] > seq["seqLength"])]
    if len(bad):
        raise DatasetError(dataset, root, f"{kind}/{kind}.txt of sequence {seq['sequence']} "
                           f"refers to frame {int(bad['frame'].iloc[0])}, outside 1.."
                           f"{seq['seqLength']} (seqLength in seqinfo.ini)")
    out.insert(0, "sequence", seq["sequence"])
    out["path"] = [str(_frame_path(seq, int(f))) for f in out["frame"]]
    out["image_width"], out["image_height"] = seq["imWidth"], seq["imHeight"]
    return out.astype({"class": np.int64, "visibility": float})


def index(root: str | Path, split: str = "train", kind: str = "gt",
          seqs: Sequence[str] | None = None, *, dataset: str | None = None) -> pd.DataFrame:
    """One row per box of ``gt/gt.txt`` (``kind="gt"``) or ``det/det.txt`` (``kind="det"``).

    Columns: ``sequence, frame`` (1-based, as in the files), ``id`` (track id; -1 for
    detections), ``bb_left, bb_top, bb_width, bb_height`` (pixels), ``conf`` (gt: consider flag
    0/1; det: detector score), ``class`` (gt: :data:`MOT_CLASSES`, MOT15: 1; det: -1),
    ``visibility`` (gt: 0..1, MOT15: 1.0; det: NaN), ``path`` (the frame image),
    ``image_width, image_height``. Frames without boxes have no row; :func:`frames` lists them.
    ``seqs`` restricts to some sequence folders. Sorted by sequence, frame, id.

    Raises:
        DatasetError: as :func:`sequences`, a missing/unparsable text file, frames outside
            ``1..seqLength``, or no box at all.
    """
    if kind not in ("gt", "det"):
        raise ValueError(f"kind must be 'gt' or 'det', got {kind!r}")
    root = Path(root)
    dataset = dataset or _dataset_name(root)
    table = _select(sequences(root, split, dataset=dataset), seqs, dataset, root)
    parts = [_read_boxes(seq, kind, dataset, root) for seq in table.to_dict("records")]
    out = pd.concat(parts, ignore_index=True)
    if out.empty:
        raise DatasetError(dataset, root, f"no boxes in any {kind}/{kind}.txt of {split}/")
    return out.sort_values(["sequence", "frame", "id"], kind="stable").reset_index(drop=True)


def half_split(seq_length: int) -> tuple[list[int], list[int]]:
    """FairMOT's MOT17 "half" split of one sequence: (train frames, val frames), 1-based.

    The first ``int(seq_length / 2)`` frames train, the rest validate, exactly as FairMOT
    builds ``mot17.half`` and ``mot17.val`` (``src/gen_data_path.py``: image indices
    ``range(len_half)`` and ``range(len_half, len_all)``) and as ``src/track_half.py`` starts
    tracking at index ``int(len_all / 2)``. (CenterTrack's ``convert_mot_to_coco.py`` "half"
    split differs by one frame: it trains on indices ``0..N//2`` and validates on the rest.)
    """
    n = int(seq_length)
    if n < 2:
        raise ValueError(f"a sequence needs >= 2 frames to be halved, got {n}")
    half = n // 2
    return list(range(1, half + 1)), list(range(half + 1, n + 1))


def _target_size(resize: int | tuple[int, int] | None, width: int,
                 height: int) -> tuple[int, int]:
    """(width, height) after ``resize``: an int is a square, a pair is (height, width)."""
    if resize is None:
        return width, height
    if isinstance(resize, int):
        return resize, resize
    return int(resize[1]), int(resize[0])


#: the grey of JDE's letterbox borders (127.5 of 255)
LETTERBOX_FILL = 0.5


def placement(width: int, height: int, resize: int | tuple[int, int] | None,
              letterbox: bool = False) -> tuple[tuple[int, int], tuple[float, float], tuple[int, int]]:
    """Where a ``width``×``height`` frame lands in the network's image: ``(canvas (width,
    height), scale (x, y), offset (left, top))``, so that ``network = original · scale +
    offset``. Plain resizing stretches the frame to the canvas (offset 0); ``letterbox`` (JDE's
    and FairMOT's ``letterbox``) scales both sides by ``min(W/width, H/height)`` and centres the
    frame on a grey canvas, keeping its aspect ratio."""
    canvas = _target_size(resize, width, height)
    if not letterbox or canvas == (width, height):
        return canvas, (canvas[0] / width, canvas[1] / height), (0, 0)
    ratio = min(canvas[0] / width, canvas[1] / height)
    inner = (round(width * ratio), round(height * ratio))
    offset = (round((canvas[0] - inner[0]) / 2 - 0.1), round((canvas[1] - inner[1]) / 2 - 0.1))
    return canvas, (inner[0] / width, inner[1] / height), offset


def _load_image(path: str, size: tuple[int, int], letterbox: bool = False, *, dataset: str,
                root: Path | None = None):
    """The image at ``path`` as float32 3×H×W in [0, 1], resized (or letterboxed) to ``size``
    (width, height); a damaged file raises :class:`~vadlib.data.errors.DatasetFileError`."""
    with open_image(path, dataset, root) as image:
        return _network_image(image.convert("RGB"), size, letterbox)


def _network_image(image: Image.Image, size: tuple[int, int], letterbox: bool):
    import torch

    canvas, scale, offset = placement(*image.size, size[::-1], letterbox)
    inner = (round(image.size[0] * scale[0]), round(image.size[1] * scale[1]))
    if image.size != inner:
        image = image.resize(inner, Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    if inner != canvas:
        padded = np.full((canvas[1], canvas[0], 3), LETTERBOX_FILL, dtype=np.float32)
        padded[offset[1]:offset[1] + inner[1], offset[0]:offset[0] + inner[0]] = array
        array = padded
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def letterbox_array(rgb: np.ndarray, size: tuple[int, int], letterbox: bool = True):
    """``(image, scale, offset)`` of an RGB frame (uint8 H×W×3, e.g. a video frame) prepared as
    :class:`MOTFrames` prepares its frames for a network of input ``size`` (height, width):
    float32 3×H×W in [0, 1], with :func:`placement`'s scale and offset to map boxes back."""
    height, width = rgb.shape[:2]
    canvas, scale, offset = placement(width, height, size, letterbox)
    return _network_image(Image.fromarray(np.ascontiguousarray(rgb)), canvas, letterbox), scale, offset


try:
    from torch.utils.data import Dataset as _TorchDataset
except ImportError:  # index() and friends work without torch
    _TorchDataset = object


class MOTFrames(_TorchDataset):
    """Frames of MOTChallenge sequences with their boxes, one item per frame.

    Every frame ``1..seqLength`` of every selected sequence is an item, with or without boxes;
    all images are checked to exist when the dataset is built.

    Args:
        root: the dataset directory (``MOT17``, ``MOT16``, ``MOT15``).
        split: ``"train"`` or ``"test"``.
        sequences: sequence folder names to use (default all of the split).
        resize: None (native size), an int (square) or (height, width); boxes are scaled alike.
        letterbox: keep the frame's aspect ratio inside ``resize`` on a grey canvas
            (:func:`placement`, JDE/FairMOT's input) instead of stretching it.
        kind: boxes from ``"gt"``, ``"det"`` or None (frames only, e.g. test without dets).
        half: None, ``"train"`` or ``"val"``: only that half of each sequence
            (:func:`half_split`, FairMOT's MOT17 validation protocol).
        pedestrians_only: keep only gt boxes with ``conf != 0`` and class 1, the filter of
            FairMOT's ``gen_labels_16.py`` and of the evaluation.
        transform: optional callable applied to the item dict.

    Items: ``image`` (float32 3×H×W in [0, 1]), ``boxes`` (float32 N×4, ``bb_left, bb_top,
    bb_width, bb_height`` in pixels of the returned image), ``ids`` (int64), ``classes``
    (int64), ``visibility`` (float32), ``conf`` (float32, flag or score), ``frame`` (int,
    1-based), ``sequence`` (str), ``path`` (str), ``orig_size`` ((height, width)), ``scale``
    ((x, y)) and ``offset`` ((left, top)): returned pixels = original pixels · scale + offset.

    Raises:
        DatasetError: as :func:`frames` and :func:`index`.
    """

    def __init__(self, root: str | Path, split: str = "train",
                 sequences: Sequence[str] | None = None,
                 resize: int | tuple[int, int] | None = None, *, kind: str | None = "gt",
                 half: str | None = None, pedestrians_only: bool = False,
                 transform: Callable[[dict], dict] | None = None, dataset: str | None = None,
                 letterbox: bool = False):
        if half not in (None, "train", "val"):
            raise ValueError(f"half must be None, 'train' or 'val', got {half!r}")
        self.root = Path(root)
        self.dataset = dataset or _dataset_name(self.root)
        self.resize, self.transform, self.kind, self.letterbox = resize, transform, kind, letterbox
        self.sequences = _select(_sequence_table(self.root, split, dataset=self.dataset),
                                 sequences, self.dataset, self.root)
        table = frames(self.root, split, list(self.sequences["sequence"]), dataset=self.dataset)
        if half is not None:
            lengths = dict(zip(self.sequences["sequence"], self.sequences["seqLength"]))
            keep = {seq: set(half_split(n)[0 if half == "train" else 1])
                    for seq, n in lengths.items()}
            table = table[[f in keep[s] for s, f in zip(table["sequence"], table["frame"])]]
        self.frames = table.reset_index(drop=True)
        if self.frames.empty:
            raise DatasetError(self.dataset, self.root, f"no frames in {split}/")
        self._boxes: dict[tuple[str, int], np.ndarray] = {}
        if kind is not None:
            boxes = index(self.root, split, kind, list(self.sequences["sequence"]),
                          dataset=self.dataset)
            if pedestrians_only and kind == "gt":
                boxes = boxes[(boxes["conf"] != 0) & (boxes["class"] == 1)]
            columns = _BOX + ["id", "class", "visibility", "conf"]
            for key, group in boxes.groupby(["sequence", "frame"], sort=False):
                self._boxes[key] = group[columns].to_numpy(dtype=np.float64)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, position: int) -> dict[str, Any]:
        import torch

        row = self.frames.iloc[position]
        size, scale, offset = placement(int(row.width), int(row.height), self.resize, self.letterbox)
        image = _load_image(row.path, size, self.letterbox, dataset=self.dataset, root=self.root)
        values = self._boxes.get((row.sequence, int(row.frame)), np.zeros((0, 8)))
        boxes = values[:, :4] * np.array(scale * 2) + np.array(offset + (0, 0))
        item = {
            "image": image,
            "boxes": torch.as_tensor(boxes, dtype=torch.float32),
            "ids": torch.as_tensor(values[:, 4], dtype=torch.int64),
            "classes": torch.as_tensor(values[:, 5], dtype=torch.int64),
            "visibility": torch.as_tensor(values[:, 6], dtype=torch.float32),
            "conf": torch.as_tensor(values[:, 7], dtype=torch.float32),
            "frame": int(row.frame), "sequence": str(row.sequence), "path": str(row.path),
            "orig_size": (int(row.height), int(row.width)), "scale": scale, "offset": offset,
        }
        return self.transform(item) if self.transform else item


def collate_frames(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack the images of same-size items; keep per-item boxes and labels as lists."""
    import torch

    out = {"image": torch.stack([item["image"] for item in batch])}
    for key in batch[0]:
        if key != "image":
            out[key] = [item[key] for item in batch]
    return out


# --------------------------------------------------------------------------------------------
# JDE / FairMOT mixture


def jde_label_path(image: str | Path) -> Path:
    """The label file of an image: the ``images`` folder becomes ``labels_with_ids`` and the
    extension ``.txt`` (JDE's rule, applied to the last folder named ``images`` only, so that a
    root path containing the word is left alone)."""
    parts = list(Path(image).parts)
    where = [i for i, part in enumerate(parts[:-1]) if part == "images"]
    if not where:
        raise ValueError(f"{image}: a JDE image path needs an 'images' folder")
    parts[where[-1]] = "labels_with_ids"
    return Path(*parts).with_suffix(".txt")


def jde_list_file(name: str, data_root: str | Path | None = None) -> Path:
    """Where the list file of source ``name`` (a key of :data:`JDE_LIST_FILES`) is expected:
    ``<data root>/<dataset directory>/<list file>``, e.g. ``<data root>/ETHZ/eth.train``.

    JDE and FairMOT keep these files in their repositories' ``data/`` folders; copy them there
    (the synthetic twins write them there)."""
    from vadlib import paths

    directory, list_name = JDE_LIST_FILES[name]
    return Path(data_root or paths.data_root()) / directory / list_name


def _dealias(line: str) -> str:
    head, _, rest = line.partition("/")
    return f"{JDE_DIRECTORY_ALIASES[head]}/{rest}" if head in JDE_DIRECTORY_ALIASES else line


def _source_dataset(lines: list[str], list_file: Path) -> str:
    first = Path(_dealias(lines[0])).parts[0] if lines else ""
    if first in _JDE_DIRECTORIES:
        return _JDE_DIRECTORIES[first]
    if first.upper().startswith("MOT"):
        return first.lower() if first.lower() in ("mot15", "mot16", "mot17") else "mot17"
    return f"jde_{list_file.stem}"


def jde_images(root: str | Path, list_file: str | Path) -> pd.DataFrame:
    """One row per image of a JDE list file: ``image`` and ``label`` (absolute paths).

    ``root`` is the mixture root the list's paths are relative to; the dataset directory
    itself (e.g. ``<root>/ETHZ``) is accepted too. Folder names of JDE's lists that differ from
    the manifests' directories are mapped (:data:`JDE_DIRECTORY_ALIASES`, e.g. ``CUHKSYSU/`` to
    ``CUHK-SYSU/``). A relative ``list_file`` is looked up in the
    working directory, then under ``root``.

    Raises:
        DatasetError: no list file, an empty list, or a listed image or label file missing.
    """
    root = Path(root)
    list_path = Path(list_file)
    if not list_path.is_absolute() and not list_path.is_file():
        list_path = root / list_path
    stem = Path(list_file).stem.split(".")[0]
    by_stem = {list_name.split(".")[0]: name for name, (_, list_name) in JDE_LIST_FILES.items()}
    dataset_guess = _JDE_DIRECTORIES.get(root.name) or by_stem.get(stem) or (
        "mot17" if stem.startswith("mot17") else f"jde_{stem}")
    if not list_path.is_file():
        raise DatasetError(dataset_guess, root, f"no list file {list_file} (JDE/FairMOT "
                           "keep them in their repositories' data/ folder)")
    lines = [line.strip() for line in read_text(list_path, dataset_guess, root, "list file").splitlines()
             if line.strip()]
    dataset = _source_dataset(lines, list_path)
    if not lines:
        raise DatasetError(dataset, root, f"list file {list_path} names no image")
    if not any((root / line).is_file() for line in lines[:1]) and any(
            (root / _dealias(line)).is_file() or (root.parent / _dealias(line)).is_file()
            for line in lines[:1]):
        lines = [_dealias(line) for line in lines]  # e.g. CUHKSYSU/ -> CUHK-SYSU/
    base = root
    if not (root / lines[0]).is_file() and (root.parent / lines[0]).is_file():
        base = root.parent  # root was the dataset directory itself
    rows = []
    for line in lines:
        image = base / line
        try:
            label = base / jde_label_path(line)
        except ValueError as error:
            raise DatasetError(dataset, root, f"{list_path.name}: {error}") from None
        if not image.is_file():
            raise DatasetError(dataset, root, f"missing image {line} (listed in {list_path.name})")
        if not label.is_file():
            raise DatasetError(dataset, root, f"missing label file {jde_label_path(line)} for "
                               f"image {line}")
        rows.append((str(image), str(label)))
    out = pd.DataFrame(rows, columns=["image", "label"])
    out.attrs["dataset"] = dataset
    return out


def _read_labels(label: str, dataset: str, root: Path) -> np.ndarray:
    text = read_text(label, dataset, root, "label file").strip()
    if not text:
        return np.zeros((0, 6))
    try:
        values = np.array([[float(v) for v in line.split()] for line in text.splitlines()
                           if line.strip()])
    except ValueError:
        raise DatasetError(dataset, root, f"non-numeric values in label file {label}") from None
    if values.ndim != 2 or values.shape[1] != 6:
        raise DatasetError(dataset, root, f"label file {label}: rows need 6 values (class "
                           "identity x_center y_center width height)")
    return values


def jde_index(root: str | Path, list_file: str | Path) -> pd.DataFrame:
    """One row per box of the images in a JDE list file.

    Columns: ``image, label`` (paths), ``class`` (int; 0 = pedestrian), ``identity`` (int,
    source-local, -1 = none), ``x_center, y_center, width, height`` (normalised by the image
    size, as in the files). Images without boxes have no row (:func:`jde_images` lists them).

    Raises:
        DatasetError: as :func:`jde_images`, malformed label files, or no box at all.
    """
    images = jde_images(root, list_file)
    dataset = images.attrs["dataset"]
    rows = []
    for image, label in images.itertuples(index=False):
        for values in _read_labels(label, dataset, Path(root)):
            rows.append((image, label, int(values[0]), int(values[1]), *values[2:]))
    out = pd.DataFrame(rows, columns=["image", "label", "class", "identity", "x_center",
                                      "y_center", "width", "height"])
    if out.empty:
        raise DatasetError(dataset, root, f"no boxes in the label files of {list_file}")
    return out


class JDEMixture(_TorchDataset):
    """The JDE/FairMOT training mixture: several sources, identities unique over all of them.

    Args:
        root: the mixture root (the folder holding ``ETHZ/``, ``Cityscapes/``, ``MOT17/``...).
        list_files: source name -> list file, e.g. ``{"eth": "data/eth.train", ...}``; order
            matters for the identity offsets, as in JDE's config.
        resize: None, an int (square) or (height, width).
        letterbox: keep each image's aspect ratio inside ``resize`` (:func:`placement`), as JDE
            does; its random affine and colour jitter are :class:`vadlib.data.jde_augment.JDEAugment`.
        transform: optional callable applied to the item dict.

    Identities: as JDE's ``JointDataset``, each source has ``num_identities[name] = max
    identity + 1`` (0 when all are -1), offsets are the cumulative sums in order
    (``id_offsets``), and a box's global identity is its identity plus its source's offset;
    -1 stays -1. ``total_identities`` is the sum; ``nID`` = sum + 1 is the size JDE and FairMOT
    give their identity classifier.

    Items: ``image`` (float32 3×H×W), ``boxes`` (float32 N×4 ``left, top, width, height`` in
    pixels of the returned image), ``boxes_normalized`` (float32 N×4 ``x_center, y_center,
    width, height`` as in the file), ``ids`` (int64, global), ``local_ids`` (int64),
    ``classes`` (int64), ``source`` (str), ``path`` (str).

    Raises:
        DatasetError: as :func:`jde_images`.
    """

    def __init__(self, root: str | Path, list_files: Mapping[str, str | Path],
                 resize: int | tuple[int, int] | None = None,
                 transform: Callable[[dict], dict] | None = None, letterbox: bool = False):
        if not list_files:
            raise ValueError("list_files is empty: give at least one source")
        self.root, self.resize, self.transform, self.letterbox = Path(root), resize, transform, letterbox
        self.num_identities: dict[str, int] = {}
        self.id_offsets: dict[str, int] = {}
        self.num_images: dict[str, int] = {}
        self._datasets: dict[str, str] = {}  # source name -> dataset name, for errors
        items, offset = [], 0
        for name, list_file in list_files.items():
            images = jde_images(self.root, list_file)
            labels = [_read_labels(label, images.attrs["dataset"], self.root)
                      for label in images["label"]]
            largest = max((int(v[:, 1].max()) for v in labels if len(v)), default=-1)
            self.num_identities[name] = largest + 1
            self.id_offsets[name] = offset
            self.num_images[name] = len(images)
            self._datasets[name] = images.attrs["dataset"]
            offset += largest + 1
            items += [(name, image, values) for image, values in zip(images["image"], labels)]
        self.total_identities = offset
        self.nID = offset + 1
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def summary(self) -> pd.DataFrame:
        """Images, identities and identity offset per source."""
        return pd.DataFrame({"images": self.num_images, "identities": self.num_identities,
                             "offset": self.id_offsets})

    def __getitem__(self, position: int) -> dict[str, Any]:
        import torch

        name, path, values = self.items[position]
        dataset = self._datasets[name]
        with open_image(path, dataset, self.root) as probe:
            width, height = probe.size
        size, scale, offset = placement(width, height, self.resize, self.letterbox)
        image = _load_image(path, size, self.letterbox, dataset=dataset, root=self.root)
        normalized = values[:, 2:6]
        inner = (width * scale[0], height * scale[1])
        pixels = np.stack([(normalized[:, 0] - normalized[:, 2] / 2) * inner[0] + offset[0],
                           (normalized[:, 1] - normalized[:, 3] / 2) * inner[1] + offset[1],
                           normalized[:, 2] * inner[0], normalized[:, 3] * inner[1]], axis=1)
        local = values[:, 1].astype(np.int64)
        global_ids = np.where(local >= 0, local + self.id_offsets[name], -1)
        item = {"image": image,
                "boxes": torch.as_tensor(pixels.reshape(-1, 4), dtype=torch.float32),
                "boxes_normalized": torch.as_tensor(normalized.reshape(-1, 4),
                                                    dtype=torch.float32),
                "ids": torch.as_tensor(global_ids, dtype=torch.int64),
                "local_ids": torch.as_tensor(local, dtype=torch.int64),
                "classes": torch.as_tensor(values[:, 0].astype(np.int64), dtype=torch.int64),
                "source": name, "path": path}
        return self.transform(item) if self.transform else item


def mot_to_jde(mot_root: str | Path, list_file: str | Path, *, split: str = "train",
               detector: str | None = "SDP", part: str = "all") -> Path:
    """Convert MOTChallenge ground truth to JDE labels, as FairMOT's ``gen_labels_16.py`` and
    ``gen_data_path.py`` do, and write the list file.

    Needs FairMOT's layout, ``<mot_root>/images/<split>/<seq>/img1/*.jpg`` (move ``train/`` and
    ``test/`` under ``images/`` first), because label paths derive from image paths by
    replacing ``images``. Keeps gt rows with ``conf != 0`` and class 1 (MOT15: all rows), writes
    ``<mot_root>/labels_with_ids/<split>/<seq>/img1/<frame>.txt`` for every frame (empty when no
    box), with identities numbered 0, 1, ... per (sequence, track) in order of appearance over
    the sorted sequences, and the list file with image paths relative to ``mot_root``'s parent.

    Args:
        detector: MOT17 copy to use (FairMOT: ``"SDP"``); None for every sequence (MOT15/16).
        part: ``"all"``, ``"train_half"`` or ``"val_half"`` (:func:`half_split`; FairMOT's
            ``mot17.half`` is the train half of the SDP copies).

    Returns:
        The list file path.
    """
    mot_root = Path(mot_root)
    dataset = _dataset_name(mot_root)
    if not (mot_root / "images" / split).is_dir():
        raise DatasetError(dataset, mot_root, f"no images/{split}/: JDE labels derive from image "
                           f"paths through an 'images' folder; move {split}/ to images/{split}/ "
                           "as FairMOT's README says")
    if part not in ("all", "train_half", "val_half"):
        raise ValueError(f"part must be 'all', 'train_half' or 'val_half', got {part!r}")
    table = sequences(mot_root, split, dataset=dataset)
    if detector is not None and (table["detector"] != "").any():
        table = table[table["detector"] == detector]
    boxes = index(mot_root, split, "gt", list(table["sequence"]), dataset=dataset)
    boxes = boxes[(boxes["conf"] != 0) & (boxes["class"] == 1)]
    identities: dict[tuple[str, int], int] = {}
    lines = []
    for seq in table.to_dict("records"):
        wanted = range(1, seq["seqLength"] + 1)
        if part != "all":
            wanted = half_split(seq["seqLength"])[0 if part == "train_half" else 1]
        seq_boxes = boxes[boxes["sequence"] == seq["sequence"]].sort_values(["id", "frame"])
        per_frame: dict[int, list[str]] = {}
        for row in seq_boxes.itertuples(index=False):
            identity = identities.setdefault((seq["sequence"], int(row.id)), len(identities))
            w, h = seq["imWidth"], seq["imHeight"]
            per_frame.setdefault(int(row.frame), []).append(
                f"0 {identity:d} {(row.bb_left + row.bb_width / 2) / w:.6f} "
                f"{(row.bb_top + row.bb_height / 2) / h:.6f} {row.bb_width / w:.6f} "
                f"{row.bb_height / h:.6f}\n")
        for frame in wanted:
            image = _frame_path(seq, frame)
            relative = image.relative_to(mot_root.parent)
            label = mot_root.parent / jde_label_path(relative)
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("".join(per_frame.get(frame, [])))
            lines.append(relative.as_posix() + "\n")
    list_path = Path(list_file)
    list_path.parent.mkdir(parents=True, exist_ok=True)
    list_path.write_text("".join(lines))
    return list_path
