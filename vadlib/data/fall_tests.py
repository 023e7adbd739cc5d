"""Paper B's real fall test sets as classifier samples: Intentional Fall and Dummy.

ThermalSynth (Madan et al., WACVW 2023; thesis Paper B §4.1, L1814-L1820) trains AlexNet and
ResNet-18 on synthetic data only and tests them on two thermal sets of the Aalborg harbour, both
recorded by the Visual Analysis and Perception lab of Aalborg University and not public:

* **Intentional Fall** (Bonderup et al., "Preventing drowning accidents using thermal cameras",
  ISVC 2016): volunteers jumping into the water, spring 2016; the subset showing the LTD harbour
  scene, cut into 77 three-frame samples, 18 fall and 59 no fall (L1818).
* **Dummy** (Nikolov, Liu & Moeslund, "Imitating Emergencies: Generating Thermal Surveillance Fall
  Data Using Low-Cost Human-like Dolls", Sensors 22(3):825, 2022): a human-like rubber doll thrown
  into the water, September-October 2021; 1,626 three-frame samples, 580 fall and 1,046 no fall
  (L1820; L1864 speaks of "41 falls", which does not fit).

The thesis labelled both by hand at frame level (L1851) and stacked three consecutive frames into
one image after cropping and warping the water area to 185 × 115 (L1830). How the samples were
cut, and the layouts the sets come in, are not stated. vadlib reads them in its **companion
layout** (a convention, not the authors' layout)::

    <data root>/intentional_fall/       (resp. dummy_fall/)
      frames/<clip>/0000.jpg ...        full thermal frames (8-bit grey, e.g. 384×288), in time
                                        order: sorted by the number in the file name (0000.jpg,
                                        image_0000.jpg; .jpg, .jpeg or .png)
      samples.csv                       one row per sample: clip,start,label; the sample holds
                                        frames start, start+1, start+2 of <clip> (0-based
                                        positions in that order); label 1 = fall, 0 = no fall;
                                        further columns are kept in the metadata
      roi.json                          required: {"corners": [[x, y], [x, y], [x, y], [x, y]]},
                                        the water quadrilateral TL, TR, BR, BL in pixels, drawn
                                        for the set's footage; a set without it raises
                                        DatasetError (no fallback to the synthetic twin's crop;
                                        the twins write theirs)

:func:`load` returns a :class:`vadlib.data.harbour.ThermalSynthSet` like the synthetic
training data: each frame warped once with :func:`~vadlib.data.harbour.warp_roi`, channel c
of a sample = frame start + c (as :func:`~vadlib.thermal.dataset.assemble` stacks them).
``vadlib data synth intentional_fall`` / ``dummy_fall`` write synthetic twins in this layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from vadlib.data.errors import DatasetError, DatasetFileError
from vadlib.data.files import decode_image, reading
from vadlib.data.harbour import ThermalSynthSet, warp_roi
from vadlib.data.integrity import read_record
from vadlib.data.thermal import _check_root

NAMES = ("intentional_fall", "dummy_fall")
# Paper B §4.1: Intentional Fall thesis L1818, Dummy L1820 (L1864's "41 falls" contradicts it).
THESIS_COUNTS = {"intentional_fall": {"samples": 77, "fall": 18, "no_fall": 59},
                 "dummy_fall": {"samples": 1626, "fall": 580, "no_fall": 1046}}
SAMPLES_FILE, ROI_FILE, FRAMES_DIR = "samples.csv", "roi.json", "frames"
SAMPLE_COLUMNS = ("clip", "start", "label")
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
TRIPLET = 3


def load(root: str | Path, name: str | None = None) -> ThermalSynthSet:
    """The samples of a fall test set in the companion layout (see the module docstring) as a
    :class:`~vadlib.data.harbour.ThermalSynthSet`: ``samples`` N × 3 × 115 × 185 uint8,
    ``labels`` N int64 (1 fall), ``meta`` with ``sequence_id`` (= ``clip``), ``clip``, ``start``,
    ``frame_ids`` (start, start+1, start+2), ``label``, ``path`` (the first frame's file) and any
    further samples.csv columns.

    ``name`` ('intentional_fall' or 'dummy_fall') defaults to the root folder's name or the
    twin's record. Raises :class:`DatasetError` when the layout or a file is wrong.
    """
    name = _dataset_name(root, name)
    root = _check_root(name, root)
    table = read_samples(root, name)
    frame_files = _frame_files(root, name, table)
    warped = _warped_frames(root, name, table, frame_files)
    samples = np.stack([np.stack([warped[clip, start + i] for i in range(TRIPLET)])
                        for clip, start in zip(table["clip"], table["start"])])
    return ThermalSynthSet(samples, table["label"].to_numpy(np.int64), _meta(table, frame_files))


def read_samples(root: str | Path, name: str | None = None) -> pd.DataFrame:
    """samples.csv checked: columns ``clip`` (str), ``start`` and ``label`` (int) and any others."""
    name = _dataset_name(root, name)
    root = _check_root(name, root)
    path = root / SAMPLES_FILE
    if not path.is_file():
        raise DatasetError(name, root, f"no {SAMPLES_FILE} (one row per 3-frame sample: clip,start,label)")
    with reading(name, root, path, "sample table"):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in SAMPLE_COLUMNS if column not in table.columns]
    if missing:
        raise DatasetError(name, root, f"{SAMPLES_FILE} lacks column(s) {', '.join(missing)} "
                           f"(has {', '.join(table.columns) or 'none'})")
    if table.empty:
        raise DatasetError(name, root, f"{SAMPLES_FILE} has no rows")
    for column, allowed in (("start", None), ("label", ("0", "1"))):
        values = table[column].str.strip()
        bad = ~values.str.fullmatch(r"\d+") if allowed is None else ~values.isin(allowed)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            wanted = "a non-negative integer" if allowed is None else "0 (no fall) or 1 (fall)"
            raise DatasetError(name, root, f"{SAMPLES_FILE} row {row + 2}: {column} "
                               f"{table[column].iloc[row]!r} is not {wanted}")
        table[column] = values.astype(np.int64)
    table["clip"] = table["clip"].str.strip()
    return table


def counts(root: str | Path, name: str | None = None) -> dict:
    """Samples, fall and no-fall counts of samples.csv next to the thesis's (:data:`THESIS_COUNTS`)."""
    name = _dataset_name(root, name)
    labels = read_samples(root, name)["label"]
    return {"samples": len(labels), "fall": int((labels == 1).sum()),
            "no_fall": int((labels == 0).sum()), "thesis": THESIS_COUNTS[name]}


# ------------------------------------------------------------------------------- helpers

def _dataset_name(root: str | Path, name: str | None) -> str:
    if name is None:
        folder = Path(root).name
        name = folder if folder in NAMES else (read_record(Path(root)) or {}).get("dataset")
        if name not in NAMES:
            raise ValueError(f"cannot tell which fall test set {root} holds: pass name= one of "
                             f"{', '.join(NAMES)} (or name the folder so)")
    if name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(NAMES)}, got {name!r}")
    return name


def _frame_files(root: Path, name: str, table: pd.DataFrame) -> dict[str, list[Path]]:
    """The ordered frame files of every clip samples.csv names; each sample's frames must exist."""
    from vadlib.data.video import numbered_files

    files = {}
    for clip in table["clip"].unique():
        folder = root / FRAMES_DIR / clip
        if not clip or not folder.is_dir():
            raise DatasetError(name, root, f"{SAMPLES_FILE} names clip {clip!r}, but there is no "
                               f"folder {FRAMES_DIR}/{clip}/")
        files[clip] = numbered_files(folder, FRAME_SUFFIXES, name, root)
    for row, (clip, start) in enumerate(zip(table["clip"], table["start"])):
        if start + TRIPLET > len(files[clip]):
            raise DatasetError(name, root, f"{SAMPLES_FILE} row {row + 2}: clip {clip} start {start} "
                               f"needs frames {start}-{start + TRIPLET - 1}, the clip has "
                               f"{len(files[clip])} frames (0-{len(files[clip]) - 1})")
    return files


def _warped_frames(root: Path, name: str, table: pd.DataFrame,
                   frame_files: dict[str, list[Path]]) -> dict[tuple[str, int], np.ndarray]:
    """Every frame some sample uses, keyed (clip, position), read and warped once."""
    corners = _roi_corners(root, name)
    needed = sorted({(clip, start + i) for clip, start in zip(table["clip"], table["start"])
                     for i in range(TRIPLET)})
    warped, shape = {}, None
    for clip, position in needed:
        path = frame_files[clip][position]
        frame = _read_frame(root, name, path)
        if shape is not None and frame.shape != shape:
            raise DatasetError(name, root, f"frames differ in size: {_relative(root, path)} is "
                               f"{_size(frame.shape)}, earlier frames are {_size(shape)}")
        shape = frame.shape
        warped[clip, position] = warp_roi(frame, corners)
    return warped


def _read_frame(root: Path, name: str, path: Path) -> np.ndarray:
    """An 8-bit frame as grey H × W; colour files are converted."""
    import cv2

    try:
        image = decode_image(path, cv2.IMREAD_UNCHANGED, name, root)
    except DatasetFileError as error:
        raise DatasetError(name, root, f"cannot read frame {_relative(root, path)}: "
                           f"{error.reason}") from None
    if image.dtype != np.uint8:
        raise DatasetError(name, root, f"frame {_relative(root, path)} is {image.dtype}, not 8-bit "
                           "(convert the thermal frames to 8-bit grey)")
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    return image


def _roi_corners(root: Path, name: str) -> np.ndarray:
    path = root / ROI_FILE
    if not path.is_file():
        raise DatasetError(name, root, f"no {ROI_FILE}: the water quadrilateral "
                           "{\"corners\": [[x, y] x 4]} (TL, TR, BR, BL in pixels) drawn for this "
                           "set's footage (vadlib does not fall back to the synthetic twin's crop)")
    try:
        corners = np.asarray(json.loads(path.read_text())["corners"], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(name, root, f"{ROI_FILE} must hold {{\"corners\": [[x, y], [x, y], "
                           f"[x, y], [x, y]]}} (TL, TR, BR, BL in pixels): {error}") from None
    if corners.shape != (4, 2) or not np.isfinite(corners).all():
        raise DatasetError(name, root, f"{ROI_FILE} must hold 4 corners [x, y] (TL, TR, BR, BL in "
                           f"pixels), got an array of shape {corners.shape}")
    return corners


def _meta(table: pd.DataFrame, frame_files: dict[str, list[Path]]) -> pd.DataFrame:
    meta = pd.DataFrame({
        "sequence_id": table["clip"], "clip": table["clip"], "start": table["start"],
        "frame_ids": [tuple(range(start, start + TRIPLET)) for start in table["start"]],
        "label": table["label"],
        "path": [str(frame_files[clip][start]) for clip, start in zip(table["clip"], table["start"])]})
    extra = table.drop(columns=list(SAMPLE_COLUMNS))
    return pd.concat([meta, extra.drop(columns=[c for c in extra.columns if c in meta.columns])],
                     axis=1).reset_index(drop=True)


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}×{shape[0]}"
